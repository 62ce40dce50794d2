#pragma once
// `compare` sections for memory access patterns, predicted with the DRAM cycle
// model behind the hardware's `hbm` level:
//   hbmpat  op gather               t.index_select(0, idx) on a bf16 table
//                                   (pattern, row_bytes, rows_gathered, table_bytes,
//                                   bytes_moved = 2 x rows x row_bytes), L2 flushed
//           op strided_read_sum_fp32 x[::stride_elems].sum(), `elems` summed from an
//                                   fp32 tensor of elems x stride_elems floats, L2 flushed
//   l2sweep op read_sum_fp32_x20    x.sum() 20 times on one fp32 tensor of
//                                   working_set_bytes, no flush, one CUDA graph
// Each predicts `median_ms` by running the matching built-in workload (gather,
// strided_read, read_repeat; workloads/models/memory.cpp) on the analytic engine:
// the mapper moves whole L2 sectors for scattered reads and keeps a re-read tensor
// in the L2 while it fits (compiler/tensorcore/access.h); the `hbm` level charges
// scattered reads the cycle model's efficiency of that access pattern
// (dram::access_efficiency).
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "models/hardware.h"

namespace tessera {

struct MemoryPrediction {
  std::string quantity;
  double measured = 0, predicted = 0;
  std::string group;
  std::string spec;  // the workload that predicted it
};

// nullopt with `skip` set when the record is of these sections but not modelled;
// nullopt with `skip` empty when the section is not one of these.
std::optional<MemoryPrediction> predict_memory_record(const nlohmann::json& r, const Hardware& hw,
                                                      std::string& skip);

}  // namespace tessera
