#pragma once
// `tessera calibrate`: fits the GPU model's small set of efficiency and energy
// parameters to microbenchmark records and writes a complete hardware YAML (the
// preset with the fitted values). The fitted parameters, each from its own
// records (nothing is fitted to whole-model workloads):
//   launch_overhead, hbm ramp_bytes   <- membw copies/reads + vec add/gelu (the hbm read/write
//   efficiency is derived from the DRAM cycle model, not fitted)
//   efficiency_<fmt> (fp16, tf32, fp8, int8, fp32)           <- gemm records >= 1 GFLOP, cold L2
//   attention_efficiency_flash2/efficient, attention_softmax_exposed_flash3 <- attn records per backend
//   energy_<fmt>                                             <- energy gemm records (SM clock)
//   cache energy_per_byte, hbm energy_read/write             <- energy/energy2 copy and read records
#include <ostream>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tessera {

// Fits on the records of all the files and returns the preset tree with the
// fitted values set.
YAML::Node calibrate_tree(const std::string& hw, const std::vector<std::string>& sets,
                          const std::vector<std::string>& measured_paths, std::ostream& log);

int run_calibrate(const std::string& hw, const std::vector<std::string>& sets,
                  const std::vector<std::string>& measured_paths, const std::string& out_path, std::ostream& log);

}  // namespace tessera
