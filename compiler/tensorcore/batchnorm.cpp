// Batch-norm kernels as PyTorch launches them (batchnorm.h): the backend rule,
// the launches of each pass and their traffic, and the lowering of that plan to
// one kernel of several launches.
#include "compiler/tensorcore/batchnorm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/math.h"
#include "models/hardware.h"

namespace tessera {

using namespace tc_build;

namespace {

// cuDNN's batch-size limits in _select_batch_norm_backend (Normalization.cpp):
// "input.sym_size(0) <= 880801 && training // spatial, training" and
// "input.sym_size(0) <= 65535 && !training // spatial, eval"; and "input.sym_numel()
// < std::numeric_limits<std::int32_t>::max() // some cuDNN kernels have 32-bit
// indexing limitations".
constexpr int64_t k_cudnn_max_n_training = 880801;
constexpr int64_t k_cudnn_max_n_eval = 65535;

// Launch geometry of the channels-last kernels (Normalization.cuh,
// flexible_launch_configs): blocks of block_x (channels, <= OPTIMAL_TILE_W = 32)
// x block_y (pixels) threads, MAX_BLOCK_SIZE = 512 threads, ELEMENTS_PER_THREAD = 16
// pixels per thread, at most MAX_H_BLOCK = 128 blocks along the pixels; with
// coop_flag (the reductions) fewer than 8 blocks along the pixels become one (no
// grid reduction).
constexpr int64_t k_tile_w = 32, k_max_block = 512, k_elems_per_thread = 16, k_max_h_block = 128;

int64_t last_pow2(int64_t x) {
  int64_t p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

struct Grid {
  int64_t x = 1, y = 1;
  int64_t blocks() const { return x * y; }
};

Grid flexible_launch(int64_t reduction, int64_t stride, bool coop) {
  int64_t bx = std::min(last_pow2(stride), k_tile_w);
  const int64_t by = std::min(last_pow2(ceil_div(reduction, k_elems_per_thread)), k_max_block / bx);
  if (bx * by != k_max_block) bx = std::min(last_pow2(stride), k_max_block / by);
  Grid g;
  g.x = ceil_div(stride, bx);
  g.y = std::min(ceil_div(reduction, by * k_elems_per_thread), k_max_h_block);
  if (coop && g.y < 8) g.y = 1;
  return g;
}

// getNumThreads (Normalization.cuh): the smallest of 32..512 threads covering n.
int64_t num_threads(int64_t n) {
  for (int64_t t : {32, 64, 128, 256}) if (n <= t) return t;
  return k_max_block;
}

// Lane operations per element, counted from the kernels (one FMA or add = 1):
//  elementwise  (x - mean) * invstd * weight + bias, with the fp32 conversions   4
//  Welford      count, delta, mean += delta / count, m2 += delta * (x - mean): 5 plus
//               one IEEE division (rcp on the SFU plus ~8 lane ops, as the row
//               kernels count it, k_div_lanes in kernel_build.h)                  5 + 8
//  backward reduce   sum dy, sum dy * (x - mean) (sub, fma, add)                  3
//  backward elemt    (dy - mean_dy - (x - mean) * k1) * k2                        6
constexpr double k_elemt_lanes = 4, k_welford_lanes = 5 + k_div_lanes, k_bwd_reduce_lanes = 3,
                 k_bwd_elemt_lanes = 6;

}  // namespace

BnInputs batchnorm_inputs(const Op& op, DType weight) {
  BnInputs in;
  in.input = op.dtype;
  in.weight = weight;
  in.training = op.get("training", 0) != 0 || op.get("backward", 0) != 0 || op.kind == OpKind::reduce;
  in.n = op.get("n", 1);
  in.numel = static_cast<double>(op.at("rows")) * static_cast<double>(op.at("cols"));
  in.channels_last = op.get("channels_last", 1) != 0;
  return in;
}

BnDispatch batchnorm_backend(const BnInputs& in) {
  BnDispatch d;
  if (in.input == DType::bf16 || in.weight == DType::bf16) {
    d.reason = "bf16 input or weight: cuDNN batch norm is not used for bf16";
    return d;
  }
  if (in.input == DType::fp16 && in.weight != DType::fp32) {
    d.reason = "fp16 input with fp16 weights: cuDNN takes fp16 only with fp32 weights";
    return d;
  }
  if (in.input != DType::fp32 && in.input != DType::fp16 && in.input != DType::fp64) {
    d.reason = fmt::format("{} input: no cuDNN batch norm", dtype_name(in.input));
    return d;
  }
  const int64_t limit = in.training ? k_cudnn_max_n_training : k_cudnn_max_n_eval;
  if (in.n > limit) {
    d.reason = fmt::format("batch {} > {} (cuDNN's limit in {})", in.n, limit, in.training ? "training" : "eval");
    return d;
  }
  if (in.numel >= static_cast<double>(std::numeric_limits<int32_t>::max())) {
    d.reason = "numel >= 2^31 - 1 (cuDNN's 32-bit indexing)";
    return d;
  }
  d.backend = BnBackend::cudnn;
  d.reason = "cuDNN (input format, batch and size within its limits)";
  return d;
}

BnPlan plan_batchnorm(const Op& op, const BnInputs& in, double l2_bytes, int64_t sm_count, double onchip_bytes) {
  BnPlan p;
  p.dispatch = batchnorm_backend(in);
  const bool cudnn = p.dispatch.backend == BnBackend::cudnn;
  const int64_t rows = op.at("rows"), c_i = op.at("cols");
  const double e = static_cast<double>(rows) * static_cast<double>(c_i), C = static_cast<double>(c_i);
  const double b = dtype_bytes(in.input, 1), wb = dtype_bytes(in.weight, 1);
  // Statistics (save_mean, save_invstd, the reductions' sums) are in the
  // accumulate type: fp32, fp64 for fp64 inputs (at::acc_type).
  const double acc = in.input == DType::fp64 ? 8.0 : 4.0;
  const double x = e * b;   // one pass over one activation-sized tensor
  const int64_t n = std::max<int64_t>(1, in.n), hw = std::max<int64_t>(1, rows / n);
  const int64_t big = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(e / 4096.0)));   // grid-stride elementwise kernels
  const bool backward = op.get("backward", 0) != 0;
  const bool reduce_pass = op.kind == OpKind::reduce;
  const bool training = in.training;
  // A second pass over `bytes` of tensors read by an earlier kernel finds them in
  // the L2 when they fit in half of it (the other half holds the output stream),
  // the rule of the row kernels (vector.cpp).
  const auto again = [&](BnLaunch& l, double bytes) {
    if (l2_bytes > 0 && bytes <= 0.5 * l2_bytes) l.l2_read += bytes;
    else l.dram_read += bytes;
  };
  const auto tiny = [&](std::string name, double read, double written) {
    BnLaunch l;
    l.kernel = std::move(name);
    l.dram_read = read;
    l.written = written;
    l.elems = C;
    l.lanes = 2;
    l.blocks = 1;
    return l;
  };

