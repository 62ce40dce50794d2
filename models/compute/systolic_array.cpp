#include "models/compute/systolic_array.h"
#include "core/math.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/systolic/systolic.h"
#include "core/error.h"
#include "models/hardware.h"

namespace tessera {
namespace {


systolic::Dataflow dataflow_of(const Params& p) {
  const std::string& df = p.text("dataflow");
  return df == "os" ? systolic::Dataflow::os : df == "is" ? systolic::Dataflow::is : systolic::Dataflow::ws;
}

// models/systolic's energy parameters from the component's: the node, and the
// per-MAC / per-byte figures where given (0 = Horowitz's tables, node-scaled).
systolic::EnergyParams energy_params(const Params& p) {
  systolic::EnergyParams ep;
  ep.node_nm = p.real("node_nm");
  if (p.real("mac_energy") > 0) ep.mac_pj_override = p.real("mac_energy") * 1e12;
  if (p.real("sram_energy_per_byte") > 0) ep.sram_read_pj_per_byte = p.real("sram_energy_per_byte") * 1e12;
  return ep;
}

}  // namespace

systolic::ArrayConfig SystolicArray::array_config() const {
  systolic::ArrayConfig a;
  a.rows = m_params.integer("rows");
  a.cols = m_params.integer("cols");
  a.dataflow = dataflow_of(m_params);
  a.ifmap_sram_bytes = static_cast<int64_t>(m_params.real("ifmap_sram"));
  a.filter_sram_bytes = static_cast<int64_t>(m_params.real("filter_sram"));
  a.ofmap_sram_bytes = static_cast<int64_t>(m_params.real("ofmap_sram"));
  a.word_bytes = m_params.integer("word_bytes");
  // The engine applies the off-chip bandwidth (memory model + pipeline rule);
  // the array model supplies stall-free cycles and traffic counts.
  a.bandwidth_mode = systolic::BandwidthMode::calc;
  a.cores = m_params.integer("cores");
  a.clock_hz = m_params.real("clock");
  return a;
}

std::vector<SystolicLayer> SystolicArray::layers_of(const Op& op) {
  std::vector<SystolicLayer> layers;
  switch (op.kind) {
    case OpKind::matmul:
      layers.push_back({op.at("batch"), systolic::Layer::from_gemm(op.name, op.at("m"), op.at("n"), op.at("k"))});
      break;
    case OpKind::conv2d: {
      if (op.get("grad", 0) != 0) {
        // Data or weight gradient: the pass's implicit GEMM (conv_gemm_dims), one
        // product per group.
        const ConvGemm c = conv_gemm_dims(op);
        layers.push_back({c.groups, systolic::Layer::from_gemm(op.name, c.m, c.n, c.k)});
        break;
      }
      // SCALE-Sim's convolution form (im2col: one ofmap pixel per operand row).
      // Padding is folded into an equivalent ifmap size; groups are independent layers.
      const int64_t dil = op.get("dilation", 1), groups = op.get("groups", 1);
      systolic::Layer l;
      l.name = op.name;
      l.filter_h = op.at("r");
      l.filter_w = op.at("s");
      l.ifmap_h = op.at("h") + 2 * op.at("pad");
      l.ifmap_w = op.at("w") + 2 * op.at("pad");
      l.channels = op.at("cin") / groups;
      l.num_filters = op.at("cout") / groups;
      l.stride_h = l.stride_w = op.at("stride");
      if (dil > 1) {
        // A dilated window reads r*s taps spread over its extent: as a GEMM.
        const int64_t ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil);
        const int64_t wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil);
        l = systolic::Layer::from_gemm(op.name, ho * wo, l.num_filters, op.at("r") * op.at("s") * l.channels);
      }
      layers.push_back({op.at("n") * groups, l});
      break;
    }
    case OpKind::attention: {
      // Q.K^T and P.V per (batch, head) on the array.
      const int64_t bh = op.at("batch") * op.at("heads");
      const int64_t sq = op.at("sq"), skv = op.at("skv"), d = op.at("d");
      if (op.get("backward", 0) != 0) {
        // The backward's five products (FlashAttention's algorithm, recomputing the
        // scores): S = Q K^T, dP = dO V^T, dV = P^T dO, dK = dS^T Q, dQ = dS K.
        layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".qk", sq, skv, d)});
        layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".dp", sq, skv, d)});
        layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".dv", skv, d, sq)});
        layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".dk", skv, d, sq)});
        layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".dq", sq, d, skv)});
        break;
      }
      layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".qk", op.at("sq"), op.at("skv"), op.at("d"))});
      layers.push_back({bh, systolic::Layer::from_gemm(op.name + ".pv", op.at("sq"), op.at("d"), op.at("skv"))});
      break;
    }
    default:
      break;
  }
  return layers;
}

