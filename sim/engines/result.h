#pragma once
// The result of one simulation: totals, per-op results and the stats tree, as an
// engine produces them. Renderings (text, JSON, CSV) are sim/report.h's.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/stats.h"

namespace tessera {

struct OpResult {
  std::string name;
  std::string kind;
  std::string mapping;       // what the compiler chose
  double start_s = 0;
  double time_s = 0;
  double compute_s = 0;      // busy time of the compute units
  double memory_s = 0;       // busy time of the busiest memory level
  double overhead_s = 0;     // launch / fill / drain
  double idle_s = 0;         // of overhead_s, the launch outside the kernel itself
  double energy_j = 0;
  double flops = 0;
  double bytes = 0;          // minimum bytes of the op
  double clock_hz = 0;
  std::string bound;         // "compute", "memory:<level>", "overhead"
  int64_t launches = 1;      // kernel launches of the op (KernelInfo::launches)
};

// When and where each kernel ran, for timelines (sim/trace_export.h). One entry
// per kernel, in program order (the same order as RunResult::ops).
struct TimelineBlock {
  int64_t repeat = 0;               // stages (iterations) of the block
  double load_start_s = 0;          // first stage's transfers issued
  double load_end_s = 0;            // last stage's transfers done
  double compute_start_s = 0;       // first stage's compute started
  double compute_end_s = 0;         // last stage's compute done
  double compute_busy_s = 0;        // repeat x the stage's compute time
  double energy_j = 0;              // dynamic energy of the block's stages
  std::string compute_class;        // "MMA", "VEC", "COLL", joined by '+' when mixed; "" = none
  std::string compute_unit;         // component path of the compute phase ("compute", a link, ...)
  struct Level {
    double busy_s = 0;              // repeat x the stage's transfer time on the level
    double bytes = 0;               // bytes moved
  };
  std::map<std::string, Level> levels;   // per memory level
};

struct TimelineKernel {
  int device = 0;                   // index into RunTimeline::devices
  int stream = 0;                   // engine stream (kernel slot) the kernel ran on
  double start_s = 0, end_s = 0;
  double overhead_s = 0;            // launch / fill before the first stage
  double clock_hz = 0;
  std::vector<TimelineBlock> blocks;
};

struct RunTimeline {
  std::vector<std::string> devices;        // device names (index = TimelineKernel::device)
  std::vector<std::string> levels;         // memory levels, innermost first (last = off-chip)
  std::vector<std::string> cache_levels;   // of those, the caches (hit rate = 1 - next level's bytes / its bytes)
  double static_power_w = 0;
  std::vector<TimelineKernel> kernels;
};

// A multi-device run's timeline (sim/trace_export.h): one row per pipeline
// position (the analytic engine: each position stands for its tp x dp devices,
// which do the same work at the same time) or per device (the systemc engine's
// whole iteration), and on each row its passes and transfers in time.
struct ParallelSpan {
  std::string track;  // "compute" (passes), "p2p" (pipeline transfers), "dp reduction" (gradient buckets)
  std::string name;   // e.g. "F mb 3", "B mb 3 chunk 5", "optimizer", "bucket 2"
  std::string cat;    // forward | backward | optimizer | p2p | dp
  double start_s = 0, end_s = 0;
  int64_t chunk = -1, mb = -1;  // the pass's model chunk and microbatch (-1: none)
};
struct ParallelTimeline {
  std::vector<std::string> rows;                 // row names
  std::vector<std::vector<ParallelSpan>> spans;  // per row, in start order
};

struct RunResult {
  std::string hardware;
  std::string workload;
  std::string engine;
  double time_s = 0;
  double cycles = 0;         // at the compute model's nominal clock
  double clock_hz = 0;
  double energy_j = 0;
  double avg_power_w = 0;
  double flops = 0;
  double kernel_time_s = 0;  // summed kernel durations, launch idle left out (a profiler's total)
  double host_done_s = 0;    // when the host was done with its last op (models/compute/host.h; 0: no host time)
  double peak_flops = 0;     // of the operand format of the largest op
  std::vector<OpResult> ops;
  Stats stats;
  nlohmann::json extra = nlohmann::json::object();   // optional sections (precision, ...)
  RunTimeline timeline;      // per kernel and block, for --trace
  ParallelTimeline parallel_timeline;  // multi-device runs: per row, for --trace
};

}  // namespace tessera
