// The analytic engine: kernels run back to back on one stream (as a framework
// launches them); each kernel's stages follow the pipeline rule in closed form,
// and a kernel starts no sooner than the host has issued it (models/compute/host.h).
#include "models/compute/host.h"
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
    HostIssue host(hw.compute().host_queue_depth());
    for (const Kernel& k : p.kernels) {
      KernelPlan plan = plan_kernel(k, hw);
      const double issued = host.launch(plan.host_s);
      const double queued = now + plan.overhead_s;
      // A kernel without host time (a CUDA-graph node) is not launched by the host.
      const double begin = plan.host_s > 0 ? std::max(queued, issued + plan.launch_s) : queued;
      PipelineState st{begin, begin, begin};
      KernelTiming kt{now, 0, 0, begin - queued, {}};
      for (const StagePlan& sp : plan.stages) {
        // The first stage's start on each lane (pipeline.h), for the timeline.
        BlockTiming bt;
        bt.load_start_s = std::max(st.load_done, st.compute_done2);
        bt.compute_start_s = std::max(bt.load_start_s + sp.load_s, st.compute_done);
        advance_pipeline(st, sp.load_s, sp.compute_s, sp.repeat);
        bt.load_end_s = st.load_done;
        bt.compute_end_s = st.compute_done;
        kt.blocks.push_back(bt);
      }
      kt.end_s = st.compute_done;
      times.push_back(std::move(kt));
      now = st.compute_done;
      host.retire(now);
      if (k.info.host_sync.value_or(0) != 0) host.sync(now);
      plans.push_back(std::move(plan));
    }
    return finish_run(p, hw, "analytic", plans, times, -1, host.done());
  }
};

}  // namespace

std::unique_ptr<Engine> make_analytic_engine() { return std::make_unique<AnalyticEngine>(); }

}  // namespace tessera
