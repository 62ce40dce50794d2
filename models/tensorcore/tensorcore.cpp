#include "models/tensorcore/tensorcore.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "models/memory/memory.h"
#include "models/tensorcore/kernel_build.h"
#include "core/error.h"
#include "models/hardware.h"

namespace tessera {

namespace {

// vec operations that run on the special-function units (one per element).
bool is_sfu_op(const std::string& name) {
  return name == "exp" || name == "tanh" || name == "erf" || name == "rsqrt" || name == "sigmoid";
}

// Instruction builders shared with the other lowering files (kernel_build.h).
using tc_build::add_traffic;
using tc_build::Levels;
using tc_build::levels_of;
using tc_build::mma;
using tc_build::set_dram_bytes;
using tc_build::to_bytes;
using tc_build::vec;

// FP32-lane operations and SFU operations per element of each vector kind
// (counted from the usual CUDA implementations: e.g. gelu (erf form) = 6 lane ops
// plus one erf). PyTorch's row kernels use the accurate expf and IEEE division
// (no fast-math): expf = ex2.approx on the SFU plus ~8 lane ops (range reduction,
// scaling, special cases), x / y = rcp.approx on the SFU plus ~8 lane ops
// (Newton-Raphson step and fix-up) -- k_exp_lanes and k_div_lanes below.
// layernorm: Welford update (delta, count, mean, m2: 5) with one division per
// element, normalise and affine (3) and conversions; rmsnorm: square-sum (2),
// normalise and scale (3). softmax per element: max, subtract, sum, convert (5),
// one expf and one division in the warp-per-row kernel, the block kernels
// evaluate expf twice (sum pass and output pass).
constexpr double k_exp_lanes = 8, k_div_lanes = 8;

struct VecCost {
  double alu = 1, sfu = 0;
  const char* sfu_name = "exp";
};

VecCost vec_cost(OpKind k, bool warp_softmax) {
  switch (k) {
    case OpKind::layernorm: return {8 + k_div_lanes, 1, "rcp"};
    case OpKind::rmsnorm: return {5, 0};
    case OpKind::softmax:
      return warp_softmax ? VecCost{5 + k_exp_lanes + k_div_lanes, 2, "exp"}
                          : VecCost{5 + 2 * k_exp_lanes + k_div_lanes, 3, "exp"};
    case OpKind::batchnorm: return {4, 0};
    case OpKind::gelu: return {6, 1, "erf"};
    case OpKind::silu: return {3, 1, "exp"};
    case OpKind::sigmoid: return {3, 1, "exp"};
    case OpKind::tanh: return {1, 1, "tanh"};
    case OpKind::relu: return {1, 0};
    case OpKind::add:
    case OpKind::mul: return {1, 0};
    default: return {0, 0};
  }
}

// Lane and SFU operations per element of the kernels a training step adds
// (attr backward=1; see the FLOP counts in workloads/ir.cpp): gelu's derivative
// evaluates erf and exp (SFU) and ~10 lane ops, silu's a sigmoid (exp) and ~7;
// sigmoid/tanh/relu/softmax backward use the saved output (lanes only);
// layernorm/rmsnorm/batchnorm backward their dx formulas (10/8/6). Training-mode
// batch-norm: statistics (3) plus the normalise (4). reduce: one addition per
// element read; optimizer: the op's own `flops` and `sfu` (square roots) per element.
VecCost training_vec_cost(const Op& op) {
  if (op.kind == OpKind::reduce) return {static_cast<double>(op.get("inputs", 1)), 0};
  if (op.kind == OpKind::optimizer)
    return {static_cast<double>(op.get("flops", 1)), static_cast<double>(op.get("sfu", 0)), "rsqrt"};
  if (op.kind == OpKind::batchnorm && !op.get("backward", 0)) return {7, 0};   // training=1
  switch (op.kind) {
    case OpKind::gelu: return {10, 2, "erf"};
    case OpKind::silu: return {7, 1, "exp"};
    case OpKind::sigmoid:
    case OpKind::tanh: return {3, 0};
    case OpKind::softmax: return {4, 0};
    case OpKind::layernorm: return {10, 0};
    case OpKind::rmsnorm: return {8, 0};
    case OpKind::batchnorm: return {6, 0};
    default: return {1, 0};   // relu, pools, embedding scatter-add
  }
}

// How PyTorch's CUDA kernels process one row of a row-wise reduction
// (aten/src/ATen/native/cuda/SoftMax.cu, PersistentSoftmax.cuh, layer_norm_kernel.cu):
//  * softmax, row <= 1024 elements and <= 4 KiB: softmax_warp_forward, one warp
//    per row, 128-thread blocks, the whole row loaded at once into registers
//    (next_pow2(cols)/32 fp32 values per thread), warp-shuffle reductions: one
//    memory round trip, no block barrier;
//  * softmax, longer rows below 48 KiB (sharedMemPerBlock): cunn_SoftMaxForwardSmem,
//    one block of min(cols, 1024) threads per row that requests all 48 KiB of
//    shared memory, 16-byte loads into shared memory, then block reductions for
//    the max and the sum: ceil(cols / (threads * 16 B / elem)) round trips, 2 barriers;
//  * softmax, longer rows: cunn_SoftMaxForward, the same block reads the row
//    three times from global memory (max, sum, output);
//  * layernorm / rmsnorm: vectorized_layer_norm_kernel, 128 threads per row, 4
//    elements per load, a Welford (or square-sum) pass, one block reduction,
//    then a normalise pass that reads the row again.
// Loads of one thread's loop iterations are dependent on the loop (no unrolling
// across the reduction), so a pass of B bytes takes ceil(B / (threads x load
// bytes)) memory round trips.
struct RowKernel {
  int64_t threads = 128;       // per row (one block, or one warp)
  int64_t rows_per_sm = 1;     // resident rows per SM (occupancy)
  int64_t round_trips = 0;     // dependent memory round trips per row
  int64_t barriers = 0;        // block-wide reductions per row
  int64_t rereads = 0;         // extra passes over the row after the first
  bool warp = false;
};

// backward: the backward row kernels (_softmax_backward_data: softmax_warp_backward
// in PersistentSoftmax.cuh holds both the gradient and the output row in registers;
// cunn_SoftMaxBackward reduces sum(dy * y) in a first pass and writes dx in a
// second; layer_norm_grad_input_kernel: the forward's two-pass structure over dy
// and x). Both tensors are re-read on the second pass.
RowKernel row_kernel(OpKind kind, int64_t cols, double elem_bytes, double max_threads, double regs_per_sm,
                     double smem_per_sm, bool backward = false) {
  RowKernel r;
  const double row = static_cast<double>(cols) * elem_bytes;
  const auto steps = [&](int64_t threads, double load_bytes) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(row / (static_cast<double>(threads) * load_bytes))));
  };
  if (kind == OpKind::softmax) {
    if (cols <= 1024 && row <= 4096) {
      r.warp = true;
      r.threads = 32;
      r.round_trips = 1;
      // Registers: next_pow2(cols)/32 fp32 row values per thread plus ~24 for
      // indices, the running max/sum and addresses; 128-thread blocks of 4 rows.
      int64_t p2 = 1;
      while (p2 < cols) p2 *= 2;
      const double regs = static_cast<double>((backward ? 2 : 1) * std::max<int64_t>(1, p2 / 32)) + 24;
      const int64_t blocks = std::max<int64_t>(1, static_cast<int64_t>(regs_per_sm / (regs * 128)));
      r.rows_per_sm = std::min<int64_t>(static_cast<int64_t>(max_threads) / 32, 4 * blocks);
      return r;
    }
    // SoftMaxForward_getBlockSize: min(cols, 1024) rounded up to a warp.
    r.threads = std::min<int64_t>(1024, (cols + 31) / 32 * 32);
    const double load = 16.0;   // float4 loads (ILP = 16 B / element)
    const double smem_block = 48.0 * 1024;   // cudaDeviceProp::sharedMemPerBlock
    const int64_t by_threads = std::max<int64_t>(1, static_cast<int64_t>(max_threads) / r.threads);
    r.barriers = 2;
    if (backward) {
      r.rows_per_sm = by_threads;
      r.round_trips = 2 * steps(r.threads, load);
      r.barriers = 1;
      r.rereads = 1;
      return r;
    }
    if (row < smem_block - 4.0 * static_cast<double>(r.threads / 32)) {
      r.rows_per_sm = std::clamp<int64_t>(static_cast<int64_t>(smem_per_sm / smem_block), 1, by_threads);
      r.round_trips = steps(r.threads, load);
    } else {
      r.rows_per_sm = by_threads;
      r.round_trips = 3 * steps(r.threads, load);
      r.rereads = 2;
    }
    return r;
  }
  // layernorm, rmsnorm: 128 threads, vec_size 4.
  r.threads = 128;
  r.rows_per_sm = std::min<int64_t>(32, static_cast<int64_t>(max_threads) / r.threads);
  r.round_trips = 2 * steps(r.threads, 4.0 * elem_bytes);
  r.barriers = 1;
  r.rereads = 1;
  return r;
}

}  // namespace

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
  m_sm = p.integer("sm_count");
  m_max_clock = p.real("max_clock");
  m_min_clock = std::min(p.real("min_clock"), m_max_clock);
  for (int i = 0; i < k_mma_pipes; ++i) {
    const std::string n(mma_pipe_name(static_cast<MmaPipe>(i)));
    m_rate[i] = p.real("flops_per_clock_" + n);
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
    m_eff[i] = p.real("efficiency_" + n);
    m_energy[i] = p.real("energy_" + n);
  }
  // A fp64 FLOP costs about twice a fp32 one (twice the multiplier width squared
  // is four, but operand movement dominates; 2x is the usual rule of thumb).
  m_energy[static_cast<int>(MmaPipe::fp64)] *= 2;
  m_sfu = p.real("sfu_per_clock");
  m_alu = p.real("alu_lanes");
  m_smem = p.real("smem_per_sm");
  m_smem_bpc = p.real("smem_bytes_per_clock");
  m_regs = p.real("register_file");
  m_multicast = p.integer("tma_multicast");
  m_launch = p.real("launch_overhead");
  m_kernel_gap = p.real("kernel_gap");
  m_kernel_fixed = p.real("kernel_fixed");
  m_eff_fa2 = p.real("attention_efficiency_flash2");
  m_bwd_fa2 = p.real("attention_backward_rate_flash2");
  m_bwd_fa3 = p.real("attention_backward_rate_flash3");
  m_fa3_exposed = p.real("attention_softmax_exposed_flash3");
  m_eff_mem = p.real("attention_efficiency_efficient");
  m_sync = p.real("sync_mma_fraction");
  m_link_bw = p.real("link_bandwidth");
  m_link_latency = p.real("link_latency");
  m_row_trip = p.real("row_round_trip");
  m_row_sync = p.real("row_reduction");
  m_wave_startup = p.real("gemm_wave_startup");
  m_max_threads = p.real("max_threads_per_sm");
  m_in_flight = p.real("bytes_in_flight");
  m_default_attention = p.text("attention");
  m_static_w = hw.power().static_power_w();
  m_limit_w = hw.power().power_limit_w();
}

