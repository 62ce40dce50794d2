#pragma once
// One pseudo-channel (or channel) of a DRAM device: bank states and the earliest
// cycle at which each command is legal, derived from a Standard's timings.
//
// The rules are data (`rules()`): "after command P at level L, command F at the
// same L waits at least `latency` cycles", with L = the pseudo-channel (rank), the
// bank group (or for HBM3: bank group within its SID) or the bank. Issuing a
// command pushes the `next` cycle of each following command at that level; the
// earliest legal cycle of a command is then the maximum over its three levels, one
// command per cycle on the command bus, and for ACT the four-activate window.
// That makes `earliest()` O(1), which the controller asks for every queued request.
//
// Example (HBM3-6400): after RD to bank group 0 at clk, a RD to bank group 1 is
// legal at clk + nCCDS = clk + 2, one to bank group 0 at clk + nCCDL = clk + 4.
//
// Command buses (CommandBus): the pseudo-channels of one channel share its
// command buses. HBM (JESD235 HBM2/HBM2E, JESD238 HBM3/HBM3E, JESD270-4 HBM4) has
// a row command bus (ACT, PRE, PREA, REFab, REFpb) and a column command bus (RD,
// WR, RDA, WRA) per channel: one command per bus per cycle, ACT holding the row
// bus for two cycles (its address takes two clocks; Ramulator 2 HBM2.cpp/HBM3.cpp
// "2-cycle ACT command"), a row and a column command in the same cycle allowed.
// DDR4 and LPDDR5 have one command bus per channel, one command per cycle.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/memory/dram/standard.h"

namespace tessera::dram {

enum class Cmd : int { ACT, PRE, PREA, RD, WR, RDA, WRA, REFab, REFpb };
inline constexpr int kCmds = 9;
const char* cmd_name(Cmd c);

enum class Level : int { pc, bankgroup, bank };

struct Rule {
  Level level;
  Cmd prev, next;
  int latency;
  std::string formula;  // in the standard's names, e.g. "nCWL + nBL + nWTRL"
};

// Every timing rule of `s`, one entry per (level, preceding, following) pair.
std::vector<Rule> rules(const Standard& s);

// Identifies a bank within one pseudo-channel.
struct BankAddr {
  int bankgroup = 0;  // 0 .. sids x bankgroups - 1 (SID-major)
  int bank = 0;       // 0 .. banks_per_pc - 1 (flat index)
  int64_t row = 0;
};

// The command bus(es) of one channel, shared by its pseudo-channels. Occupied
// cycles are kept in rings (a command is issued at most `kRing` cycles out of
// time order), so a pseudo-channel that issues later in simulation order but
// earlier in time still finds the bus exactly as the commands left it.
class CommandBus {
 public:
  explicit CommandBus(const Standard& s);
  // Whether `c` travels on the row bus (HBM) or the column bus; false for a
  // standard with one command bus (every command on it).
  bool row_command(Cmd c) const;
  // Cycles `c` occupies its bus: 2 for an HBM ACT, 1 otherwise.
  int cycles(Cmd c) const { return m_split && c == Cmd::ACT ? 2 : 1; }
  bool split() const { return m_split; }
  // Earliest cycle >= t at which `c` finds its bus free for cycles(c) cycles.
  int64_t earliest(Cmd c, int64_t t) const;
  void occupy(Cmd c, int64_t clk);

 private:
  static constexpr int kRing = 256;
  bool busy(int bus, int64_t t) const { return m_slots[bus][static_cast<size_t>(t & (kRing - 1))] == t; }
  bool m_split = false;
  std::array<std::array<int64_t, kRing>, 2> m_slots{};  // [0] row (or the only bus), [1] column
};

class Device {
 public:
  // `bus`: the channel's command bus shared with the other pseudo-channels of the
  // channel; none: this device has its own.
  explicit Device(const Standard& s, std::shared_ptr<CommandBus> bus = nullptr);
  const CommandBus& bus() const { return *m_bus; }
  const Standard& standard() const { return m_std; }

  // Earliest cycle >= 0 at which `c` to `a` obeys every timing rule and the
  // command bus; does not check the bank state (an ACT to an open bank is the
  // caller's error, see legal_state).
  // `from`: the earliest cycle the caller can issue at (its present; default: the
  // cycle of this device's last command); the command bus is searched from
  // max(timing, from) on.
  int64_t earliest(Cmd c, const BankAddr& a, int64_t from = -1) const;
  // Whether `c` fits the bank state: ACT needs a closed bank, RD/WR/RDA/WRA an open
  // one, REFab every bank closed, REFpb its bank closed. Empty when fine, else why.
  std::string state_problem(Cmd c, const BankAddr& a) const;
  // Issues `c` at `clk` (>= earliest, state fine: checked, std::logic_error otherwise).
  void issue(Cmd c, const BankAddr& a, int64_t clk);

  int64_t open_row(int bank) const { return m_banks[bank].open_row; }  // -1: closed
  int open_banks() const { return m_open_count; }
  // Cycle at which the data of a RD issued at `clk` has all arrived (nCL + nBL).
  int64_t read_done(int64_t clk) const { return clk + m_std.timing.nCL + m_std.timing.nBL; }
  int64_t write_done(int64_t clk) const { return clk + m_std.timing.nCWL + m_std.timing.nBL; }
  // Cycles any bank had a row open, summed over banks, up to `clk` (bank utilisation).
  int64_t bank_open_cycles(int64_t clk) const;

 private:
  struct Next {
    std::array<int64_t, kCmds> at{};
  };
  struct Bank {
    Next next;
    int64_t open_row = -1;
    int64_t opened_at = 0;
  };
  struct Effect {
    Level level;
    int next;
    int latency;
  };

  Standard m_std;
  std::array<std::vector<Effect>, kCmds> m_effects;
  Next m_pc;
  std::vector<Next> m_groups;
  std::vector<Bank> m_banks;
  std::array<int64_t, 4> m_act_window{};  // cycles of the last four ACTs (ring)
  int m_act_pos = 0;
  int64_t m_acts = 0;
  std::shared_ptr<CommandBus> m_bus;
  int64_t m_last_clk = 0;  // cycle of the last command issued
  int m_open_count = 0;
  int64_t m_open_cycles = 0;  // closed intervals, summed
};

}  // namespace tessera::dram
