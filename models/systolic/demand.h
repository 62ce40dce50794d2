#pragma once
// SCALE-Sim v2's demand view of one layer: for every fold, line (cycle within
// the fold) and array port, which operand address the array requests, or -1.
// Generated on the fly from closed forms, so nothing here stores a matrix.
// Used for the SRAM start/stop cycles and for the CALC-mode DRAM replay.
#include <cstdint>

#include "models/systolic/systolic.h"

namespace tessera::systolic::detail {

enum class Operand { ifmap, filter, ofmap };

class DemandView {
 public:
  DemandView(std::int64_t rows, std::int64_t cols, Dataflow df, const Layer& layer,
             std::int64_t ifmap_offset, std::int64_t filter_offset, std::int64_t ofmap_offset);

  const FoldGeometry& geometry() const { return m_geo; }
  std::int64_t folds() const { return m_geo.row_folds * m_geo.col_folds; }
  // Number of request ports of `op` (the width of its demand line).
  std::int64_t width(Operand op) const;
  // Address requested on port `c` at line `l` of fold `f` (folds in SCALE-Sim's
  // order: column folds outer, row folds inner), or -1.
  std::int64_t address(Operand op, std::int64_t f, std::int64_t l, std::int64_t c) const;
  // First / last global line (fold * cycles_per_fold + line) holding a request of
  // `op`, or -1 if the operand is never requested.
  std::int64_t first_line(Operand op) const;
  std::int64_t last_line(Operand op) const;

 private:
  bool line_has_request(Operand op, std::int64_t f, std::int64_t l) const;
  std::int64_t ifmap_addr(std::int64_t p, std::int64_t k) const;
  std::int64_t filter_addr(std::int64_t k, std::int64_t n) const;
  std::int64_t ofmap_addr(std::int64_t p, std::int64_t n) const;

  std::int64_t m_rows, m_cols;
  Dataflow m_df;
  Layer m_layer;
  FoldGeometry m_geo;
  std::int64_t m_oh, m_ow, m_k, m_n;
  std::int64_t m_ifmap_offset, m_filter_offset, m_ofmap_offset;
};

// Result of replaying SCALE-Sim v2's CALC-mode memory system (read_buffer_estimate_bw
// for ifmap and filter, write_buffer for ofmap) over the demand view.
struct ReplayResult {
  std::int64_t total_cycles = 0, stall_cycles = 0;
  std::int64_t ifmap_dram_reads = 0, filter_dram_reads = 0, ofmap_dram_writes = 0;
  double ifmap_dram_start = 0, ifmap_dram_stop = 0;
  double filter_dram_start = 0, filter_dram_stop = 0;
  double ofmap_dram_start = 0, ofmap_dram_stop = 0;
};

ReplayResult replay_scalesim_calc(const DemandView& view, const ArrayConfig& cfg);

}  // namespace tessera::systolic::detail