double TensorCoreModel::nominal_clock_hz() const { return m_params.real("max_clock"); }

double TensorCoreModel::flops_per_clock(DType a) const {
  // Fallback chain when the SM lacks a format's tensor-core mode: the operands
  // are converted to the next wider format the hardware runs.
  MmaPipe p = mma_pipe(a);
  for (int guard = 0; guard < k_mma_pipes; ++guard) {
    const double r = m_rate[static_cast<int>(p)];
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
  const std::string n(mma_pipe_name(mma_pipe(t)));
  return m_params.real("flops_per_clock_" + n) * static_cast<double>(m_params.integer("sm_count")) *
         nominal_clock_hz();
}

double TensorCoreModel::mma_efficiency(DType a, MmaPath path) const {
  switch (path) {
    // FlashAttention-2 and the memory-efficient kernel are Ampere code (mma.sync):
    // their efficiencies are fractions of the rate that instruction reaches.
    case MmaPath::flash2: return m_eff_fa2 * m_sync;
    case MmaPath::flash2_backward: return m_eff_fa2 * m_bwd_fa2 * m_sync;
    case MmaPath::flash3_backward: return m_eff[static_cast<int>(mma_pipe(a))] * gemm_issue_fraction(a) * m_bwd_fa3;
    case MmaPath::flash3: break;   // GEMM mainloop rate (see lower_attention)
    case MmaPath::efficient: return m_eff_mem * m_sync;
    case MmaPath::gemm: break;
  }
  return m_eff[static_cast<int>(mma_pipe(a))] * gemm_issue_fraction(a);
}

double TensorCoreModel::gemm_issue_fraction(DType a) const {
  // cuBLASLt's int8 GEMMs (torch._int_mm) on the H100 run at 0.50 of the wgmma rate
  // per clock (shared energy record: 843 TOPS at 1563 MHz), the mma.sync rate.
  return mma_pipe(a) == MmaPipe::int8 ? m_sync : 1.0;
}

double TensorCoreModel::mma_cycles(const Instr& in, const Kernel& k) const {
  const double rate = flops_per_clock(in.a);
  if (rate <= 0) throw InputError(fmt::format("kernel '{}': no pipe runs {}", k.name, dtype_name(in.a)));
  const auto path = static_cast<MmaPath>(static_cast<int>(k.attr("mma_path", 0)));
  double flops = 2.0 * static_cast<double>(in.m) * static_cast<double>(in.n) * static_cast<double>(in.k);
  // A matrix-vector product (one row or one column: attr gemv, set by lower_gemm)
  // runs as cuBLAS's gemv kernel, one thread per output element and no tile rows
  // past the edge, so only the useful products take issue slots; every other GEMM
  // runs whole tiles.
  if (k.attr("gemv", 0.0) != 0) flops *= k.attr("mma_useful", 1.0);
  const double c_mma = flops / (rate * mma_efficiency(in.a, path));
  const double smem_bytes =
      static_cast<double>(in.m + in.n) * static_cast<double>(in.k) * dtype_bytes(in.a, 1);
  return std::max(c_mma, smem_bytes / m_smem_bpc);
}

double TensorCoreModel::instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const {
  const double clock = c.clock_hz > 0 ? c.clock_hz : m_max_clock;
  const double per_sm = std::ceil(static_cast<double>(in.count) / static_cast<double>(m_sm));
  switch (in.op) {
    case Opcode::mma: return per_sm * mma_cycles(in, k) / clock;
    case Opcode::vec: {
      if (in.name == "promote") return 0;   // hidden under the MMAs (lower_gemm)
      const double rate = is_sfu_op(in.name) ? m_sfu : m_alu;
      return k.attr("vec_exposed", 1.0) * per_sm * static_cast<double>(in.elems) / rate / clock;
    }
    case Opcode::coll: {
      if (in.ranks <= 1 || m_link_bw <= 0) return 0;
      const double r = static_cast<double>(in.ranks);
      // Ring algorithms: allreduce moves 2(r-1)/r of the buffer over each link in
      // 2(r-1) steps; allgather, reducescatter and alltoall (r-1)/r in r-1 steps.
      const double factor = in.name == "allreduce" ? 2.0 : 1.0;
      return factor * ((r - 1) / r * static_cast<double>(in.bytes) / m_link_bw +
                       (r - 1) * m_link_latency);
    }
    // Row kernels: `elems` dependent memory round trips per SM (the SM's resident
    // rows wait on them together), with the kernel's block-wide reductions spread
    // over them.
    case Opcode::wait:
      return per_sm * static_cast<double>(in.elems) *
             (m_row_trip + k.attr("row_reductions_per_trip", 0) * m_row_sync);
    case Opcode::send:
    case Opcode::recv:
      return m_link_bw > 0 ? static_cast<double>(in.bytes) / m_link_bw + m_link_latency : 0;
    default: return 0;
  }
}

double TensorCoreModel::instr_energy_j(const Instr& in, const Kernel& k, const KernelContext&) const {
  const double count = static_cast<double>(in.count);
  switch (in.op) {
    case Opcode::mma:
      // Only the products inside the matrix switch: the rows and columns a tile
      // runs past the edge of the matrix are zero-filled (TMA out-of-bounds fill)
      // or predicated off, and zeros do not toggle the multipliers (attr
      // mma_useful: useful / issued MACs of the kernel, set by lower_gemm).
      return 2.0 * static_cast<double>(in.m) * static_cast<double>(in.n) *
             static_cast<double>(in.k) * count * m_energy[static_cast<int>(mma_pipe(in.a))] *
             k.attr("mma_useful", 1.0);
    case Opcode::vec:
      // One fp32-lane (or SFU) operation costs what one fp32 FLOP costs on the CUDA cores.
      return static_cast<double>(in.elems) * count * m_energy[static_cast<int>(MmaPipe::fp32)];
    default: return 0;
  }
}

double TensorCoreModel::kernel_overhead_s(const Kernel& k, const KernelContext&) const {
  // GEMM thread blocks that do not overlap their start-up with a predecessor's
  // mainloop (non-persistent kernels: one block per SM slot per wave) pay it
  // once per wave on the busiest SM (attr startup_waves, set by lower_gemm).
  // An isolated kernel (what a microbenchmark times with CUDA events) pays the
  // whole launch; the first kernel of an op queued behind another op (attr queued,
  // set by compile) only the back-to-back gap. Further launches of a multi-kernel
  // op keep the whole launch: the library issues them right after the first, and
  // for short kernels (flash-decoding's combine step) the host's launch, not the
  // GPU, sets the pace (the shared decode-attention records are timed that way).
  const double launches = std::max(1.0, k.attr("launches", 1.0));
  const double first = k.attr("queued", 0.0) != 0 ? m_kernel_gap : m_launch;
  return first + (launches - 1.0) * m_launch + m_wave_startup * k.attr("startup_waves", 0.0);
}

double TensorCoreModel::launch_idle_s(const Kernel& k, const KernelContext&) const {
  // Each launch's fixed cost less the part inside the kernel (kernel_fixed); the
  // wave start-ups run inside the kernel.
  const double launches = std::max(1.0, k.attr("launches", 1.0));
  const double first = k.attr("queued", 0.0) != 0 ? m_kernel_gap : m_launch;
  return std::max(0.0, first - m_kernel_fixed) + (launches - 1.0) * std::max(0.0, m_launch - m_kernel_fixed);
}

double TensorCoreModel::compute_share(const Kernel& k) const {
  // The SMs the kernel's thread blocks occupy: GEMM and attention kernels name
  // their thread blocks (attr thread_blocks), the other kernels spread their
  // instructions' `count` copies one per SM (memory-bound and row kernels: the SMs
  // they use; a collective: the one copy that drives the link). The block
  // scheduler places one block per SM before it doubles up, so blocks beyond the
  // SM count still occupy the whole GPU.
  double blocks = k.attr("thread_blocks", 0.0);
  if (blocks <= 0)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs) blocks = std::max(blocks, static_cast<double>(in.count));
  if (blocks <= 0) return 1.0;
  return std::min(1.0, blocks / static_cast<double>(m_sm));
}