Kernel SystolicArray::lower(const Graph& g, int index, const Hardware& hw) const {
  const Op& op = g.ops[static_cast<size_t>(index)];
  Kernel kern;
  kern.name = fmt::format("k{}_{}", index, op.name);
  kern.op_kind = std::string(op_kind_name(op.kind));
  kern.op_index = index;
  kern.flops = op_flops(op);
  kern.bytes = op_min_bytes(op);
  const std::string outer = hw.memories().back().first;
  const systolic::ArrayConfig cfg = array_config();
  const DType acc = *parse_dtype(m_params.text("acc_dtype"));

  const std::vector<SystolicLayer> layers = layers_of(op);
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
    Instr ld{.op = Opcode::load, .src = outer, .dst = "sram"};
    ld.bytes = static_cast<int64_t>(std::ceil(dram_words * static_cast<double>(cfg.word_bytes) /
                                              static_cast<double>(r.folds)));
    Instr mm{.op = Opcode::mma};
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
    mm.a = operand_dtype(op);
    mm.acc = acc;
    b.instrs = {ld, mm};
    kern.blocks.push_back(b);
    if (!mapping.empty()) mapping += "; ";
    mapping += fmt::format("{} {}x{} folds x{} (map eff {:.0f}%)", systolic::dataflow_name(cfg.dataflow),
                           geo.row_folds, geo.col_folds, lv.batch, r.mapping_efficiency);
    kern.attrs["macs"] += static_cast<double>(lv.batch * r.macs);
    // The layer's scratchpad actions per operand, for instr_energy_j.
    const systolic::ActionCounts n = systolic::action_counts(cfg, r);
    const double copies = static_cast<double>(lv.batch);
    kern.attrs["ifmap_sram_reads"] += copies * n.ifmap_sram_reads;
    kern.attrs["ifmap_sram_writes"] += copies * n.ifmap_sram_writes;
    kern.attrs["filter_sram_reads"] += copies * n.filter_sram_reads;
    kern.attrs["filter_sram_writes"] += copies * n.filter_sram_writes;
    kern.attrs["ofmap_sram_reads"] += copies * n.ofmap_sram_reads;
    kern.attrs["ofmap_sram_writes"] += copies * n.ofmap_sram_writes;
    kern.attrs["mma_folds"] += static_cast<double>(b.repeat);
    kern.attrs["cycles_per_fold"] = static_cast<double>(geo.cycles_per_fold);
  }
  if (vector_elems > 0) {
    Block b;
    Instr ld{.op = Opcode::load, .src = outer, .dst = "vector"};
    // A vector-unit op whose producers ran on this chip and whose tensors fit in
    // the on-chip buffers works on them in place (TPU v1's activation pipeline and
    // unified buffer, Gemmini's and FSD's SIMD units): no off-chip traffic. A
    // graph input, or tensors larger than the buffers, stream from DRAM.
    const double on_chip = m_params.real("ifmap_sram") + m_params.real("ofmap_sram");
    const bool resident = !op.deps.empty() && kern.bytes <= on_chip;
    ld.bytes = layers.empty() && !resident ? static_cast<int64_t>(std::ceil(kern.bytes)) : 0;
    if (layers.empty()) kern.attrs["on_chip"] = resident ? 1 : 0;
    Instr v{.op = Opcode::vec};
    v.name = vec_name;
    v.elems = static_cast<int64_t>(std::ceil(vector_elems));
    v.a = op.dtype;
    b.instrs = {ld, v};
    kern.blocks.push_back(b);
    if (!mapping.empty()) mapping += "; ";
    mapping += fmt::format("vector unit {} elems{}", v.elems,
                           layers.empty() ? (kern.attr("on_chip", 0) > 0 ? ", on chip" : ", from DRAM") : "");
  }
  kern.mapping = mapping;
  return kern;
}

