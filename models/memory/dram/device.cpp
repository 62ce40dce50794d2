#include "models/memory/dram/device.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace tessera::dram {

const char* cmd_name(Cmd c) {
  static constexpr const char* names[kCmds] = {"ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb"};
  return names[static_cast<int>(c)];
}

std::vector<Rule> rules(const Standard& s) {
  const Timing& t = s.timing;
  std::vector<Rule> r;
  auto add = [&r](Level l, std::initializer_list<Cmd> prev, std::initializer_list<Cmd> next, int lat,
                  const char* formula) {
    for (Cmd p : prev)
      for (Cmd n : next) r.push_back({l, p, n, lat, formula});
  };
  using enum Cmd;
  const auto reads = {RD, RDA};
  const auto writes = {WR, WRA};
  const auto cas = {RD, RDA, WR, WRA};
  const int wr_to_pre = t.nCWL + t.nBL + t.nWR;
  const bool per_bank = s.family != Family::ddr4;

  // Pseudo-channel (rank): the data bus, turnarounds, activate rate, refresh.
  add(Level::pc, reads, reads, std::max(t.nBL, t.nCCDS), "max(nBL, nCCDS)");
  add(Level::pc, writes, writes, std::max(t.nBL, t.nCCDS), "max(nBL, nCCDS)");
  add(Level::pc, reads, writes, t.nRTW, "nRTW");
  add(Level::pc, writes, reads, t.nCWL + t.nBL + t.nWTRS, "nCWL + nBL + nWTRS");
  add(Level::pc, {ACT}, {ACT}, t.nRRDS, "nRRDS");
  add(Level::pc, {ACT}, {PREA}, t.nRAS, "nRAS");
  add(Level::pc, {RD}, {PREA}, t.nRTP, "nRTP");
  add(Level::pc, {WR}, {PREA}, wr_to_pre, "nCWL + nBL + nWR");
  add(Level::pc, {PREA}, {ACT, REFab, REFpb}, t.nRP, "nRP");
  add(Level::pc, {PRE}, {REFab}, t.nRP, "nRP");
  add(Level::pc, {ACT}, {REFab}, t.nRC, "nRC");
  add(Level::pc, {RDA}, {REFab}, t.nRTP + t.nRP, "nRTP + nRP");
  add(Level::pc, {WRA}, {REFab}, wr_to_pre + t.nRP, "nCWL + nBL + nWR + nRP");
  add(Level::pc, {REFab}, {ACT, PRE, PREA, REFab, REFpb}, t.nRFC, "nRFC");
  if (per_bank) {
    add(Level::pc, {REFpb}, {REFpb}, t.nRREFD, "nRREFD");
    add(Level::pc, {REFpb}, {ACT}, t.nRREFD, "nRREFD");
    add(Level::pc, {ACT}, {REFpb}, t.nRRDS, "nRRDS");
    add(Level::pc, {REFpb}, {REFab}, t.nRFCpb, "nRFCpb");
  }
  // Bank group (same group): the long column-to-column and activate spacing.
  add(Level::bankgroup, reads, reads, t.nCCDL, "nCCDL");
  add(Level::bankgroup, writes, writes, t.nCCDL, "nCCDL");
  add(Level::bankgroup, writes, reads, t.nCWL + t.nBL + t.nWTRL, "nCWL + nBL + nWTRL");
  add(Level::bankgroup, {ACT}, {ACT}, t.nRRDL, "nRRDL");
  // Bank.
  add(Level::bank, {ACT}, {ACT}, t.nRC, "nRC");
  add(Level::bank, {ACT}, reads, t.nRCDRD, "nRCDRD");
  add(Level::bank, {ACT}, writes, t.nRCDWR, "nRCDWR");
  add(Level::bank, {ACT}, {PRE}, t.nRAS, "nRAS");
  add(Level::bank, {PRE}, {ACT}, t.nRP, "nRP");
  add(Level::bank, {RD}, {PRE}, t.nRTP, "nRTP");
  add(Level::bank, {WR}, {PRE}, wr_to_pre, "nCWL + nBL + nWR");
  add(Level::bank, {RDA}, {ACT, REFpb}, t.nRTP + t.nRP, "nRTP + nRP");
  add(Level::bank, {WRA}, {ACT, REFpb}, wr_to_pre + t.nRP, "nCWL + nBL + nWR + nRP");
  if (per_bank) {
    add(Level::bank, {REFpb}, {ACT}, t.nRFCpb, "nRFCpb");
    add(Level::bank, {ACT}, {REFpb}, t.nRC, "nRC");
    add(Level::bank, {PRE}, {REFpb}, t.nRP, "nRP");
  }
  (void)cas;
  return r;
}

CommandBus::CommandBus(const Standard& s)
    : m_split(s.family == Family::hbm2 || s.family == Family::hbm3) {
  for (auto& bus : m_slots) bus.fill(-1);
}

bool CommandBus::row_command(Cmd c) const {
  if (!m_split) return false;
  return c == Cmd::ACT || c == Cmd::PRE || c == Cmd::PREA || c == Cmd::REFab || c == Cmd::REFpb;
}

int64_t CommandBus::earliest(Cmd c, int64_t t) const {
  const int bus = m_split && !row_command(c) ? 1 : 0;
  const int n = cycles(c);
  for (;;) {
    bool free = true;
    for (int k = 0; k < n && free; ++k) free = !busy(bus, t + k);
    if (free) return t;
    ++t;
  }
}