double TensorCoreModel::capped_clock_hz(const Kernel& k, const Hardware& hw) const {
  if (m_limit_w <= 0) return m_max_clock;
  // Dynamic energy does not depend on the clock (energy per action); time does.
  double energy = 0;
  KernelContext probe;
  probe.clock_hz = m_max_clock;
  for (const Block& b : k.blocks) {
    double e = 0;
    for (const Instr& in : b.instrs) {
      if (in.op == Opcode::load || in.op == Opcode::store) {
        if (const MemoryModel* mem = hw.memory(in.op == Opcode::load ? in.src : in.dst))
          e += mem->transfer_energy_j(in, k);
      } else {
        e += instr_energy_j(in, k, probe);
      }
    }
    energy += e * static_cast<double>(b.repeat);
  }
  // Steady-state time of the kernel at clock f: every stage costs max(l, c).
  const auto time_at = [&](double f) {
    KernelContext ctx;
    ctx.clock_hz = f;
    double t = kernel_overhead_s(k, ctx);
    for (const Block& b : k.blocks) {
      double c = 0;
      std::map<std::string, double> lv;
      for (const Instr& in : b.instrs) {
        if (in.op == Opcode::load || in.op == Opcode::store) {
          const std::string& name = in.op == Opcode::load ? in.src : in.dst;
          if (const MemoryModel* mem = hw.memory(name)) lv[name] += mem->transfer_time_s(in, k, ctx);
        } else {
          c += instr_time_s(in, k, ctx);
        }
      }
      double l = 0;
      for (const auto& [name, v] : lv) l = std::max(l, v);
      t += static_cast<double>(b.repeat) * std::max(l, c);
    }
    return t;
  };
  const double budget = m_limit_w - m_static_w;
  if (budget <= 0) return m_min_clock;
  const auto fits = [&](double f) {
    const double t = time_at(f);
    return t <= 0 || energy / t <= budget;
  };
  if (fits(m_max_clock)) return m_max_clock;
  if (!fits(m_min_clock)) return m_min_clock;
  // Power falls monotonically with the clock (time grows, energy is fixed):
  // bisect for the highest clock within the limit, to 0.1 MHz.
  double lo = m_min_clock, hi = m_max_clock;
  while (hi - lo > 1e5) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

KernelContext TensorCoreModel::begin_kernel(const Kernel& k, const Hardware& hw) const {
  KernelContext ctx;
  ctx.clock_hz = capped_clock_hz(k, hw);
  ctx.values["power_capped_kernels"] = ctx.clock_hz < m_max_clock ? 1.0 : 0.0;
  return ctx;
}

// ---------------------------------------------------------------------------
// GEMM mapping

// Products per fp32 promotion of a GEMM's MMAs, 0 for none: the H100 fp8 path adds
// the tensor core's partial sums into fp32 registers every 128 products
// (docs/numerics.md, h100_fp8 accumulation preset); fast accumulation never does.
static int64_t promote_interval(const GemmShape& s) {
  const bool fp8 = mma_pipe(s.a) == MmaPipe::fp8 || mma_pipe(s.a) == MmaPipe::fp4;
  return fp8 && !s.fast_accum ? 128 : 0;
}

GemmPlan TensorCoreModel::plan_gemm(const GemmShape& s, const Hardware& hw) const {
  const double eb = dtype_bytes(s.a, 1);
  const double ob = dtype_bytes(s.out, 1);
  const double rate = flops_per_clock(s.a);
  const double eff = mma_efficiency(s.a, MmaPath::gemm);
  const double dram_bw = hw.outermost_memory().bandwidth_bps();
  const double l2_bw = hw.memories().size() > 1 ? hw.memories().front().second->bandwidth_bps() : 0;
  // Energy per byte of the L2 and the DRAM (reads, writes), for the power bound.
  const auto per_byte = [&](const MemoryModel* mem, Opcode op) {
    if (mem == nullptr) return 0.0;
    Instr probe;
    probe.op = op;
    probe.bytes = 1 << 20;
    probe.count = 1;
    return mem->transfer_energy_j(probe, Kernel{}) / static_cast<double>(probe.bytes);
  };
  const MemoryModel* l2m = hw.memories().size() > 1 ? hw.memories().front().second.get() : nullptr;
  const double e_l2 = per_byte(l2m, Opcode::load);
  const double e_dram_r = per_byte(&hw.outermost_memory(), Opcode::load);
  const double e_dram_w = per_byte(&hw.outermost_memory(), Opcode::store);
  const double power_budget = m_limit_w > 0 ? m_limit_w - m_static_w : 0;
  // k-step: 128 bytes of K per operand row (one 128-byte swizzled smem row).
  const int64_t bk = std::max<int64_t>(8, static_cast<int64_t>(std::llround(128.0 / eb)));
  // cuBLAS/CUTLASS tile shapes, largest first (ties keep the larger tile).
  static constexpr int64_t cand[][2] = {{128, 256}, {256, 128}, {128, 128}, {128, 64}, {64, 128}, {64, 64}};
  GemmPlan best;
  best.est_time_s = -1;
  for (const auto& c : cand) {
    GemmPlan p;
    p.bm = c[0];
    p.bn = c[1];
    p.bk = bk;
    // Occupancy: fp32 accumulators take bm*bn*4 bytes of registers, doubled for
    // the operand fragments and addresses; at least two smem stages per block.
    const double acc = static_cast<double>(p.bm * p.bn) * 4.0;
    const double stage = static_cast<double>(p.bm + p.bn) * static_cast<double>(bk) * eb;
    const int64_t by_regs = static_cast<int64_t>(m_regs / (2.0 * acc));
    const int64_t by_smem = static_cast<int64_t>(m_smem / (2.0 * stage));
    p.ctas_per_sm = std::clamp<int64_t>(std::min(by_regs, by_smem), 1, 4);
    const int64_t tm = ceil_div(s.m, p.bm), tn = ceil_div(s.n, p.bn);
    const int64_t tiles_mn = s.batch * tm * tn;
    // Split-K when the output tiles leave SMs idle and K is long enough for each
    // slice to keep at least four k-steps.
    p.split_k = 1;
    if (tiles_mn < m_sm) p.split_k = std::clamp<int64_t>(std::min(m_sm / tiles_mn, s.k / (4 * bk)), 1, 16);
    p.tiles = tiles_mn * p.split_k;
    const int64_t slots = m_sm * p.ctas_per_sm;
    p.waves = ceil_div(p.tiles, slots);
    const int64_t kk = ceil_div(s.k, p.split_k);
    p.k_steps = ceil_div(kk, bk);
    // Compute estimate: full waves keep ctas_per_sm blocks per SM; the last wave
    // ceil(rest / sm) per SM.
    const int64_t rest = p.tiles - (p.waves - 1) * slots;
    const double tiles_per_sm =
        static_cast<double>((p.waves - 1) * p.ctas_per_sm + ceil_div(rest, m_sm));
    const double cyc = std::max(2.0 * static_cast<double>(p.bm * p.bn * bk) / (rate * eff),
                                stage / m_smem_bpc);
    const double t_compute = tiles_per_sm * static_cast<double>(p.k_steps) * cyc / m_max_clock +
                             static_cast<double>(p.waves) * m_wave_startup;
    const double a_bytes = static_cast<double>(s.batch * s.m * s.k) * eb;
    const double b_bytes = static_cast<double>((s.b_shared ? 1 : s.batch) * s.k * s.n) * eb;
    const double c_bytes = static_cast<double>(s.batch * s.m * s.n) * ob;
    double t_mem = (a_bytes + b_bytes + c_bytes) / dram_bw;
    if (p.split_k > 1) t_mem += 2.0 * static_cast<double>(p.split_k * s.batch * s.m * s.n) * 4.0 / dram_bw;
    const double mc = static_cast<double>(std::min<int64_t>(m_multicast, tm));
    const double l2_bytes = static_cast<double>(p.tiles * p.k_steps) *
                            (static_cast<double>(p.bm) + static_cast<double>(p.bn) / mc) * static_cast<double>(bk) * eb;
    const double t_l2 = l2_bw > 0 ? l2_bytes / l2_bw : 0;
    // Under a power limit a kernel cannot finish before its dynamic energy has
    // been spent at the power the limit leaves above static power; tiles that
    // move more bytes per FLOP through the L2 cost clock, not only bandwidth.
    const double flops = 2.0 * static_cast<double>(p.tiles) * static_cast<double>(p.bm * p.bn) *
                         static_cast<double>(p.k_steps * bk);
    const double useful = 2.0 * static_cast<double>(s.batch * s.m * s.n * s.k);
    const double promotions =
        promote_interval(s) > 0
            ? static_cast<double>(p.tiles * p.bm * p.bn) *
                  std::ceil(static_cast<double>(p.k_steps * bk) / static_cast<double>(promote_interval(s)))
            : 0.0;
    const double energy = std::min(flops, useful) * m_energy[static_cast<int>(mma_pipe(s.a))] +
                          promotions * m_energy[static_cast<int>(MmaPipe::fp32)] + l2_bytes * e_l2 +
                          (a_bytes + b_bytes) * e_dram_r + c_bytes * e_dram_w;
    const double t_power = power_budget > 0 ? energy / power_budget : 0;
    p.est_time_s = std::max({t_compute, t_mem, t_l2, t_power});
    if (best.est_time_s < 0 || p.est_time_s < best.est_time_s * 0.999) best = p;
  }
  return best;
}

Kernel TensorCoreModel::lower_gemm(const Op& op, const GemmShape& s, double a_dram_bytes,
                                   const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const GemmPlan p = plan_gemm(s, hw);
  const double eb = dtype_bytes(s.a, 1);
  const double ob = dtype_bytes(s.out, 1);
  const int64_t tm = ceil_div(s.m, p.bm), tn = ceil_div(s.n, p.bn);
  const int64_t slots = m_sm * p.ctas_per_sm;

  // DRAM traffic. Operands that fit in half the L2 are read once. Otherwise each
  // wave reads the footprint of its block of tiles (CUTLASS rasterises a wave
  // as a near-square block of rows x cols tiles), at least once and at most
  // without any reuse between thread blocks.
  const double a_bytes = a_dram_bytes;
  const double b_bytes = static_cast<double>((s.b_shared ? 1 : s.batch) * s.k * s.n) * eb;
  const double c_bytes = static_cast<double>(s.batch * s.m * s.n) * ob;
  double reads = a_bytes + b_bytes;
  const int64_t tiles_per_item = tm * tn;
  if (reads > 0.5 * lv.l2_capacity && tiles_per_item > slots) {
    const double rows = std::min<double>(static_cast<double>(tm),
                                         std::ceil(std::sqrt(static_cast<double>(slots * p.bn) /
                                                             static_cast<double>(p.bm))));
    const double cols = std::min<double>(static_cast<double>(tn), std::ceil(static_cast<double>(slots) / rows));
    const double per_wave = (rows * static_cast<double>(p.bm) + cols * static_cast<double>(p.bn)) *
                            static_cast<double>(s.k) * eb;
    const double no_reuse = a_bytes * static_cast<double>(tn) + b_bytes * static_cast<double>(tm);
    const double waves_mn = std::ceil(static_cast<double>(tiles_per_item * s.batch) / static_cast<double>(slots));
    reads = std::clamp(per_wave * waves_mn, a_bytes + b_bytes, std::max(no_reuse, a_bytes + b_bytes));
    // A later wave finds part of its footprint still in the L2 from earlier waves:
    // with the operands' L2-capacity share resident (hit rate capacity / operand
    // bytes, the first-order rate of a cache smaller than its working set), only the
    // rest of the re-reads go to DRAM.
    const double once = a_bytes + b_bytes;
    const double miss = std::clamp(1.0 - lv.l2_capacity / once, 0.0, 1.0);
    reads = once + (reads - once) * miss;
  }
  // L2 -> smem: every block loads its A and B k-slices; a cluster multicasts the
  // B tile to `tma_multicast` blocks along M.
  const double mc = static_cast<double>(std::min<int64_t>(m_multicast, tm));
  const double l2_per_cta_kstep =
      (static_cast<double>(p.bm) + static_cast<double>(p.bn) / mc) * static_cast<double>(p.bk) * eb;

  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.attrs["tile_m"] = static_cast<double>(p.bm);
  k.attrs["tile_n"] = static_cast<double>(p.bn);
  k.attrs["tile_k"] = static_cast<double>(p.bk);
  k.attrs["split_k"] = static_cast<double>(p.split_k);
  k.attrs["waves"] = static_cast<double>(p.waves);
  k.attrs["ctas_per_sm"] = static_cast<double>(p.ctas_per_sm);
  k.attrs["thread_blocks"] = static_cast<double>(p.tiles);
  k.attrs["mma_path"] = static_cast<double>(MmaPath::gemm);
  k.attrs["startup_waves"] = static_cast<double>(p.waves);
  // Per SM: up to four k-step stages of every resident block are in flight.
  k.attrs["bytes_in_flight"] =
      4.0 * static_cast<double>(p.bm + p.bn) * static_cast<double>(p.bk) * eb * static_cast<double>(p.ctas_per_sm);

  // Stages: each wave's k-loop is cut into at most ~256/waves chunks so the whole
  // kernel has a few hundred stages at most.
  const int64_t chunks_target = std::max<int64_t>(1, 256 / std::max<int64_t>(1, p.waves));
  const int64_t kper = ceil_div(p.k_steps, std::min(chunks_target, p.k_steps));
  const int64_t chunks = ceil_div(p.k_steps, kper);
  {
    // Useful share of the MACs the mma instructions below issue (padded tiles).
    const double issued =
        2.0 * static_cast<double>(p.tiles * p.bm * p.bn) * static_cast<double>(chunks * kper * p.bk);
    const double useful = 2.0 * static_cast<double>(s.batch * s.m * s.n) * static_cast<double>(s.k);
    k.attrs["mma_useful"] = issued > 0 ? std::min(1.0, useful / issued) : 1.0;
  }
  if (s.m == 1 || s.n == 1) k.attrs["gemv"] = 1;
  const double total_tiles = static_cast<double>(p.tiles);
  // Products per fp32 promotion of fp8 MMAs (docs/numerics.md: the H100 fp8 path
  // promotes every 128 products; fast accumulation never does).
  const int64_t promote_every = promote_interval(s);
  const auto wave_block = [&](int64_t ctas, int64_t repeat) {
    Block b;
    b.repeat = repeat;
    const int64_t sms = std::min(ctas, m_sm);
    const double share = static_cast<double>(ctas) / total_tiles / static_cast<double>(chunks);
    add_traffic(b.instrs, lv, Opcode::load, reads * share,
                static_cast<double>(ctas) * l2_per_cta_kstep * static_cast<double>(kper), sms);
    b.instrs.push_back(mma(p.bm, p.bn, p.bk * kper, s.a, ctas));
    if (promote_every > 0) {
      // fp8 accumulation: every `promote_every` products the tensor core's partial
      // sums are added into fp32 registers on the CUDA cores (one lane op per
      // accumulator). The other consumer warpgroup's MMAs hide the time; the
      // energy is spent (so a power-capped kernel slows down).
      Instr pr = vec("promote", static_cast<double>(p.bm * p.bn) *
                                    std::ceil(static_cast<double>(p.bk * kper) / static_cast<double>(promote_every)),
                     ctas, DType::fp32);
      b.instrs.push_back(pr);
    }
    // Epilogue: scale and convert each accumulator (2 lane ops), spread over the chunks.
    b.instrs.push_back(vec("epilogue", 2.0 * static_cast<double>(p.bm * p.bn) / static_cast<double>(chunks), ctas, DType::fp32));
    if (p.split_k == 1) {
      add_traffic(b.instrs, lv, Opcode::store, c_bytes * share, c_bytes * share, sms);
    } else {
      // fp32 partial tiles go to an L2-resident workspace.
      const double part = static_cast<double>(ctas * p.bm * p.bn) * 4.0 / static_cast<double>(chunks);
      add_traffic(b.instrs, lv, Opcode::store, lv.l2.empty() ? part : 0, part, sms);
    }
    return b;
  };
  const int64_t full = p.tiles / slots;
  const int64_t rest = p.tiles - full * slots;
  if (full > 0) k.blocks.push_back(wave_block(slots, full * chunks));
  if (rest > 0) k.blocks.push_back(wave_block(rest, chunks));
  if (p.split_k > 1) {
    // Reduction of the partial tiles (in the same kernel, by the last block of
    // each output tile): read split_k fp32 partials, add, convert, write C.
    Block b;
    const double outs = static_cast<double>(s.batch * s.m * s.n);
    const int64_t sms = std::min<int64_t>(m_sm, std::max<int64_t>(1, s.batch * tm * tn));
    add_traffic(b.instrs, lv, Opcode::load, lv.l2.empty() ? outs * 4.0 * static_cast<double>(p.split_k) : 0,
                outs * 4.0 * static_cast<double>(p.split_k), sms);
    b.instrs.push_back(vec("reduce", outs * static_cast<double>(p.split_k) / static_cast<double>(sms), sms, DType::fp32));
    add_traffic(b.instrs, lv, Opcode::store, c_bytes, c_bytes, sms);
    k.blocks.push_back(std::move(b));
  }
  k.mapping = fmt::format("{} ({} pipe) tile {}x{}x{}, {} blocks ({}/SM), {} wave(s), split-k {}, {} stages",
                          dtype_name(s.a), mma_pipe_name(mma_pipe(s.a)), p.bm, p.bn, p.bk, p.tiles, p.ctas_per_sm,
                          p.waves, p.split_k, (full > 0 ? full * chunks : 0) + (rest > 0 ? chunks : 0));
  set_dram_bytes(k, lv.dram);
  return k;
}

// ---------------------------------------------------------------------------
// Attention

Kernel TensorCoreModel::lower_attention(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const int64_t B = op.at("batch"), H = op.at("heads"), Hkv = op.get("kv_heads", H);
  const int64_t sq = op.at("sq"), skv = op.at("skv"), D = op.at("d");
  const bool causal = op.get("causal", 0) != 0;
  const double eb = dtype_bytes(op.dtype, 1);

  // Backend: attr backend = 1 (FlashAttention-2), 2 (FlashAttention-3 / cuDNN:
  // warp-specialised, softmax overlapped with the tensor cores), 3 (memory-efficient
  // kernel); without it the hardware's default.
  MmaPath path = MmaPath::flash3;
  const std::string& def = m_default_attention;
  if (def == "flash2") path = MmaPath::flash2;
  if (def == "efficient") path = MmaPath::efficient;
  if (const int64_t be = op.get("backend", 0); be != 0) {
    if (be < 1 || be > 3)
      throw InputError(fmt::format("op '{}' (attention): backend={} must be 1 (flash2), 2 (flash3) or "
                                   "3 (efficient)", op.name, be));
    path = static_cast<MmaPath>(be);
  }
  // Block sizes of the public kernels: FA3 hdim64 192x128, hdim128 128x128;
  // FA2 (sm80 code) hdim64 128x128, hdim128 128x64; memory-efficient 64x64.
  int64_t bq = 128, bk = 128;
  if (path == MmaPath::flash3) bq = D <= 64 ? 192 : 128;
  if (path == MmaPath::flash2) bk = D <= 64 ? 128 : 64;
  if (path == MmaPath::efficient) bq = bk = 64;

  const int64_t nq = ceil_div(sq, bq);
  const int64_t ctas = B * H * nq;
  const double tile_smem = static_cast<double>(bq * D) * eb + 4.0 * static_cast<double>(bk * D) * eb;
  const int64_t occ =
      path == MmaPath::flash3 ? 1 : std::clamp<int64_t>(static_cast<int64_t>(m_smem / tile_smem), 1, 2);
  const int64_t slots = std::min(ctas, m_sm * occ);
  // KV blocks each query block visits; causal skips blocks above the diagonal
  // (query i sees keys j <= i + skv - sq).
  double total_iters = 0;
  int64_t max_nk = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t last_key = causal ? std::min(skv, (i + 1) * bq + (skv - sq)) : skv;
    const int64_t nk = ceil_div(std::max<int64_t>(last_key, 1), bk);
    total_iters += static_cast<double>(nk);
    max_nk = std::max(max_nk, nk);
  }
  total_iters *= static_cast<double>(B * H);
  // Iterations the busiest slot runs: whole waves of equal blocks without causal
  // masking; with it the scheduler hands the longest blocks out first, so the
  // work spreads evenly, but no slot finishes before the longest block.
  const int64_t iters_per_slot =
      causal ? std::max<int64_t>(static_cast<int64_t>(std::ceil(total_iters / static_cast<double>(slots))), max_nk)
             : ceil_div(ctas, slots) * max_nk;
  const int64_t g = ceil_div(iters_per_slot, 256);
  const int64_t stages = ceil_div(iters_per_slot, g);

  const double q_bytes = static_cast<double>(B * H * sq * D) * eb;
  const double kv_bytes = 2.0 * static_cast<double>(B * Hkv * skv * D) * eb;
  const double o_bytes = static_cast<double>(B * H * sq * D) * dtype_bytes(op.out_dtype, 1);
  const int64_t sms = std::min(slots, m_sm);
  const double st = static_cast<double>(stages);

  Kernel k;
  k.op_kind = "attention";
  k.attrs["mma_path"] = static_cast<double>(path);
  k.attrs["block_q"] = static_cast<double>(bq);
  k.attrs["block_kv"] = static_cast<double>(bk);
  k.attrs["thread_blocks"] = static_cast<double>(ctas);
  k.attrs["bytes_in_flight"] = 4.0 * static_cast<double>(bk * D) * eb * static_cast<double>(occ);
  Block b;
  b.repeat = stages;
  // Every slot streams its K and V blocks from the L2 (heads' K/V are shared by
  // the query blocks of the head); DRAM sees Q, K, V once.
  add_traffic(b.instrs, lv, Opcode::load, (q_bytes + kv_bytes) / st,
              static_cast<double>(slots) * 2.0 * static_cast<double>(bk * g * D) * eb + q_bytes / st, sms);
  b.instrs.push_back(mma(bq, bk * g, D, op.dtype, slots));   // S = Q K^T
  b.instrs.push_back(mma(bq, D, bk * g, op.dtype, slots));   // O += P V
  const double scores = static_cast<double>(bq * bk * g);
  // Online softmax: per score scale, running max, subtract, row sum, convert (5
  // lane ops) and one exp; per row and block the output rescale (D lane ops).
  b.instrs.push_back(vec("exp", scores, slots, DType::fp32));
  b.instrs.push_back(vec("softmax", 5.0 * scores + static_cast<double>(bq * D * g), slots, DType::fp32));
  add_traffic(b.instrs, lv, Opcode::store, o_bytes / st, o_bytes / st, sms);
  if (path == MmaPath::flash3) {
    // Two consumer warpgroups ping-pong (FlashAttention-3, Shah et al. 2024, sec.
    // 3.1): one's softmax runs while the other's GEMMs use the tensor cores, and
    // the GEMMs are issued as in a GEMM mainloop (wgmma from TMA-fed shared
    // memory), so they run at the GEMM efficiency (mma_efficiency). Within a
    // warpgroup, P.V waits on the softmax of the same block, so a share of every
    // softmax stays on the critical path: attention_softmax_exposed_flash3
    // (fitted). The softmax work per MMA FLOP is (SFU exp + ~5 lane ops) per score
    // against 4D FLOP per score, so head dim 64 spends twice the share of head
    // dim 128 on it: per score and SM, exp 1/16 clk + lanes ~5.5/128 clk against
    // 4D/4096 clk of MMA (0.0625 clk at D = 64, 0.125 clk at D = 128).
    k.attrs["vec_exposed"] = m_fa3_exposed;
  }
  k.blocks.push_back(std::move(b));
  static constexpr const char* names[] = {"gemm", "flash2", "flash3", "efficient"};
  k.mapping = fmt::format("{} attention, blocks {}x{}, {} thread blocks ({}/SM), {} KV blocks per slot{}",
                          names[static_cast<int>(path)], bq, bk, ctas, occ, iters_per_slot,
                          causal ? ", causal block skipping" : "");
  set_dram_bytes(k, lv.dram);
  return k;
}

