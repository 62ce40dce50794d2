// torch.autocast(device_type="cuda", dtype=torch.bfloat16 or torch.float16) over
// an fp32 model, and the loss of shared/reference/models/train_amp.py:
// y.float().pow(2).mean(); with float16, torch.amp.GradScaler's scaler.scale(loss).
//
// The forward graph is built in fp32 (the module's master weights); this pass
// rewrites it into what autocast dispatches (aten/src/ATen/autocast_mode.cpp, the
// per-op policies of its TORCH_LIBRARY_IMPL(aten, AutocastCUDA, m) block; the
// lists are the same for both 16-bit types, `lo` below):
//   lower_precision_fp  conv*, addmm/mm/matmul/linear/bmm/baddbmm and
//                       scaled_dot_product_attention: every floating-point tensor
//                       argument that is not `lo` is cast (cached_cast: one
//                       _to_copy kernel, fp32 -> lo) and the op runs in lo.
//                       Casts of leaf tensors that require grad (the weights and
//                       biases) are cached for the autocast region: one cast per
//                       weight per forward, shared by tied uses. Activations are
//                       not cached: an fp32 tensor read by three projections is
//                       cast three times.
//   fp32                layer_norm, pow, rsqrt, the losses, ...: lo arguments are
//                       cast to fp32 (one kernel each) and the op runs in fp32;
//   fp32_set_opt_dtype  softmax, log_softmax, sum, ...: called with dtype=float;
//                       SoftMax.cpp's softmax() runs _softmax(input.toType(float))
//                       for a bf16 input (a cast kernel, then an fp32 softmax) but
//                       _softmax(input, dim, half_to_float=true) for a Half input
//                       on CUDA: one kernel reading fp16 and writing fp32, whose
//                       backward (_softmax_backward_data with input_dtype Half)
//                       writes the fp16 input gradient directly.
//   (no policy)         everything else (relu, gelu, add, mul, pooling, embedding,
//                       batch_norm, ...) runs in its inputs' type; binary ops promote
//                       lo with fp32 to fp32 (TensorIterator's common dtype).
//                       batch_norm keeps its input type with fp32 weights (cuDNN's
//                       and ATen's mixed-type batch norm).
// RMSNorm (HF LlamaRMSNorm: .to(float32), pow, mean, rsqrt) computes in fp32 and
// is kept in fp32 here.
//
// GradScaler (torch/amp/grad_scaler.py, scale()): the loss is multiplied by the
// one-element fp32 scale tensor (`outputs * self._scale.to(device)`: the .to() on
// the same device launches nothing), one kernel; loss.backward() then starts from
// the scaled loss, so its MulBackward0 is one more kernel (grad * scale) and every
// gradient after it is scaled (the same kernels). The unscale, the inf check and
// the scale update run around optimizer.step() (grad_scaler.cpp).
//
// Memory: the lo weight copies are forward outputs (activations of the step);
// the fp32 master weights, their fp32 gradients and AdamW's two fp32 states are
// counted by the capacity check (graph info amp = 1).
#include <fmt/format.h>

#include <map>

#include "core/error.h"
#include "workloads/training/step.h"

namespace tessera::training {
namespace {

enum class Policy { lower, fp32, promote, keep_input };

Policy policy(const Op& op) {
  switch (op.kind) {
    case OpKind::matmul:
    case OpKind::conv2d:
    case OpKind::attention: return Policy::lower;
    case OpKind::layernorm:
    case OpKind::rmsnorm:
    case OpKind::softmax: return Policy::fp32;
    case OpKind::batchnorm: return Policy::keep_input;
    case OpKind::mul: return op.get("exponent", 0) ? Policy::fp32 : Policy::promote;   // torch.pow
    default: return Policy::promote;
  }
}

Op cast_op(std::string name, int64_t rows, int64_t cols, DType from, DType to, std::vector<int> deps) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::copy;
  op.dtype = from;
  op.out_dtype = to;
  op.attrs = {{"rows", rows}, {"cols", cols}};
  op.deps = std::move(deps);
  return op;
}

}  // namespace

