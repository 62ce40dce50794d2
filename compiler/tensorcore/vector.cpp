// Memory-bound kernels on the tensor-core SMs: element-wise, row (softmax,
// layernorm, rmsnorm) and training kernels.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "compiler/tensorcore/access.h"
#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

namespace {

// FP32-lane operations and SFU operations per element of each vector kind
// (counted from the usual CUDA implementations: e.g. gelu (erf form) = 6 lane ops
// plus one erf). PyTorch's row kernels use the accurate expf and IEEE division
// (no fast-math): expf = ex2.approx on the SFU plus ~8 lane ops (range reduction,
// scaling, special cases), x / y = rcp.approx on the SFU plus ~8 lane ops
// (Newton-Raphson step and fix-up) -- k_exp_lanes and k_div_lanes (kernel_build.h).
// layernorm: Welford update (delta, count, mean, m2: 5) with one division per
// element, normalise and affine (3) and conversions; rmsnorm: square-sum (2),
// normalise and scale (3). softmax per element: max, subtract, sum, convert (5),
// one expf and one division in the warp-per-row kernel, the block kernels
// evaluate expf twice (sum pass and output pass).
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
    case OpKind::dropout:
      return {k_dropout_lanes, 0};  // kernel_build.h
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
    case OpKind::dropout:
      return {2, 0};          // masked_scale: dy * mask * scale
    default: return {1, 0};   // relu, pools, embedding scatter-add
  }
}

// A recurrent cell (rnn_cell): its FLOPs per element (workloads/op_cost.cpp), of
// which the forward's activations are one SFU operation each (MUFU.EX2 for a
// sigmoid, MUFU.TANH): LSTM 3 sigmoids and 2 tanh, GRU 2 and 1.
VecCost rnn_cell_vec_cost(const Op& op) {
  const double e = static_cast<double>(op.at("rows") * op.at("cols"));
  const double per_elem = e > 0 ? op_flops(op) / e : 0;
  const double sfu = op.get("backward", 0) ? 0 : (op.at("gates") == 4 ? 5 : 3);
  return {per_elem - sfu, sfu, "tanh"};
}

// How PyTorch's CUDA kernels process one row of a row-wise reduction
// (aten/src/ATen/native/cuda/SoftMax.cu host_softmax and host_softmax_backward as
// of PyTorch 2.11, PersistentSoftmax.cuh, layer_norm_kernel.cu):
//  * softmax forward, row <= 2048 elements and <= 8 KiB (a 16-bit input with an
//    fp32 output, softmax(x, dtype=float32): <= 1024 and <= 4 KiB), and every
//    backward row <= 1024 elements and <= 4 KiB: softmax_warp_forward /
//    softmax_warp_backward, one warp per row, 128-thread blocks, the whole row
//    loaded at once into registers (next_pow2(cols)/32 fp32 values per thread),
//    warp-shuffle reductions: one memory round trip, no block barrier;
//  * softmax forward, longer rows, output in the input's type:
//    SoftMaxForward_getBlockSize threads (min(cols, 1024) rounded up to a warp);
//    while potential_register_count = ceil(cols / threads) < 10 (rows up to 9216
//    elements) cunn_SoftMaxForwardReg<reg_cnt> loads the row once into registers,
//    reg_cnt unrolled independent loads per thread (one memory round trip, any
//    alignment, no shared-memory row buffer), then the two block reductions;
//  * softmax forward, longer rows below 48 KiB (sharedMemPerBlock), 16-byte
//    aligned with cols a multiple of ILP = 16 B / element: cunn_SoftMaxForwardSmem,
//    one block of min(cols, 1024) threads per row that requests all 48 KiB of
//    shared memory, 16-byte loads into shared memory, then block reductions for
//    the max and the sum: ceil(cols / (threads * 16 B / elem)) round trips, 2 barriers;
//  * softmax forward, other rows: cunn_SoftMaxForward, the same block reads the
//    row three times from global memory (max, sum, output);
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
  double reduce_alu = 0;  // lane operations of the row's reductions (all its threads)
  double reduce_sfu = 0;  // SFU operations of the same
};