Kernel TensorCoreModel::lower_decode_attention(const Op& op, const Hardware& hw) const {
  // Flash-decoding: few query rows, so the KV cache read dominates. K/V are split
  // along the sequence so that at least two blocks per SM stream it; a second
  // kernel combines the partial results.
  const Levels lv = levels_of(hw);
  const int64_t B = op.at("batch"), H = op.at("heads"), Hkv = op.get("kv_heads", H);
  const int64_t sq = op.at("sq"), skv = op.at("skv"), D = op.at("d");
  const double eb = dtype_bytes(op.dtype, 1);
  const int64_t rows = sq * (H / Hkv);   // query rows sharing one KV head (GQA packing)
  const int64_t bk = 128;
  const int64_t splits = std::clamp<int64_t>(ceil_div(2 * m_sm, B * Hkv), 1,
                                             std::max<int64_t>(1, ceil_div(skv, 256)));
  const int64_t ctas = B * Hkv * splits;
  const int64_t slots = std::min(ctas, 2 * m_sm);
  const int64_t sms = std::min(slots, m_sm);
  const int64_t tokens = ceil_div(skv, splits);
  const int64_t iters = ceil_div(ctas, slots) * ceil_div(tokens, bk);
  const int64_t g = ceil_div(iters, 256);
  const int64_t stages = ceil_div(iters, g);
  const double st = static_cast<double>(stages);
  const double q_bytes = static_cast<double>(B * H * sq * D) * eb;
  const double kv_bytes = 2.0 * static_cast<double>(B * Hkv * skv * D) * eb;
  const double o_bytes = static_cast<double>(B * H * sq * D) * dtype_bytes(op.out_dtype, 1);
  const double partials = splits > 1 ? static_cast<double>(B * H * sq * splits * (D + 2)) * 4.0 : 0;
  // Tensor-core m granularity is 16 rows (mma.sync m16n8k16).
  const int64_t mrows = ceil_div(rows, 16) * 16;

  Kernel k;
  k.op_kind = "attention";
  k.attrs["mma_path"] = static_cast<double>(MmaPath::flash2);
  k.attrs["splits"] = static_cast<double>(splits);
  k.attrs["thread_blocks"] = static_cast<double>(ctas);
  k.attrs["launches"] = splits > 1 ? 2.0 : 1.0;
  k.attrs["bytes_in_flight"] = m_in_flight;
  Block b;
  b.repeat = stages;
  add_traffic(b.instrs, lv, Opcode::load, (kv_bytes + q_bytes) / st, (kv_bytes + q_bytes) / st, sms);
  b.instrs.push_back(mma(mrows, bk * g, D, op.dtype, slots));
  b.instrs.push_back(mma(mrows, D, bk * g, op.dtype, slots));
  const double scores = static_cast<double>(rows * bk * g);
  b.instrs.push_back(vec("exp", scores, slots, DType::fp32));
  b.instrs.push_back(vec("softmax", 5.0 * scores + static_cast<double>(rows * D * g), slots, DType::fp32));
  add_traffic(b.instrs, lv, Opcode::store, (o_bytes + (lv.l2.empty() ? partials : 0)) / st,
              (o_bytes + partials) / st, sms);
  k.blocks.push_back(std::move(b));
  if (splits > 1) {
    Block c;
    add_traffic(c.instrs, lv, Opcode::load, lv.l2.empty() ? partials : 0, partials, sms);
    c.instrs.push_back(vec("combine", 3.0 * partials / 4.0 / static_cast<double>(sms), sms, DType::fp32));
    k.blocks.push_back(std::move(c));
  }
  k.mapping = fmt::format("decode attention (flash-decoding), {} KV splits, {} thread blocks, {} stages",
                          splits, ctas, stages);
  set_dram_bytes(k, lv.dram);
  return k;
}