void apply_autocast(Graph& g, Amp amp, bool loss) {
  const DType lo = amp_dtype(amp);
  constexpr DType f32 = DType::fp32;
  const std::string what = fmt::format("amp={}", amp_name(amp));
  std::vector<Op> out;
  std::vector<int> map(g.ops.size(), -1);   // old index -> new index
  std::map<std::pair<int64_t, std::string>, int> cached;   // tied weight -> its cast
  const auto add = [&](Op op) {
    out.push_back(std::move(op));
    return static_cast<int>(out.size()) - 1;
  };
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const size_t first = out.size();
    Op op = g.ops[i];
    for (int& d : op.deps) d = map[static_cast<size_t>(d)];
    if (op.dtype != f32 && !is_integer_dtype(op.dtype) && op.kind != OpKind::embedding)
      throw InputError(fmt::format("{}: op '{}' is {} in the model; autocast runs an fp32 model", what,
                                   op.name, dtype_name(op.dtype)));
    // The type each producer hands over (a floating tensor: fp32 or bf16).
    const auto in_type = [&](int d) { return out[static_cast<size_t>(d)].out_dtype; };
    const auto cast_inputs = [&](DType to) {
      std::map<int, int> done;   // one cast per distinct producer of this op
      for (auto it_d = op.deps.rbegin(); it_d != op.deps.rend(); ++it_d) {   // last argument first (below)
        int& d = *it_d;
        const DType t = in_type(d);
        if (is_integer_dtype(t) || t == to) continue;
        if (auto it = done.find(d); it != done.end()) {
          d = it->second;
          continue;
        }
        auto [rows, cols] = out_shape(out[static_cast<size_t>(d)]);
        // What the op reads of it: a linear's A operand is batch*m x k (BertPooler
        // reads the first token of each sequence: a strided view, cast alone).
        if (op.kind == OpKind::matmul && !op.deps.empty() && &d == &op.deps[0]) {
          rows = op.at("batch") * op.at("m");
          cols = op.at("k");
        }
        const int c = add(cast_op(fmt::format("{}.autocast_in{}", op.name, op.deps.rend() - it_d - 1), rows, cols, t, to, {d}));
        done[d] = c;
        d = c;
      }
    };
    switch (policy(op)) {
      case Policy::lower: {
        // cached_cast runs over the wrapper's arguments, which C++ leaves to the
        // compiler to evaluate: GCC (PyTorch's Linux builds) evaluates them last
        // first, so conv2d(input, weight, bias) casts the bias, the weight, then the
        // input (what torch's dispatcher shows on CPU as on CUDA).
        std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> params;
        if (op.kind == OpKind::conv2d) {
          params.push_back({"weight", {op.at("cout"), conv_weight_elems(op) / op.at("cout")}});
          if (op.get("bias", 0)) params.push_back({"bias", {1, op.at("cout")}});
        } else if (op.kind == OpKind::matmul && op.get("param", 0)) {
          params.push_back({"weight", {op.at("k"), op.at("n")}});
          if (op.get("bias", 0)) params.push_back({"bias", {1, op.at("n")}});
        }
        std::vector<int> param_deps(params.size(), -1);
        for (size_t j = params.size(); j-- > 0;) {
          const auto& [what, shape] = params[j];
          const int64_t tied = op.get("tied", 0);
          if (tied != 0) {
            if (auto it = cached.find({tied, what}); it != cached.end()) {
              param_deps[j] = it->second;
              continue;
            }
          }
          // Leaf tensors that require grad: cached for the autocast region.
          const int c = add(cast_op(fmt::format("{}.{}_autocast", op.name, what), shape.first, shape.second, f32,
                                    lo, {}));
          if (tied != 0) cached[{tied, what}] = c;
          param_deps[j] = c;
        }
        cast_inputs(lo);
        if (op.kind == OpKind::conv2d && op.deps.empty()) {
          // The model's input image (fp32, a leaf without grad): cast, not cached.
          op.deps.push_back(add(cast_op(op.name + ".autocast_input", op.at("n") * conv_window(op).in_pixels(),
                                        op.at("cin"), f32, lo, {})));
        }
        op.deps.insert(op.deps.end(), param_deps.begin(), param_deps.end());
        op.dtype = op.out_dtype = lo;
        break;
      }
      case Policy::fp32:
        if (op.kind == OpKind::softmax && lo == DType::fp16 && !op.deps.empty() && in_type(op.deps[0]) == lo) {
          // softmax(x, dtype=float) on a Half CUDA tensor: half_to_float, no cast.
          op.dtype = lo;
          op.out_dtype = f32;
          break;
        }
        cast_inputs(f32);
        op.dtype = op.out_dtype = f32;
        break;
      case Policy::keep_input: {
        const DType t = op.deps.empty() ? f32 : in_type(op.deps[0]);
        op.dtype = op.out_dtype = t;
        break;
      }
      case Policy::promote: {
        if (is_integer_dtype(op.out_dtype) || op.kind == OpKind::embedding) break;
        bool any32 = op.deps.empty() || op.get("param", 0) != 0;   // an fp32 weight or leaf input
        for (int d : op.deps)
          if (!is_integer_dtype(in_type(d))) any32 = any32 || in_type(d) == f32;
        // A copy that only moves data (cat, layout) keeps the promoted type too.
        op.dtype = op.out_dtype = any32 ? f32 : lo;
        break;
      }
    }
    // The casts made for this op belong to its layer (parallel workloads group
    // by it: parallel.h).
    if (const int64_t layer = op.get("layer", 0))
      for (size_t k = first; k < out.size(); ++k) out[k].attrs["layer"] = layer;
    map[i] = add(std::move(op));
  }

  g.ops = std::move(out);
  g.info["amp"] = 1;
  g.info["amp_dtype"] = static_cast<double>(static_cast<int>(lo));
  if (loss) {
    append_loss(g, amp);
  } else if (amp == Amp::fp16) {
    // A data-parallel replica given its output gradient: GradScaler's kernels
    // around the optimizer all the same (the scaled loss is not modelled).
    g.info["grad_scaler"] = 1;
  }
}