// The instructions of a row's reductions, which every thread of the row issues
// (row_reduction is the latency of their chain; this is their issue work, added
// to the element work of the stage). A warp reduces in log2(32) = 5 shuffle
// levels (__shfl_down_sync); a block then combines its warps' partials through
// shared memory in log2(warps) more levels run by one warp (layer_norm_kernel.cu
// compute_stats halves its 4 warps twice; block_reduce.cuh BlockReduce and
// SoftMax.cu blockReduceWarp let one warp reduce the partials, 5 shuffle levels,
// which is log2(warps) for the 1024-thread blocks of the block softmax). A shuffle occupies
// the SM's shuffle unit, 32 results per clock (CUDA C++ Programming Guide,
// arithmetic instruction throughput, compute capability 7.x-9.0), i.e.
// alu_lanes / 32 lane slots. Per level and lane:
//   Welford combine (cuWelfordCombine, LayerNorm): 3 shuffles (mean, m2, count),
//     11 lane ops and one IEEE reciprocal (k_div_lanes lane ops + 1 SFU op);
//   RMSNorm (the same template, cuWelfordCombine<rms_norm = true>): still 3
//     shuffles, one addition;
//   softmax max or sum, a backward sum: 1 shuffle, 1 lane op per value.
// The block levels add a shared-memory store, a barrier, a load and a branch (4).
struct CombineCost {
  double shfl = 1, alu = 1, sfu = 0;
};

constexpr double k_warp_levels = 5;      // log2(warpSize)
constexpr double k_shfl_per_clock = 32;  // shuffle results per clock per SM

void add_reduction(RowKernel& r, CombineCost c, double alu_lanes, bool block) {
  const double per_level = c.alu + c.shfl * alu_lanes / k_shfl_per_clock;
  const double threads = static_cast<double>(r.threads);
  r.reduce_alu += threads * k_warp_levels * per_level;
  r.reduce_sfu += threads * k_warp_levels * c.sfu;
  if (!block || r.threads <= 32) return;
  const double levels = std::ceil(std::log2(threads / 32.0));
  r.reduce_alu += 32.0 * levels * (per_level + 4.0);
  r.reduce_sfu += 32.0 * levels * c.sfu;
}

// backward: the backward row kernels (_softmax_backward_data, after its element-wise
// tmp = dy * y: softmax_warp_backward in PersistentSoftmax.cuh holds tmp and the
// output row in registers; the block kernels sum tmp in a first pass and write dx
// in a second; layer_norm_grad_input_kernel: the forward's two-pass structure over
// dy and x, both tensors re-read on the second pass).
// fused_warp: Megatron-LM's fused softmax kernels (scaled_masked_softmax.h,
// scaled_upper_triang_masked_softmax.h: ..._warp_forward / _warp_backward), one
// warp per row whatever its length (up to 4096 here), 128-thread blocks,
// next_pow2(cols) / 32 fp32 values per thread in registers (the backward: the
// gradient and the output), unrolled 4-element loads: one memory round trip and
// warp-shuffle reductions, as PyTorch's softmax_warp_forward for short rows.
RowKernel row_kernel(OpKind kind, int64_t cols, double elem_bytes, double max_threads, double regs_per_sm,
                     double smem_per_sm, double alu_lanes, bool backward = false, bool fused_warp = false,
                     bool half_to_float = false) {
  RowKernel r;
  const double row = static_cast<double>(cols) * elem_bytes;
  const auto steps = [&](int64_t threads, double load_bytes) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(row / (static_cast<double>(threads) * load_bytes))));
  };
  if (kind == OpKind::softmax) {
    // The forward's warp kernel takes twice the row unless the output is widened
    // (host_softmax's !half_to_float branch: dim_size <= 2048 && bytes <= 8192).
    const bool wide_warp = !backward && !half_to_float;
    if (fused_warp || (wide_warp ? cols <= 2048 && row <= 8192 : cols <= 1024 && row <= 4096)) {
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
      // warp_reduce of the max and of the sum (backward: of dy * y).
      add_reduction(r, {}, alu_lanes, false);
      if (!backward) add_reduction(r, {}, alu_lanes, false);
      return r;
    }
    // SoftMaxForward_getBlockSize: min(cols, 1024) rounded up to a warp.
    r.threads = std::min<int64_t>(1024, (cols + 31) / 32 * 32);
    const double load = 16.0;   // float4 loads (ILP = 16 B / element)
    const double smem_block = 48.0 * 1024;   // cudaDeviceProp::sharedMemPerBlock
    const int64_t by_threads = std::max<int64_t>(1, static_cast<int64_t>(max_threads) / r.threads);
    r.barriers = 2;
    if (backward) {
      // host_softmax_backward: SoftMax_getBlockSize(ILP, cols), min(cols / ILP, 1024)
      // threads rounded up to a warp, ILP = 16 B / element (SoftMax.cu).
      const int64_t ilp = std::max<int64_t>(1, static_cast<int64_t>(16.0 / elem_bytes));
      r.threads = std::clamp<int64_t>((std::min<int64_t>(cols / ilp, 1024) + 31) / 32 * 32, 32, 1024);
      r.rows_per_sm = std::max<int64_t>(1, static_cast<int64_t>(max_threads) / r.threads);
      // Two dependent passes: the row sum of tmp = dy * y, then dx from tmp and y.
      // dispatch_host_softmax_backward keeps tmp in shared memory for the second
      // pass when the row fits (cunn_SoftMaxBackwardSmem: each tensor read once);
      // longer rows (cunn_SoftMaxBackward) read it again.
      r.round_trips = 2 * steps(r.threads, load);
      r.barriers = 1;
      const bool smem = row < smem_block - 4.0 * static_cast<double>(r.threads / 32) && cols % ilp == 0;
      r.rereads = smem ? 0 : 1;
      add_reduction(r, {}, alu_lanes, true);  // sum(tmp)
      return r;
    }
    add_reduction(r, {}, alu_lanes, true);  // max
    add_reduction(r, {}, alu_lanes, true);  // sum
    const int64_t reg_cnt = (cols + r.threads - 1) / r.threads;  // potential_register_count
    if (!half_to_float && reg_cnt < 10) {
      r.rows_per_sm = by_threads;
      r.round_trips = 1;
      return r;
    }
    const int64_t ilp = std::max<int64_t>(1, static_cast<int64_t>(16.0 / elem_bytes));
    if (row < smem_block - 4.0 * static_cast<double>(r.threads / 32) && cols % ilp == 0) {
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
  // layer_norm_grad_input_kernel reduces two sums per row.
  if (backward)
    add_reduction(r, {2, 2, 0}, alu_lanes, true);
  else if (kind == OpKind::layernorm)
    add_reduction(r, {3, 11 + k_div_lanes, 1}, alu_lanes, true);
  else
    add_reduction(r, {3, 1, 0}, alu_lanes, true);
  return r;
}

}  // namespace