// ---------------------------------------------------------------------------
// Memory-bound kernels

Kernel TensorCoreModel::lower_vector(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const DType in = op.dtype, out = op.out_dtype;
  double reads = 0, writes = 0, elems = 0, rows = 1, l2_rereads = 0;
  int64_t passes = 1;
  std::optional<RowKernel> row;
  switch (op.kind) {
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const int64_t pad = op.get("pad", 0);
      const double ho = static_cast<double>(conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), pad, 1));
      const double wo = static_cast<double>(conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), pad, 1));
      const double nc = static_cast<double>(op.at("n") * op.at("c"));
      reads = dtype_bytes(in, nc * static_cast<double>(op.at("h") * op.at("w")));
      writes = dtype_bytes(out, nc * ho * wo);
      elems = nc * ho * wo * static_cast<double>(op.at("r") * op.at("s"));
      rows = nc * ho;
      if (op.get("backward", 0)) {   // reads the output gradient, writes the input's
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
        rows = nc * static_cast<double>(op.at("h"));
      }
      break;
    }
    case OpKind::embedding: {
      const double n = static_cast<double>(op.at("tokens") * op.at("dim"));
      reads = dtype_bytes(in, n) + 8.0 * static_cast<double>(op.at("tokens"));
      writes = dtype_bytes(out, n);
      rows = static_cast<double>(op.at("tokens"));
      if (op.get("backward", 0)) {   // zero fill, (sort,) scatter-add: ir.cpp's traffic
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
        elems = n;
      }
      break;
    }
    case OpKind::optimizer: {
      const OpTraffic t = op_traffic(op);
      reads = t.read;
      writes = t.written;
      elems = static_cast<double>(op.at("elems"));
      break;
    }
    case OpKind::kv_read:
    case OpKind::kv_write: {
      const double total = op_min_bytes(op);
      const bool copy = op.kind == OpKind::kv_write || op.get("append", 0) > 0;
      // kv_write copies new K/V into the cache (read + write); kv_read with
      // append concatenates (op_min_bytes already counts both sides); a plain
      // kv_read streams the cache once.
      reads = (op.kind == OpKind::kv_write || !copy) ? total : total / 2;
      writes = op.kind == OpKind::kv_write ? total : (copy ? total / 2 : 0);
      rows = static_cast<double>(op.at("batch") * op.at("kv_heads") * op.at("tokens"));
      break;
    }
    default: {
      rows = static_cast<double>(op.at("rows"));
      const double cols = static_cast<double>(op.at("cols"));
      elems = rows * cols;
      writes = dtype_bytes(out, elems);
      reads = op_min_bytes(op) - writes;
      if (is_training_op(op) || op.kind == OpKind::reduce) {   // backward kernels, reductions
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
      }
      // Backward row kernels read two tensors per row (the gradient and x or y).
      const bool backward = op.get("backward", 0) != 0;
      const double tensors = backward ? 2.0 : 1.0;
      if (op.kind == OpKind::layernorm || op.kind == OpKind::rmsnorm || op.kind == OpKind::softmax) {
        row = row_kernel(op.kind, op.at("cols"), dtype_bytes(in, 1), m_max_threads, m_regs / 4.0, m_smem, backward);
        // Passes after the first re-read the row from the L2 when the rows resident
        // on all SMs fit in half of it (the other half holds the streaming output
        // and the next rows); otherwise they go back to DRAM.
        const double footprint = tensors * static_cast<double>(row->rows_per_sm * m_sm) * dtype_bytes(in, cols);
        if (row->rereads > 0) {
          const double again = tensors * static_cast<double>(row->rereads) * dtype_bytes(in, elems);
          l2_rereads = again;
          if (lv.l2.empty() || footprint > 0.5 * lv.l2_capacity) {
            reads += again;
            l2_rereads = 0;
          }
          passes += row->rereads;
        }
      }
      break;
    }
  }
  const VecCost vc = is_training_op(op) || op.kind == OpKind::reduce ? training_vec_cost(op)
                                                                     : vec_cost(op.kind, row && row->warp);
  // One thread block per row (row-wise ops) or per 4096 elements; all SMs take part
  // once there are enough blocks.
  const double blocks = std::max(1.0, std::max(rows, std::ceil(std::max(reads, writes) / 8192.0)));
  const int64_t sms = static_cast<int64_t>(std::min<double>(static_cast<double>(m_sm), blocks));
  const double total = reads + writes;
  int64_t stages = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(total / (4.0 * 1024 * 1024))), 1, 64);
  // Row kernels: rows run in rounds of (SMs x resident rows); a round's rows wait
  // together on their dependent memory round trips and block reductions. The
  // round trips of all rounds are spread over the stages as evenly as whole trips
  // allow (the first `extra` stages take one more; no more stages than trips).
  int64_t trips = 0;
  if (row) {
    const int64_t rounds =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rows / static_cast<double>(m_sm * row->rows_per_sm))));
    trips = rounds * row->round_trips;
    stages = std::min(stages, trips);
  }
  const double st = static_cast<double>(stages);
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.attrs["bytes_in_flight"] = m_in_flight;
  k.attrs["passes"] = static_cast<double>(passes);
  // Ops that are several launches (zero fill + kernel, sorted embedding backward,
  // a foreach call over many tensors: attr launches, set by the training step).
  if (op.attrs.count("launches")) k.attrs["launches"] = static_cast<double>(op.at("launches"));
  if (row) {
    // Block reductions per memory round trip (they are spread with the trips).
    k.attrs["row_reductions_per_trip"] = static_cast<double>(row->barriers) / static_cast<double>(row->round_trips);
  }
  const auto stage_block = [&](int64_t repeat, int64_t trips_here) {
    Block b;
    b.repeat = repeat;
    add_traffic(b.instrs, lv, Opcode::load, reads / st, (reads + l2_rereads) / st, sms);
    const double per_sm = elems / st / static_cast<double>(sms);
    if (vc.alu > 0 && elems > 0)
      b.instrs.push_back(vec(std::string(op_kind_name(op.kind)), vc.alu * per_sm, sms, DType::fp32));
    if (vc.sfu > 0 && elems > 0) b.instrs.push_back(vec(vc.sfu_name, vc.sfu * per_sm, sms, DType::fp32));
    if (op.kind == OpKind::maxpool || op.kind == OpKind::avgpool)
      b.instrs.push_back(vec("pool", per_sm, sms, DType::fp32));
    if (trips_here > 0) {
      Instr w;   // dependent round trips this stage's resident rows wait on, per SM
      w.op = Opcode::wait;
      w.elems = trips_here;
      w.count = sms;
      b.instrs.push_back(w);
    }
    add_traffic(b.instrs, lv, Opcode::store, writes / st, writes / st, sms);
    return b;
  };
  if (row) {
    const int64_t q = trips / stages, extra = trips % stages;
    if (extra > 0) k.blocks.push_back(stage_block(extra, q + 1));
    if (stages > extra) k.blocks.push_back(stage_block(stages - extra, q));
  } else {
    k.blocks.push_back(stage_block(stages, 0));
  }
  k.mapping = row ? fmt::format("row kernel, {} threads per row, {} rows/SM, {} round(s) of {} memory round trips "
                                "and {} block reduction(s), {} pass(es) over the input ({} from DRAM), {} SMs, {} stages",
                                row->threads, row->rows_per_sm, trips / row->round_trips, row->round_trips, row->barriers, passes,
                                l2_rereads > 0 ? 1 : passes, sms, stages)
                  : fmt::format("memory-bound kernel, {} pass(es) over the input, {} SMs, {} stages", passes, sms, stages);
  set_dram_bytes(k, lv.dram);
  return k;
}

