#include "models/memory/dram/address_map.h"

#include <fmt/format.h>

#include <bit>

#include "core/error.h"

namespace tessera::dram {

const std::vector<std::string>& AddressMap::named() {
  static const std::vector<std::string> n = {"RoBaSiCoBgPcCh", "RoBaBgSiCoPcCh", "RoCoBaBgSiPcCh",
                                             "ChPcRoBaBgSiCo"};
  return n;
}

AddressMap::AddressMap(const Organisation& org, int stacks, const std::string& scheme, const std::string& where)
    : m_scheme(scheme) {
  static constexpr std::array<const char*, kFields> tokens = {"Ro", "Ba", "Bg", "Si", "Co", "Pc", "Ch"};
  const std::array<uint64_t, kFields> radix = {
      static_cast<uint64_t>(org.rows),     static_cast<uint64_t>(org.banks),
      static_cast<uint64_t>(org.bankgroups), static_cast<uint64_t>(org.sids),
      static_cast<uint64_t>(org.columns),  static_cast<uint64_t>(org.pseudo_channels),
      static_cast<uint64_t>(org.channels) * static_cast<uint64_t>(stacks)};
  auto fail = [&](const std::string& why) {
    throw InputError(fmt::format("{}: address mapping '{}' {}; expected the seven fields Ro Ba Bg Si Co Pc Ch "
                                 "in any order, most significant first, e.g. {} (named: {})",
                                 where, scheme, why, kDefault, fmt::join(named(), ", ")));
  };
  if (scheme.size() != 2 * kFields) fail("does not have 14 letters");
  std::array<bool, kFields> seen{};
  std::vector<Step> msb_first;
  for (size_t i = 0; i < scheme.size(); i += 2) {
    const std::string tok = scheme.substr(i, 2);
    int f = -1;
    for (int k = 0; k < kFields; ++k)
      if (tok == tokens[static_cast<size_t>(k)]) f = k;
    if (f < 0) fail(fmt::format("has the unknown field '{}'", tok));
    if (seen[static_cast<size_t>(f)]) fail(fmt::format("names '{}' twice", tok));
    seen[static_cast<size_t>(f)] = true;
    const uint64_t r = radix[static_cast<size_t>(f)];
    msb_first.push_back({static_cast<Field>(f), r, std::has_single_bit(r) ? std::countr_zero(r) : -1});
  }
  m_steps.assign(msb_first.rbegin(), msb_first.rend());
  const int ab = org.access_bytes();
  if (!std::has_single_bit(static_cast<unsigned>(ab)))
    throw InputError(fmt::format("{}: access size {} B is not a power of two", where, ab));
  m_access_shift = std::countr_zero(static_cast<unsigned>(ab));
  m_pcs_per_channel = org.pseudo_channels;
  m_bankgroups = org.bankgroups;
  m_banks = org.banks;
}

Location AddressMap::decode(uint64_t address) const {
  uint64_t x = address >> m_access_shift;
  std::array<uint64_t, kFields> v{};
  for (const Step& s : m_steps) {
    if (s.shift >= 0) {
      v[s.field] = x & (s.radix - 1);
      x >>= s.shift;
    } else {
      v[s.field] = x % s.radix;
      x /= s.radix;
    }
  }
  Location l;
  l.pc = static_cast<int>(v[Ch] * static_cast<uint64_t>(m_pcs_per_channel) + v[Pc]);
  l.bank.bankgroup = static_cast<int>(v[Si] * static_cast<uint64_t>(m_bankgroups) + v[Bg]);
  l.bank.bank = l.bank.bankgroup * m_banks + static_cast<int>(v[Ba]);
  l.bank.row = static_cast<int64_t>(v[Ro]);
  l.column = static_cast<int>(v[Co]);
  return l;
}

}  // namespace tessera::dram
