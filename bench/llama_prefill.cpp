// Speed of the analytic engine on a whole model: LLaMA-7B prefill, batch 1,
// 2048 tokens, all 32 layers, on h100-sxm. Target: under 1 s of wall time on one
// core for load + build + compile + simulate. Prints the median of 5 runs.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

int main() {
  using clock = std::chrono::steady_clock;
  const char* spec = "llama-7b:phase=prefill,batch=1,seq=2048";
  std::vector<double> walls;
  double simulated = 0;
  size_t kernels = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = clock::now();
    auto hw = tessera::load_hardware("h100-sxm", {});
    const tessera::Graph g = tessera::build_workload(spec);
    const tessera::Program p = tessera::compile(g, *hw);
    const tessera::RunResult r = tessera::run_program(p, *hw, "analytic");
    walls.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    simulated = r.time_s;
    kernels = p.kernels.size();
  }
  std::sort(walls.begin(), walls.end());
  fmt::print("llama_prefill: {} on h100-sxm: {} kernels, simulated {:.3f} ms, wall median {:.1f} ms "
             "(min {:.1f}, max {:.1f}) over 5 runs; target < 1000 ms\n",
             spec, kernels, simulated * 1e3, walls[2] * 1e3, walls[0] * 1e3, walls[4] * 1e3);
  return walls[2] < 1.0 ? 0 : 1;
}