Kernel TensorCoreModel::lower_collective(const Op& op) const {
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  Instr in;
  in.op = Opcode::coll;
  in.name = k.op_kind;
  in.bytes = op.at("bytes");
  in.ranks = op.at("ranks");
  in.a = op.dtype;
  Block b;
  b.instrs.push_back(in);
  k.blocks.push_back(std::move(b));
  k.mapping = fmt::format("ring {} over {} ranks at {}", k.op_kind, in.ranks,
                          format_quantity(m_link_bw, Unit::bytes_per_second));
  return k;
}

Kernel TensorCoreModel::lower(const Graph& g, int index, const Hardware& hw) const {
  if (index < 0 || static_cast<size_t>(index) >= g.ops.size())
    throw std::logic_error(fmt::format("tensorcore::lower: op index {} out of range", index));
  const Op& op = g.ops[static_cast<size_t>(index)];
  Kernel k;
  switch (op.kind) {
    case OpKind::matmul: {
      GemmShape s{op.at("batch"), op.at("m"), op.at("n"), op.at("k"), op.get("b_shared", 0) != 0,
                  op.dtype, op.out_dtype, op.get("fast_accum", 0) != 0};
      k = lower_gemm(op, s, static_cast<double>(s.batch * s.m * s.k) * dtype_bytes(s.a, 1), hw);
      break;
    }
    case OpKind::conv2d: {
      // Implicit GEMM of the pass (conv_gemm_dims: forward M = n*ho*wo, N = cout,
      // K = cin*r*s per group; data and weight gradients). The im2col tile is
      // gathered through the L2, so DRAM reads the activation it is built from
      // once, not the r*s-times larger im2col matrix: the input (forward), the
      // output gradient (dgrad). wgrad's im2col of the input goes on the A side
      // (dW^T = im2col(x)^T dY: M and N swapped) for the same reason.
      const ConvGemm c = conv_gemm_dims(op);
      const int64_t grad = op.get("grad", 0);
      GemmShape s{c.groups, c.m, c.n, c.k, true, op.dtype, op.out_dtype};
      const int64_t dil = op.get("dilation", 1);
      const int64_t ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil);
      const int64_t wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil);
      double a = static_cast<double>(op.at("n") * op.at("cin") * op.at("h") * op.at("w"));
      if (grad == 1) a = static_cast<double>(op.at("n") * op.at("cout") * ho * wo);
      if (grad == 2) s = GemmShape{c.groups, c.n, c.m, c.k, false, op.dtype, op.out_dtype};
      k = lower_gemm(op, s, dtype_bytes(op.dtype, a), hw);
      break;
    }
    case OpKind::attention:
      if (op.get("backward", 0)) {
        k = lower_attention_backward(op, hw);
        break;
      }
      k = (op.at("sq") * (op.at("heads") / op.get("kv_heads", op.at("heads"))) <= 64 && op.at("sq") < op.at("skv"))
              ? lower_decode_attention(op, hw)
              : lower_attention(op, hw);
      break;
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall: k = lower_collective(op); break;
    default: k = lower_vector(op, hw); break;
  }
  k.name = fmt::format("{}#{}", op.name.empty() ? std::string(op_kind_name(op.kind)) : op.name, index);
  k.op_index = index;
  k.flops = op_flops(op);
  k.bytes = op_min_bytes(op);
  return k;
}