void CommandBus::occupy(Cmd c, int64_t clk) {
  const int bus = m_split && !row_command(c) ? 1 : 0;
  for (int k = 0; k < cycles(c); ++k)
    m_slots[static_cast<size_t>(bus)][static_cast<size_t>((clk + k) & (kRing - 1))] = clk + k;
}

Device::Device(const Standard& s, std::shared_ptr<CommandBus> bus)
    : m_std(s), m_bus(bus ? std::move(bus) : std::make_shared<CommandBus>(s)) {
  for (const Rule& r : rules(s))
    m_effects[static_cast<int>(r.prev)].push_back({r.level, static_cast<int>(r.next), r.latency});
  m_groups.resize(static_cast<size_t>(s.org.bankgroups_per_pc()));
  m_banks.resize(static_cast<size_t>(s.org.banks_per_pc()));
  m_act_window.fill(-(int64_t{1} << 40));
}

int64_t Device::earliest(Cmd c, const BankAddr& a, int64_t from) const {
  const int i = static_cast<int>(c);
  int64_t t = std::max(from < 0 ? m_last_clk : from, m_pc.at[i]);
  if (c != Cmd::PREA && c != Cmd::REFab) {
    t = std::max(t, m_groups[static_cast<size_t>(a.bankgroup)].at[i]);
    t = std::max(t, m_banks[static_cast<size_t>(a.bank)].next.at[i]);
  } else {
    // A command to every bank waits for each bank's own constraints.
    for (const Bank& b : m_banks) t = std::max(t, b.next.at[i]);
    for (const Next& g : m_groups) t = std::max(t, g.at[i]);
  }
  if (c == Cmd::ACT) t = std::max(t, m_act_window[static_cast<size_t>(m_act_pos)] + m_std.timing.nFAW);
  return m_bus->earliest(c, t);
}

std::string Device::state_problem(Cmd c, const BankAddr& a) const {
  const Bank& b = m_banks[static_cast<size_t>(a.bank)];
  switch (c) {
    case Cmd::ACT:
      return b.open_row >= 0 ? fmt::format("ACT to bank {} whose row {} is open", a.bank, b.open_row) : "";
    case Cmd::RD: case Cmd::WR: case Cmd::RDA: case Cmd::WRA:
      if (b.open_row < 0) return fmt::format("{} to closed bank {}", cmd_name(c), a.bank);
      if (b.open_row != a.row)
        return fmt::format("{} to row {} of bank {} whose open row is {}", cmd_name(c), a.row, a.bank, b.open_row);
      return "";
    case Cmd::REFab:
      return m_open_count > 0 ? fmt::format("REFab with {} banks open", m_open_count) : "";
    case Cmd::REFpb:
      if (m_std.family == Family::ddr4) return "REFpb: DDR4 has no per-bank refresh";
      return b.open_row >= 0 ? fmt::format("REFpb to open bank {}", a.bank) : "";
    case Cmd::PRE: case Cmd::PREA:
      return "";
  }
  return "";
}

void Device::issue(Cmd c, const BankAddr& a, int64_t clk) {
  const int64_t e = earliest(c, a, clk);
  if (clk < e)
    throw std::logic_error(fmt::format("DRAM {}: {} at cycle {} before its earliest legal cycle {}", m_std.name,
                                       cmd_name(c), clk, e));
  if (std::string why = state_problem(c, a); !why.empty())
    throw std::logic_error(fmt::format("DRAM {}: {}", m_std.name, why));
  for (const Effect& f : m_effects[static_cast<int>(c)]) {
    int64_t* slot = nullptr;
    if (f.level == Level::pc) {
      slot = &m_pc.at[static_cast<size_t>(f.next)];
    } else if (f.level == Level::bankgroup) {
      slot = &m_groups[static_cast<size_t>(a.bankgroup)].at[static_cast<size_t>(f.next)];
    } else if (c == Cmd::PREA || c == Cmd::REFab) {
      for (Bank& b : m_banks) b.next.at[static_cast<size_t>(f.next)] = std::max(b.next.at[static_cast<size_t>(f.next)], clk + f.latency);
      continue;
    } else {
      slot = &m_banks[static_cast<size_t>(a.bank)].next.at[static_cast<size_t>(f.next)];
    }
    *slot = std::max(*slot, clk + f.latency);
  }
  m_bus->occupy(c, clk);
  m_last_clk = std::max(m_last_clk, clk);
  Bank& b = m_banks[static_cast<size_t>(a.bank)];
  auto close = [&](Bank& k) {
    if (k.open_row >= 0) {
      m_open_cycles += clk - k.opened_at;
      k.open_row = -1;
      --m_open_count;
    }
  };
  switch (c) {
    case Cmd::ACT:
      b.open_row = a.row;
      b.opened_at = clk;
      ++m_open_count;
      m_act_window[static_cast<size_t>(m_act_pos)] = clk;
      m_act_pos = (m_act_pos + 1) % 4;
      ++m_acts;
      break;
    case Cmd::PRE: case Cmd::RDA: case Cmd::WRA:
      close(b);
      break;
    case Cmd::PREA:
      for (Bank& k : m_banks) close(k);
      break;
    default:
      break;
  }
}

int64_t Device::bank_open_cycles(int64_t clk) const {
  int64_t sum = m_open_cycles;
  for (const Bank& b : m_banks)
    if (b.open_row >= 0) sum += clk - b.opened_at;
  return sum;
}

}  // namespace tessera::dram
