// Sweep throughput (the speed targets of `tessera sweep`):
//  1. one GPT-2 layer (SCALE-Sim's GEMM topology gpt2.csv: QK^T, QK^T V, the
//     attention and MLP projections) on tpu-v1 over rows x cols x dataflow x
//     operand format x DRAM bandwidth = 10 x 10 x 3 x 4 x 9 = 10,800 points;
//     target: under 60 s on a 2-core machine.
//  2. h100-sxm clock x HBM bandwidth x batch on LLaMA-7B prefill (2048 tokens,
//     32 layers) = 10 x 10 x 10 = 1,000 points (reported, no target).
//   build/bench_sweep [jobs]      (default: the machine's cores)
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "sim/tools/sweep_run.h"

namespace fs = std::filesystem;

namespace {

double run(const std::string& name, const std::string& spec_text, int jobs, int64_t expected) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tessera-bench-sweep-{}", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path spec = dir / "spec.yaml";
  std::ofstream(spec) << spec_text;
  tessera::SweepRunOptions o;
  o.out = (dir / "results.db").string();
  o.jobs = jobs;
  o.quiet = true;
  std::ostringstream out;
  const auto t0 = std::chrono::steady_clock::now();
  tessera::run_sweep(spec.string(), o, out, std::cerr);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: {} points with {} threads in {:.2f} s: {:.0f} points/s\n  ({})\n", name, expected, jobs, dt,
             static_cast<double>(expected) / dt, out.str().substr(0, out.str().size() - 1));
  fs::remove_all(dir);
  return dt;
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string shared = TESSERA_SHARED_DIR;
  const double t1 = run("systolic_gpt2_layer", fmt::format(R"(hw: tpu-v1
workload: "{}/peer-data/scale-sim/topologies/GEMM_mnk/gpt2.csv"
axes:
  compute.rows: [16, 32, 48, 64, 96, 128, 160, 192, 224, 256]
  compute.cols: [16, 32, 48, 64, 96, 128, 160, 192, 224, 256]
  compute.dataflow: [os, ws, is]
  compute.operand_dtype: [int8, fp8_e4m3, bf16, fp16]
  compute.formats: [any]
  memory.dram.bandwidth: {{log_range: [10GB/s, 1TB/s], points: 9}}
)", shared), jobs, 10800);
  run("gpu_llama7b_prefill", R"(hw: h100-sxm
workload: "llama-7b:phase=prefill,seq=2048,layers=32"
axes:
  compute.max_clock: {range: [1.08GHz, 1.98GHz], points: 10}
  memory.dram.bandwidth: {range: [2TB/s, 3.35TB/s], points: 10}
  workload.batch: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
)", jobs, 1000);
  if (t1 > 60) {
    fmt::print("systolic_gpt2_layer: {:.1f} s exceeds the 60 s target\n", t1);
    return 1;
  }
  return 0;
}