DType SystolicArray::operand_dtype(const Op& op) const {
  const std::string& o = m_params.text("operand_dtype");
  return o == "workload" ? op.dtype : *parse_dtype(o);
}

// The PEs multiply exactly and add into an accumulator register of `acc_dtype`,
// rounding (RNE) after every addition: the ideal fp32 path with the
// accumulator's fraction width (fp32 23, bf16 7, fp16 10 bits); integer
// accumulators are exact.
std::optional<numerics::AccumulationModel> SystolicArray::accumulation(DType operand) const {
  const DType acc = *parse_dtype(m_params.text("acc_dtype"));
  numerics::AccumulationModel m;   // exact products, one addition per step
  m.group_size = 1;
  m.alignment_bits = 52;
  m.accumulator_rounding = numerics::Rounding::nearest_even;
  m.name = fmt::format("pe_{}_acc_{}", dtype_name(operand), dtype_name(acc));
  if (acc == DType::int32) {
    m.integer_exact = true;
    m.output = DType::int32;
    return m;
  }
  m.accumulator_mant_bits = acc == DType::bf16 ? 7 : acc == DType::fp16 ? 10 : 23;
  m.output = acc;
  m.description = fmt::format("systolic PE: exact products, {} accumulator (RNE per addition)", dtype_name(acc));
  return m;
}

KernelContext SystolicArray::begin_kernel(const Kernel&, const Hardware&) const {
  return KernelContext{nominal_clock_hz(), {}};
}

double SystolicArray::instr_time_s(const Instr& in, const Kernel&, const KernelContext& c) const {
  switch (in.op) {
    case Opcode::mma: {
      // One fold: see models/systolic/systolic.h (fill + stream + drain).
      const int64_t R = m_params.integer("rows"), C = m_params.integer("cols");
      const int64_t cycles = m_params.text("dataflow") == "os" ? in.m + R + C - 2 : 2 * R + C + in.m - 2;
      return static_cast<double>(cycles) / c.clock_hz;
    }
    case Opcode::vec:
      return std::ceil(static_cast<double>(in.elems) /
                       static_cast<double>(m_params.integer("vector_width") * m_params.integer("cores"))) /
             c.clock_hz;
    default:
      return 0;
  }
}

