#include "models/tensorcore/tensorcore.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/hardware.h"
#include "models/interconnect/collective.h"
#include "workloads/ir.h"

namespace tessera {

// vec operations that run on the special-function units (one per element):
// MUFU.EX2/TANH/RSQ/RCP (the reciprocal behind an IEEE division, layernorm's
// Welford update and batch norm's 1/sqrt(var)).
bool is_sfu_op(const std::string& name) {
  return name == "exp" || name == "tanh" || name == "erf" || name == "rsqrt" || name == "sigmoid" ||
         name == "rcp";
}

MmaPipe mma_pipe(DType a) {
  switch (a) {
    case DType::fp16:
    case DType::bf16: return MmaPipe::fp16;
    case DType::tf32: return MmaPipe::tf32;
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
    case DType::mxfp8:
    case DType::fp6_e3m2:
    case DType::fp6_e2m3:
    case DType::mxfp6: return MmaPipe::fp8;
    case DType::int8:
    case DType::uint8:
    case DType::int4:
    case DType::ternary: return MmaPipe::int8;
    case DType::fp4_e2m1:
    case DType::mxfp4:
    case DType::nvfp4: return MmaPipe::fp4;
    case DType::fp64: return MmaPipe::fp64;
    case DType::fp32:
    case DType::int32: return MmaPipe::fp32;
  }
  return MmaPipe::fp32;
}

std::string_view mma_pipe_name(MmaPipe p) {
  static constexpr std::string_view names[] = {"fp16", "tf32", "fp8", "int8", "fp4", "fp32", "fp64"};
  return names[static_cast<int>(p)];
}

void TensorCoreModel::bind(const Hardware& hw) {
  const Params& p = m_params;
  m_s.sm = p.integer("sm_count");
  m_s.max_clock = p.real("max_clock");
  m_s.min_clock = std::min(p.real("min_clock"), m_s.max_clock);
  for (int i = 0; i < k_mma_pipes; ++i) {
    const std::string n(mma_pipe_name(static_cast<MmaPipe>(i)));
    m_s.rate[i] = p.real("flops_per_clock_" + n);
  }
  // Fitted efficiencies and energies exist for the formats measured; fp4 runs
  // like fp8 (same tensor-core datapath, narrower operands) and fp64 like fp32.
  const auto fam = [](MmaPipe pp) {
    if (pp == MmaPipe::fp4) return MmaPipe::fp8;
    if (pp == MmaPipe::fp64) return MmaPipe::fp32;
    return pp;
  };
  for (int i = 0; i < k_mma_pipes; ++i) {
    const std::string n(mma_pipe_name(fam(static_cast<MmaPipe>(i))));
    m_s.eff[i] = p.real("efficiency_" + n);
    m_s.energy[i] = p.real("energy_" + n);
  }
  // A fp64 FLOP costs about twice a fp32 one (twice the multiplier width squared
  // is four, but operand movement dominates; 2x is the usual rule of thumb).
  m_s.energy[static_cast<int>(MmaPipe::fp64)] *= 2;
  m_s.sfu = p.real("sfu_per_clock");
  m_s.alu = p.real("alu_lanes");
  m_s.lsu = p.real("lsu_lanes");
  m_s.smem = p.real("smem_per_sm");
  m_s.smem_bpc = p.real("smem_bytes_per_clock");
  m_s.regs = p.real("register_file");
  m_s.multicast = p.integer("tma_multicast");
  m_s.launch = p.real("launch_overhead");
  m_s.kernel_gap = p.real("kernel_gap");
  m_s.kernel_fixed = p.real("kernel_fixed");
  m_s.host_graph = p.text("host_mode") == "graph";
  m_s.host_queue = p.integer("host_queue_depth");
  for (int i = 0; i < k_host_ops; ++i)
    m_s.host[static_cast<size_t>(i)] = p.real("host_" + std::string(host_op_name(static_cast<HostOp>(i))));
  m_s.eff_fa2 = p.real("attention_efficiency_flash2");
  m_s.bwd_fa2 = p.real("attention_backward_rate_flash2");
  m_s.bwd_fa3 = p.real("attention_backward_rate_flash3");
  m_s.fa3_exposed = p.real("attention_softmax_exposed_flash3");
  m_s.eff_mem = p.real("attention_efficiency_efficient");
  m_s.sync = p.real("sync_mma_fraction");
  m_s.sync_k8 = p.real("sync_mma_k8_fraction");
  m_s.link_bw = p.real("link_bandwidth");
  m_s.link_latency = p.real("link_latency");
  m_s.row_trip = p.real("row_round_trip");
  m_s.row_sync = p.real("row_reduction");
  m_s.wave_startup = p.real("gemm_wave_startup");
  m_s.max_threads = p.real("max_threads_per_sm");
  m_s.in_flight = p.real("bytes_in_flight");
  m_s.tf32_matmul = p.flag("matmul_allow_tf32");
  m_s.tf32_conv = p.flag("cudnn_allow_tf32");
  m_s.host_lib_launch = p.real("host_library_launch");
  m_s.bf16_tensor = p.flag("bf16_tensor_cores");
  m_s.default_attention = p.text("attention");
  m_s.compute_capability = static_cast<int>(p.integer("compute_capability"));
  m_s.cudnn_version = p.integer("cudnn_version");
  m_s.static_w = hw.power().static_power_w();
  m_s.limit_w = hw.power().power_limit_w();
  m_clock = PowerCappedClock(m_s.min_clock, m_s.max_clock, m_s.static_w, m_s.limit_w);
}

DType TensorCoreModel::operand_dtype(const Op& op) const {
  if (op.dtype != DType::fp32) return op.dtype;
  // The TF32 switches only matter where the tensor cores have a TF32 mode (Ampere
  // on): before it, cuDNN and cuBLAS compute fp32 on the CUDA cores whatever the flags say.
  if (m_s.rate[static_cast<int>(MmaPipe::tf32)] <= 0) return op.dtype;
  // cuDNN's RNN GEMMs (attr cudnn) follow the cuDNN switch too: PyTorch's RNN
  // descriptor sets CUDNN_FMA_MATH for fp32 only when allow_tf32 is off, else
  // CUDNN_DEFAULT_MATH, which permits TF32 tensor cores from Ampere on
  // (aten/src/ATen/native/cudnn/RNN.cpp, RNNDescriptorParams::descriptor).
  if (op.kind == OpKind::conv2d || op.get("cudnn", 0) != 0) return m_s.tf32_conv ? DType::tf32 : op.dtype;
  if (op.kind == OpKind::matmul && m_s.tf32_matmul) return DType::tf32;
  return op.dtype;
}

MmaPipe TensorCoreModel::pipe(DType a) const {
  return a == DType::bf16 && !m_s.bf16_tensor ? MmaPipe::fp32 : mma_pipe(a);
}

double TensorCoreModel::nominal_clock_hz() const { return m_params.real("max_clock"); }

double TensorCoreModel::flops_per_clock(DType a) const {
  // Fallback chain when the SM lacks a format's tensor-core mode: the operands
  // are converted to the next wider format the hardware runs.
  MmaPipe p = pipe(a);
  for (int guard = 0; guard < k_mma_pipes; ++guard) {
    const double r = m_s.rate[static_cast<int>(p)];
    if (r > 0) return r;
    switch (p) {
      case MmaPipe::fp4: p = MmaPipe::fp8; break;
      case MmaPipe::fp8: p = MmaPipe::fp16; break;
      case MmaPipe::int8: p = MmaPipe::fp16; break;
      case MmaPipe::fp16: p = MmaPipe::fp32; break;
      case MmaPipe::tf32: p = MmaPipe::fp32; break;
      case MmaPipe::fp64: p = MmaPipe::fp32; break;
      case MmaPipe::fp32: return 0;
    }
  }
  return 0;
}

double TensorCoreModel::peak_flops(DType t) const {
  const bool bf16_cuda_cores = t == DType::bf16 && !m_params.flag("bf16_tensor_cores");
  const std::string n(mma_pipe_name(bf16_cuda_cores ? MmaPipe::fp32 : mma_pipe(t)));
  return m_params.real("flops_per_clock_" + n) * static_cast<double>(m_params.integer("sm_count")) *
         nominal_clock_hz();
}

double TensorCoreModel::mma_efficiency(DType a, MmaPath path) const {
  switch (path) {
    // FlashAttention-2 and the memory-efficient kernel are Ampere code (mma.sync):
    // their efficiencies are fractions of the rate that instruction reaches.
    case MmaPath::flash2: return m_s.eff_fa2 * m_s.sync;
    case MmaPath::flash2_backward: return m_s.eff_fa2 * m_s.bwd_fa2 * m_s.sync;
    case MmaPath::flash3_backward: return m_s.eff[static_cast<int>(pipe(a))] * gemm_issue_fraction(a) * m_s.bwd_fa3;
    case MmaPath::flash3: break;   // GEMM mainloop rate (see lower_attention)
    case MmaPath::efficient: return m_s.eff_mem * m_s.sync;
    // Pre-Hopper GEMM code (mma.sync) at the GEMM mainloop's fitted efficiency
    // (for int8 the same as MmaPath::gemm: those kernels are mma.sync code anyway;
    // CUDA-core formats have no tensor instruction to change).
    case MmaPath::gemm_sync: {
      return m_s.eff[static_cast<int>(pipe(a))] * (tensor_pipe(a) ? m_s.sync : 1.0);
    }
    // The Turing-generation kernel's m16n8k8 at sync_mma_k8_fraction of m16n8k16's rate.
    case MmaPath::gemm_sm75:
      return mma_efficiency(a, MmaPath::gemm_sync) * (tensor_pipe(a) ? m_s.sync_k8 : 1.0);
    case MmaPath::gemm: break;
  }
  return m_s.eff[static_cast<int>(pipe(a))] * gemm_issue_fraction(a);
}

double TensorCoreModel::gemm_issue_fraction(DType a) const {
  // cuBLASLt's int8 GEMMs (torch._int_mm) on the H100 run at 0.50 of the wgmma rate
  // per clock (shared energy record: 843 TOPS at 1563 MHz), the mma.sync rate.
  return mma_pipe(a) == MmaPipe::int8 ? m_s.sync : 1.0;
}

double TensorCoreModel::mma_cycles(const Instr& in, const Kernel& k) const {
  const double rate = flops_per_clock(in.a);
  if (rate <= 0) throw InputError(fmt::format("kernel '{}': no pipe runs {}", k.name, dtype_name(in.a)));
  const auto path = static_cast<MmaPath>(k.info.mma_path.value_or(0));
  double flops = 2.0 * static_cast<double>(in.m) * static_cast<double>(in.n) * static_cast<double>(in.k);
  // A matrix-vector product (one row or one column: KernelInfo::gemv, set by the GEMM mapper)
  // runs as cuBLAS's gemv kernel, one thread per output element and no tile rows
  // past the edge, so only the useful products take issue slots; every other GEMM
  // runs whole tiles.
  if (k.info.gemv.value_or(0) != 0) flops *= k.info.mma_useful.value_or(1.0);
  const double c_mma = flops / (rate * mma_efficiency(in.a, path));
  const double smem_bytes =
      static_cast<double>(in.m + in.n) * static_cast<double>(in.k) * dtype_bytes(in.a, 1);
  double c_lsu = 0;
  const int64_t align = k.info.load_align.value_or(16);
  if (align < 16) {
    // Operands loaded by the threads, `align` bytes per lane and load: one pass
    // through the load/store lanes, two below cp.async's 4-byte minimum (a load to
    // registers, then a store to shared memory).
    const double a = static_cast<double>(std::max<int64_t>(1, align));
    c_lsu = smem_bytes / (m_s.lsu * a) * (align < 4 ? 2.0 : 1.0);
    // An mma.sync kernel's warps then read their fragments from shared memory
    // (sync_smem_bytes) through the same load/store path: the two add up.
    if ((path == MmaPath::gemm_sync || path == MmaPath::gemm_sm75) && tensor_pipe(in.a))
      return std::max(c_mma, c_lsu + sync_smem_bytes(in.m, in.n, in.k, dtype_bytes(in.a, 1)) / m_s.smem_bpc);
  }
  return std::max({c_mma, smem_bytes / m_s.smem_bpc, c_lsu});
}

double TensorCoreModel::instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const {
  const double clock = c.clock_hz > 0 ? c.clock_hz : m_s.max_clock;
  const double per_sm = std::ceil(static_cast<double>(in.count) / static_cast<double>(m_s.sm));
  switch (in.op) {
    case Opcode::mma:
      // Plus the later waves' start-ups (KernelInfo::startup_per_stage, set by the
      // GEMM mapper): by then the SMs have fallen out of step, and while one SM
      // runs a block's prologue or epilogue the others' transfers keep the memory
      // busy, so a memory-bound stage hides them and a compute-bound one does not.
      return per_sm * mma_cycles(in, k) / clock + k.info.startup_per_stage.value_or(0) * m_s.wave_startup;
    case Opcode::vec: {
      if (in.name == "promote") return 0;   // hidden under the MMAs (compiler/tensorcore/gemm.cpp)
      const double rate = is_sfu_op(in.name) ? m_s.sfu : m_s.alu;
      return k.info.vec_exposed.value_or(1.0) * per_sm * static_cast<double>(in.elems) / rate / clock;
    }
    case Opcode::coll: {
      if (in.ranks <= 1 || m_s.link_bw <= 0) return 0;
      // The interconnect's ring schedule (models/interconnect/collective.h,
      // ring_steps) over this device's own link: steps x (bytes / B + L). A
      // hand-written `coll` of another name is timed as an all-gather.
      CollKind kind = CollKind::allgather;
      if (!parse_coll_kind(in.name, kind)) kind = CollKind::allgather;
      const RingSteps rs = ring_steps(kind, static_cast<double>(in.bytes), in.ranks);
      return static_cast<double>(rs.steps) * (rs.bytes / m_s.link_bw + m_s.link_latency);
    }
    // Row kernels: `elems` dependent memory round trips per SM (the SM's resident
    // rows wait on them together), with the kernel's block-wide reductions spread
    // over them.
    case Opcode::wait:
      return per_sm * static_cast<double>(in.elems) *
             (m_s.row_trip + k.info.row_reductions_per_trip.value_or(0) * m_s.row_sync);
    case Opcode::send:
    case Opcode::recv:
      return m_s.link_bw > 0 ? static_cast<double>(in.bytes) / m_s.link_bw + m_s.link_latency : 0;
    default: return 0;
  }
}

double TensorCoreModel::instr_energy_j(const Instr& in, const Kernel& k, const KernelContext&) const {
  const double count = static_cast<double>(in.count);
  switch (in.op) {
    case Opcode::mma:
      // Only the products inside the matrix switch: the rows and columns a tile
      // runs past the edge of the matrix are zero-filled (TMA out-of-bounds fill)
      // or predicated off, and zeros do not toggle the multipliers (KernelInfo::
      // mma_useful: useful / issued MACs of the kernel, set by the GEMM mapper).
      return 2.0 * static_cast<double>(in.m) * static_cast<double>(in.n) *
             static_cast<double>(in.k) * count * m_s.energy[static_cast<int>(pipe(in.a))] *
             k.info.mma_useful.value_or(1.0);
    case Opcode::vec:
      // One fp32-lane (or SFU) operation costs what one fp32 FLOP costs on the CUDA cores.
      return static_cast<double>(in.elems) * count * m_s.energy[static_cast<int>(MmaPipe::fp32)];
    default: return 0;
  }
}

double TensorCoreModel::kernel_overhead_s(const Kernel& k, const KernelContext&) const {
  // GEMM thread blocks that do not overlap their start-up with a predecessor's
  // mainloop (non-persistent kernels: one block per SM slot per wave) pay it
  // once per wave on the busiest SM. The first wave's start-up comes before any
  // transfer of the kernel can stream (every SM starts at once):
  // KernelInfo::startup_waves, one per GEMM of the kernel, set by the GEMM mapper.
  // The later waves' are SM time inside the stages (instr_time_s, mma).
  // An isolated kernel (what a microbenchmark times with CUDA events) pays the
  // whole launch; the first kernel of an op queued behind another op (KernelInfo::queued,
  // set by compile) only the back-to-back gap. Further launches of a multi-kernel
  // op keep the whole launch in eager execution: the library issues them right
  // after the first, and for short kernels (flash-decoding's combine step) the
  // host's launch, not the GPU, sets the pace (the shared decode-attention records
  // are timed that way). In a CUDA-graph replay no host launches them: they follow
  // each other like any queued kernel (extra_launch_s).
  const double launches = static_cast<double>(std::max<int64_t>(1, k.info.launches.value_or(1)));
  const double first = k.info.queued.value_or(0) != 0 ? m_s.kernel_gap : m_s.launch;
  return first + (launches - 1.0) * extra_launch_s(k) +
         m_s.wave_startup * static_cast<double>(k.info.startup_waves.value_or(0));
}

double TensorCoreModel::extra_launch_s(const Kernel& k) const {
  // A graph node (host_mode graph, or KernelInfo::graph: a workload that is one
  // replay). A host-hidden kernel alone (compare's isolated kernels, whose host
  // time a timed loop hides) still has its further launches paced by the host.
  return m_s.host_graph || k.info.graph.value_or(0) != 0 ? m_s.kernel_gap : m_s.launch;
}

double TensorCoreModel::idle_launch_s(const Kernel& k, const KernelContext&) const {
  // kernel_overhead_s as if the kernel were not queued: the whole launch first.
  const double launches = static_cast<double>(std::max<int64_t>(1, k.info.launches.value_or(1)));
  return m_s.launch + (launches - 1.0) * extra_launch_s(k) +
         m_s.wave_startup * static_cast<double>(k.info.startup_waves.value_or(0));
}

double TensorCoreModel::host_time_s(const Kernel& k) const {
  if (m_s.host_graph || k.info.host_hidden.value_or(0) != 0) return 0;
  if (k.info.lib_launch.value_or(0) != 0) return m_s.host_lib_launch;
  const double calls = static_cast<double>(std::max<int64_t>(1, k.info.host_calls.value_or(1)));
  return calls * m_s.host[static_cast<size_t>(host_op(k))];
}

double TensorCoreModel::launch_idle_s(const Kernel& k, const KernelContext&) const {
  // Each launch's fixed cost less the part inside the kernel (kernel_fixed); the
  // wave start-ups run inside the kernel.
  const double launches = static_cast<double>(std::max<int64_t>(1, k.info.launches.value_or(1)));
  const double first = k.info.queued.value_or(0) != 0 ? m_s.kernel_gap : m_s.launch;
  return std::max(0.0, first - m_s.kernel_fixed) +
         (launches - 1.0) * std::max(0.0, extra_launch_s(k) - m_s.kernel_fixed);
}

double TensorCoreModel::compute_share(const Kernel& k) const {
  // The SMs the kernel's thread blocks occupy: GEMM and attention kernels name
  // their thread blocks (KernelInfo::thread_blocks), the other kernels spread their
  // instructions' `count` copies one per SM (memory-bound and row kernels: the SMs
  // they use; a collective: the one copy that drives the link). The block
  // scheduler places one block per SM before it doubles up, so blocks beyond the
  // SM count still occupy the whole GPU.
  double blocks = static_cast<double>(k.info.thread_blocks.value_or(0));
  if (blocks <= 0)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs) blocks = std::max(blocks, static_cast<double>(in.count));
  if (blocks <= 0) return 1.0;
  return std::min(1.0, blocks / static_cast<double>(m_s.sm));
}

double TensorCoreModel::capped_clock_hz(const Kernel& k, const Hardware& hw) const {
  return m_clock.clock_hz(*this, k, hw);
}

KernelContext TensorCoreModel::begin_kernel(const Kernel& k, const Hardware& hw) const {
  KernelContext ctx;
  ctx.clock_hz = capped_clock_hz(k, hw);
  ctx.values["power_capped_kernels"] = ctx.clock_hz < m_s.max_clock ? 1.0 : 0.0;
  return ctx;
}

}  // namespace tessera
