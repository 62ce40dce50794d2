// GEMM mapping on the tensor-core SMs: tile choice and the GEMM kernel.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"
#include "models/numerics/accumulation.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

// GEMM mapping

namespace {

// Products per fp32 promotion of a GEMM's MMAs, 0 for none: the fp8 path adds the
// tensor core's partial sums into fp32 registers every
// numerics::k_fp8_promotion_interval products (docs/numerics.md, h100_fp8
// accumulation preset); fast accumulation never does.
int64_t promote_interval(const GemmShape& s) {
  const bool fp8 = mma_pipe(s.a) == MmaPipe::fp8 || mma_pipe(s.a) == MmaPipe::fp4;
  return fp8 && !s.fast_accum ? numerics::k_fp8_promotion_interval : 0;
}

}  // namespace

int64_t ld_alignment(int64_t elems, DType t) {
  const double bytes = dtype_bytes(t, static_cast<double>(elems));
  if (!(bytes >= 1) || bytes != std::floor(bytes) || bytes > 9e15) return 1;
  const auto b = static_cast<int64_t>(bytes);
  return std::min<int64_t>(16, b & -b);   // lowest set bit: the largest power of two dividing b
}

GemmPlan TensorCoreMapper::plan_gemm(const GemmShape& s, const Hardware& hw) const {
  const double eb = dtype_bytes(s.a, 1);
  const double ob = dtype_bytes(s.out, 1);
  const double rate = m_tc.flops_per_clock(s.a);
  // Kernel family by alignment. With A and B rows multiples of 16 bytes the
  // library runs its newest kernels (Hopper: TMA loads feeding wgmma). Otherwise
  // TMA cannot describe the operands (row strides must be multiples of 16 bytes)
  // and only kernels whose threads load the operands themselves remain: the
  // pre-Hopper generation (cp.async of 4, 8 or 16 bytes, PTX ISA "cp.async";
  // plain loads below 4 bytes) feeding mma.sync, which on Hopper issues at
  // sync_mma_fraction of the wgmma rate. Each load moves `load_align` bytes per
  // thread (the model charges the load/store lanes for it, tensorcore.h). 16-bit
  // operands aligned below 4 bytes rule out cp.async, which every Ampere-generation
  // (sm80) CUTLASS kernel uses, so the library falls back to the Turing generation's
  // (sm75: loads staged through registers, mma.sync m16n8k8 since Turing has no
  // m16n8k16; PTX ISA, "Matrix shape"): cuBLAS picks
  // cutlass_75_tensorop_bf16_s1688gemm_bf16_128x128_nn_align1 for bf16 with N odd
  // (profiler kernel names in pytorch/pytorch#181718).
  const int64_t load_align = std::clamp<int64_t>(std::min(s.align_a, s.align_b), 1, 16);
  const bool sync_kernel = load_align < 16;
  const bool sm75_kernel = sync_kernel && load_align < 4 && m_tc.pipe(s.a) == MmaPipe::fp16;
  const MmaPath path = sm75_kernel ? MmaPath::gemm_sm75 : sync_kernel ? MmaPath::gemm_sync : MmaPath::gemm;
  const double eff = m_tc.mma_efficiency(s.a, path);
  const double lsu_factor = load_align < 16 ? (load_align < 4 ? 2.0 : 1.0) / (m_s.lsu * static_cast<double>(load_align)) : 0.0;
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
  const double power_budget = m_s.limit_w > 0 ? m_s.limit_w - m_s.static_w : 0;
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
    p.load_align = load_align;
    p.sync_kernel = sync_kernel;
    p.sm75_kernel = sm75_kernel;
    // Occupancy: fp32 accumulators take bm*bn*4 bytes of registers, doubled for
    // the operand fragments and addresses; at least two smem stages per block.
    const double acc = static_cast<double>(p.bm * p.bn) * 4.0;
    const double stage = static_cast<double>(p.bm + p.bn) * static_cast<double>(bk) * eb;
    const int64_t by_regs = static_cast<int64_t>(m_s.regs / (2.0 * acc));
    const int64_t by_smem = static_cast<int64_t>(m_s.smem / (2.0 * stage));
    p.ctas_per_sm = std::clamp<int64_t>(std::min(by_regs, by_smem), 1, 4);
    const int64_t tm = ceil_div(s.m, p.bm), tn = ceil_div(s.n, p.bn);
    const int64_t tiles_mn = s.batch * tm * tn;
    // Split-K when the output tiles leave SMs idle and K is long enough for each
    // slice to keep at least four k-steps.
    // The CUDA-core (SIMT) SGEMM kernels split K only when the reduction is the
    // longest dimension (K > max(M, N)); otherwise they run one block per output
    // tile even if that leaves SMs idle. The shared H100 records draw the line:
    // fp32 16 x 4096 x 4096 takes 90.4 us (6 TFLOP/s: 64 blocks of 64 x 64, no
    // split) while 16 x 4096 x 11008 takes 123 us (split), and 256^3 / 512^3 match
    // unsplit kernels. Tensor-core kernels split whenever the tiles leave SMs idle,
    // if the caller gives the library a workspace: cuBLASLt keeps split-K partial
    // sums there, and even its in-place reduction (CUBLASLT_REDUCTION_SCHEME_INPLACE)
    // needs it for the counters that order the slices (cuBLAS guide,
    // cublasLtReductionScheme_t). PyTorch's int8 GEMM (torch._int_mm:
    // at::cuda::blas::int8_gemm, aten/src/ATen/cuda/CUDABlas.cpp) calls
    // cublasLtMatmul with no algorithm and a workspace of 0 bytes, so its kernels
    // never split K: 256 x 256 x 65536 runs 16 thread blocks of 64 x 64 through the
    // whole reduction.
    const bool may_split = s.workspace && (m_tc.pipe(s.a) != MmaPipe::fp32 || s.k > std::max(s.m, s.n));
    p.split_k = 1;
    if (may_split && tiles_mn < m_s.sm)
      p.split_k = std::clamp<int64_t>(std::min(m_s.sm / tiles_mn, s.k / (4 * bk)), 1, 16);
    p.tiles = tiles_mn * p.split_k;
    const int64_t slots = m_s.sm * p.ctas_per_sm;
    p.waves = ceil_div(p.tiles, slots);
    const int64_t kk = ceil_div(s.k, p.split_k);
    p.k_steps = ceil_div(kk, bk);
    // Compute estimate: full waves keep ctas_per_sm blocks per SM; the last wave
    // ceil(rest / sm) per SM.
    const int64_t rest = p.tiles - (p.waves - 1) * slots;
    const double tiles_per_sm =
        static_cast<double>((p.waves - 1) * p.ctas_per_sm + ceil_div(rest, m_s.sm));
    // mma.sync kernels on the tensor cores: the lane passes and the warps'
    // fragment reads share the load/store path (TensorCoreModel::mma_cycles).
    const bool tensor_sync = sync_kernel && m_tc.tensor_pipe(s.a);
    const double c_mma = 2.0 * static_cast<double>(p.bm * p.bn * bk) / (rate * eff);
    const double cyc = tensor_sync ? std::max(c_mma, stage * lsu_factor + sync_smem_bytes(p.bm, p.bn, bk, eb) / m_s.smem_bpc)
                                   : std::max({c_mma, stage / m_s.smem_bpc, stage * lsu_factor});
    const double t_compute = tiles_per_sm * static_cast<double>(p.k_steps) * cyc / m_s.max_clock +
                             static_cast<double>(p.waves) * m_s.wave_startup;
    const double a_bytes = s.a_dram_bytes >= 0 ? s.a_dram_bytes : static_cast<double>(s.batch * s.m * s.k) * eb;
    const double b_bytes = static_cast<double>((s.b_shared ? 1 : s.batch) * s.k * s.n) * eb;
    const double c_bytes = static_cast<double>(s.batch * s.m * s.n) * ob;
    double t_mem = (a_bytes + b_bytes + c_bytes) / dram_bw;
    if (p.split_k > 1) t_mem += 2.0 * static_cast<double>(p.split_k * s.batch * s.m * s.n) * 4.0 / dram_bw;
    const double mc = static_cast<double>(std::min<int64_t>(m_s.multicast, tm));
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
    const double energy = std::min(flops, useful) * m_s.energy[static_cast<int>(m_tc.pipe(s.a))] +
                          promotions * m_s.energy[static_cast<int>(MmaPipe::fp32)] + l2_bytes * e_l2 +
                          (a_bytes + b_bytes) * e_dram_r + c_bytes * e_dram_w;
    const double t_power = power_budget > 0 ? std::max(0.0, energy / power_budget - s.loop_idle_s) : 0;
    p.est_time_s = std::max({t_compute, t_mem, t_l2, t_power});
    if (best.est_time_s < 0 || p.est_time_s < best.est_time_s * 0.999) best = p;
  }
  return best;
}

