#pragma once
// Physical address -> (pseudo-channel, bank group, bank, row, column).
//
// A scheme names the address fields from the most to the least significant, two
// letters each: Ro (row), Ba (bank within its group), Bg (bank group), Si (stack
// ID / rank), Co (column: access-sized bursts within a row), Pc (pseudo-channel),
// Ch (channel, over every stack). Below them sit the byte offset within one access.
// Any order of all seven is accepted; the named ones:
//   RoBaSiCoBgPcCh  (default) consecutive accesses go to every channel, then
//                   alternate bank groups, so a stream pays nCCDS, not nCCDL
//   RoBaBgSiCoPcCh  row:bank:column:channel (Ramulator's RoBaRaCoCh)
//   RoCoBaBgSiPcCh  consecutive accesses spread over every bank before a column
//   ChPcRoBaBgSiCo  each channel holds one contiguous range (no interleaving)
// Rows wrap: an address beyond the capacity maps modulo the capacity.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "models/memory/dram/device.h"
#include "models/memory/dram/standard.h"

namespace tessera::dram {

struct Location {
  int pc = 0;  // global index: (stack x channels + channel) x pseudo_channels + pc
  BankAddr bank;
  int column = 0;
};

class AddressMap {
 public:
  // `where` names the flag or key for errors (e.g. "--set mapping").
  AddressMap(const Organisation& org, int stacks, const std::string& scheme, const std::string& where);
  Location decode(uint64_t address) const;
  const std::string& scheme() const { return m_scheme; }
  static const std::vector<std::string>& named();
  static constexpr const char* kDefault = "RoBaSiCoBgPcCh";

 private:
  enum Field { Ro, Ba, Bg, Si, Co, Pc, Ch, kFields };
  struct Step {
    Field field;
    uint64_t radix;
    int shift;  // >= 0 when radix is a power of two
  };
  std::string m_scheme;
  std::vector<Step> m_steps;  // least significant first
  int m_access_shift = 0;
  int m_pcs_per_channel = 1, m_bankgroups = 1, m_banks = 1;
};

}  // namespace tessera::dram
