// Systolic array benchmark: SCALE-Sim's GEMM_mnk/gpt2.csv on a 32x32
// weight-stationary array (CALC mode, analytic DRAM model). Prints per-layer
// cycles, the simulated total, the wall time and simulated cycles per second.
// Defines main(): tessera-bench's entry point until the bench mains are merged.
#include <chrono>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "models/systolic/systolic.h"
#include "core/error.h"

namespace sys = tessera::systolic;

int run_systolic_bench() {
  const std::filesystem::path topo = std::filesystem::path(TESSERA_SHARED_DIR) / "peer-data" /
                                     "scale-sim" / "topologies" / "GEMM_mnk" / "gpt2.csv";
  sys::ArrayConfig cfg;
  cfg.rows = 32;
  cfg.cols = 32;
  cfg.dataflow = sys::Dataflow::ws;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<sys::Layer> layers = sys::parse_scalesim_topology(topo);
  std::vector<sys::LayerResult> results;
  for (const sys::Layer& l : layers) results.push_back(sys::simulate_layer(cfg, l));
  const auto t1 = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(t1 - t0).count();
  std::int64_t total = 0;
  fmt::print("systolic: {} on 32x32 ws, CALC\n", topo.filename().string());
  fmt::print("{:<10} {:>14} {:>10} {:>10}\n", "layer", "cycles", "util %", "map eff %");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    fmt::print("{:<10} {:>14} {:>10.3f} {:>10.3f}\n", layers[i].name, results[i].total_cycles,
               results[i].overall_utilization, results[i].mapping_efficiency);
    total += results[i].total_cycles;
  }
  fmt::print("total simulated cycles: {}\n", total);
  fmt::print("wall time: {:.6f} s, simulated cycles/s: {:.3e}\n", wall,
             static_cast<double>(total) / (wall > 0 ? wall : 1e-9));
  return 0;
}

int main() {
  try {
    return run_systolic_bench();
  } catch (const tessera::InputError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
}