Kernel TensorCoreMapper::lower_gemm(const Op& op, const GemmShape& s, double a_dram_bytes,
                                   const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const GemmPlan p = plan_gemm(s, hw);
  const double eb = dtype_bytes(s.a, 1);
  const double ob = dtype_bytes(s.out, 1);
  const int64_t tm = ceil_div(s.m, p.bm), tn = ceil_div(s.n, p.bn);
  const int64_t slots = m_s.sm * p.ctas_per_sm;

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
  // cuDNN's RNN loop (workloads/models/rnn.cpp): a step's recurrent GEMM (attr rnn
  // 2, after the step before it) multiplies the W_hh the previous step's GEMM read,
  // and only that step's cell kernel (a few gates x batch x hidden elements) ran in
  // between. While the operands fit in half the L2, W_hh comes from the L2. The
  // tile choice above stays the library's shape-based one.
  const bool weight_in_l2 =
      op.get("rnn", 0) == 2 && !op.deps.empty() && a_bytes + b_bytes + c_bytes <= 0.5 * lv.l2_capacity;
  if (weight_in_l2) reads -= b_bytes;
  // L2 -> smem: every block loads its A and B k-slices; a cluster multicasts the
  // B tile to `tma_multicast` blocks along M.
  const double mc = static_cast<double>(std::min<int64_t>(m_s.multicast, tm));
  const double l2_per_cta_kstep =
      (static_cast<double>(p.bm) + static_cast<double>(p.bn) / mc) * static_cast<double>(p.bk) * eb;

  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  if (weight_in_l2) k.info.l2_working_set = b_bytes;
  k.info.tile_m = p.bm;
  k.info.tile_n = p.bn;
  k.info.tile_k = p.bk;
  k.info.split_k = p.split_k;
  k.info.waves = p.waves;
  k.info.ctas_per_sm = p.ctas_per_sm;
  k.info.thread_blocks = p.tiles;
  k.info.mma_path = static_cast<int64_t>(p.sm75_kernel   ? MmaPath::gemm_sm75
                                         : p.sync_kernel ? MmaPath::gemm_sync
                                                         : MmaPath::gemm);
  if (p.load_align < 16) k.info.load_align = p.load_align;
  // Wave start-ups (TensorCoreModel::kernel_overhead_s): the first wave's before the
  // stages, each later wave's spread over the stages as SM time (every stage below
  // is 1/chunks of a wave, and there are waves x chunks of them).
  k.info.startup_waves = p.waves > 0 ? 1 : 0;
  // Per SM: up to four k-step stages of every resident block are in flight.
  k.info.bytes_in_flight =
      4.0 * static_cast<double>(p.bm + p.bn) * static_cast<double>(p.bk) * eb * static_cast<double>(p.ctas_per_sm);

  // Stages: each wave's k-loop is cut into at most ~256/waves chunks so the whole
  // kernel has a few hundred stages at most.
  const int64_t chunks_target = std::max<int64_t>(1, 256 / std::max<int64_t>(1, p.waves));
  const int64_t kper = ceil_div(p.k_steps, std::min(chunks_target, p.k_steps));
  const int64_t chunks = ceil_div(p.k_steps, kper);
  if (p.waves > 1)
    k.info.startup_per_stage = static_cast<double>(p.waves - 1) / static_cast<double>(p.waves * chunks);
  {
    // Useful share of the MACs the mma instructions below issue (padded tiles).
    const double issued =
        2.0 * static_cast<double>(p.tiles * p.bm * p.bn) * static_cast<double>(chunks * kper * p.bk);
    const double useful = 2.0 * static_cast<double>(s.batch * s.m * s.n) * static_cast<double>(s.k);
    k.info.mma_useful = issued > 0 ? std::min(1.0, useful / issued) : 1.0;
  }
  if (s.m == 1 || s.n == 1) k.info.gemv = 1;
  const double total_tiles = static_cast<double>(p.tiles);
  // Products per fp32 promotion of fp8 MMAs (docs/numerics.md: the H100 fp8 path
  // promotes every 128 products; fast accumulation never does).
  const int64_t promote_every = promote_interval(s);
  const auto wave_block = [&](int64_t ctas, int64_t repeat) {
    Block b;
    b.repeat = repeat;
    const int64_t sms = std::min(ctas, m_s.sm);
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
    const int64_t sms = std::min<int64_t>(m_s.sm, std::max<int64_t>(1, s.batch * tm * tn));
    add_traffic(b.instrs, lv, Opcode::load, lv.l2.empty() ? outs * 4.0 * static_cast<double>(p.split_k) : 0,
                outs * 4.0 * static_cast<double>(p.split_k), sms);
    b.instrs.push_back(vec("reduce", outs * static_cast<double>(p.split_k) / static_cast<double>(sms), sms, DType::fp32));
    add_traffic(b.instrs, lv, Opcode::store, c_bytes, c_bytes, sms);
    k.blocks.push_back(std::move(b));
  }
  k.mapping =
      fmt::format("{} ({} pipe) tile {}x{}x{}, {} blocks ({}/SM), {} wave(s), split-k {}, {} stages{}",
                  dtype_name(s.a), mma_pipe_name(m_tc.pipe(s.a)), p.bm, p.bn, p.bk, p.tiles, p.ctas_per_sm,
                  p.waves, p.split_k, (full > 0 ? full * chunks : 0) + (rest > 0 ? chunks : 0),
                  p.load_align < 16 ? fmt::format(", align{} {}", p.load_align,
                                                  p.sm75_kernel ? "sm75 mma.sync m16n8k8 kernel"
                                                  : p.sync_kernel && m_tc.tensor_pipe(s.a) ? "mma.sync kernel"
                                                                                           : "loads")
                                    : "");
  set_dram_bytes(k, lv.dram);
  return k;
}
}  // namespace tessera
