#pragma once
// Engines drive the component models over a compiled program. Both engines
// share plan_kernel() (what each stage costs, asked of the models) and
// finish_run() (energy, derived statistics); they differ in how time advances:
// the analytic engine evaluates the pipeline rule (pipeline.h) in closed form,
// kernel after kernel; the SystemC engine simulates it with processes and TLM-2.0
// transactions, and with streams=N runs up to N kernels at once.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "isa/isa.h"
#include "models/compute/stage_cost.h"
#include "models/hardware.h"
#include "sim/engines/result.h"

namespace tessera {

// One block's stage as the models cost it (StageCost: per-level transfers, l, c,
// dynamic energy, mma FLOPs of one run), and how many times it repeats.
struct StagePlan : StageCost {
  int64_t repeat = 1;
};

struct KernelPlan {
  KernelContext ctx;
  double overhead_s = 0;
  double idle_s = 0;   // of overhead_s, outside the kernel (ComputeModel::launch_idle_s)
  double host_s = 0;   // host time of the kernel's op (ComputeModel::host_time_s)
  double launch_s = 0; // overhead of a launch onto an idle device (ComputeModel::idle_launch_s)
  std::vector<StagePlan> stages;
};

// Asks the models what one stage of each block costs. Throws InputError when an
// instruction names a memory level (or unit) the hardware lacks.
KernelPlan plan_kernel(const Kernel& k, const Hardware& hw);

// Per-kernel outcome produced by an engine's timing.
struct BlockTiming {
  double load_start_s = 0, load_end_s = 0;         // first stage's loads issued .. last stage's done
  double compute_start_s = 0, compute_end_s = 0;   // first stage's compute started .. last done
};
struct KernelTiming {
  double start_s = 0;
  double end_s = 0;
  int stream = 0;                    // kernel slot it ran in
  double host_wait_s = 0;            // after start_s, time the device waited for the host (host.h)
  std::vector<BlockTiming> blocks;   // per block of the kernel (empty: not recorded)
};

// The run's timeline (RunResult::timeline) from the plans and timings
// (sim/engines/timeline.cpp); finish_run calls it.
RunTimeline build_timeline(const Program& p, const Hardware& hw, const std::vector<KernelPlan>& plans,
                           const std::vector<KernelTiming>& t);

// Builds the report from the per-kernel timings: per-op results, energy
// (dynamic + static power x time), and every derived statistic, in one place.
// Kernels may overlap in time (systemc:streams=N): the run ends with the last
// kernel, static energy follows that wall time, and each op's energy carries the
// static power shared among the kernels in flight with it (so the ops' energies
// add up to the run's). `compute_busy_s` >= 0 is the time during which some kernel
// was computing as the engine measured it (needed once kernels overlap); < 0 =
// the sum of the kernels' compute times (exact when they run one at a time).
// `host_done_s`: when the host was done with its last op (models/compute/host.h);
// the run ends no sooner.
RunResult finish_run(const Program& p, const Hardware& hw, const std::string& engine,
                     const std::vector<KernelPlan>& plans, const std::vector<KernelTiming>& t,
                     double compute_busy_s = -1, double host_done_s = 0);

class Engine {
 public:
  virtual ~Engine() = default;
  virtual RunResult run(const Program& p, const Hardware& hw) = 0;
};

// Most kernels the systemc engine keeps in flight (systemc:streams=N, N <= this):
// the size of its pool of kernel-runner processes, built once per process.
inline constexpr int k_max_streams = 16;

std::vector<std::string> engine_names();

// The engine parameters (paths engine.<name> of the parameter space).
struct EngineOptions {
  std::string name = "analytic";   // analytic | systemc
  int streams = 1;                 // systemc: kernels in flight, 1..k_max_streams
  bool allow_over_capacity = false;   // a footprint above the device memory is a warning, not an error
  double emulation_budget_s = 1.0;    // most estimated CPU time of --precision emulation (sim/precision.h)
};
// Their declarations: name (choice), streams (int 1..k_max_streams),
// allow_over_capacity (bool; sim/engines/capacity.h), emulation_budget (seconds).
const std::vector<ParamSpec>& engine_param_specs();
// The value of one parameter as text ("systemc", "2").
std::string engine_option_value(const EngineOptions& o, const std::string& key);
// Parses an --engine argument: "analytic", "systemc" or "systemc:streams=N"
// (N = 1..k_max_streams; "systemc" is streams=1). Throws InputError naming the
// option and what is accepted.
EngineOptions parse_engine_spec(const std::string& spec);
// `o` with key=value set (`--set engine.<key>=<value>`); errors start with
// "--set '<set_arg>': " and name what is accepted. Call check_engine_options
// once every key is set.
void set_engine_option(EngineOptions& o, const std::string& key, const std::string& value,
                       const std::string& set_arg);
// Throws InputError when the options do not combine (streams > 1 on analytic).
void check_engine_options(const EngineOptions& o);
std::unique_ptr<Engine> make_engine(const EngineOptions& o);
// make_engine(parse_engine_spec(spec)).
std::unique_ptr<Engine> make_engine(const std::string& spec);

std::unique_ptr<Engine> make_analytic_engine();
// streams: most kernels in flight at once (1 = one after another).
std::unique_ptr<Engine> make_systemc_engine(int streams = 1);

}  // namespace tessera
