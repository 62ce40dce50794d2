// The analytic engine: kernels run back to back on one stream (as a framework
// launches them); each kernel's stages follow the pipeline rule in closed form.
#include "sim/engines/engine.h"
#include "sim/engines/pipeline.h"

namespace tessera {
namespace {

class AnalyticEngine : public Engine {
 public:
  RunResult run(const Program& p, const Hardware& hw) override {
    std::vector<KernelPlan> plans;
    std::vector<KernelTiming> times;
    plans.reserve(p.kernels.size());
    double now = 0;
    for (const Kernel& k : p.kernels) {
      KernelPlan plan = plan_kernel(k, hw);
      const double begin = now + plan.overhead_s;
      PipelineState st{begin, begin, begin};
      for (const StagePlan& sp : plan.stages) advance_pipeline(st, sp.load_s, sp.compute_s, sp.repeat);
      times.push_back({now, st.compute_done});
      now = st.compute_done;
      plans.push_back(std::move(plan));
    }
    return finish_run(p, hw, "analytic", plans, times);
  }
};

}  // namespace

std::unique_ptr<Engine> make_analytic_engine() { return std::make_unique<AnalyticEngine>(); }

}  // namespace tessera
