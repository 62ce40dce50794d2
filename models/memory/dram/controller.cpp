#include "models/memory/dram/controller.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace tessera::dram {

PagePolicy parse_page_policy(const std::string& s, const std::string& where) {
  if (s == "open") return PagePolicy::open;
  if (s == "closed") return PagePolicy::closed;
  if (s == "adaptive") return PagePolicy::adaptive;
  throw InputError(fmt::format("{}: page policy '{}' is not accepted; expected open|closed|adaptive", where, s));
}

RefreshMode parse_refresh_mode(const std::string& s, const std::string& where) {
  if (s == "auto") return RefreshMode::automatic;
  if (s == "all-bank") return RefreshMode::all_bank;
  if (s == "per-bank") return RefreshMode::per_bank;
  if (s == "none") return RefreshMode::none;
  throw InputError(fmt::format("{}: refresh '{}' is not accepted; expected auto|all-bank|per-bank|none", where, s));
}

Controller::Controller(const Standard& s, const ControllerConfig& cfg, std::shared_ptr<CommandBus> bus)
    : m_dev(s, std::move(bus)), m_cfg(cfg) {
  if (m_cfg.refresh == RefreshMode::automatic)
    m_cfg.refresh = s.family == Family::ddr4 ? RefreshMode::all_bank : RefreshMode::per_bank;
  if (cfg.read_queue < 1 || cfg.write_queue < 1)
    throw InputError("DRAM controller: read and write queues need at least one entry");
  if (cfg.write_low < 0 || cfg.write_high > cfg.write_queue || cfg.write_low >= cfg.write_high)
    throw InputError(fmt::format("DRAM controller: write drain marks low {} / high {} must satisfy "
                                 "0 <= low < high <= write queue ({})",
                                 cfg.write_low, cfg.write_high, cfg.write_queue));
  if (m_cfg.refresh == RefreshMode::per_bank && s.family == Family::ddr4)
    throw InputError(fmt::format("DRAM {}: per-bank refresh is not part of {}; use all-bank or none", s.name,
                                 s.standard));
  m_refresh_due = m_cfg.refresh == RefreshMode::per_bank ? s.timing.nREFIpb : s.timing.nREFI;
  if (m_cfg.refresh == RefreshMode::none) m_refresh_due = INT64_MAX;
  m_next = m_refresh_due;
  m_refreshed.assign(static_cast<size_t>(s.org.banks_per_pc()), 0);
  m_refresh_bank = -1;
  m_reads.bank.resize(static_cast<size_t>(s.org.banks_per_pc()));
  m_writes.bank.resize(static_cast<size_t>(s.org.banks_per_pc()));
}

bool Controller::can_accept(bool write) const {
  return write ? m_writes.size < m_cfg.write_queue : m_reads.size < m_cfg.read_queue;
}

void Controller::account_queue(int64_t now) {
  if (now > m_queue_t) {
    m_stats.queue_integral += static_cast<double>(m_reads.size + m_writes.size) *
                              static_cast<double>(now - m_queue_t);
    m_queue_t = now;
  }
}

void Controller::enqueue(Burst b, int64_t now) {
  account_queue(now);
  b.arrival = now;
  b.seq = m_seq++;
  Queue& q = b.write ? m_writes : m_reads;
  std::vector<Burst>& list = q.bank[static_cast<size_t>(b.bank.bank)];
  if (list.empty()) q.active.push_back(b.bank.bank);
  list.push_back(b);
  ++q.size;
  m_next = std::min(m_next, now);
}

// Refresh: returns true when it used (or must hold) the command bus at `now`.
bool Controller::do_refresh(int64_t now) {
  if (now < m_refresh_due) return false;
  const Timing& t = m_dev.standard().timing;
  if (m_cfg.refresh == RefreshMode::all_bank) {
    const BankAddr none;
    const Cmd c = m_dev.open_banks() > 0 ? Cmd::PREA : Cmd::REFab;
    const int64_t e = m_dev.earliest(c, none, now);
    if (e <= now) {
      m_dev.issue(c, none, now);
      ++m_stats.cmd[static_cast<int>(c)];
      if (c == Cmd::REFab) {
        m_stats.refresh_bank_cycles += static_cast<int64_t>(t.nRFC) * m_dev.standard().org.banks_per_pc();
        m_refresh_due += t.nREFI;
      }
      m_next = now + 1;
    } else {
      m_next = e;
    }
    return true;  // every other command waits for the all-bank refresh
  }
  // Per-bank: choose the bank once per refresh, then precharge it and refresh it.
  const Organisation& o = m_dev.standard().org;
  const int nb = o.banks_per_pc();
  if (m_refresh_bank < 0) {
    int first = -1;
    for (int k = 0; k < nb; ++k) {
      if (m_refreshed[static_cast<size_t>(k)]) continue;
      if (first < 0) first = k;
      if (m_dev.open_row(k) < 0 && m_reads.bank[static_cast<size_t>(k)].empty() &&
          m_writes.bank[static_cast<size_t>(k)].empty()) {
        first = k;
        break;
      }
    }
    m_refresh_bank = first;
  }
  BankAddr a;
  a.bank = m_refresh_bank;
  a.bankgroup = m_refresh_bank / o.banks;
  a.row = m_dev.open_row(a.bank);
  const Cmd c = a.row >= 0 ? Cmd::PRE : Cmd::REFpb;
  const int64_t e = m_dev.earliest(c, a, now);
  if (e <= now) {
    m_dev.issue(c, a, now);
    ++m_stats.cmd[static_cast<int>(c)];
    if (c == Cmd::REFpb) {
      m_stats.refresh_bank_cycles += t.nRFCpb;
      m_refresh_due += t.nREFIpb;
      m_refreshed[static_cast<size_t>(m_refresh_bank)] = 1;
      if (++m_refreshed_count == nb) {
        std::fill(m_refreshed.begin(), m_refreshed.end(), 0);
        m_refreshed_count = 0;
      }
      m_refresh_bank = -1;
    }
    m_next = now + 1;
    return true;
  }
  m_next = std::min(m_next, e);
  return false;  // other banks go on while this one waits
}

