#pragma once
// The result of one simulation: totals, per-op results and the stats tree, as an
// engine produces them. Renderings (text, JSON, CSV) are sim/report.h's.
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
  double peak_flops = 0;     // of the operand format of the largest op
  std::vector<OpResult> ops;
  Stats stats;
  nlohmann::json extra = nlohmann::json::object();   // optional sections (precision, ...)
};

}  // namespace tessera
