#include "models/memory/dram/system.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <deque>
#include <stdexcept>

#include "core/error.h"

namespace tessera::dram {

void LatencyHistogram::add(int64_t cycles) {
  const int64_t c = std::max<int64_t>(cycles, 0);
  if (c >= kExact) {
    large.push_back(c);
  } else {
    if (static_cast<size_t>(c) >= counts.size()) counts.resize(static_cast<size_t>(c) + 1 + counts.size() / 2, 0);
    ++counts[static_cast<size_t>(c)];
  }
  ++total;
  sum += static_cast<double>(cycles);
}

void LatencyHistogram::remove(int64_t cycles) {
  const int64_t c = std::max<int64_t>(cycles, 0);
  if (c >= kExact) {
    auto it = std::find(large.begin(), large.end(), c);
    if (it == large.end()) return;
    large.erase(it);
  } else {
    if (static_cast<size_t>(c) >= counts.size() || counts[static_cast<size_t>(c)] == 0) return;
    --counts[static_cast<size_t>(c)];
  }
  --total;
  sum -= static_cast<double>(cycles);
}

int64_t LatencyHistogram::percentile(double p) const {
  if (total == 0) return 0;
  const double need = std::max(1.0, std::ceil(p * static_cast<double>(total) - 1e-9));
  int64_t acc = 0;
  for (size_t c = 0; c < counts.size(); ++c) {
    acc += counts[c];
    if (static_cast<double>(acc) >= need - 1e-9) return static_cast<int64_t>(c);
  }
  std::vector<int64_t> big = large;
  std::sort(big.begin(), big.end());
  for (const int64_t c : big)
    if (static_cast<double>(++acc) >= need - 1e-9) return c;
  return big.empty() ? static_cast<int64_t>(counts.size()) - 1 : big.back();
}

Result::EnergyBreakdown Result::energy() const {
  EnergyBreakdown e;
  const Energy& en = standard.energy;
  for (const ChannelStats& c : channels) {
    e.act += static_cast<double>(c.cmd[static_cast<int>(Cmd::ACT)]) * en.act_pj * 1e-12;
    e.rd += static_cast<double>(c.cmd[static_cast<int>(Cmd::RD)] + c.cmd[static_cast<int>(Cmd::RDA)]) *
            en.rd_pj * 1e-12;
    e.wr += static_cast<double>(c.cmd[static_cast<int>(Cmd::WR)] + c.cmd[static_cast<int>(Cmd::WRA)]) *
            en.wr_pj * 1e-12;
    e.ref += (static_cast<double>(c.cmd[static_cast<int>(Cmd::REFab)]) * en.ref_pj +
              static_cast<double>(c.cmd[static_cast<int>(Cmd::REFpb)]) * en.refpb_pj) *
             1e-12;
    e.background += en.background_mw * 1e-3 * elapsed_s();
  }
  e.io = static_cast<double>(bytes_moved) * 8.0 * en.io_pj_per_bit * 1e-12;
  return e;
}

namespace {

// In-flight requests, indexed by id modulo a power of two that exceeds every
// request that can be in flight at once (bounded by the queues).
struct Pending {
  int64_t id = -1;
  int64_t issue = 0;
  int64_t remaining = 0;
  int64_t last = 0;
  bool write = false;
};

}  // namespace

Result simulate(const Standard& s, const SystemConfig& cfg, RequestSource& src) {
  if (cfg.stacks < 1) throw InputError(fmt::format("DRAM {}: stacks = {} must be >= 1", s.name, cfg.stacks));
  const AddressMap map(s.org, cfg.stacks, cfg.mapping, "mapping");
  const int npc = s.org.pcs() * cfg.stacks;
  std::vector<Controller> pcs;
  pcs.reserve(static_cast<size_t>(npc));
  // The pseudo-channels of one channel share its command bus (device.h).
  std::shared_ptr<CommandBus> bus;
  for (int i = 0; i < npc; ++i) {
    if (i % s.org.pseudo_channels == 0) bus = std::make_shared<CommandBus>(s);
    pcs.emplace_back(s, cfg.controller, bus);
  }

  Result res;
  res.standard = s;
  res.config = cfg;
  const uint64_t ab = static_cast<uint64_t>(s.org.access_bytes());
  // Every request in flight holds at least one burst in a queue or a front buffer.
  size_t ring = std::bit_ceil(
      static_cast<size_t>(npc) *
          static_cast<size_t>(cfg.controller.read_queue + cfg.controller.write_queue + cfg.front_window) +
      2);
  std::vector<Pending> pending(ring);
  if (cfg.front_window < 0) throw InputError("DRAM: front_window must be >= 0");
  std::vector<std::deque<Burst>> front(static_cast<size_t>(npc));
  const int64_t window = static_cast<int64_t>(cfg.front_window) * npc;
  int64_t in_front = 0;

  Request cur;
  bool have = src.next(cur);
  uint64_t cur_burst = 0, cur_last = 0;  // burst indices still to admit: [cur_burst, cur_last]
  int64_t id = 0, last_issue = -1;
  bool started = false;
  auto begin = [&]() {
    if (cur.bytes == 0) throw InputError(fmt::format("DRAM request {}: zero bytes", id));
    if (cur.issue < last_issue)
      throw InputError(fmt::format("DRAM request {}: issue cycle {} is before the previous request's {}", id,
                                   cur.issue, last_issue));
    if (cur.address > UINT64_MAX - cur.bytes) throw InputError(fmt::format("DRAM request {}: address overflows", id));
    last_issue = cur.issue;
    cur_burst = cur.address / ab;
    cur_last = (cur.address + cur.bytes - 1) / ab;
    // A request held back long (FR-FCFS lets row hits overtake it) may still be in
    // flight when the ring comes round: grow the ring (live ids never collide in
    // the doubled ring when they did not in the old one).
    while (pending[static_cast<size_t>(id) & (ring - 1)].remaining > 0) {
      std::vector<Pending> grown(ring * 2);
      for (const Pending& q : pending)
        if (q.remaining > 0) grown[static_cast<size_t>(q.id) & (ring * 2 - 1)] = q;
      pending = std::move(grown);
      ring *= 2;
    }
    Pending& p = pending[static_cast<size_t>(id) & (ring - 1)];
    p = {id, cur.issue, static_cast<int64_t>(cur_last - cur_burst + 1), cur.issue, cur.write};
    if (!started) {
      res.first_issue = cur.issue;
      started = true;
    }
    ++res.requests;
    (cur.write ? res.write_requests : res.read_requests) += 1;
    res.bytes_requested += static_cast<int64_t>(cur.bytes);
    res.bytes_moved += static_cast<int64_t>((cur_last - cur_burst + 1) * ab);
  };
  if (have) begin();

  std::vector<Served> served;
  int64_t now = have ? cur.issue : 0;
  int busy = 0;  // controllers with queued bursts (recounted each step)
  int64_t served_bursts = 0;
  for (;;) {
    // Admit bursts of the current (and following) requests issued by now.
    bool blocked = false;
    while (have && cur.issue <= now) {
      while (cur_burst <= cur_last) {
        const Location loc = map.decode(cur_burst * ab);
        Controller& c = pcs[static_cast<size_t>(loc.pc)];
        std::deque<Burst>& f = front[static_cast<size_t>(loc.pc)];
        Burst b;
        b.request = id;
        b.bank = loc.bank;
        b.write = cur.write;
        if (f.empty() && c.can_accept(cur.write)) {
          c.enqueue(b, now);
        } else if (in_front < window || (window == 0 && false)) {
          f.push_back(b);
          ++in_front;
        } else {
          blocked = true;
          break;
        }
        ++cur_burst;
      }
      if (blocked) break;
      ++id;
      have = src.next(cur);
      if (have) begin();
    }
    // Visit the controllers due now.
    busy = 0;
    int64_t next = INT64_MAX;
    for (size_t k = 0; k < pcs.size(); ++k) {
      Controller& c = pcs[k];
      if (c.next_event() <= now) {
        served.clear();
        c.tick(now, served);
        // Refill the controller's queues from its front buffer, in order.
        std::deque<Burst>& f = front[k];
        while (!f.empty() && c.can_accept(f.front().write)) {
          c.enqueue(f.front(), now + 1);
          f.pop_front();
          --in_front;
        }
        for (const Served& sv : served) {
          if (cfg.progress_every > 0 && ++served_bursts % cfg.progress_every == 0)
            res.progress.push_back(std::max(sv.done, res.progress.empty() ? 0 : res.progress.back()));
          Pending& p = pending[static_cast<size_t>(sv.request) & (ring - 1)];
          p.last = std::max(p.last, sv.done);
          if (--p.remaining == 0) {
            (p.write ? res.write_latency : res.read_latency).add(p.last - p.issue);
            if (!have && sv.request == res.requests - 1) res.last_request_latency = p.last - p.issue;
          }
          res.end_cycle = std::max(res.end_cycle, sv.done);
        }
      }
      if (c.busy() || !front[k].empty()) {
        ++busy;
        next = std::min(next, c.next_event());
      }
    }
    if (have && !blocked) next = std::min(next, std::max(cur.issue, now + 1));
    if (!have && busy == 0) break;
    if (next == INT64_MAX) throw std::logic_error("DRAM simulation stalled with requests pending");
    // Idle controllers wake for refresh only when time passes them by.
    for (Controller& c : pcs)
      if (!c.busy() && c.next_event() < next) {
        // Refresh commands of an idle controller happen at their own cycles.
        int64_t t = c.next_event();
        while (t < next) {
          served.clear();
          c.tick(t, served);
          t = std::max(t + 1, c.next_event());
        }
      }
    now = std::max(next, now + 1);
  }
  for (Controller& c : pcs) {
    c.finish(std::max(res.end_cycle, now));
    res.channels.push_back(c.stats());
  }
  return res;
}

}  // namespace tessera::dram
