// A multi-device run's timeline (RunResult::parallel_timeline, written by
// --trace): the analytic schedule's spans per pipeline position, or the systemc
// engine's per device.
#include <fmt/format.h>

#include <algorithm>

#include "sim/engines/parallel_parts.h"

namespace tessera::parallel_engine {
namespace {

std::string pass_name(bool backward, int64_t chunk, int64_t mb, int64_t v) {
  // With one chunk per position the chunk is the position: the row says it.
  return v > 1 ? fmt::format("{} mb {} chunk {}", backward ? 'B' : 'F', mb, chunk)
               : fmt::format("{} mb {}", backward ? 'B' : 'F', mb);
}

}  // namespace

void schedule_spans(const std::vector<TaskSpan>& tasks, const std::vector<ChunkTiming>& ct, int64_t v,
                    bool blocking, std::vector<ParallelSpan>& out) {
  const auto chunks = static_cast<int64_t>(ct.size());
  for (const TaskSpan& s : tasks) {
    if (s.exchange) {
      out.push_back({"p2p", "exchange", "p2p", s.start_s, s.end_s});
      continue;
    }
    const Task& t = s.task;
    const bool bwd = t.kind == TaskKind::bwd;
    ParallelSpan p{"compute", pass_name(bwd, t.chunk, t.mb, v), bwd ? "backward" : "forward", s.start_s,
                   s.end_s};
    p.chunk = t.chunk;
    p.mb = t.mb;
    out.push_back(p);
    // An overlapped send leaves when its pass ends (parallel_schedule.cpp: the
    // receiver's task is ready that much later).
    const ChunkTiming& c = ct[static_cast<size_t>(t.chunk)];
    const int64_t to = bwd ? t.chunk - 1 : t.chunk + 1;
    const double dur = bwd ? c.p2p_bwd_s : c.p2p_fwd_s;
    if (!blocking && to >= 0 && to < chunks && dur > 0) {
      ParallelSpan x{"p2p", fmt::format("send {} mb {} to chunk {}", bwd ? 'B' : 'F', t.mb, to), "p2p",
                     s.end_s, s.end_s + dur};
      x.chunk = t.chunk;
      x.mb = t.mb;
      out.push_back(x);
    }
  }
}

ParallelTimeline iteration_timeline(const IterationResult& r, int64_t tp, int64_t dp, int64_t v) {
  ParallelTimeline tl;
  for (size_t g = 0; g < r.spans.size(); ++g) {
    const auto G = static_cast<int64_t>(g);
    const int64_t t = G % tp, j = (G / tp) % dp, d = G / (tp * dp);
    tl.rows.push_back(fmt::format("device {}: pipeline position {}, tp rank {}, dp rank {}", g, d, t, j));
    std::vector<ParallelSpan> row;
    for (const IterSpan& s : r.spans[g]) {
      ParallelSpan p;
      p.start_s = s.start_s;
      p.end_s = s.end_s;
      p.chunk = s.chunk;
      p.mb = s.mb;
      switch (s.kind) {
        case IterSpan::Kind::forward:
        case IterSpan::Kind::backward: {
          const bool bwd = s.kind == IterSpan::Kind::backward;
          p.track = "compute";
          p.name = pass_name(bwd, s.chunk, s.mb, v);
          p.cat = bwd ? "backward" : "forward";
          break;
        }
        case IterSpan::Kind::optimizer:
          p.track = "compute";
          p.name = v > 1 ? fmt::format("optimizer chunk {}", s.chunk) : "optimizer";
          p.cat = "optimizer";
          break;
        case IterSpan::Kind::send:
          p.track = "p2p";
          p.name = s.name;
          p.cat = "p2p";
          break;
        case IterSpan::Kind::exchange:
          p.track = "p2p";
          p.name = "exchange";
          p.cat = "p2p";
          break;
        case IterSpan::Kind::dp:
          p.track = "dp reduction";
          p.name = s.name;
          p.cat = "dp";
          break;
        case IterSpan::Kind::comm:
          p.track = "comm stream";
          p.name = s.name;
          p.cat = "comm";
          break;
      }
      row.push_back(std::move(p));
    }
    tl.spans.push_back(std::move(row));
  }
  sort_rows(tl);
  return tl;
}

void sort_rows(ParallelTimeline& tl) {
  for (auto& row : tl.spans)
    std::stable_sort(row.begin(), row.end(),
                     [](const ParallelSpan& a, const ParallelSpan& b) { return a.start_s < b.start_s; });
}

}  // namespace tessera::parallel_engine
