// torch.amp.GradScaler around optimizer.step() (amp=fp16), as its Python code
// launches kernels on CUDA in the steady state (the scale and growth tracker
// exist after the first scale(); torch/amp/grad_scaler.py):
//
// scaler.step(optimizer), an optimizer with _step_supports_amp_scaling (the fused
// Adam/AdamW set it: torch/optim/adam.py, `if fused: self._step_supports_amp_scaling
// = True`): _check_inf_per_device()
//   torch.full((), 1.0) (dummy_inv_scale) and torch.full((), 0.0) (found_inf): 2 fills;
//   _unscale_grads_(..., allow_fp16=True): _MultiDeviceReplicator.get() copies each
//     of found_inf and inv_scale to the device (`.to(device, copy=True)`, 2 copies),
//     then one torch._amp_foreach_non_finite_check_and_unscale_ over the gradients
//     of each (device, dtype) group: here all fp32 (the master weights' .grad);
//   found_inf = sum(t.to(device) for ...): Python's sum starts at 0, `0 + t` is one
//     add kernel; optimizer.grad_scale = scaler * getattr(optimizer, "grad_scale", 1):
//     one mul kernel; optimizer.step() then unscales inside the fused kernel
//     (optimizers.cpp).
// Any other optimizer (foreach AdamW, SGD): unscale_()
//   inv_scale = self._scale.double().reciprocal().float(): 3 kernels (fp32 -> fp64,
//     the reciprocal in fp64, fp64 -> fp32); torch.full((), 0.0) (found_inf): 1 fill;
//   _unscale_grads_(..., allow_fp16=False): the 2 replicator copies and the unscale;
//   _maybe_opt_step(): found_inf.item() (a device-to-host copy and a host sync: no
//     kernel; the unscale is marked host_sync, models/compute/host.h), then
//     optimizer.step() as without a scaler.
// scaler.update(): found_infs[0] (one optimizer: no add), one
//   torch._amp_update_scale_ kernel (a single thread, AmpKernels.cu).
//
// Megatron-LM's MixedPrecisionOptimizer (megatron/core/optimizer/optimizer.py,
// _unscale_main_grads_and_check_for_nan; megatron_scaler, parallel workloads with
// grad_scaler=megatron) launches instead:
//   self.found_inf.fill_(0.0): 1 fill; self.grad_scaler.inv_scale
//   (megatron/core/optimizer/grad_scaler.py: self._scale.double().reciprocal().float()):
//   3 kernels; torch._amp_foreach_non_finite_check_and_unscale_(main_grads, found_inf,
//   inv_scale): the unscale, on the fp32 main gradients of the rank's parameters
//   (with the distributed optimizer its shard of them). Then the all-reduce (MAX) of
//   found_inf over the grad-stats group (workloads/models/parallel.cpp) and
//   found_inf.item() (a host sync: host_sync on the last found_inf kernel).
//   optimizer.step() is not told the
//   scale (the fused kernel runs as without a scaler). DynamicGradScaler.update()
//   works on the host in the steady state: _growth_tracker is a Python int, and the
//   scale tensor is multiplied only once per growth_interval steps (--loss-scale-window,
//   1000 by default) or after hysteresis overflows: no kernel per step.
//
// _amp_foreach_non_finite_check_and_unscale_ (aten/src/ATen/native/cuda/AmpKernels.cu):
// multi_tensor_apply<1> with UnaryOpFunctor<scalar_t, depth 1, r_args_depth 1,
// res_arg_index 0>: every gradient element is read, checked with isfinite, multiplied
// by inv_scale unless it is 1, and written back in place: 4 + 4 bytes per fp32
// gradient element, launches as any depth-1 multi_tensor_apply.
#include <fmt/format.h>

#include "workloads/training/step.h"

namespace tessera {

std::string_view amp_name(Amp a) {
  switch (a) {
    case Amp::none: return "none";
    case Amp::bf16: return "bf16";
    case Amp::fp16: return "fp16";
  }
  return "?";
}

DType amp_dtype(Amp a) {
  switch (a) {
    case Amp::none: return DType::fp32;
    case Amp::bf16: return DType::bf16;
    case Amp::fp16: return DType::fp16;
  }
  return DType::fp32;
}

namespace training {

// A kernel on one-element tensors (the scale, inv_scale, found_inf).
int Step::scalar_op(OpKind kind, const std::string& name, DType in, DType out) {
  Op op = vec_op(kind, name, 1, 1, in, out, step_deps());
  if (kind == OpKind::add || kind == OpKind::mul) op.attrs["inputs"] = kind == OpKind::add ? 2 : 1;
  return emit(std::move(op));
}

void Step::grad_scaler_unscale(bool fused, bool unscaled_first) {
  constexpr DType f32 = DType::fp32;
  if (m_opt.megatron_scaler) {
    scalar_op(OpKind::copy, "grad_scaler.found_inf", f32, f32);   // self.found_inf.fill_(0.0)
    scalar_op(OpKind::copy, "grad_scaler.scale_double", f32, DType::fp64);
    scalar_op(OpKind::mul, "grad_scaler.reciprocal", DType::fp64, DType::fp64);
    scalar_op(OpKind::copy, "grad_scaler.inv_scale", DType::fp64, f32);
    foreach_op("grad_scaler.unscale", 1, 1, 1, 0, 1, false, f32, m_step_tensors);
    // found_inf.item() after the all-reduce the parallel workload inserts here
    // (which then carries the synchronisation).
    m_g.ops.back().attrs["host_sync"] = 1;
    return;
  }
  // A fused optimizer unscales inside its kernel unless unscale_() ran first (to
  // clip): then GradScaler.step passes it found_inf and no grad_scale.
  if (fused && !unscaled_first) {
    scalar_op(OpKind::copy, "grad_scaler.dummy_inv_scale", f32, f32);   // torch.full((), 1.0)
    scalar_op(OpKind::copy, "grad_scaler.found_inf", f32, f32);         // torch.full((), 0.0)
  } else {
    scalar_op(OpKind::copy, "grad_scaler.scale_double", f32, DType::fp64);
    scalar_op(OpKind::mul, "grad_scaler.reciprocal", DType::fp64, DType::fp64);
    scalar_op(OpKind::copy, "grad_scaler.inv_scale", DType::fp64, f32);
    scalar_op(OpKind::copy, "grad_scaler.found_inf", f32, f32);
  }
  scalar_op(OpKind::copy, "grad_scaler.found_inf_to_device", f32, f32);
  scalar_op(OpKind::copy, "grad_scaler.inv_scale_to_device", f32, f32);
  // The gradients are the fp32 .grad of the master weights: read 1, write 1, one
  // isfinite test and one multiplication per element.
  foreach_op("grad_scaler.unscale", 1, 1, 1, 0, 1, false, f32, m_step_tensors);
  // _maybe_opt_step's found_inf.item() (the unscale_() path only).
  if (!fused) m_g.ops.back().attrs["host_sync"] = 1;
  if (fused) {
    scalar_op(OpKind::add, "grad_scaler.found_inf_sum", f32, f32);
    if (!unscaled_first) scalar_op(OpKind::mul, "grad_scaler.grad_scale", f32, f32);
  }
}

void Step::grad_scaler_update() {
  if (m_opt.megatron_scaler) return;   // DynamicGradScaler.update(): host only (see above)
  scalar_op(OpKind::mul, "grad_scaler.update_scale", DType::fp32, DType::fp32);
}

}  // namespace training
}  // namespace tessera
