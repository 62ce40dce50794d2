#include "compiler/systolic/mapper.h"
#include "compiler/tensorcore/mapper.h"
#include "models/interconnect/system.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/math.h"
#include "models/systolic/systolic.h"

namespace tessera {

namespace {

// Adds `v` to a summed kernel fact (unset counts as 0).
void add(std::optional<double>& field, double v) { field = field.value_or(0) + v; }

}  // namespace

Kernel SystolicMapper::lower(const Graph& g, int index, const Hardware& hw) const {
  const Op& op = g.ops[static_cast<size_t>(index)];
  if (is_collective_kind(op.kind) && find_system(hw)) {
    // A collective on a system: the interconnect model's plan (compiler/tensorcore/collective.cpp).
    Kernel k = lower_system_collective(op, hw);
    k.name = fmt::format("k{}_{}", index, op.name);
    k.op_index = index;
    k.flops = op_flops(op);
    k.bytes = op_min_bytes(op);
    return k;
  }
  Kernel kern;
  kern.name = fmt::format("k{}_{}", index, op.name);
  kern.op_kind = std::string(op_kind_name(op.kind));
  kern.op_index = index;
  kern.flops = op_flops(op);
  kern.bytes = op_min_bytes(op);
  const std::string outer = hw.memories().back().first;
  const systolic::ArrayConfig cfg = m_array.array_config();
  const DType acc = *parse_dtype(m_array.params().text("acc_dtype"));

  const std::vector<SystolicLayer> layers = SystolicArray::layers_of(op);
  double vector_elems = 0;
  std::string vec_name = std::string(op_kind_name(op.kind));
  if (op.kind == OpKind::attention) {
    // Softmax over the score matrix on the vector unit (max, sub, exp, sum, div);
    // backward: its recomputation from the saved log-sum-exp (sub, exp) and
    // dS = P (dP - D) (sub, mul): 4 per score.
    const bool bwd = op.get("backward", 0) != 0;
    vector_elems = (bwd ? 4.0 : 5.0) * static_cast<double>(op.at("batch") * op.at("heads") * op.at("sq") * op.at("skv"));
    vec_name = bwd ? "softmax_backward" : "softmax";
  } else if (layers.empty()) {
    // Element-wise and row kernels (backward and optimizer kernels included) at
    // the IR's operation count; their bytes are op_min_bytes.
    vector_elems = std::max(1.0, op_flops(op));
  }

  std::string mapping;
  for (const auto& lv : layers) {
    const systolic::LayerResult r = systolic::simulate_layer(cfg, lv.layer);
    const systolic::FoldGeometry geo = systolic::fold_geometry(cfg.rows, cfg.cols, cfg.dataflow, lv.layer);
    // DRAM words the scratchpads move for one fold (averaged over the layer).
    const double dram_words = static_cast<double>(r.ifmap_dram_reads + r.filter_dram_reads + r.ofmap_dram_writes);
    Block b;
    b.repeat = lv.batch * r.folds;
    Instr ld;
    ld.op = Opcode::load;
    ld.src = outer;
    ld.dst = "sram";
    ld.bytes = static_cast<int64_t>(std::ceil(dram_words * static_cast<double>(cfg.word_bytes) /
                                              static_cast<double>(r.folds)));
    Instr mm;
    mm.op = Opcode::mma;
    // Scratchpad bytes one fold moves: the array's reads and writes plus the
    // fills and drains from/to DRAM (the ports keep pace with the array; energy
    // comes from the per-operand counts below).
    const double sram_words = static_cast<double>(r.ifmap_sram_reads + r.filter_sram_reads + r.ofmap_sram_writes) +
                              dram_words;
    mm.bytes = static_cast<int64_t>(std::ceil(sram_words * static_cast<double>(cfg.word_bytes) /
                                              static_cast<double>(r.folds)));
    mm.m = geo.t;                                   // streamed (temporal) length
    mm.n = std::min(geo.sc, cfg.cols);              // columns used
    mm.k = std::min(geo.sr, cfg.rows);              // rows used
    mm.count = std::min<int64_t>(cfg.cores, geo.row_folds * geo.col_folds);
    mm.a = m_array.operand_dtype(op);
    mm.acc = acc;
    b.instrs = {ld, mm};
    kern.blocks.push_back(b);
    if (!mapping.empty()) mapping += "; ";
    mapping += fmt::format("{} {}x{} folds x{} (map eff {:.0f}%)", systolic::dataflow_name(cfg.dataflow),
                           geo.row_folds, geo.col_folds, lv.batch, r.mapping_efficiency);
    add(kern.info.macs, static_cast<double>(lv.batch * r.macs));
    // The layer's scratchpad actions per operand, for instr_energy_j.
    const systolic::ActionCounts n = systolic::action_counts(cfg, r);
    const double copies = static_cast<double>(lv.batch);
    add(kern.info.ifmap_sram_reads, copies * n.ifmap_sram_reads);
    add(kern.info.ifmap_sram_writes, copies * n.ifmap_sram_writes);
    add(kern.info.filter_sram_reads, copies * n.filter_sram_reads);
    add(kern.info.filter_sram_writes, copies * n.filter_sram_writes);
    add(kern.info.ofmap_sram_reads, copies * n.ofmap_sram_reads);
    add(kern.info.ofmap_sram_writes, copies * n.ofmap_sram_writes);
    kern.info.mma_folds = kern.info.mma_folds.value_or(0) + b.repeat;
    kern.info.cycles_per_fold = geo.cycles_per_fold;
  }
  if (vector_elems > 0) {
    Block b;
    Instr ld;
    ld.op = Opcode::load;
    ld.src = outer;
    ld.dst = "vector";
    // A vector-unit op whose producers ran on this chip and whose tensors fit in
    // the on-chip buffers works on them in place (TPU v1's activation pipeline and
    // unified buffer, Gemmini's and FSD's SIMD units): no off-chip traffic. A
    // graph input, or tensors larger than the buffers, stream from DRAM.
    const double on_chip = m_array.params().real("ifmap_sram") + m_array.params().real("ofmap_sram");
    const bool resident = !op.deps.empty() && kern.bytes <= on_chip;
    ld.bytes = layers.empty() && !resident ? static_cast<int64_t>(std::ceil(kern.bytes)) : 0;
    if (layers.empty()) kern.info.on_chip = resident ? 1 : 0;
    Instr v;
    v.op = Opcode::vec;
    v.name = vec_name;
    v.elems = static_cast<int64_t>(std::ceil(vector_elems));
    v.a = op.dtype;
    b.instrs = {ld, v};
    kern.blocks.push_back(b);
    if (!mapping.empty()) mapping += "; ";
    mapping += fmt::format("vector unit {} elems{}", v.elems,
                           layers.empty() ? (kern.info.on_chip.value_or(0) > 0 ? ", on chip" : ", from DRAM") : "");
  }
  kern.mapping = mapping;
  return kern;
}

}  // namespace tessera
