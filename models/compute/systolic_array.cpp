#include "models/compute/systolic_array.h"
#include "core/math.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/systolic/systolic.h"
#include "core/error.h"
#include "workloads/ir.h"
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
  const std::string& o = m_params.text("operand_dtype");
  return array_config(o == "workload" ? std::nullopt : parse_dtype(o));
}

systolic::ArrayConfig SystolicArray::array_config(std::optional<DType> operand) const {
  systolic::ArrayConfig a;
  a.rows = m_params.integer("rows");
  a.cols = m_params.integer("cols");
  a.dataflow = dataflow_of(m_params);
  a.ifmap_sram_bytes = static_cast<int64_t>(m_params.real("ifmap_sram"));
  a.filter_sram_bytes = static_cast<int64_t>(m_params.real("filter_sram"));
  a.ofmap_sram_bytes = static_cast<int64_t>(m_params.real("ofmap_sram"));
  a.word_bytes = word_bytes_for(operand);
  if (operand) a.dtype = *operand;
  // The engine applies the off-chip bandwidth (memory model + pipeline rule);
  // the array model supplies stall-free cycles and traffic counts.
  a.bandwidth_mode = systolic::BandwidthMode::calc;
  a.cores = m_params.integer("cores");
  a.clock_hz = m_params.real("clock");
  if (m_params.text("dram_model") == "scalesim_replay") a.dram_model = systolic::DramModel::scalesim_replay;
  return a;
}

int64_t SystolicArray::word_bytes_for(std::optional<DType> operand) const {
  if (const auto* v = std::get_if<int64_t>(&m_params.values().find("word_bytes")->second)) return *v;
  // auto: the operand format's storage, whole bytes (int4 and fp4 occupy one
  // scratchpad word each, as SCALE-Sim's byte-granular words do).
  if (!operand) return 1;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(dtype_info(*operand).storage_bits / 8.0)));
}

DType SystolicArray::acc_dtype_for(DType operand) const {
  const std::string& a = m_params.text("acc_dtype");
  if (a != "auto") return *parse_dtype(a);
  // auto: integer products into a 32-bit integer accumulator (TPU v1, Gemmini,
  // FSD), floating-point products into fp32 (TPU v4's MXU, tensor cores).
  return is_integer_dtype(operand) ? DType::int32 : DType::fp32;
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
      const ConvWindow win = conv_window(op);
      const int64_t groups = op.get("groups", 1);
      systolic::Layer l;
      l.name = op.name;
      l.filter_h = win.r;
      l.filter_w = win.s;
      l.ifmap_h = win.h + 2 * win.pad;
      l.ifmap_w = win.w + 2 * win.pad_w;
      l.channels = op.at("cin") / groups;
      l.num_filters = op.at("cout") / groups;
      l.stride_h = win.stride;
      l.stride_w = win.stride_w;
      if (win.dilation > 1 || win.dilation_w > 1 || op.attrs.count("d") || op.attrs.count("t")) {
        // A dilated window reads r*s taps spread over its extent, and SCALE-Sim's
        // layer is 2-D: both as their im2col GEMM (M = output pixels, K = taps x
        // channels; a 3-D convolution's pixels and taps include the depth).
        const ConvWindow cw = conv_window(op);
        l = systolic::Layer::from_gemm(op.name, cw.out_pixels(), l.num_filters, cw.taps() * l.channels);
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

DType SystolicArray::operand_dtype(const Op& op) const {
  const std::string& o = m_params.text("operand_dtype");
  const DType t = o == "workload" ? op.dtype : *parse_dtype(o);
  if (layers_of(op).empty()) return t;   // the vector unit's work: no PE format involved
  // The formats move together: the operand format sets the scratchpad word
  // (word_bytes auto), the MAC energy and the accumulator (acc_dtype auto). A
  // format the PEs cannot run is an error, never a silent fallback.
  const std::string& formats = m_params.text("formats");
  if (formats != "any") {
    bool ok = false;
    size_t start = 0;
    while (start <= formats.size()) {
      const size_t comma = formats.find(',', start);
      const std::string f = formats.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      ok = ok || parse_dtype(f) == t;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!ok)
      throw InputError(fmt::format(
          "op '{}' multiplies {} operands{}, but this systolic array's PEs run {} (compute.formats); give the "
          "workload in one of those formats, or model other PEs with --set compute.formats={} (or any)",
          op.name, dtype_name(t), o == "workload" ? "" : " (compute.operand_dtype)", formats, dtype_name(t)));
  }
  const std::string& acc = m_params.text("acc_dtype");
  if (acc != "auto" && !is_integer_dtype(t) && is_integer_dtype(*parse_dtype(acc)))
    throw InputError(fmt::format("op '{}': an {} accumulator (compute.acc_dtype) cannot add {} products; set "
                                 "compute.acc_dtype=auto, fp32, bf16 or fp16",
                                 op.name, acc, dtype_name(t)));
  const int64_t need = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(dtype_info(t).storage_bits / 8.0)));
  if (word_bytes_for(t) < need)
    throw InputError(fmt::format("op '{}': compute.word_bytes={} cannot hold {} operands ({} bytes); set "
                                 "compute.word_bytes=auto or {}",
                                 op.name, word_bytes_for(t), dtype_name(t), need, need));
  return t;
}