Cmd Controller::access_cmd(const Burst& b, const Queue& q, size_t self) const {
  const Cmd plain = b.write ? Cmd::WR : Cmd::RD;
  const Cmd auto_pre = b.write ? Cmd::WRA : Cmd::RDA;
  if (m_cfg.page == PagePolicy::open) return plain;
  if (m_cfg.page == PagePolicy::closed) return auto_pre;
  // Adaptive: keep the row open only for another queued burst to it.
  for (const Queue* other : {&m_reads, &m_writes}) {
    const std::vector<Burst>& list = other->bank[static_cast<size_t>(b.bank.bank)];
    for (size_t i = 0; i < list.size(); ++i) {
      if (other == &q && i == self) continue;
      if (list[i].bank.row == b.bank.row) return plain;
    }
  }
  return auto_pre;
}

void Controller::tick(int64_t now, std::vector<Served>& out) {
  account_queue(now);
  m_next = INT64_MAX;
  if (m_cfg.refresh != RefreshMode::none) {
    if (do_refresh(now)) {
      if (m_next == INT64_MAX) m_next = now + 1;
      return;
    }
    if (m_refresh_due > now) m_next = m_refresh_due;
  }
  if (!m_draining && m_writes.size > 0 && (m_writes.size >= m_cfg.write_high || m_reads.size == 0))
    m_draining = true;
  if (m_draining && (m_writes.size == 0 || (m_writes.size <= m_cfg.write_low && m_reads.size > 0)))
    m_draining = false;
  Queue& q = m_draining ? m_writes : m_reads;
  if (q.size == 0) return;

  const bool pb_refresh_waiting = m_cfg.refresh == RefreshMode::per_bank && now >= m_refresh_due;
  // One candidate per bank: its oldest burst to the open row (a row hit), else its
  // oldest burst, which needs a PRE (row conflict) or an ACT (bank closed).
  int64_t soonest = INT64_MAX;
  int pick_bank = -1;
  size_t pick_idx = 0;
  int64_t pick_seq = INT64_MAX;
  bool pick_hit = false;
  Cmd pick_cmd = Cmd::ACT;
  for (const int bank : q.active) {
    if (pb_refresh_waiting && bank == m_refresh_bank) continue;
    const std::vector<Burst>& list = q.bank[static_cast<size_t>(bank)];
    const int64_t open = m_dev.open_row(bank);
    size_t idx = 0;
    Cmd c = Cmd::ACT;
    bool hit = false;
    if (open >= 0) {
      c = Cmd::PRE;
      for (size_t i = 0; i < list.size(); ++i)
        if (list[i].bank.row == open) {
          idx = i;
          hit = true;
          c = list[i].write ? Cmd::WR : Cmd::RD;
          break;
        }
    }
    const Burst& b = list[idx];
    const int64_t e = m_dev.earliest(c, b.bank, now);
    if (e > now) {
      soonest = std::min(soonest, e);
      continue;
    }
    // Ready: row hits before other commands, then the oldest.
    if (pick_bank < 0 || (hit && !pick_hit) || (hit == pick_hit && b.seq < pick_seq)) {
      pick_bank = bank;
      pick_idx = idx;
      pick_seq = b.seq;
      pick_hit = hit;
      pick_cmd = c;
    }
  }
  if (pick_bank < 0) {
    m_next = std::min(m_next, soonest);
    return;
  }
  std::vector<Burst>& list = q.bank[static_cast<size_t>(pick_bank)];
  Burst& b = list[pick_idx];
  if (pick_hit) pick_cmd = access_cmd(b, q, pick_idx);
  m_dev.issue(pick_cmd, b.bank, now);
  ++m_stats.cmd[static_cast<int>(pick_cmd)];
  m_next = now + 1;
  if (pick_cmd == Cmd::PRE) {
    b.closed = true;
    return;
  }
  if (pick_cmd == Cmd::ACT) {
    b.opened = true;
    return;
  }
  // A column access: the burst is served.
  if (b.closed) ++m_stats.row_conflicts;
  else if (b.opened) ++m_stats.row_misses;
  else ++m_stats.row_hits;
  const int64_t done = b.write ? m_dev.write_done(now) : m_dev.read_done(now);
  if (b.write) {
    ++m_stats.writes;
  } else {
    ++m_stats.reads;
    const int64_t lat = done - b.arrival;
    m_stats.read_latency_sum += lat;
    m_stats.read_latency_max = std::max(m_stats.read_latency_max, lat);
  }
  m_stats.last_cycle = std::max(m_stats.last_cycle, done);
  out.push_back({b.request, done, b.write});
  list.erase(list.begin() + static_cast<long>(pick_idx));
  --q.size;
  if (list.empty()) q.active.erase(std::find(q.active.begin(), q.active.end(), pick_bank));
}

void Controller::finish(int64_t end) {
  account_queue(end);
  m_stats.bank_open_cycles = m_dev.bank_open_cycles(end);
}

}  // namespace tessera::dram
