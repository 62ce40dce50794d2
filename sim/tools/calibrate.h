#pragma once
// `tessera calibrate`: fits the GPU model's small set of efficiency and energy
// parameters to microbenchmark records and writes a complete hardware YAML (the
// preset with the fitted values). The fitted parameters, each from its own
// records (nothing is fitted to whole-model workloads):
//   launch_overhead, cache dirty_share <- cold membw copies/reads + vec add/gelu (the hbm
//   read/write efficiency is derived from the DRAM cycle model; hbm ramp_bytes is not
//   separable from the launch overhead and keeps the preset's value)
//   efficiency_<fmt> (fp16, tf32, fp8, int8, fp32)           <- gemm records >= 1 GFLOP, cold L2
//   attention_efficiency_flash2/efficient, attention_softmax_exposed_flash3 <- attn records per backend
//   energy_<fmt>                                             <- energy gemm records (SM clock)
//   cache energy_per_byte, hbm energy_read/write             <- energy/energy2 copy and read records
//   host_matmul, host_scaled_mm, host_int_mm, host_copy      <- hot-L2 gemm records by API (torch.matmul:
//     bf16/fp16/tf32/fp32; _scaled_mm: fp8; _int_mm: int8) and hot membw copies
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace tessera {

// Checks the fields calibrate reads from each record of `source` (read_jsonl's
// output) before any fit: section, op, dtype, l2, backend and pass are strings;
// bytes_moved and pj_per_byte_above_idle finite numbers; an energy gemm record
// (section energy, op gemm, with sm_clock_mhz) has M, N, K whole numbers in
// 1..2^31, a non-empty sm_clock_mhz list of positive clocks, positive tflops and
// finite avg_watts and idle_watts. InputError naming the file, the record
// (1-based, blank lines not counted) and the field otherwise.
void check_calibrate_records(const std::vector<nlohmann::json>& records, const std::string& source);

// Fits on the records of all the files and returns the preset tree with the
// fitted values set.
YAML::Node calibrate_tree(const std::string& hw, const std::vector<std::string>& sets,
                          const std::vector<std::string>& measured_paths, std::ostream& log);

int run_calibrate(const std::string& hw, const std::vector<std::string>& sets,
                  const std::vector<std::string>& measured_paths, const std::string& out_path, std::ostream& log);

}  // namespace tessera
