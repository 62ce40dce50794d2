#pragma once
// Engines drive the component models over a compiled program. Both engines
// share plan_kernel() (what each stage costs, asked of the models) and
// finish_run() (energy, derived statistics); they differ in how time advances:
// the analytic engine evaluates the pipeline rule (pipeline.h) in closed form,
// the SystemC engine simulates it with processes and TLM-2.0 transactions.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "isa/isa.h"
#include "sim/hardware.h"
#include "sim/report.h"

namespace tessera {

struct LevelCost {
  double time_s = 0;   // summed transfer time charged to the level per stage
  double bytes = 0;    // bytes per stage
};

struct StagePlan {
  int64_t repeat = 1;
  double compute_s = 0;                   // c of the pipeline rule
  std::map<std::string, LevelCost> levels;  // per memory level
  double load_s = 0;                      // l = max over levels
  double energy_j = 0;                    // dynamic energy of one stage
  double flops_mma = 0;                   // MACs*2 issued per stage
};

struct KernelPlan {
  KernelContext ctx;
  double overhead_s = 0;
  std::vector<StagePlan> stages;
};

// Asks the models what one stage of each block costs. Throws InputError when an
// instruction names a memory level the hardware lacks.
KernelPlan plan_kernel(const Kernel& k, const Hardware& hw);

// Per-kernel outcome produced by an engine's timing.
struct KernelTiming {
  double start_s = 0;
  double end_s = 0;
};

// Builds the report from the per-kernel timings: per-op results, energy
// (dynamic + static power x time), and every derived statistic, in one place.
RunResult finish_run(const Program& p, const Hardware& hw, const std::string& engine,
                     const std::vector<KernelPlan>& plans, const std::vector<KernelTiming>& t);

class Engine {
 public:
  virtual ~Engine() = default;
  virtual RunResult run(const Program& p, const Hardware& hw) = 0;
};

std::vector<std::string> engine_names();
std::unique_ptr<Engine> make_engine(const std::string& name);   // throws InputError

std::unique_ptr<Engine> make_analytic_engine();
std::unique_ptr<Engine> make_systemc_engine();

}  // namespace tessera