// Memory-bound kernels

Kernel TensorCoreMapper::lower_vector(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const DType in = op.dtype, out = op.out_dtype;
  double reads = 0, writes = 0, elems = 0, rows = 1, l2_rereads = 0;
  int64_t passes = 1;
  std::optional<RowKernel> row;
  switch (op.kind) {
    case OpKind::maxpool:
    case OpKind::avgpool: {
      // Rows: output rows (of every plane of a 3-D pool), each a run of wo outputs.
      const ConvWindow cw = conv_window(op);
      const double nc = static_cast<double>(op.at("n") * op.at("c"));
      const double out_px = static_cast<double>(cw.out_pixels());
      reads = dtype_bytes(in, nc * static_cast<double>(cw.in_pixels()));
      writes = dtype_bytes(out, nc * out_px);
      elems = nc * out_px * static_cast<double>(cw.taps());
      rows = nc * static_cast<double>(cw.od * cw.oh);
      if (op.get("backward", 0)) {   // reads the output gradient, writes the input's
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
        rows = nc * static_cast<double>(cw.d * cw.h);
      }
      break;
    }
    case OpKind::embedding: {
      const double n = static_cast<double>(op.at("tokens") * op.at("dim"));
      reads = dtype_bytes(in, n) + 8.0 * static_cast<double>(op.at("tokens"));
      // An EmbeddingBag (bags) writes one summed row per bag
      // (EmbeddingBag_updateOutputKernel_sum_mean: a thread per bag and feature).
      const double out_rows = static_cast<double>(op.get("bags", op.at("tokens")));
      writes = dtype_bytes(out, out_rows * static_cast<double>(op.at("dim")));
      // mode="max" (bag_max): also the int64 argmax of every output element.
      if (op.get("bag_max", 0)) writes += 8.0 * out_rows * static_cast<double>(op.at("dim"));
      rows = out_rows;
      if (op.get("backward", 0)) {  // zero fill, (sort,) scatter-add: op_cost.cpp's traffic
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
        const bool max = op.get("bag_max", 0) != 0;  // one gradient row per bag
        elems = max ? out_rows * static_cast<double>(op.at("dim")) : n;
        rows = max ? out_rows : static_cast<double>(op.at("tokens"));
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
      // backward kernels, reductions, recurrent cells, dropout (its mask is written)
      if (is_training_op(op) || op.kind == OpKind::reduce || op.kind == OpKind::rnn_cell ||
          op.kind == OpKind::dropout) {
        const OpTraffic t = op_traffic(op);
        reads = t.read;
        writes = t.written;
      }
      // Backward row kernels read two tensors per row (the gradient and x or y).
      const bool backward = op.get("backward", 0) != 0;
      const double tensors = backward ? 2.0 : 1.0;
      if (op.kind == OpKind::layernorm || op.kind == OpKind::rmsnorm || op.kind == OpKind::softmax) {
        const bool half_to_float = dtype_bytes(in, 1) < 4 && out == DType::fp32;
        row = row_kernel(op.kind, op.at("cols"), dtype_bytes(in, 1), m_s.max_threads, m_s.regs / 4.0,
                         m_s.smem, m_s.alu, backward, op.get("fused_scale_mask", 0) != 0, half_to_float);
        // Passes after the first re-read the row from the L2 when the rows resident
        // on all SMs fit in half of it (the other half holds the streaming output
        // and the next rows); otherwise they go back to DRAM.
        const double footprint = tensors * static_cast<double>(row->rows_per_sm * m_s.sm) * dtype_bytes(in, cols);
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
  // Gathers, strided views and re-reads of an L2-resident tensor (access.h).
  double l2_reads = reads + l2_rereads;
  double stage_bytes = reads + writes;
  const std::optional<AccessPlan> access = access_plan(op, hw, lv);
  if (access) {
    reads = access->dram_reads;
    l2_reads = access->l2_reads;
    stage_bytes = std::max(reads, l2_reads) + writes;
  }
  const VecCost vc = op.kind == OpKind::rnn_cell                       ? rnn_cell_vec_cost(op)
                     : is_training_op(op) || op.kind == OpKind::reduce ? training_vec_cost(op)
                                                                       : vec_cost(op.kind, row && row->warp);
  // One thread block per row (row-wise ops) or per 4096 elements; all SMs take part
  // once there are enough blocks.
  const double blocks = std::max(1.0, std::max(rows, std::ceil(std::max(stage_bytes - writes, writes) / 8192.0)));
  const int64_t sms = static_cast<int64_t>(std::min<double>(static_cast<double>(m_s.sm), blocks));
  const double total = stage_bytes;
  int64_t stages = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(total / (4.0 * 1024 * 1024))), 1, 64);
  // Row kernels: rows run in rounds of (SMs x resident rows); a round's rows wait
  // together on their dependent memory round trips and block reductions. The
  // round trips of all rounds are spread over the stages as evenly as whole trips
  // allow (the first `extra` stages take one more; no more stages than trips).
  int64_t trips = 0;
  if (row) {
    const int64_t rounds =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rows / static_cast<double>(m_s.sm * row->rows_per_sm))));
    trips = rounds * row->round_trips;
    stages = std::min(stages, trips);
  }
  const double st = static_cast<double>(stages);
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.info.bytes_in_flight = m_s.in_flight;
  k.info.passes = passes;
  if (access && access->l2_working_set > 0) k.info.l2_working_set = access->l2_working_set;
  if (access && access->run > 0) {
    k.info.dram_read_run = access->run;
    k.info.dram_read_pitch = access->pitch;
  }
  // Ops that are several launches (zero fill + kernel, sorted embedding backward,
  // a foreach call over many tensors: attr launches, set by the training step).
  if (op.attrs.count("launches")) k.info.launches = op.at("launches");
  if (row) {
    // Block reductions per memory round trip (they are spread with the trips).
    k.info.row_reductions_per_trip = static_cast<double>(row->barriers) / static_cast<double>(row->round_trips);
  }
  const auto stage_block = [&](int64_t repeat, int64_t trips_here) {
    Block b;
    b.repeat = repeat;
    add_traffic(b.instrs, lv, Opcode::load, reads / st, l2_reads / st, sms);
    const double per_sm = elems / st / static_cast<double>(sms);
    // Row kernels add their rows' reductions (RowKernel::reduce_alu / reduce_sfu).
    const double rows_here = row ? rows / st / static_cast<double>(sms) : 0.0;
    const double alu = vc.alu * per_sm + (row ? row->reduce_alu * rows_here : 0.0);
    const double sfu = vc.sfu * per_sm + (row ? row->reduce_sfu * rows_here : 0.0);
    if (alu > 0 && elems > 0)
      b.instrs.push_back(vec(std::string(op_kind_name(op.kind)), alu, sms, DType::fp32));
    if (sfu > 0 && elems > 0) b.instrs.push_back(vec(vc.sfu_name, sfu, sms, DType::fp32));
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
  // PyTorch's get_algo (aten/src/ATen/native/cudnn/RNN.cpp, use_rnn_persist_small_h;
  // pytorch/pytorch#62143, which measured up to 10x faster) runs an LSTM or GRU of
  // hidden <= 192 (backward: <= 128) with cuDNN's persistent small-hidden kernel.
  // A cell of that size here is the standard algorithm (algo=standard, a training
  // step, an ONNX node): said where it applies.
  if (op.kind == OpKind::rnn_cell && op.dtype != DType::fp64 &&
      op.at("cols") <= (op.get("backward", 0) ? 128 : 192))
    k.mapping +=
        "; PyTorch's get_algo picks cuDNN's persistent small-hidden kernel at this size "
        "(CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H), timed here as the standard algorithm";
  set_dram_bytes(k, lv.dram);
  return k;
}
}  // namespace tessera
