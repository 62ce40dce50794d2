// The pipeline schedule of the multi-device engine (see parallel_parts.h).
#include <algorithm>
#include <stdexcept>

#include "sim/engines/parallel_parts.h"

namespace tessera::parallel_engine {

namespace {

// Forwards device d runs before its first backward in the interleaved schedule
// (Megatron-LM forward_backward_pipelining_with_interleaving: num_warmup_microbatches).
int64_t interleaved_warmup(int64_t p, int64_t v, int64_t d, int64_t total) {
  return std::min(total, (p - d - 1) * 2 + (v - 1) * p);
}

}  // namespace

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
    const int64_t warm = schedule == 2 ? interleaved_warmup(p, v, d, total) : std::min(total, p - d - 1);
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

std::vector<std::vector<int>> step_sizes(const std::vector<std::vector<Task>>& order, int64_t p, int64_t v,
                                         int schedule, bool training) {
  std::vector<std::vector<int>> out(order.size());
  for (size_t d = 0; d < order.size(); ++d) {
    const auto& q = order[d];
    const int64_t total = static_cast<int64_t>(q.size()), dd = static_cast<int64_t>(d);
    const int64_t warm = schedule == 2 && training ? interleaved_warmup(p, v, dd, total) : total;
    int64_t i = 0;
    for (; i < warm; ++i) out[d].push_back(1);
    // The interleaved steady state: a forward and a backward per step.
    for (; i + 1 < total && q[static_cast<size_t>(i)].kind == TaskKind::fwd &&
           q[static_cast<size_t>(i + 1)].kind == TaskKind::bwd;
         i += 2)
      out[d].push_back(2);
    for (; i < total; ++i) out[d].push_back(1);
  }
  return out;
}

namespace {

// Blocking exchanges. Each device runs steps (one task; in the interleaved
// schedule's steady state a forward and a backward, as Megatron-LM pairs them),
// and between two steps one exchange: the sends of what the step produced and the
// receives of what the next step needs, posted together (send_forward_recv_backward,
// send_backward_recv_forward, send_forward_backward_recv_forward_backward, ...).
// A transfer starts once both its sender and its receiver have posted it; the
// exchange ends when all of its transfers have arrived (for a sender: have been
// sent; the receiver's all-gather of scatter/gather is its own), and the device
// waits for it. (Megatron-LM's warm-up and cool-down send and receive in two calls;
// posting them together differs only by the time of one transfer there.)
ScheduleResult run_blocking(const std::vector<ChunkTiming>& ct, int64_t p, int64_t v, int64_t m, int schedule,
                            bool training, bool with_p2p) {
  const int64_t C = p * v;
  const auto order = schedule_tasks(p, v, m, schedule, training);
  // A transfer: the activation of (chunk, mb) to chunk + 1, or the gradient of
  // (chunk, mb) to chunk - 1 (chunk: the sender's).
  struct Transfer {
    double send = -1, recv = -1, dur = 0;
    double gather = 0;  // of dur, the receiver's all-gather (scatter/gather): the sender does not wait for it
  };
  std::vector<Transfer> fx(static_cast<size_t>(C * m)), bx(static_cast<size_t>(C * m));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t mb = 0; mb < m; ++mb) {
      const ChunkTiming& t = ct[static_cast<size_t>(c)];
      fx[static_cast<size_t>(c * m + mb)] = {-1, -1, with_p2p ? t.p2p_fwd_s : 0,
                                             with_p2p ? t.p2p_fwd_gather_s : 0};
      bx[static_cast<size_t>(c * m + mb)] = {-1, -1, with_p2p ? t.p2p_bwd_s : 0,
                                             with_p2p ? t.p2p_bwd_gather_s : 0};
    }
  struct Side {
    Transfer* x;
    bool sender;
  };
  using Exchange = std::vector<Side>;
  // Per device: its steps and the exchange before each step (and one after the last).
  std::vector<std::vector<std::vector<Task>>> steps(static_cast<size_t>(p));
  std::vector<std::vector<Exchange>> ex(static_cast<size_t>(p));
  const auto sizes = step_sizes(order, p, v, schedule, training);
  for (int64_t d = 0; d < p; ++d) {
    const auto& q = order[static_cast<size_t>(d)];
    auto& st = steps[static_cast<size_t>(d)];
    size_t i = 0;
    for (int n : sizes[static_cast<size_t>(d)]) {
      st.emplace_back(q.begin() + static_cast<std::ptrdiff_t>(i),
                      q.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += static_cast<size_t>(n);
    }
    auto& e = ex[static_cast<size_t>(d)];
    e.assign(st.size() + 1, {});
    for (size_t k = 0; k < st.size(); ++k)
      for (const Task& t : st[k]) {
        const size_t at = static_cast<size_t>(t.chunk * m + t.mb);
        if (t.kind == TaskKind::fwd) {
          if (t.chunk > 0) e[k].push_back({&fx[static_cast<size_t>((t.chunk - 1) * m + t.mb)], false});
          if (t.chunk + 1 < C) e[k + 1].push_back({&fx[at], true});
        } else {
          if (t.chunk + 1 < C) e[k].push_back({&bx[static_cast<size_t>((t.chunk + 1) * m + t.mb)], false});
          if (t.chunk > 0) e[k + 1].push_back({&bx[at], true});
        }
      }
  }
  ScheduleResult r;
  r.end.assign(static_cast<size_t>(p), 0);
  r.busy.assign(static_cast<size_t>(p), 0);
  r.spans.assign(static_cast<size_t>(p), {});
  r.last_bwd_start.assign(static_cast<size_t>(p), std::vector<double>(static_cast<size_t>(v), 0));
  std::vector<size_t> next(static_cast<size_t>(p), 0);  // 2k: exchange k; 2k + 1: step k
  std::vector<double> now(static_cast<size_t>(p), 0);
  bool all_done = false;
  while (!all_done) {
    bool progressed = false;
    all_done = true;
    for (int64_t d = 0; d < p; ++d) {
      const auto D = static_cast<size_t>(d);
      auto& n = next[D];
      const size_t actions = 2 * steps[D].size() + 1;
      while (n < actions) {
        if (n % 2 == 0) {
          const Exchange& xs = ex[D][n / 2];
          bool ready = true;
          double end = now[D];
          for (const Side& s : xs) {
            double& mine = s.sender ? s.x->send : s.x->recv;
            if (mine < 0) mine = now[D];
            const double other = s.sender ? s.x->recv : s.x->send;
            if (other < 0) {
              ready = false;
              continue;
            }
            end = std::max(end, std::max(s.x->send, s.x->recv) + s.x->dur - (s.sender ? s.x->gather : 0));
          }
          if (!ready) break;
          if (end > now[D]) r.spans[D].push_back({Task{TaskKind::fwd, -1, -1}, now[D], end, true});
          now[D] = end;
        } else {
          for (const Task& t : steps[D][n / 2]) {
            const ChunkTiming& c = ct[static_cast<size_t>(t.chunk)];
            const double dur = t.kind == TaskKind::fwd ? c.fwd.end_s : c.bwd_at(t.mb, m).end_s;
            if (t.kind == TaskKind::bwd && t.mb == m - 1)
              r.last_bwd_start[D][static_cast<size_t>(t.chunk / p)] = now[D];
            r.spans[D].push_back({t, now[D], now[D] + dur, false});
            now[D] += dur;
            r.busy[D] += dur;
          }
        }
        ++n;
        progressed = true;
      }
      all_done = all_done && n == actions;
    }
    if (!all_done && !progressed) throw std::logic_error("pipeline schedule deadlocked (blocking exchanges)");
  }
  for (int64_t d = 0; d < p; ++d) {
    r.end[static_cast<size_t>(d)] = now[static_cast<size_t>(d)];
    r.makespan = std::max(r.makespan, now[static_cast<size_t>(d)]);
  }
  return r;
}

}  // namespace

ScheduleResult run_schedule(const std::vector<ChunkTiming>& ct, int64_t p, int64_t v, int64_t m, int schedule,
                            bool training, bool with_p2p, bool blocking) {
  if (blocking) return run_blocking(ct, p, v, m, schedule, training, with_p2p);
  const int64_t C = p * v;
  const auto order = schedule_tasks(p, v, m, schedule, training);
  // Completion times of F(c, mb) and B(c, mb).
  std::vector<double> fend(static_cast<size_t>(C * m), -1), bend(static_cast<size_t>(C * m), -1);
  ScheduleResult r;
  r.end.assign(static_cast<size_t>(p), 0);
  r.busy.assign(static_cast<size_t>(p), 0);
  r.spans.assign(static_cast<size_t>(p), {});
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
        const double dur = t.kind == TaskKind::fwd ? c.fwd.end_s : c.bwd_at(t.mb, m).end_s;
        const double start = std::max(ready, free_at[static_cast<size_t>(d)]);
        free_at[static_cast<size_t>(d)] = start + dur;
        r.busy[static_cast<size_t>(d)] += dur;
        r.spans[static_cast<size_t>(d)].push_back({t, start, start + dur, false});
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