  if (cudnn) {
    p.entry = backward || reduce_pass ? "cudnn_batch_norm_backward" : "cudnn_batch_norm";
    // getCudnnBatchNormMode (cudnn/BatchNorm.cpp): SPATIAL_PERSISTENT for training in
    // channels-last, SPATIAL otherwise (eval, or NCHW training).
    const bool persistent = training && in.channels_last;
    p.mode = persistent ? "CUDNN_BATCHNORM_SPATIAL_PERSISTENT" : "CUDNN_BATCHNORM_SPATIAL";
    // cuDNN's kernels are closed: each call is taken as one launch (assumption) that
    // passes over its inputs once to reduce and once to normalise; the persistent
    // mode keeps its tile on chip between the two when the tensors it reads fit in
    // half of the SMs' registers and shared memory (assumption).
    if (!training) {
      BnLaunch l;
      l.kernel = "cudnnBatchNormalizationForwardInference";
      l.dram_read = x + 4.0 * C * wb;
      l.written = x;
      l.elems = e;
      l.lanes = k_elemt_lanes;
      l.blocks = big;
      p.launches.push_back(l);
      return p;
    }
    const double tensors = (backward || reduce_pass) ? 2.0 : 1.0;   // x (and dy)
    const bool on_chip = persistent && tensors * x <= 0.5 * onchip_bytes;
    if (reduce_pass) {   // the statistics half of cudnnBatchNormalizationBackwardEx
      BnLaunch l;
      l.kernel = "cudnnBatchNormalizationBackwardEx (reduction pass)";
      l.dram_read = 2.0 * x + 2.0 * C * acc;
      l.written = 2.0 * C * wb;
      l.elems = e;
      l.lanes = k_bwd_reduce_lanes;
      l.blocks = big;
      l.grid_reduction = true;
      p.launches.push_back(l);
      return p;
    }
    BnLaunch l;
    l.kernel = backward ? "cudnnBatchNormalizationBackwardEx (dx pass)" : "cudnnBatchNormalizationForwardTrainingEx";
    l.elems = e;
    l.blocks = big;
    l.written = x;
    if (backward) {
      if (!on_chip) again(l, 2.0 * x);
      l.dram_read += 3.0 * C * acc + C * wb;
      l.lanes = k_bwd_elemt_lanes;
    } else {
      // Statistics, running-statistics update and normalisation in one call.
      l.dram_read = x + 2.0 * C * wb + 2.0 * C * wb;
      if (!on_chip) again(l, x);
      l.written += 2.0 * C * wb + 2.0 * C * acc;
      l.lanes = k_welford_lanes + k_elemt_lanes;
      l.sfu = 1;
      l.grid_reduction = true;
    }
    p.launches.push_back(l);
    return p;
  }