// ---------------------------------------------------------------------------

void register_tensorcore(Registry& r) {
  // Defaults describe an H100 SXM5 (NVIDIA H100 Tensor Core GPU Architecture
  // whitepaper, 2022; datasheet). Values marked "fitted" come from
  // `tessera calibrate --hw h100-sxm --measured reference/h100/microbench.jsonl`.
  r.add(make_impl<TensorCoreModel>(
      "compute", "tensorcore",
      "GPU SMs with tensor cores: per-format dense rates, waves over the SMs, cuBLAS-like tiles, "
      "fused attention, power-capped clock",
      {p_int("sm_count", "132", "streaming multiprocessors (H100 SXM5: 132)"),
       // nvidia-smi max SM clock 1980 MHz (info records); idle clock 345 MHz.
       p_qty("max_clock", Unit::hertz, "1.98GHz", "maximum SM clock"),
       p_qty("min_clock", Unit::hertz, "345MHz", "lowest SM clock the power limit may set"),
       // Dense FLOP per clock per SM (whitepaper: 4th-gen tensor core, 512 fp16
       // FMA/clk each, 4 per SM; tf32 half of that, fp8/int8 twice; 128 fp32 lanes).
       p_real("flops_per_clock_fp16", "4096", "dense fp16/bf16 tensor FLOP per clock per SM"),
       p_real("flops_per_clock_tf32", "2048", "dense tf32 tensor FLOP per clock per SM"),
       p_real("flops_per_clock_fp8", "8192", "dense fp8 (and fp6) tensor FLOP per clock per SM"),
       p_real("flops_per_clock_int8", "8192", "dense int8 tensor OP per clock per SM"),
       p_real("flops_per_clock_fp4", "0", "dense fp4 tensor FLOP per clock per SM (0: runs as fp8)"),
       p_real("flops_per_clock_fp32", "256", "fp32 FLOP per clock per SM on the CUDA cores"),
       // H100 SXM5 datasheet: 67 TFLOPS fp64 tensor = 132 SMs x 256 x 1.98 GHz.
       p_real("flops_per_clock_fp64", "256", "fp64 FLOP per clock per SM"),
       p_real("efficiency_fp16", "0.92", "sustained fraction of the fp16/bf16 tensor rate in GEMM mainloops (fitted)"),
       p_real("efficiency_tf32", "0.92", "same for tf32 (fitted)"),
       p_real("efficiency_fp8", "0.92", "same for fp8; fp4 uses it too (fitted)"),
       p_real("efficiency_int8", "0.5", "same for int8, of the mma.sync rate its kernels issue at (fitted)"),
       p_real("efficiency_fp32", "0.8", "same for fp32 on the CUDA cores; fp64 uses it too (fitted)"),
       // Warp-synchronous mma.sync, the only tensor-core instruction before Hopper,
       // reaches about half of Hopper's wgmma rate: FlashAttention-2 (Ampere code)
       // uses 50-73 % of the A100's peak (Dao 2023, abstract) but 35 % of the H100's
       // (Shah et al. 2024, abstract), and the int8 GEMMs of the shared H100 data
       // (Ampere-style kernels) run at 0.50 of the wgmma rate per clock (energy
       // record: 843 TOPS at 1563 MHz). 1 where mma.sync is the full rate.
       p_real("sync_mma_fraction", "1",
              "fraction of the tensor-core rate that mma.sync (Ampere-style code: FlashAttention-2, "
              "the memory-efficient attention kernel) reaches; 1 before Hopper"),
       p_real("attention_efficiency_flash2", "0.6",
              "FlashAttention-2's MMA rate as a fraction of the mma.sync rate (fitted)"),
       // Fitted on FlashAttention-2 backward records (attn, pass backward): the H100
       // figures of the FlashAttention-3 paper (Shah et al. 2024, sec. 4.1),
       // tests/gpu/data/h100_attention_bwd_fa3_paper.jsonl.
       p_real("attention_backward_rate_flash2", "0.55",
              "FlashAttention-2 backward MMA rate relative to its forward MMAs (fitted)"),
       // Fitted on cuDNN backward records (attn, backend cudnn, pass backward): the
       // same paper's H100 figures.
       p_real("attention_backward_rate_flash3", "0.55",
              "FlashAttention-3 / cuDNN backward MMA rate relative to the GEMM mainloop (fitted)"),
       p_real("attention_softmax_exposed_flash3", "0.7",
              "share of FlashAttention-3/cuDNN softmax time not hidden under the MMAs (fitted)"),
       p_real("attention_efficiency_efficient", "0.3",
              "the memory-efficient kernel's MMA rate as a fraction of the mma.sync rate (fitted)"),
       p_qty("energy_fp16", Unit::joules, "0.6pJ", "dynamic energy per fp16/bf16 tensor FLOP (fitted)"),
       p_qty("energy_tf32", Unit::joules, "1.2pJ", "dynamic energy per tf32 tensor FLOP (fitted)"),
       p_qty("energy_fp8", Unit::joules, "0.35pJ", "dynamic energy per fp8 tensor FLOP; fp4 uses it (fitted)"),
       p_qty("energy_int8", Unit::joules, "0.5pJ", "dynamic energy per int8 tensor OP (fitted)"),
       p_qty("energy_fp32", Unit::joules, "10pJ",
             "dynamic energy per fp32 FLOP on the CUDA cores, also per vector lane op; fp64 twice (fitted)"),
       // Whitepaper: 4 SFU per SM sub-partition x 4 = 16 results per clock.
       p_real("sfu_per_clock", "16", "special-function results (exp, erf, ...) per clock per SM"),
       p_real("alu_lanes", "128", "fp32 lanes per SM"),
       // Whitepaper: 228 KB shared memory per SM, 256 KB register file per SM.
       p_qty("smem_per_sm", Unit::bytes, "228KiB", "shared memory per SM"),
       p_real("smem_bytes_per_clock", "128", "shared-memory bandwidth per SM per clock"),
       p_qty("register_file", Unit::bytes, "256KiB", "register file per SM"),
       // Hopper thread-block clusters with TMA multicast (whitepaper); 1 before Hopper.
       p_int("tma_multicast", "2", "thread blocks of a cluster that share one B tile load"),
       p_qty("launch_overhead", Unit::seconds, "4.5us",
             "launch, fill and drain time of a kernel timed alone with CUDA events, not overlapped "
             "with work (fitted)"),
       // Not fitted (no shared measurement separates it): back-to-back kernels in one
       // stream start ~1 us apart (NVIDIA, "Getting Started with CUDA Graphs", 2019:
       // 3.8 us per 2.9 us kernel in a stream), and a small kernel's own fixed cost
       // (block dispatch, first DRAM round trip, drain) is ~1 us more.
       p_qty("kernel_gap", Unit::seconds, "2us",
             "fixed cost of a kernel queued behind another in the same stream or CUDA graph "
             "(its launch overlaps the predecessor; assumption, see docs/gpu-model.md)"),
       // The ~1 us of kernel_gap above that is the kernel's own (same source): a
       // profiler counts it as kernel time, the spacing before it not.
       p_qty("kernel_fixed", Unit::seconds, "1us",
             "of launch_overhead and kernel_gap, the part inside the kernel's own duration (block "
             "dispatch, first DRAM round trip, drain), which a profiler counts as kernel time (assumption)"),
       // Little's law: 2048 threads x 16 B vector loads outstanding per SM.
       p_qty("bytes_in_flight", Unit::bytes, "32KiB", "outstanding load bytes per SM in streaming kernels"),
       // Whitepapers (Volta to Blackwell): 64 resident warps = 2048 threads per SM.
       p_real("max_threads_per_sm", "2048", "resident threads per SM (occupancy limit)"),
       p_qty("row_round_trip", Unit::seconds, "459ns",
             "one dependent memory round trip of a row kernel's loop under load (fitted; published "
             "H100 HBM3 load latency ~500-800 ns)"),
       p_qty("row_reduction", Unit::seconds, "564ns",
             "one block-wide reduction of a row kernel (barriers, shuffles, broadcast; fitted)"),
       p_qty("gemm_wave_startup", Unit::seconds, "0s",
             "per wave of GEMM thread blocks: prologue (barrier and descriptor set-up, filling the "
             "k-pipeline stages from DRAM before the first MMA) and epilogue (C tile through smem "
             "to memory) not overlapped with the mainloop (fitted)"),
       p_choice("attention", {"flash3", "flash2", "efficient"}, "flash3",
                "fused attention kernel used when an op does not choose (flash3 needs Hopper)"),
       // NVLink 4: 900 GB/s per GPU, both directions together.
       p_qty("link_bandwidth", Unit::bytes_per_second, "450GB/s", "per-direction bandwidth to peers"),
       p_qty("link_latency", Unit::seconds, "2us", "latency of one collective step")}));
}

}  // namespace tessera
