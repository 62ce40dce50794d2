// torch.optim's optimizer step (CUDA defaults: the foreach implementations unless
// fused) and multi_tensor_apply's launch counts.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "workloads/training/step.h"

namespace tessera {
namespace {

constexpr struct {
  Optimizer o;
  std::string_view name;
} kOptimizers[] = {{Optimizer::adamw, "adamw"},
                   {Optimizer::adamw_fused, "adamw_fused"},
                   {Optimizer::sgd, "sgd"},
                   {Optimizer::sgd_momentum, "sgd_momentum"},
                   {Optimizer::none, "none"}};

}  // namespace

std::string_view optimizer_name(Optimizer o) {
  for (const auto& e : kOptimizers)
    if (e.o == o) return e.name;
  return "?";
}

bool parse_optimizer(std::string_view s, Optimizer& out) {
  for (const auto& e : kOptimizers)
    if (e.name == s) {
      out = e.o;
      return true;
    }
  return false;
}

std::string optimizer_names() {
  std::string s;
  for (const auto& e : kOptimizers) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

MultiTensorLimits multi_tensor_limits(int depth, bool scalar_list, bool large) {
  // DepthToMaxConfig<false> (4 KB kernel arguments) and <true> (32 KB: 7x the
  // tensors, 2240 blocks) in MultiTensorApply.cuh.
  static constexpr int tensors4[5] = {110, 64, 48, 36, 30};
  static constexpr int scalar4[5] = {96, 64, 48, 36, 30};
  static constexpr int tensors32[5] = {770, 448, 336, 252, 210};
  static constexpr int scalar32[5] = {672, 448, 336, 252, 210};
  if (depth < 1 || depth > 5) throw std::logic_error(fmt::format("multi_tensor_apply depth {}", depth));
  const int d = depth - 1;
  if (large) return {scalar_list ? scalar32[d] : tensors32[d], 2240};
  return {scalar_list ? scalar4[d] : tensors4[d], 320};
}

int64_t multi_tensor_launches(const std::vector<int64_t>& numels, int depth, bool scalar_list, bool large) {
  const MultiTensorLimits lim = multi_tensor_limits(depth, scalar_list, large);
  // Chunk by chunk, a launch goes when its blocks are full, or when its tensors
  // are full at a tensor's last chunk; a tensor whose chunks continue is carried
  // over to the next launch. Counted in whole runs of chunks (a tensor may have
  // ~10^10 chunks), the same count as stepping through them.
  int64_t launches = 0, blocks = 0, tensors = 0;
  for (int64_t numel : numels) {
    if (numel <= 0) continue;   // empty tensors are skipped
    ++tensors;
    int64_t left = (numel + k_multi_tensor_chunk - 1) / k_multi_tensor_chunk;
    while (left > 0) {
      const int64_t room = lim.max_blocks - blocks;
      if (left <= room) {  // the tensor ends in this launch
        blocks += left;
        left = 0;
        if (blocks == lim.max_blocks || tensors == lim.max_tensors) {
          ++launches;
          blocks = tensors = 0;
        }
      } else {  // the blocks fill up mid-tensor, then every max_blocks chunks until its last run
        left -= room;
        const int64_t full = (left - 1) / lim.max_blocks;
        launches += 1 + full;
        left -= full * lim.max_blocks;
        blocks = 0;
        tensors = 1;
      }
    }
  }
  return launches + (blocks != 0 ? 1 : 0);
}

std::vector<int64_t> shard_tensors(const std::vector<int64_t>& numels, int64_t shards) {
  if (shards <= 1) return numels;
  int64_t total = 0;
  for (int64_t n : numels) total += n;
  // The first rank's range [0, ceil(total / shards)) of the flattened tensors.
  int64_t left = std::max<int64_t>(1, (total + shards - 1) / shards);
  std::vector<int64_t> out;
  for (int64_t n : numels) {
    if (left <= 0) break;
    out.push_back(std::min(n, left));
    left -= out.back();
  }
  return out;
}

namespace training {

// One torch._foreach_* call (or fused kernel) over every trained parameter.
void Step::foreach_op(const std::string& name, int reads, int writes, int flops, int sfu, int depth,
                      bool scalar_list, DType t, const std::vector<int64_t>& numels) {
  Op op;
  op.name = name;
  op.kind = OpKind::optimizer;
  op.dtype = op.out_dtype = t;
  int64_t elems = 0;
  for (int64_t n : numels) elems += n;
  op.attrs = {{"elems", elems},
              {"reads", reads},
              {"writes", writes},
              {"flops", flops},
              {"tensors", static_cast<int64_t>(numels.size())},
              {"launches", multi_tensor_launches(numels, depth, scalar_list, m_opt.large_kernel_args)}};
  if (sfu > 0) op.attrs["sfu"] = sfu;
  op.deps = step_deps();
  emit(std::move(op));
}

// optimizer.step() runs after backward: the first kernel waits for every
// parameter gradient, the others for their predecessor.
std::vector<int> Step::step_deps() {
  if (m_stepping) return {static_cast<int>(m_g.ops.size()) - 1};
  m_stepping = true;
  std::vector<int> deps = m_param_grads;
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  return deps;
}

void Step::optimizer_step() {
  // Parameters with a gradient, in graph (module) order; a tied weight once.
  DType t = DType::fp32;
  bool first = true;
  std::map<int64_t, int> tied_seen;
  std::vector<int64_t> dense, expert;   // parameter tensors by kind (op attr expert)
  for (int i = 0; i < m_fwd; ++i) {
    if (!m_wgrad[i]) continue;
    const Op& op = m_g.ops[i];
    if (first) t = param_dtype(op);
    first = false;
    std::vector<int64_t> tensors = param_tensors(op);
    if (const int64_t tied = op.get("tied", 0); tied != 0) {
      // The group's weight once, and one bias if any member has one.
      int& seen = tied_seen[tied];
      const bool bias = tensors.size() > 1;
      if (seen & 1) tensors.erase(tensors.begin());
      if (bias && (seen & 2)) tensors.pop_back();
      seen |= 1 | (bias ? 2 : 0);
    }
    for (int64_t n : tensors) {
      m_tensors.push_back(n);
      (op.get("expert", 0) != 0 ? expert : dense).push_back(n);
      m_params += n;
    }
  }
  if (m_tensors.empty() || m_opt.optimizer == Optimizer::none) return;
  // The rank's shard: the dense tensors' over state_shards, a MoE's expert
  // weights' over expert_state_shards (the expert data-parallel ranks).
  m_step_tensors = shard_tensors(dense, m_opt.state_shards);
  for (int64_t n : shard_tensors(expert, m_opt.expert_state_shards)) m_step_tensors.push_back(n);
  const std::vector<int64_t>& p = m_step_tensors;
  const bool fused = m_opt.optimizer == Optimizer::adamw_fused;
  // Megatron-LM: a 16-bit model (no autocast) steps fp32 main parameters.
  const DType model = t;
  const bool main_params = m_opt.megatron_optimizer && !m_amp && dtype_info(t).storage_bits < 32;
  if (main_params) {
    megatron_main_grads(model);
    t = DType::fp32;
  }
  const bool clip = m_opt.clip_grad_norm;
  if (m_scaler) grad_scaler_unscale(fused, clip);
  if (m_opt.megatron_optimizer) megatron_grad_norm(m_amp || main_params ? DType::fp32 : t);
  if (clip) clip_grad_norm(t);
  // torch.amp.GradScaler hands a fused optimizer the scale and found_inf; Megatron-LM
  // unscales before optimizer.step() and tells it nothing (grad_scaler.cpp).
  const bool scaled_step = m_scaler && !m_opt.megatron_scaler;
  switch (m_opt.optimizer) {
    case Optimizer::adamw:
      // torch/optim/adam.py _multi_tensor_adam with decoupled weight decay (AdamW;
      // defaults lr=1e-3, weight_decay=1e-2, not capturable: the step counts are
      // CPU tensors, so their increment and the bias corrections launch nothing).
      // Per element: tensors read / written.
      foreach_op("adamw.weight_decay", 1, 1, 1, 0, 1, false, t, p);     // _foreach_mul_(params, 1 - lr wd)
      foreach_op("adamw.exp_avg", 2, 1, 2, 0, 2, false, t, p);          // _foreach_lerp_(exp_avgs, grads, 1 - beta1)
      foreach_op("adamw.exp_avg_sq_decay", 1, 1, 1, 0, 1, false, t, p); // _foreach_mul_(exp_avg_sqs, beta2)
      // _foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2): three lists, the
      // two gradient operands are one tensor (read once from memory).
      foreach_op("adamw.exp_avg_sq", 2, 1, 2, 0, 3, false, t, p);
      foreach_op("adamw.sqrt", 1, 1, 1, 1, 2, false, t, p);             // _foreach_sqrt(exp_avg_sqs) (new list)
      foreach_op("adamw.bias_correction2", 1, 1, 1, 0, 1, true, t, p);  // _foreach_div_(denom, [sqrt(bc2)])
      foreach_op("adamw.eps", 1, 1, 1, 0, 1, false, t, p);              // _foreach_add_(denom, eps)
      foreach_op("adamw.update", 3, 1, 2, 0, 3, true, t, p);            // _foreach_addcdiv_(params, exp_avgs, denom, [-lr/bc1])
      break;
    case Optimizer::adamw_fused: {
      // torch/optim/adam.py _fused_adam: _foreach_add_(state_steps, 1) on the
      // device step tensors (fp32, one element each), then _fused_adamw_
      // (aten/src/ATen/native/cuda/FusedAdamWKernel.cu, multi_tensor_apply_for_fused_optimizer
      // over params, grads, exp_avgs, exp_avg_sqs: depth 4): reads p, g, m, v,
      // writes p, m, v; ~12 operations per element (decay, both moments, bias
      // corrections, sqrt, eps, division, update).
      // Under GradScaler the kernel also reads grad_scale and found_inf (one element
      // each: it returns early when found_inf is set, else divides each gradient by
      // the scale, FusedAdamKernel.cuh: one more operation per element), and
      // _fused_adamw then runs _foreach_sub_(state_steps, [found_inf] * n): two
      // lists of n one-element tensors.
      foreach_op("adamw_fused.step_count", 1, 1, 1, 0, 1, false, DType::fp32, std::vector<int64_t>(p.size(), 1));
      // (After unscale_() for clipping it gets no grad_scale: no division.)
      foreach_op("adamw_fused.update", 4, 3, scaled_step && !clip ? 13 : 12, 1, 4, false, t, p);
      if (scaled_step)
        foreach_op("adamw_fused.step_count_found_inf", 2, 1, 1, 0, 2, false, DType::fp32,
                   std::vector<int64_t>(p.size(), 1));
      break;
    }
    case Optimizer::sgd:
      // torch/optim/sgd.py _multi_tensor_sgd, momentum 0: _foreach_add_(params, grads, alpha=-lr).
      foreach_op("sgd.update", 2, 1, 2, 0, 2, false, t, p);
      break;
    case Optimizer::sgd_momentum:
      // momentum > 0, steady state (buffers exist after the first step):
      // _foreach_mul_(bufs, momentum), _foreach_add_(bufs, grads, alpha=1-dampening),
      // _foreach_add_(params, bufs, alpha=-lr).
      foreach_op("sgd.momentum_decay", 1, 1, 1, 0, 1, false, t, p);
      foreach_op("sgd.momentum", 2, 1, 2, 0, 2, false, t, p);
      foreach_op("sgd.update", 2, 1, 2, 0, 2, false, t, p);
      break;
    case Optimizer::none: break;
  }
  if (m_scaler) grad_scaler_update();
  if (main_params) megatron_copy_params(model);
}

// Megatron-LM, megatron/core/optimizer/optimizer.py and distrib_optimizer.py.
// _copy_model_grads_to_main_grads: `main_param.grad = model_param.main_grad.float()`
// per parameter (the distributed optimizer: per piece of its shard). With 16-bit
// gradient buffers each .float() is a cast kernel: 2 B read, 4 B written per
// element; with fp32 main-grad buffers (grad_reduce=fp32) .float() returns the
// tensor itself and launches nothing.
void Step::megatron_main_grads(DType model) {
  if (m_opt.main_grads_fp32) return;
  per_tensor_copy("megatron.main_grad_copy", model, DType::fp32);
}

// clip_grads.py get_grad_norm_fp32 (norm_type 2, apex/Transformer Engine
// amp_C.multi_tensor_l2norm): `torch.zeros(1, dtype=int)` (the overflow buffer:
// one fill); multi_tensor_l2norm over the main gradients (multi_tensor_l2norm_kernel.cu:
// `at::zeros({320})` for the per-block partial sums, the depth-1 multi_tensor_apply
// with apex's 4 KB argument limits (110 tensors, 320 blocks, 65536-element chunks:
// the same as PyTorch's DepthToMaxConfig<false>): a reduction reading every
// element once, then the `cleanup` kernel summing the partials: launches + 2);
// `grad_norm ** 2` (one kernel); the all-reduce (SUM) over the grad-stats group
// (workloads/models/parallel.cpp) and `total_norm.item()`: a host sync, carried
// by the all-reduce where there is one. clip_grad_by_total_norm_fp32 scales the
// gradients (multi_tensor_scale) only when the norm exceeds clip_grad: a
// data-dependent step that is not modelled.
void Step::megatron_grad_norm(DType grads) {
  constexpr DType f32 = DType::fp32;
  scalar_op(OpKind::copy, "megatron.grad_norm.overflow_buf", DType::int32, DType::int32);
  int64_t elems = 0;
  for (int64_t n : m_step_tensors) elems += n;
  Op l2 = reduce_op("megatron.grad_norm.l2norm", elems, 1, 1, 1, grads, f32, step_deps());
  l2.attrs["launches"] = multi_tensor_launches(m_step_tensors, 1, false, false) + 2;
  emit(std::move(l2));
  scalar_op(OpKind::mul, "megatron.grad_norm.pow", f32, f32);
  m_g.ops.back().attrs["host_sync"] = 1;
}

// torch.nn.utils.clip_grad_norm_(parameters, max_norm) on CUDA (torch/nn/utils/
// clip_grad.py, foreach, norm_type 2, error_if_nonfinite=False: no host sync).
// _get_total_norm: torch._foreach_norm over the gradients (aten/src/ATen/native/
// cuda/ForeachReduceOp.cu: at::zeros of the per-chunk partials, a depth-1
// multi_tensor_apply reading every element once, lpnorm_cleanup per tensor:
// launches + 2), torch.stack of the per-tensor norms (one batched cat kernel per
// 128 inputs, Cat.cu CAT_ARRAY_BATCH_SIZE), torch.linalg.vector_norm of them (one
// reduction). _clip_grads_with_norm_: clip_coef = max_norm / (total_norm + 1e-6)
// (an addition, a division), torch.clamp(clip_coef, max=1.0), then
// torch._foreach_mul_(grads, clip_coef_clamped) (depth 1, a tensor scalar): every
// gradient read and written.
void Step::clip_grad_norm(DType grads) {
  constexpr DType f32 = DType::fp32;
  const auto& p = m_step_tensors;
  int64_t elems = 0;
  for (int64_t n : p) elems += n;
  const auto n = static_cast<int64_t>(p.size());
  Op norms = reduce_op("clip_grad_norm.foreach_norm", elems, 1, 1, 1, grads, f32, step_deps());
  norms.attrs["launches"] = multi_tensor_launches(p, 1, false, m_opt.large_kernel_args) + 2;
  emit(std::move(norms));
  Op stack = vec_op(OpKind::copy, "clip_grad_norm.stack", n, 1, f32, f32, step_deps());
  stack.attrs["launches"] = (n + 127) / 128;
  emit(std::move(stack));
  emit(reduce_op("clip_grad_norm.total_norm", n, 1, 1, 1, f32, f32, step_deps()));
  scalar_op(OpKind::add, "clip_grad_norm.eps", f32, f32);
  scalar_op(OpKind::mul, "clip_grad_norm.coef", f32, f32);
  scalar_op(OpKind::copy, "clip_grad_norm.clamp", f32, f32);
  foreach_op("clip_grad_norm.scale", 1, 1, 1, 0, 1, false, grads, p);
}

// _copy_main_params_to_model_params: Float16OptimizerWithFloat16Params copies with
// apex's multi_tensor_scale (scale 1.0: one depth-2 multi_tensor_apply) for fp16,
// but for bf16 (no overflow buffer: "we don't have a bfloat16 implementation")
// `that_.copy_(this_)` per parameter; the distributed optimizer copies per piece
// of its shard (`shard_model_param.data.copy_(shard_main_param)`) in both formats.
void Step::megatron_copy_params(DType model) {
  if (model == DType::fp16 && m_opt.state_shards <= 1) {
    foreach_op("megatron.main_param_copy", 1, 1, 1, 0, 2, false, DType::fp32, m_step_tensors);
    Op& op = m_g.ops.back();
    op.out_dtype = model;
    op.attrs["launches"] = multi_tensor_launches(m_step_tensors, 2, false, false);
    return;
  }
  per_tensor_copy("megatron.main_param_copy", DType::fp32, model);
}

void Step::per_tensor_copy(const std::string& name, DType in, DType out) {
  int64_t elems = 0;
  for (int64_t n : m_step_tensors) elems += n;
  const auto n = static_cast<int64_t>(m_step_tensors.size());
  Op op = vec_op(OpKind::copy, name, elems, 1, in, out, step_deps());
  op.attrs["launches"] = n;
  op.attrs["host_calls"] = n;
  emit(std::move(op));
}

}  // namespace training
}  // namespace tessera