  // PyTorch's kernels (cuda/Normalization.cu): batch_norm_choose_impl picks the
  // channels-last kernels for NHWC inputs and the per-plane kernels for NCHW.
  p.mode = in.channels_last ? "channels-last kernels" : "contiguous (NCHW) kernels";
  if (in.channels_last) p.thread_load_bytes = 4.0 * b;
  // Per-plane (NCHW) kernels: batch_norm_transform_input_kernel's grid is C x
  // max(1, min(256K / C, ceil(N / tb))) blocks, tb = max(64 / tf, 1) with
  // tf = max(getNumThreads(HW / 4), min(getNumThreads(HW), 64)).
  const int64_t tf = std::max(num_threads(hw / 4), std::min<int64_t>(num_threads(hw), 64));
  const int64_t tb = std::max<int64_t>(64 / tf, 1);
  const int64_t nchw_elemt_blocks = c_i * std::max<int64_t>(1, std::min<int64_t>(256 * 1024 / c_i, ceil_div(n, tb)));
  const Grid red = flexible_launch(rows, c_i, true), pw = flexible_launch(rows, c_i, false);
  // A reduction grid with several blocks along the pixels (grid.y > 1) merges their
  // partial Welford states through a global staging buffer (mean, m2n and a count
  // per channel and block) and semaphores, which at::zeros clears first: one more
  // launch (batch_norm_stats_channels_last_cuda_template,
  // batch_norm_backward_reduce_cuda_channels_last_template).
  const double staging = red.y > 1 ? C * static_cast<double>(red.y) * (2.0 * acc + 4.0) : 0.0;
  const auto add_semaphores = [&]() {
    if (in.channels_last && red.y > 1) p.launches.push_back(tiny("zeros (grid-reduction semaphores)", 0, 4.0 * static_cast<double>(red.x)));
  };
  const auto elemt = [&](bool second_pass) {
    BnLaunch l;
    l.kernel = in.channels_last ? "batch_norm_transform_input_channels_last_kernel" : "batch_norm_transform_input_kernel";
    if (second_pass) again(l, x);
    else l.dram_read = x;
    l.dram_read += 2.0 * C * wb + 2.0 * C * acc;   // weight, bias, mean, invstd
    l.written = x;
    l.elems = e;
    l.lanes = k_elemt_lanes;
    l.blocks = in.channels_last ? pw.blocks() : nchw_elemt_blocks;
    return l;
  };

