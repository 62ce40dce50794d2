// The pipeline schedule of the multi-device engine (see parallel_parts.h).
#include <algorithm>
#include <stdexcept>

#include "sim/engines/parallel_parts.h"

namespace tessera::parallel_engine {

std::vector<std::vector<Task>> schedule_tasks(int64_t p, int64_t v, int64_t m, int schedule, bool training) {
  std::vector<std::vector<Task>> out(static_cast<size_t>(p));
  for (int64_t d = 0; d < p; ++d) {
    auto& q = out[static_cast<size_t>(d)];
    const int64_t total = m * v;
    auto fwd_k = [&](int64_t k) {
      const int64_t chunk_local = (k % (p * v)) / p;
      const int64_t mb = (k / (p * v)) * p + k % p;
      return Task{TaskKind::fwd, chunk_local * p + d, v == 1 ? k : mb};
    };
    auto bwd_k = [&](int64_t k) {
      const int64_t chunk_local = v - 1 - (k % (p * v)) / p;
      const int64_t mb = (k / (p * v)) * p + k % p;
      return Task{TaskKind::bwd, chunk_local * p + d, v == 1 ? k : mb};
    };
    if (!training) {
      for (int64_t k = 0; k < total; ++k) q.push_back(fwd_k(k));
      continue;
    }
    if (schedule == 0) {   // gpipe: every forward, then every backward
      for (int64_t k = 0; k < total; ++k) q.push_back(fwd_k(k));
      for (int64_t k = 0; k < total; ++k) q.push_back(bwd_k(k));
      continue;
    }
    const int64_t warm = schedule == 2 ? std::min(total, (p - d - 1) * 2 + (v - 1) * p) : std::min(total, p - d - 1);
    int64_t f = 0, b = 0;
    for (; f < warm; ++f) q.push_back(fwd_k(f));
    while (f < total) {
      q.push_back(fwd_k(f++));
      q.push_back(bwd_k(b++));
    }
    while (b < total) q.push_back(bwd_k(b++));
  }
  return out;
}

ScheduleResult run_schedule(const std::vector<ChunkTiming>& ct, int64_t p, int64_t v, int64_t m, int schedule,
                            bool training, bool with_p2p) {
  const int64_t C = p * v;
  const auto order = schedule_tasks(p, v, m, schedule, training);
  // Completion times of F(c, mb) and B(c, mb).
  std::vector<double> fend(static_cast<size_t>(C * m), -1), bend(static_cast<size_t>(C * m), -1);
  ScheduleResult r;
  r.end.assign(static_cast<size_t>(p), 0);
  r.busy.assign(static_cast<size_t>(p), 0);
  r.last_bwd_start.assign(static_cast<size_t>(p), std::vector<double>(static_cast<size_t>(v), 0));
  std::vector<size_t> next(static_cast<size_t>(p), 0);
  std::vector<double> free_at(static_cast<size_t>(p), 0);
  size_t remaining = 0;
  for (const auto& q : order) remaining += q.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int64_t d = 0; d < p; ++d) {
      auto& n = next[static_cast<size_t>(d)];
      while (n < order[static_cast<size_t>(d)].size()) {
        const Task& t = order[static_cast<size_t>(d)][n];
        const size_t at = static_cast<size_t>(t.chunk * m + t.mb);
        double ready = 0;
        if (t.kind == TaskKind::fwd) {
          if (t.chunk > 0) {
            const double dep = fend[static_cast<size_t>((t.chunk - 1) * m + t.mb)];
            if (dep < 0) break;
            ready = dep + (with_p2p ? ct[static_cast<size_t>(t.chunk - 1)].p2p_fwd_s : 0);
          }
        } else if (t.chunk + 1 < C) {
          const double dep = bend[static_cast<size_t>((t.chunk + 1) * m + t.mb)];
          if (dep < 0) break;
          ready = dep + (with_p2p ? ct[static_cast<size_t>(t.chunk + 1)].p2p_bwd_s : 0);
        } else {
          const double dep = fend[at];
          if (dep < 0) break;
          ready = dep;
        }
        const ChunkTiming& c = ct[static_cast<size_t>(t.chunk)];
        const double dur = t.kind == TaskKind::fwd ? c.fwd.end_s : c.bwd.end_s;
        const double start = std::max(ready, free_at[static_cast<size_t>(d)]);
        free_at[static_cast<size_t>(d)] = start + dur;
        r.busy[static_cast<size_t>(d)] += dur;
        (t.kind == TaskKind::fwd ? fend : bend)[at] = start + dur;
        if (t.kind == TaskKind::bwd && t.mb == m - 1) r.last_bwd_start[static_cast<size_t>(d)][static_cast<size_t>(t.chunk / p)] = start;
        ++n;
        --remaining;
        progressed = true;
      }
    }
    if (!progressed) throw std::logic_error("pipeline schedule deadlocked");
  }
  for (int64_t d = 0; d < p; ++d) {
    r.end[static_cast<size_t>(d)] = free_at[static_cast<size_t>(d)];
    r.makespan = std::max(r.makespan, free_at[static_cast<size_t>(d)]);
  }
  return r;
}

}  // namespace tessera::parallel_engine