// The PEs multiply exactly and add into an accumulator register of `acc_dtype`,
// rounding (RNE) after every addition: the ideal fp32 path with the
// accumulator's fraction width (fp32 23, bf16 7, fp16 10 bits); integer
// accumulators are exact.
std::optional<numerics::AccumulationModel> SystolicArray::accumulation(DType operand) const {
  const DType acc = acc_dtype_for(operand);
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
      const int64_t cycles =
          systolic::fold_cycles(m_params.integer("rows"), m_params.integer("cols"), dataflow_of(m_params), in.m);
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
    // models/systolic's energy_of over the kernel's action counts (SystolicMapper:
    // useful MACs, per-operand scratchpad reads and writes, each scratchpad at
    // its own size), spread evenly over the kernel's folds: the kernel's MAC and
    // SRAM energy is energy_of's for its layers. Leakage is the board's static
    // power; DRAM energy is the memory model's.
    const double folds = static_cast<double>(k.info.mma_folds.value_or(0));
    if (folds <= 0)
      throw InputError(fmt::format(
          "kernel '{}': an mma on the systolic array needs the kernel's action counts (.attr macs, "
          "ifmap_sram_reads, ifmap_sram_writes, filter_sram_reads, filter_sram_writes, ofmap_sram_reads, "
          "ofmap_sram_writes, mma_folds), as `tessera compile --emit asm` writes them",
          k.name));
    systolic::ArrayConfig cfg = array_config(in.a);
    systolic::ActionCounts n;
    n.macs = k.info.macs.value_or(0);
    n.ifmap_sram_reads = k.info.ifmap_sram_reads.value_or(0);
    n.ifmap_sram_writes = k.info.ifmap_sram_writes.value_or(0);
    n.filter_sram_reads = k.info.filter_sram_reads.value_or(0);
    n.filter_sram_writes = k.info.filter_sram_writes.value_or(0);
    n.ofmap_sram_reads = k.info.ofmap_sram_reads.value_or(0);
    n.ofmap_sram_writes = k.info.ofmap_sram_writes.value_or(0);
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
  // SystolicMapper sets it) out of the chip's cores; the vector unit spreads its work over
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

double SystolicArray::area_mm2() const {
  // The PEs' format: operand_dtype, else the widest of `formats`; with neither
  // (workload formats on any PEs) the area is not stated.
  std::optional<DType> pe;
  const std::string& o = m_params.text("operand_dtype");
  if (o != "workload") {
    pe = parse_dtype(o);
  } else if (m_params.text("formats") != "any") {
    const std::string& f = m_params.text("formats");
    for (size_t start = 0; start <= f.size();) {
      const size_t comma = f.find(',', start);
      const auto t = parse_dtype(f.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (t && (!pe || dtype_info(*t).storage_bits > dtype_info(*pe).storage_bits)) pe = t;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (!pe) return 0;
  systolic::AreaParams a;
  a.node_nm = m_params.real("node_nm");
  a.pe_overhead = m_params.real("pe_area_overhead");
  a.sram_mm2_per_kib_28nm = m_params.real("sram_area_per_kib");
  a.sram_ports = m_params.integer("sram_ports");
  const double pes = static_cast<double>(m_params.integer("rows") * m_params.integer("cols") * m_params.integer("cores"));
  const double sram = m_params.real("ifmap_sram") + m_params.real("filter_sram") + m_params.real("ofmap_sram");
  return pes * systolic::pe_area_mm2(a, *pe, acc_dtype_for(*pe)) + systolic::sram_area_mm2(a, sram);
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
      {p_int("rows", "", "processing elements per column (array height)").range(1, 1 << 20),
       p_int("cols", "", "processing elements per row (array width)").range(1, 1 << 20),
       p_choice("dataflow", {"os", "ws", "is"}, "ws", "output-, weight- or input-stationary"),
       p_qty("clock", Unit::hertz, "", "array clock").positive(),
       p_int("cores", "1", "arrays per chip sharing the memory system").range(1, 1 << 20),
       p_qty("ifmap_sram", Unit::bytes, "64KiB", "ifmap scratchpad (both halves of the double buffer)").positive().at_most(0x1p50),
       p_qty("filter_sram", Unit::bytes, "64KiB", "filter scratchpad (both halves)").positive().at_most(0x1p50),
       p_qty("ofmap_sram", Unit::bytes, "64KiB", "ofmap scratchpad (both halves)").positive().at_most(0x1p50),
       [] {
         ParamSpec s = p_int("word_bytes", "auto",
                             "bytes per scratchpad operand word; auto = the operand format's (int8 1, bf16 2, fp32 4)");
         s.choices = {"auto"};
         s.min = 1;
         s.max = 16;
         return s;
       }(),
       p_choice("dram_model", {"auto", "analytic", "scalesim_replay"}, "auto",
                "DRAM traffic model: analytic = closed form per fold; scalesim_replay = SCALE-Sim v2's "
                "CALC-mode buffer replay (its DRAM counts and start/stop cycles; one array, CALC bandwidth; "
                "time grows with the operand reads); auto = analytic for runs, scalesim_replay for "
                "--format scalesim"),
       p_choice("operand_dtype", {"workload", "fp32", "bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "int8", "int4"},
                "workload", "format the PEs multiply in (workload = each op's own format)"),
       p_choice("acc_dtype", {"auto", "int32", "fp32", "bf16", "fp16"}, "auto",
                "accumulator format of the PEs; auto = int32 for integer operands, fp32 for floating point"),
       p_text("formats", "any",
              "operand formats the PEs can multiply, comma-separated (e.g. int8), or any; an op in another "
              "format is an error ('tessera list formats' names them)"),
       p_int("vector_width", "256", "vector-unit elements per cycle per core").positive(),
       p_real("node_nm", "45", "process node the Horowitz 45 nm energies are scaled to").positive(),
       p_qty("mac_energy", Unit::joules, "0J",
             "energy of one MAC; 0 = Horowitz ISSCC 2014 table for the operand format, node-scaled").non_negative(),
       p_real("pe_area_overhead", "7.5",
              "PE area over its multiplier + adder (Horowitz ISSCC 2014 areas): registers, pipeline, wiring; "
              "fitted on the TPU v1 floor plan (models/systolic/systolic.h)").positive(),
       p_real("sram_area_per_kib", "0.0039",
              "scratchpad area in mm^2 per KiB at 28 nm, scaled by (node_nm/28)^2 (TPU v1 unified buffer)").positive(),
       [] {
         ParamSpec s = p_int("sram_ports", "1", "ports of each scratchpad; each beyond the first adds 30 % area "
                                                "(8T vs 6T bitcell, Chang et al. JSSC 2008)");
         s.min = 1;
         s.max = 8;
         return s;
       }(),
       p_qty("sram_energy_per_byte", Unit::joules, "0J",
             "scratchpad energy per byte; 0 = Horowitz ISSCC 2014 SRAM table at each scratchpad's size, "
             "node-scaled").non_negative()}));
}

}  // namespace tessera