  if (reduce_pass) {   // batch_norm_backward_reduce: sum dy, sum dy (x - mean), dweight, dbias
    p.entry = "native_batch_norm_backward";
    add_semaphores();
    BnLaunch l;
    l.kernel = in.channels_last ? "batch_norm_backward_reduce_channels_last_kernel"
                                : "batch_norm_backward_kernel (reduction pass)";
    l.dram_read = 2.0 * x + 2.0 * C * acc;
    l.written = 2.0 * C * acc + 2.0 * C * wb + staging;
    l.l2_read = staging;
    l.elems = e;
    l.lanes = k_bwd_reduce_lanes;
    l.blocks = in.channels_last ? red.blocks() : c_i;   // NCHW: one block per channel
    l.grid_reduction = in.channels_last && red.y > 1;
    p.launches.push_back(l);
    return p;
  }
  if (backward) {   // batch_norm_backward_elemt: dx
    p.entry = "native_batch_norm_backward";
    BnLaunch l;
    l.kernel = in.channels_last ? "batch_norm_backward_elemt_channels_last_kernel"
                                : "batch_norm_backward_kernel (dx pass)";
    // NCHW: batch_norm_backward_kernel's block re-reads its channel's plane of dy
    // and x after the reduction; the planes of the blocks in flight (one per SM)
    // decide whether that is an L2 hit.
    const double resident = in.channels_last ? 2.0 * x : 2.0 * x * std::min(1.0, static_cast<double>(sm_count) / C);
    if (l2_bytes > 0 && resident <= 0.5 * l2_bytes) l.l2_read = 2.0 * x;
    else l.dram_read = 2.0 * x;
    l.dram_read += 4.0 * C * acc + C * wb;   // mean, invstd, sum_dy, sum_dy_xmu, weight
    l.written = x;
    l.elems = e;
    l.lanes = k_bwd_elemt_lanes;
    l.blocks = in.channels_last ? pw.blocks() : c_i;
    p.launches.push_back(l);
    return p;
  }
  p.entry = "native_batch_norm";
  if (!training) {
    // batch_norm_cuda_out, eval: save_mean.copy_(running_mean) (to the accumulate
    // type), batch_norm_calc_invstd (rsqrt(running_var + eps)), batch_norm_elementwise.
    p.launches.push_back(tiny("copy_ (running_mean to save_mean)", C * wb, C * acc));
    BnLaunch inv = tiny("batch_norm_calc_invstd", C * wb, C * acc);
    inv.sfu = 1;
    p.launches.push_back(inv);
    p.launches.push_back(elemt(false));
    return p;
  }
  // batch_norm_cuda_out, train: batch_norm_mean_var (Welford statistics),
  // batch_norm_update_stats_and_invert (running statistics with momentum and
  // Bessel's correction, save_invstd), batch_norm_elementwise (a second pass over x).
  add_semaphores();
  BnLaunch st;
  st.kernel = in.channels_last ? "batch_norm_collect_statistics_channels_last_kernel"
                               : "batch_norm_collect_statistics_kernel";
  st.dram_read = x;
  st.l2_read = staging;
  st.written = 2.0 * C * acc + staging;
  st.elems = e;
  st.lanes = k_welford_lanes;
  st.sfu = 1;
  // NCHW: one block per channel (grid = C), a block-wide Welford merge; NHWC: the
  // reduction grid, merged across blocks through the staging buffer.
  st.blocks = in.channels_last ? red.blocks() : c_i;
  st.grid_reduction = in.channels_last && red.y > 1;
  p.launches.push_back(st);
  BnLaunch up = tiny("batch_norm_update_stats_and_invert", 2.0 * C * acc + 2.0 * C * wb, 2.0 * C * wb + C * acc);
  up.lanes = 8;
  up.sfu = 1;
  p.launches.push_back(up);
  p.launches.push_back(elemt(true));
  return p;
}