// The model output y (the last op marked output=1, else the last op nobody
// consumes) and the loss y.float().pow(2).mean(), times GradScaler's scale with fp16.
void append_loss(Graph& g, Amp amp) {
  constexpr DType f32 = DType::fp32;
  std::vector<Op>& out = g.ops;
  const auto add = [&](Op op) {
    out.push_back(std::move(op));
    return static_cast<int>(out.size()) - 1;
  };
  std::vector<char> consumed(out.size(), 0);
  for (const auto& op : out)
    for (int d : op.deps) consumed[static_cast<size_t>(d)] = 1;
  int y = -1;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].get("output", 0)) y = static_cast<int>(i);
  if (y < 0)
    for (size_t i = 0; i < out.size(); ++i)
      if (!consumed[i] && !is_integer_dtype(out[i].out_dtype)) y = static_cast<int>(i);
  if (y < 0)
    throw InputError(fmt::format("amp={}: the model has no floating-point output to take the loss of", amp_name(amp)));
  for (auto& op : out) op.attrs.erase("output");
  const auto [rows, cols] = out_shape(out[static_cast<size_t>(y)]);
  const int64_t elems = rows * cols;
  int x = y;
  if (out[static_cast<size_t>(y)].out_dtype != f32)   // y.float()
    x = add(cast_op("loss.float", rows, cols, out[static_cast<size_t>(y)].out_dtype, f32, {y}));
  // pow(2): autocast's fp32 list (its input is fp32 already); pow_tensor_scalar.
  Op pw = cast_op("loss.pow", rows, cols, f32, f32, {x});
  pw.kind = OpKind::mul;
  pw.attrs["inputs"] = 1;
  pw.attrs["exponent"] = 2;
  const int p = add(std::move(pw));
  // mean(): one reduction of every element to a scalar.
  Op mean = cast_op("loss.mean", elems, 1, f32, f32, {p});
  mean.kind = OpKind::reduce;
  mean.attrs["output"] = 1;
  const int m = add(std::move(mean));
  if (amp == Amp::fp16) {
    // scaler.scale(loss): loss * scale, both one-element fp32 tensors.
    out[static_cast<size_t>(m)].attrs.erase("output");
    Op sc = cast_op("loss.grad_scaler_scale", 1, 1, f32, f32, {m});
    sc.kind = OpKind::mul;
    sc.attrs["inputs"] = 1;
    sc.attrs["output"] = 1;
    add(std::move(sc));
    g.info["grad_scaler"] = 1;
  }
  g.info["amp_loss"] = 1;
}

// BatchNorm2d.forward in training mode first runs self.num_batches_tracked.add_(1)
// (torch/nn/modules/batchnorm.py): one kernel on the int64 counter per layer.
void add_batchnorm_counters(Graph& g) {
  bool any = false;
  for (const auto& op : g.ops) any = any || op.kind == OpKind::batchnorm;
  if (!any) return;
  std::vector<Op> out;
  std::vector<int> map(g.ops.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    Op op = g.ops[i];
    for (int& d : op.deps) d = map[static_cast<size_t>(d)];
    if (op.kind == OpKind::batchnorm) {
      Op c = cast_op(op.name + ".num_batches_tracked", 1, 1, DType::int32, DType::int32, {});
      c.kind = OpKind::add;
      c.attrs["inputs"] = 1;
      out.push_back(std::move(c));
    }
    out.push_back(std::move(op));
    map[i] = static_cast<int>(out.size()) - 1;
  }
  g.ops = std::move(out);
}

}  // namespace tessera::training
