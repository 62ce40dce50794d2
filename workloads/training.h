#pragma once
// A training step as PyTorch eager runs it on CUDA: the forward graph, the
// backward kernels autograd launches for `out.backward(dy)` (no loss kernel: the
// output gradient is given), then optimizer.step() of torch.optim with its CUDA
// defaults. append_training_step() walks the forward ops in reverse (autograd's
// order: the ready node with the highest sequence number runs first) and appends
// each op's backward kernels, the additions that sum the gradients of tensors
// consumed more than once, and the optimizer's kernels.
//
// What the forward graph must carry: matmul param=1 (B is a learned weight,
// GraphBuilder::linear), bias=1 (nn.Linear/Conv2d with bias), tied=T (shared
// weights), output=1 (model outputs when they are not simply the ops nobody
// consumes). conv2d and embedding always have a weight, layernorm/batchnorm gamma
// and beta, rmsnorm gamma. Rules, with the PyTorch sources, in training/autograd.cpp
// (backward kernels per op kind), training/optimizers.cpp (torch.optim) and
// docs/workloads.md ("Training step"); the walk itself in training/step.cpp.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/ir.h"

namespace tessera {

// torch.optim optimizers (CUDA defaults: foreach unless fused).
enum class Optimizer { adamw, adamw_fused, sgd, sgd_momentum, none };
std::string_view optimizer_name(Optimizer o);
bool parse_optimizer(std::string_view s, Optimizer& out);
std::string optimizer_names();   // "adamw, adamw_fused, sgd, sgd_momentum, none"

// Mixed precision: torch.autocast over an fp32 model (its master weights), in
// bf16, or in fp16 with torch.amp.GradScaler (loss scaling, the gradients' inf
// check and unscale, the scale update: training/grad_scaler.cpp).
enum class Amp { none, bf16, fp16 };
std::string_view amp_name(Amp a);
// The 16-bit type autocast computes in (fp32 for Amp::none).
DType amp_dtype(Amp a);

struct TrainingOptions {
  Optimizer optimizer = Optimizer::adamw;
  // Functional kernels (F.conv2d(x, w), a @ b, ...): every tensor without a
  // producer is a leaf with requires_grad=True, so the op's input gradients are
  // computed too. Models: inputs (images, token ids, given embeddings) need none.
  bool inputs_require_grad = false;
  // multi_tensor_apply's per-launch limits: the 32 KB kernel-argument variant
  // (CUDA runtime and driver >= 12.1, sm70+: every current PyTorch build on
  // Volta or newer) or the 4 KB one.
  bool large_kernel_args = true;
  // torch.autocast(bfloat16 or float16) over an fp32 model with train_amp.py's
  // loss y.float().pow(2).mean() (training/autocast.cpp); fp16 adds GradScaler.
  // The forward graph must be fp32.
  Amp amp = Amp::none;
  // With amp: append the loss (and, fp16, its scaling). A pipeline chunk is given
  // its output gradient instead (workloads/models/parallel.cpp).
  bool amp_loss = true;
  // With amp=fp16: loss scaling as Megatron-LM's MixedPrecisionOptimizer runs it
  // (its own scale tensor and DynamicGradScaler) instead of torch.amp.GradScaler
  // (training/grad_scaler.cpp); set by a parallel workload's grad_scaler=megatron.
  bool megatron_scaler = false;
  // Megatron-LM's optimizer wrapper around the step (megatron/core/optimizer/
  // optimizer.py, clip_grads.py; set by the parallel workloads): the gradient
  // norm for clipping (an l2-norm multi_tensor_apply over the main gradients,
  // its square, .item()), and for a 16-bit model without autocast fp32 main
  // parameters (Float16OptimizerWithFloat16Params, DistributedOptimizer): the
  // 16-bit gradients copied to fp32 main gradients, the step on fp32 state, the
  // main parameters copied back.
  bool megatron_optimizer = false;
  // With megatron_optimizer: the gradients are accumulated in fp32 main-grad
  // buffers (grad_reduce=fp32, Megatron-LM's --accumulate-allreduce-grads-in-fp32):
  // no copy to main gradients.
  bool main_grads_fp32 = false;
  // Ranks the optimizer state is sharded over (ZeRO-1+, Megatron-LM's distributed
  // optimizer): the step's kernels run on the first rank's contiguous 1/shards
  // of the flattened parameters.
  int64_t state_shards = 1;
  // ... and the state of a MoE's expert weights (ops with attr expert = 1): over
  // the expert data-parallel ranks.
  int64_t expert_state_shards = 1;
  // torch.nn.utils.clip_grad_norm_ before the step (Hugging Face Trainer's
  // max_grad_norm): the gradients' total norm and their scaling by
  // min(1, max_norm / norm) (training/optimizers.cpp). Under GradScaler the
  // gradients are unscaled first (scaler.unscale_).
  bool clip_grad_norm = false;
};

// aten/src/ATen/native/cuda/MultiTensorApply.cuh: a torch._foreach_* call (and a
// fused optimizer) over lists of `depth` tensors cuts every tensor into chunks of
// kChunkSize = 65536 elements, one thread block each, and launches a kernel when
// the launch's tensor list or block list is full (DepthToMaxConfig) or at the end.
inline constexpr int64_t k_multi_tensor_chunk = 65536;
struct MultiTensorLimits {
  int max_tensors = 0, max_blocks = 0;
};
// depth 1..5; scalar_list: the TensorListScalarListMetadata variant (a Python
// list of per-tensor scalars, e.g. _foreach_div_(tensors, [scalars])).
MultiTensorLimits multi_tensor_limits(int depth, bool scalar_list, bool large_kernel_args);
// The tensors (or pieces of them) in the first of `shards` equal contiguous ranges
// of the flattened tensors (ZeRO / a distributed optimizer's shard); shards <= 1:
// all of them.
std::vector<int64_t> shard_tensors(const std::vector<int64_t>& numels, int64_t shards);
// Kernel launches of one multi_tensor_apply over tensors of the given sizes.
int64_t multi_tensor_launches(const std::vector<int64_t>& numels, int depth, bool scalar_list,
                              bool large_kernel_args);

// Appends the backward and the optimizer step to the forward graph `g` and sets
// g.info: train_step = 1, flops_forward / flops_backward / flops_optimizer,
// params_trained (parameter elements the optimizer updates), param_tensors,
// ops_forward / ops_backward / ops_optimizer. Batch-norms switch to training mode
// (batch statistics). Throws InputError for graphs that cannot be trained (KV-cache
// and collective ops, or a graph that already holds a training step).
void append_training_step(Graph& g, const TrainingOptions& opt);
// Whether any op of the forward graph `g` has parameters to train (a convolution,
// a normalisation, an embedding, or a matmul / mul with attr param).
bool has_parameters(const Graph& g);

}  // namespace tessera