// The plan as one kernel: each launch a block of streaming stages (loads through
// the L2, lane and SFU work, stores), in order; a grid reduction adds, on its last
// stage, the staging round trips (partials out, semaphore, partials in: two
// dependent memory round trips) and the last block's merge (one block reduction).
Kernel TensorCoreMapper::lower_batchnorm(const Op& op, const Graph& g, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  // Parameters: the op's format, fp32 under autocast (its gamma/beta stay fp32
  // master weights); the `reduce` of a backward carries them as its output format.
  DType weight = op.dtype;
  if (op.kind == OpKind::reduce) weight = op.out_dtype;
  else if (const auto it = g.info.find("amp_bf16"); it != g.info.end() && it->second != 0) weight = DType::fp32;
  const BnInputs in = batchnorm_inputs(op, weight);
  const double onchip = static_cast<double>(m_s.sm) * (m_s.regs + m_s.smem);
  const BnPlan plan = plan_batchnorm(op, in, lv.l2_capacity, m_s.sm, onchip);
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.info.bytes_in_flight = m_s.in_flight;
  // Little's law per SM with the kernel's own loads: resident threads x bytes each.
  if (plan.thread_load_bytes > 0) k.info.bytes_in_flight = std::min(m_s.in_flight, m_s.max_threads * plan.thread_load_bytes);
  k.info.launches = static_cast<int64_t>(plan.launches.size());
  bool grid = false;
  std::string names;
  for (const BnLaunch& l : plan.launches) {
    const int64_t sms = std::clamp<int64_t>(l.blocks, 1, m_s.sm);
    const double total = l.dram_read + l.l2_read + l.written;
    const int64_t stages = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(total / (4.0 * 1024 * 1024))), 1, 64);
    const double st = static_cast<double>(stages);
    const auto block = [&](int64_t repeat, bool last) {
      Block b;
      b.repeat = repeat;
      add_traffic(b.instrs, lv, Opcode::load, l.dram_read / st, (l.dram_read + l.l2_read) / st, sms);
      const double per_sm = l.elems / st / static_cast<double>(sms);
      if (l.lanes > 0 && l.elems > 0) b.instrs.push_back(vec("batchnorm", l.lanes * per_sm, sms, DType::fp32));
      if (l.sfu > 0 && l.elems > 0) b.instrs.push_back(vec("rcp", l.sfu * per_sm, sms, DType::fp32));
      if (last && l.grid_reduction) {
        Instr w;
        w.op = Opcode::wait;
        w.elems = 2;
        w.count = sms;
        b.instrs.push_back(w);
      }
      add_traffic(b.instrs, lv, Opcode::store, l.written / st, l.written / st, sms);
      return b;
    };
    if (l.grid_reduction && stages > 1) k.blocks.push_back(block(stages - 1, false));
    k.blocks.push_back(block(l.grid_reduction ? 1 : stages, true));
    grid = grid || l.grid_reduction;
    names += fmt::format("{}{} ({} SMs)", names.empty() ? "" : ", ", l.kernel, sms);
  }
  if (grid) k.info.row_reductions_per_trip = 0.5;   // one block merge per two round trips
  k.mapping = fmt::format("{} [{}]: {} launch(es): {}; {}", plan.entry, plan.mode, plan.launches.size(), names,
                          plan.dispatch.reason);
  set_dram_bytes(k, lv.dram);
  return k;
}

}  // namespace tessera
