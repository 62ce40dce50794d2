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
// Each predicts `median_ms`. Model: DRAM traffic in 32 B sectors (the L2's sector);
// the DRAM efficiency of the access pattern from the cycle model of the stacks
// (gather rows or strided sectors, simulated once per shape in a run) relative to
// streaming; the GPU side (launch, ramp, per-SM limits) through the ordinary
// analytic path as a streaming read of the equivalent bytes.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "models/hardware.h"

namespace tessera {

struct MemoryPrediction {
  std::string quantity;
  double measured = 0, predicted = 0;
  std::string group;
};

// nullopt with `skip` set when the record is of these sections but not modelled;
// nullopt with `skip` empty when the section is not one of these.
std::optional<MemoryPrediction> predict_memory_record(const nlohmann::json& r, const Hardware& hw,
                                                      std::string& skip);

}  // namespace tessera