double SystolicArray::instr_energy_j(const Instr& in, const Kernel& k, const KernelContext&) const {
  const systolic::EnergyParams ep = energy_params(m_params);
  if (in.op == Opcode::mma) {
    // models/systolic's energy_of over the kernel's action counts (lower():
    // useful MACs, per-operand scratchpad reads and writes, each scratchpad at
    // its own size), spread evenly over the kernel's folds: the kernel's MAC and
    // SRAM energy is energy_of's for its layers. Leakage is the board's static
    // power; DRAM energy is the memory model's.
    const double folds = k.attr("mma_folds", 0);
    if (folds <= 0)
      throw InputError(fmt::format(
          "kernel '{}': an mma on the systolic array needs the kernel's action counts (.attr macs, "
          "ifmap_sram_reads, ifmap_sram_writes, filter_sram_reads, filter_sram_writes, ofmap_sram_reads, "
          "ofmap_sram_writes, mma_folds), as `tessera compile --emit asm` writes them",
          k.name));
    systolic::ArrayConfig cfg = array_config();
    cfg.dtype = in.a;
    systolic::ActionCounts n;
    n.macs = k.attr("macs", 0);
    n.ifmap_sram_reads = k.attr("ifmap_sram_reads", 0);
    n.ifmap_sram_writes = k.attr("ifmap_sram_writes", 0);
    n.filter_sram_reads = k.attr("filter_sram_reads", 0);
    n.filter_sram_writes = k.attr("filter_sram_writes", 0);
    n.ofmap_sram_reads = k.attr("ofmap_sram_reads", 0);
    n.ofmap_sram_writes = k.attr("ofmap_sram_writes", 0);
    const systolic::EnergyBreakdown e = systolic::energy_of(ep, cfg, n);
    return (e.mac_pj + e.sram_pj) * 1e-12 / folds;
  }
  if (in.op == Opcode::vec)
    return static_cast<double>(in.elems) * systolic::mac_energy_45nm_pj(in.a) * systolic::node_scale(ep) *
           1e-12;
  return 0;
}

double SystolicArray::kernel_overhead_s(const Kernel&, const KernelContext&) const { return 0; }

double SystolicArray::compute_share(const Kernel& k) const {
  // The arrays the kernel's folds run on (an mma's `count`: min(cores, folds) as
  // lower() sets it) out of the chip's cores; the vector unit spreads its work over
  // every core (instr_time_s), so a kernel with vector work occupies the whole chip.
  const double cores = static_cast<double>(m_params.integer("cores"));
  double used = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs) {
      if (in.op == Opcode::vec) return 1.0;
      if (in.op == Opcode::mma) used = std::max(used, static_cast<double>(in.count));
    }
  return used > 0 ? std::min(1.0, used / cores) : 1.0;
}

double SystolicArray::peak_flops(DType) const {
  return 2.0 * static_cast<double>(m_params.integer("rows") * m_params.integer("cols") *
                                   m_params.integer("cores")) *
         nominal_clock_hz();
}

void register_systolic_array(Registry& r) {
  r.add(make_impl<SystolicArray>(
      "compute", "systolic",
      "R x C multiply-accumulate array(s) with OS/WS/IS dataflows (SCALE-Sim v2 fold timing) and a vector unit",
      {p_int("rows", "", "processing elements per column (array height)"),
       p_int("cols", "", "processing elements per row (array width)"),
       p_choice("dataflow", {"os", "ws", "is"}, "ws", "output-, weight- or input-stationary"),
       p_qty("clock", Unit::hertz, "", "array clock"),
       p_int("cores", "1", "arrays per chip sharing the memory system"),
       p_qty("ifmap_sram", Unit::bytes, "64KiB", "ifmap scratchpad (both halves of the double buffer)"),
       p_qty("filter_sram", Unit::bytes, "64KiB", "filter scratchpad (both halves)"),
       p_qty("ofmap_sram", Unit::bytes, "64KiB", "ofmap scratchpad (both halves)"),
       p_int("word_bytes", "1", "bytes per operand word"),
       p_choice("operand_dtype", {"workload", "fp32", "bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "int8", "int4"},
                "workload", "format the PEs multiply in (workload = each op's own format)"),
       p_choice("acc_dtype", {"int32", "fp32", "bf16", "fp16"}, "int32", "accumulator format of the PEs"),
       p_int("vector_width", "256", "vector-unit elements per cycle per core"),
       p_real("node_nm", "45", "process node the Horowitz 45 nm energies are scaled to"),
       p_qty("mac_energy", Unit::joules, "0J",
             "energy of one MAC; 0 = Horowitz ISSCC 2014 table for the operand format, node-scaled"),
       p_qty("sram_energy_per_byte", Unit::joules, "0J",
             "scratchpad energy per byte; 0 = Horowitz ISSCC 2014 SRAM table at each scratchpad's size, "
             "node-scaled")}));
}

}  // namespace tessera
