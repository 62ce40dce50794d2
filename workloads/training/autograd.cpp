// Backward rules per op kind: the kernels PyTorch's autograd launches on CUDA for
// each forward op (tools/autograd/derivatives.yaml names every formula; the files
// cited below hold the CUDA kernels). Order and gradient accumulation: step.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "workloads/training/step.h"

namespace tessera::training {
namespace {

// embedding_dense_backward_cuda's kernels (aten/src/ATen/native/cuda/Embedding.cu,
// EmbeddingBackwardKernel.cu). Up to k_embedding_direct_indices (3072, ir.h):
// at::zeros of the weight gradient and embedding_backward_feature_kernel (2).
// Above: at::arange of the positions (1), cuda::cub::radix_sort_pairs over the 64
// key bits (a histogram kernel and 8 onesweep passes of 8 bits: 9), at::zeros (1), cub::unique_by_key (2),
// krn_partials_per_segment (1), cub::exclusive_sum (2), compute_num_of_partial_segments
// (1), krn_partial_segment_offset (1), compute_grad_weight (1), sum_and_scatter (1): 20.
// The cub counts are the usual single-pass implementations (one init and one
// sweep kernel for unique_by_key and the scan); the byte counts are in op_cost.cpp.
constexpr int64_t k_embedding_direct_launches = 2;
// index_put_with_sort_kernel (aten/src/ATen/native/cuda/Indexing.cu) for
// IndexBackward0 (FunctionsManual.cpp index_backward: zeros_like(self).index_put_(
// indices, grad, accumulate=true)): the zero fill, the linear index (index x stride,
// computeLinearIndex), linearIndex.divide_(sliceSize), at::arange(num_indices),
// cub::radix_sort_pairs (one single-tile kernel at the few thousand indices
// gathered), indexing_backward_kernel: 6.
constexpr int64_t k_index_put_launches = 6;
constexpr int64_t k_embedding_sorted_launches = 20;

}  // namespace

void Step::backward(int i) {
  m_cur = i;
  const Op f = m_g.ops[i];   // copy: emitting grows the vector
  if (f.kind != OpKind::rnn_cell && !f.get("rnn", 0)) m_rnn_open = false;
  const int dy = m_grad[i];
  const std::vector<int> dd = unique_deps(f);
  const DType gt = f.out_dtype;   // the incoming gradient's format
  const DType it = f.dtype;       // the input's (and the weight's) format
  switch (f.kind) {
    case OpKind::matmul:
      if (f.get("rnn", 0)) return rnn_gemm(i, f, dy, dd);
      return f.get("param", 0) ? linear(i, f, dy, dd) : bmm(i, f, dy);
    case OpKind::rnn_cell:
      return rnn_cell(f, dy, dd);
    case OpKind::conv2d: return conv(i, f, dy, dd);
    case OpKind::attention: return attention(i, f, dy, dd);
    case OpKind::embedding: {
      // embedding_dense_backward (aten/src/ATen/native/cuda/Embedding.cu): no input
      // gradient (indices), the weight gradient zero-filled and scatter-added; an
      // EmbeddingBag's (bags) always by the sorted path (ir.h).
      Op op = f;
      op.name = f.name + ".grad_weight";
      op.dtype = gt;
      op.out_dtype = it;
      op.attrs.erase("output");
      op.attrs.erase("tied");
      op.attrs["backward"] = 1;
      op.attrs["launches"] = f.get("index_put", 0)         ? k_index_put_launches
                             : embedding_backward_sorts(f) ? k_embedding_sorted_launches
                                                           : k_embedding_direct_launches;
      op.deps = with_grad(dy, {});
      const int w = emit(std::move(op));
      return weight_grad(i, w, f.get("vocab", f.at("tokens")), f.at("dim"), "grad_weight");
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      // max_pool2d_with_indices_backward / avg_pool2d_backward (DilatedMaxPool2d.cu,
      // AveragePool2d.cu): zero fill + gather kernel for max, one kernel for avg.
      const int x = dd.empty() ? -1 : dd[0];
      if (!needs(x)) return;
      Op op = f;
      op.name = f.name + ".grad";
      op.dtype = gt;
      op.out_dtype = it;
      op.attrs.erase("output");
      op.attrs["backward"] = 1;
      if (f.kind == OpKind::maxpool) op.attrs["launches"] = 2;
      op.deps = with_grad(dy, {i});
      return contribute(x, emit(std::move(op)));
    }
    case OpKind::relu:
    case OpKind::sigmoid:
    case OpKind::tanh:
    case OpKind::softmax:
    case OpKind::gelu:
    case OpKind::silu: {
      // threshold_backward, sigmoid_backward, tanh_backward and
      // _softmax_backward_data read the forward output (Activation*.cu,
      // SoftMax.cu); gelu_backward and silu_backward its input.
      const bool uses_output = f.kind == OpKind::relu || f.kind == OpKind::sigmoid || f.kind == OpKind::tanh ||
                               f.kind == OpKind::softmax;
      int grad_in = dy;
      // PyTorch's softmax_backward_cuda_out runs `Tensor tmp = grad * output` (a
      // vectorized element-wise kernel in the gradient's type) and hands tmp to
      // host_softmax_backward, whose kernels sum it per row (aten/src/ATen/native/
      // cuda/SoftMax.cu, 2.x). Megatron-LM's fused kernel does both in one.
      if (f.kind == OpKind::softmax && !f.get("fused_scale_mask", 0)) {
        Op mul = vec_op(OpKind::mul, f.name + ".grad_times_output", f.at("rows"), f.at("cols"), gt, gt,
                        with_grad(dy, {i}));
        mul.attrs["backward"] = 1;
        grad_in = emit(std::move(mul));
      }
      Op op = vec_op(f.kind, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it,
                     with_grad(grad_in, {uses_output ? i : (dd.empty() ? -1 : dd[0])}));
      op.attrs["backward"] = 1;
      // Megatron-LM's fused softmax has its own backward kernel (the same mask).
      if (const int64_t m = f.get("fused_scale_mask", 0)) op.attrs["fused_scale_mask"] = m;
      const int g = emit(std::move(op));
      for (int d : dd) contribute(d, g);
      return;
    }
    case OpKind::dropout: {
      // NativeDropoutBackward0 -> native_dropout_backward (aten/src/ATen/native/cuda/
      // Dropout.cu, masked_scale_kernel): one kernel reading the gradient and the
      // forward's bool mask (a result of op i), writing the input gradient.
      Op op =
          vec_op(OpKind::dropout, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it, with_grad(dy, {i}));
      op.attrs["backward"] = 1;
      const int g = emit(std::move(op));
      for (int d : dd) contribute(d, g);
      return;
    }
    case OpKind::layernorm:
    case OpKind::rmsnorm: {
      // layer_norm_backward_cuda (aten/src/ATen/native/cuda/layer_norm_kernel.cu):
      // kernel 1 the input gradient (reads dy, x, mean, rstd, gamma), kernel 2
      // gamma/beta gradients as column sums of dy * xhat and dy over the rows.
      // The RMSNorm backward has the same structure with gamma only.
      const int x = dd.empty() ? -1 : dd[0];
      int dx = -1;
      if (needs(x)) {
        Op op = vec_op(f.kind, f.name + ".grad_input", f.at("rows"), f.at("cols"), gt, it, with_grad(dy, {x, i}));
        op.attrs["backward"] = 1;
        dx = emit(std::move(op));
      }
      const int w = emit(reduce_op(f.name + ".grad_weight", f.at("rows"), f.at("cols"), 2,
                                   f.kind == OpKind::layernorm ? 2 : 1, gt, it, with_grad(dy, {x})));
      weight_grad(i, w, 1, f.get("affine", f.at("cols")), "grad_weight");
      if (dx >= 0) contribute(x, dx);
      return;
    }
    case OpKind::batchnorm: {
      // Training-mode batch_norm_backward (aten/src/ATen/native/cuda/Normalization.cuh):
      // batch_norm_backward_reduce (sum dy and sum dy * (x - mean) per channel, giving
      // the weight and bias gradients), then batch_norm_backward_elemt (dx).
      const int x = dd.empty() ? -1 : dd[0];
      // Under autocast the input is bf16 and gamma/beta fp32: their gradients are fp32.
      // Both carry the forward's batch and layout (which kernels run: compiler/tensorcore/batchnorm.h).
      const auto layout = [&](Op& o) {
        for (const char* a : {"n", "channels_last"})
          if (f.attrs.count(a)) o.attrs[a] = f.attrs.at(a);
      };
      Op red = reduce_op(f.name + ".grad_weight", f.at("rows"), f.at("cols"), 2, 2, gt, param_dtype(f), with_grad(dy, {x}));
      red.attrs["batchnorm"] = 1;
      layout(red);
      const int w = emit(std::move(red));
      weight_grad(i, w, 1, f.at("cols"), "grad_weight");
      if (!needs(x)) return;
      Op op = vec_op(OpKind::batchnorm, f.name + ".grad_input", f.at("rows"), f.at("cols"), gt, it,
                     with_grad(dy, {x, w}));
      op.attrs["backward"] = 1;
      layout(op);
      return contribute(x, emit(std::move(op)));
    }
    case OpKind::add: {
      // AddBackward0 passes the gradient on without a kernel; an operand that was
      // broadcast gets it summed over the broadcast dimension (sum_to_size: a
      // reduction kernel).
      const int64_t e = f.at("rows") * f.at("cols");
      for (size_t j = 0; j < dd.size(); ++j) {
        const int d = dd[j];
        if (!m_rg[d]) continue;
        const int64_t de = op_out_elems(m_g.ops[d]);
        if (de < e && e % de == 0) {
          const int r = emit(reduce_op(fmt::format("{}.grad_reduce{}", f.name, j), e / de, de, 1, 1, gt,
                                       m_g.ops[d].out_dtype, with_grad(dy, {})));
          contribute(d, r);
        } else {
          contribute(d, dy);
        }
      }
      // A learned tensor added (attr param_elems, ViT's pos_embedding broadcast over
      // the batch): its gradient is dy summed to its shape (sum_to_size), or dy
      // itself when it is not broadcast.
      if (f.attrs.count("param_elems")) param_grad(i, f, dy, e);
      return;
    }
    case OpKind::mul: return mul(i, f, dy, dd);
    case OpKind::copy:
    case OpKind::transpose: {
      // Casts, copies and layout changes: the gradient goes back the same way (one
      // copy, formats swapped); concatenations hand out views of it.
      bool any = dd.empty() && m_opt.inputs_require_grad;
      for (int d : dd) any = any || m_rg[d];
      if (!any && !f.attrs.count("param_elems")) return;
      // A copy whose backward is a view (attr grad_view: .contiguous() of a
      // permuted tensor): the gradient goes on as it is, no kernel.
      if (f.get("grad_view", 0)) {
        for (int d : dd) contribute(d, dy);
        return;
      }
      if (any && f.kind == OpKind::copy && f.attrs.count("expand")) {
        // A copy of an expanded view (repeat_kv): ExpandBackward0 sums the
        // gradient over the `expand` copies of each input element (sum_to_size:
        // a reduction kernel); the reshape's backward is a view.
        const int64_t x = f.at("expand"), e = f.at("rows") * f.at("cols");
        const int r = emit(reduce_op(f.name + ".grad", x, e / x, 1, 1, gt, it, with_grad(dy, {})));
        for (int d : dd) contribute(d, r);
        return;
      }
      if (any) {
        const int g =
            emit(vec_op(f.kind, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it, with_grad(dy, {})));
        for (int d : dd) contribute(d, g);
      }
      // A learned tensor concatenated (attr param_elems, ViT's class_token expanded
      // over the batch): CatBackward0 narrows dy to its param_reads elements (a
      // view) and ExpandBackward0 sums them to its shape.
      if (f.attrs.count("param_elems")) param_grad(i, f, dy, f.get("param_reads", f.at("param_elems")));
      return;
    }
    case OpKind::reduce: {
      // A sum (or mean) over rows: its backward expands the gradient back (one
      // element-wise kernel over the input's rows x cols, reading the gradient).
      const int x = dd.empty() ? -1 : dd[0];
      if (!needs(x)) return;
      Op op = vec_op(OpKind::mul, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it, with_grad(dy, {}));
      op.attrs["inputs"] = 1;
      return contribute(x, emit(std::move(op)));
    }
    default:
      throw InputError(fmt::format("train=1: op '{}' ({}) has no backward rule", f.name, op_kind_name(f.kind)));
  }
}

// nn.Linear: addmm (aten/src/ATen/native/cuda/Blas.cpp; derivatives.yaml addmm):
// mat1: grad.mm(mat2^T) = dY W (skipped when the input needs no gradient),
// mat2: mat1^T.mm(grad) = X^T dY, self (the bias): the gradient summed over the
// rows to the bias's shape (sum_to_size: a column-sum reduction kernel).
void Step::linear(int i, const Op& f, int dy, const std::vector<int>& dd) {
  const int64_t b = f.at("batch"), m = f.at("m"), n = f.at("n"), k = f.at("k");
  bool need_dx = dd.empty() && m_opt.inputs_require_grad;
  for (int d : dd) need_dx = need_dx || m_rg[d];
  int dx = -1;
  if (need_dx) dx = emit(matmul_op(f.name + ".grad_input", b, m, k, n, f.dtype, with_grad(dy, {}), true));
  const int dw = emit(matmul_op(f.name + ".grad_weight", 1, k, n, b * m, f.dtype, with_grad(dy, dd), false));
  int db = -1;
  if (f.get("bias", 0))
    db = emit(reduce_op(f.name + ".grad_bias", b * m, n, 1, 1, f.out_dtype, f.dtype, with_grad(dy, {})));
  if (dx >= 0)
    for (int d : dd) contribute(d, dx);
  weight_grad(i, dw, k, n, "grad_weight");
  if (db >= 0) weight_grad(i, db, 1, n, "grad_bias");
}

// Product of two activations (bmm/matmul; derivatives.yaml bmm): self:
// grad.bmm(mat2^T) = dC B^T, mat2: self^T.bmm(grad) = A^T dC. A is the first
// producer, B the second; a missing one is a leaf input.
void Step::bmm(int /*i*/, const Op& f, int dy) {
  const int64_t b = f.at("batch"), m = f.at("m"), n = f.at("n"), k = f.at("k");
  const int a_op = f.deps.size() > 0 ? f.deps[0] : -1;
  const int b_op = f.deps.size() > 1 ? f.deps[1] : -1;
  const bool shared = f.get("b_shared", 0) != 0;
  int da = -1, db = -1;
  if (needs(a_op)) da = emit(matmul_op(f.name + ".grad_a", b, m, k, n, f.dtype, with_grad(dy, {b_op}), shared));
  if (needs(b_op)) {
    // A B shared by every batch entry gets the batch summed in one product.
    db = shared ? emit(matmul_op(f.name + ".grad_b", 1, k, n, b * m, f.dtype, with_grad(dy, {a_op}), false))
                : emit(matmul_op(f.name + ".grad_b", b, k, n, m, f.dtype, with_grad(dy, {a_op}), false));
  }
  if (da >= 0) contribute(a_op, da);
  if (db >= 0) contribute(b_op, db);
}

// cuDNN convolution_backward (aten/src/ATen/native/cudnn/ConvShared.cpp via
// at::convolution_backward): the data gradient (dgrad, skipped for the first
// convolution: the image needs none), the weight gradient (wgrad), then the bias
// gradient as a column sum of dY over n*ho*wo (Convolution.cpp).
// A transposed convolution (ConvTranspose2d: transposed=1 with grad=1, the data
// gradient of the convolution C it transposes) differentiates through C too
// (convolution_backward with transposed=true): its input gradient is C's forward
// pass over dy (grad=0), its weight gradient C's weight-gradient pass with dy in
// C's input's place (grad=2), and its bias has C's input channels.
void Step::conv(int i, const Op& f, int dy, const std::vector<int>& dd) {
  const int x = dd.empty() ? -1 : dd[0];
  const bool transposed = f.get("transposed", 0) != 0;
  int dx = -1;
  const auto pass = [&](const char* suffix, int grad, std::vector<int> saved) {
    Op op = f;
    op.name = f.name + suffix;
    op.dtype = f.out_dtype;
    op.out_dtype = f.dtype;
    op.attrs.erase("output");
    op.attrs.erase("bias");
    op.attrs.erase("transposed");
    op.attrs["grad"] = grad;
    op.deps = with_grad(dy, std::move(saved));
    return emit(std::move(op));
  };
  if (needs(x)) dx = pass(".grad_input", transposed ? 0 : 1, {});
  const int dw = pass(".grad_weight", 2, {x});
  int db = -1;
  if (f.get("bias", 0)) {
    const int64_t channels = f.at(transposed ? "cin" : "cout");
    const int64_t px = op_out_elems(f) / channels;
    db = emit(reduce_op(f.name + ".grad_bias", px, channels, 1, 1, f.out_dtype, f.dtype, with_grad(dy, {})));
  }
  if (dx >= 0) contribute(x, dx);
  weight_grad(i, dw, f.at("cout"), op_out_elems(m_g.ops[dw]) / f.at("cout"), "grad_weight");
  if (db >= 0) weight_grad(i, db, 1, f.at(transposed ? "cin" : "cout"), "grad_bias");
}

// Fused attention (_scaled_dot_product_flash_attention_backward ->
// FlashAttention-2's mha_bwd): one attention op with backward=1 that reads Q, K,
// V, O, dO and the log-sum-exp and writes dQ, dK, dV. Producers: {q, k, v
// [, bias]}, {q, kv} (K and V packed) or {qkv} (all three packed, e.g. GPT-2's
// c_attn): the packed gradients are concatenated back (split's backward is
// torch.cat: one copy).
void Step::attention(int i, const Op& f, int dy, const std::vector<int>& deps) {
  const int64_t B = f.at("batch"), H = f.at("heads"), Hkv = f.get("kv_heads", H);
  const int64_t sq = f.at("sq"), skv = f.at("skv"), D = f.at("d");
  const bool bias = f.get("bias", 0) != 0;
  int q = -1, k = -1, v = -1, bias_op = -1;
  // With a mask the producers are {q, k, v, bias} by position; q, k and v may be
  // one packed projection (the Evoformer's q|k|v|g), which then counts once.
  std::vector<int> dd = deps;
  if (bias && f.deps.size() == 4) {
    bias_op = f.deps[3];
    dd.clear();
    for (size_t j = 0; j < 3; ++j)
      if (std::find(dd.begin(), dd.end(), f.deps[j]) == dd.end()) dd.push_back(f.deps[j]);
  }
  if (dd.size() >= 3) {
    q = dd[0];
    k = dd[1];
    v = dd[2];
    if (bias && bias_op < 0 && dd.size() >= 4) bias_op = dd[3];
  } else if (dd.size() == 2) {
    q = dd[0];
    k = v = dd[1];
  } else if (dd.size() == 1) {
    q = k = v = dd[0];
  }
  const bool bias_grad = bias_op >= 0 && m_rg[bias_op];
  if (!needs(q) && !needs(k) && !needs(v) && !bias_grad) return;
  Op op = f;
  op.name = f.name + ".grad";
  op.attrs.erase("output");
  op.attrs["backward"] = 1;
  if (bias_grad) op.attrs["bias_grad"] = 1;
  op.deps = with_grad(dy, {i, q, k, v});
  const int g = emit(std::move(op));
  if (dd.size() == 1) {
    if (m_rg[q])
      contribute(q, emit(vec_op(OpKind::copy, f.name + ".grad_qkv", B * sq, (H + 2 * Hkv) * D, f.dtype, f.dtype,
                                {g})));
  } else if (dd.size() == 2) {
    contribute(q, g);
    if (m_rg[k])
      contribute(k, emit(vec_op(OpKind::copy, f.name + ".grad_kv", B * skv, 2 * Hkv * D, f.dtype, f.dtype, {g})));
  } else {
    contribute(q, g);
    contribute(k, g);
    contribute(v, g);
  }
  if (bias_grad) {
    // The bias gradient (dS) is written per batch entry and head; one broadcast
    // over the batch and/or the heads is summed back (sum_to_size): a reduction
    // of `folds` slices of the mask's own elements.
    const int64_t folds = (f.get("bias_shared", 0) ? B : 1) * (f.get("bias_head_shared", 0) ? H : 1);
    if (folds > 1)
      contribute(bias_op, emit(reduce_op(f.name + ".grad_bias", folds, B * H * sq * skv / folds, 1, 1,
                                         f.dtype, f.dtype, {g})));
    else
      contribute(bias_op, g);
  }
}

// A learned tensor of n = param_elems elements that the op reads `reads` of
// (broadcast over the batch, or an expanded view concatenated): its gradient is
// the reduction of reads / n rows of n (sum_to_size / ExpandBackward0's sum);
// read once, a concatenation's slice of dy is cloned by AccumulateGrad (a
// non-contiguous view: one copy) and an add's dy is the gradient itself.
void Step::param_grad(int i, const Op& f, int dy, int64_t reads) {
  const int64_t n = f.at("param_elems");
  const DType gt = f.out_dtype;
  int g = dy;
  if (reads > n)
    g = emit(reduce_op(f.name + ".grad_param", reads / n, n, 1, 1, gt, f.dtype, with_grad(dy, {})));
  else if (f.kind == OpKind::copy)
    g = emit(vec_op(OpKind::copy, f.name + ".grad_param", 1, n, gt, f.dtype, with_grad(dy, {})));
  weight_grad(i, g, 1, n, "grad_param");
}

// MulBackward0 (derivatives.yaml mul: self: grad * other, other: grad * self):
// one multiplication kernel per operand that needs a gradient, reading the
// gradient and the other operand (full-size or broadcast); a broadcast operand's
// gradient is then summed to its shape. A `param` mul's weight (cols elements,
// broadcast over the rows) gets grad * input summed over the rows.
void Step::mul(int i, const Op& f, int dy, const std::vector<int>& dd) {
  if (f.get("exponent", 0)) return pow(f, dy, dd);
  const int64_t rows = f.at("rows"), cols = f.at("cols"), e = rows * cols;
  const DType gt = f.out_dtype, it = f.dtype;
  const auto full = [&](int d) { return d >= 0 && op_out_elems(m_g.ops[d]) >= e; };
  std::vector<std::pair<int, int>> made;   // (producer, gradient op)
  if (dd.empty()) {
    if (!m_opt.inputs_require_grad) return;
    Op op = vec_op(OpKind::mul, f.name + ".grad", rows, cols, gt, it, with_grad(dy, {}));
    op.attrs["inputs"] = f.get("inputs", 2);
    emit(std::move(op));
  }
  for (size_t j = 0; j < dd.size(); ++j) {
    const int d = dd[j];
    if (!m_rg[d]) continue;
    const int other = dd.size() > 1 ? dd[1 - std::min<size_t>(j, 1)] : -1;
    const bool other_full = dd.size() > 1 ? full(other) : f.get("inputs", 2) >= 2;
    Op op = vec_op(OpKind::mul, dd.size() > 1 ? fmt::format("{}.grad_in{}", f.name, j) : f.name + ".grad", rows,
                   cols, gt, it, with_grad(dy, {other}));
    op.attrs["inputs"] = other_full ? 2 : 1;
    int g = emit(std::move(op));
    const int64_t de = op_out_elems(m_g.ops[d]);
    if (de < e && e % de == 0)
      g = emit(reduce_op(fmt::format("{}.grad_reduce{}", f.name, j), e / de, de, 1, 1, it, m_g.ops[d].out_dtype,
                         {g}));
    made.emplace_back(d, g);
  }
  if (f.get("param", 0)) {
    Op op = vec_op(OpKind::mul, f.name + ".grad_weight_mul", rows, cols, gt, it, with_grad(dy, dd));
    op.attrs["inputs"] = 2;
    const int p = emit(std::move(op));
    const int w = emit(reduce_op(f.name + ".grad_weight", rows, cols, 1, 1, it, it, {p}));
    weight_grad(i, w, 1, cols, "grad_weight");
  }
  for (auto [d, g] : made) contribute(d, g);
}

// PowBackward0 of torch.pow(x, E) (FunctionsManual.cpp pow_backward: grad * (E *
// self.pow(E - 1))): self.pow(E - 1), which for E = 2 is a copy
// (pow_Tensor_Scalar_out copies the base for exponent 1), then the multiplication
// by the exponent and by the gradient: three element-wise kernels over the output.
void Step::pow(const Op& f, int dy, const std::vector<int>& dd) {
  const int x = dd.empty() ? -1 : dd[0];
  if (!needs(x)) return;
  const int64_t rows = f.at("rows"), cols = f.at("cols");
  Op p = vec_op(f.get("exponent", 2) == 2 ? OpKind::copy : OpKind::mul, f.name + ".grad_pow", rows, cols, f.dtype,
                f.dtype, with_grad(-1, {x}));
  if (p.kind == OpKind::mul) p.attrs["inputs"] = 1;
  const int c = emit(std::move(p));
  Op two = vec_op(OpKind::mul, f.name + ".grad_scale", rows, cols, f.dtype, f.dtype, {c});
  two.attrs["inputs"] = 1;
  const int t = emit(std::move(two));
  Op g = vec_op(OpKind::mul, f.name + ".grad", rows, cols, f.out_dtype, f.dtype, with_grad(dy, {t}));
  g.attrs["inputs"] = 2;
  contribute(x, emit(std::move(g)));
}

// _cudnn_rnn_backward (aten/src/ATen/native/cudnn/RNN.cpp) of rnn.cpp's layers.
// cudnnRNNBackwardData walks each layer's steps backwards: the cell's backward
// kernel (rnn_cell backward=1: dh from the layer above and from the recurrent
// GEMM, dc from the step after; writes the gate gradients dG_t and dc'), then the
// recurrent data gradient dh' = dG_t W_hh (m = batch, n = hidden, k = gates x
// hidden); then the layer's input gradient dx = dG W_ih over all steps at once.
// cudnnRNNBackwardWeights then forms each weight gradient over all steps at once:
// dW_ih = dG^T x and dW_hh = dG^T h' (k = seq x batch), and the bias gradients
// as column sums of dG. Every kernel after the call's first is launched by cuDNN.
Op& Step::rnn_launch(Op& op) {
  if (m_rnn_open) op.attrs["lib_launch"] = 1;
  m_rnn_open = true;
  return op;
}

void Step::rnn_cell(const Op& f, int dy, const std::vector<int>& dd) {
  Op op = f;
  op.name = f.name + ".grad";
  op.dtype = f.out_dtype;
  op.out_dtype = f.dtype;
  op.attrs.erase("output");
  op.attrs.erase("training");
  op.attrs.erase("lib_launch");
  op.attrs["backward"] = 1;
  std::vector<int> reads = m_joined[m_cur];
  op.deps = with_grad(dy, std::move(reads));
  const int g = emit(std::move(rnn_launch(op)));
  // dG_t: the recurrent GEMM's and the input projection's gradient (its slice t);
  // dc' (LSTM) or the h' part (GRU) to the step before.
  for (int d : dd) join(d, g);
}

void Step::rnn_gemm(int i, const Op& f, int dy, const std::vector<int>& dd) {
  const int64_t m = f.at("m"), n = f.at("n"), k = f.at("k");
  const auto gemm = [&](std::string name, int64_t gm, int64_t gn, int64_t gk, std::vector<int> saved,
                        bool step = false) {
    Op op = matmul_op(std::move(name), 1, gm, gn, gk, f.dtype, with_grad(dy, std::move(saved)), false);
    op.attrs["cudnn"] = 1;
    if (step) op.attrs["rnn"] = 2;  // multiplies the W_hh the step before read (L2-resident)
    return emit(std::move(rnn_launch(op)));
  };
  if (f.get("rnn", 0) == 2) {
    // The recurrent data gradient of step t (step 0's goes to the zero hx, which
    // needs none).
    if (!dd.empty() && needs(dd[0])) join(dd[0], gemm(f.name + ".grad_input", m, k, n, {}, true));
    return;
  }
  std::vector<int> all = m_joined[i];  // every step's dG slice
  bool need_dx = dd.empty() && m_opt.inputs_require_grad;
  for (int d : dd) need_dx = need_dx || m_rg[d];
  if (need_dx) {
    const int dx = gemm(f.name + ".grad_input", m, k, n, all);
    for (int d : dd)
      m_g.ops[static_cast<size_t>(d)].kind == OpKind::rnn_cell ? join(d, dx) : contribute(d, dx);
  }
  // The layer's recurrent GEMMs follow its input projection (rnn.cpp): the first
  // holds W_hh and b_hh for the optimizer.
  int rec = -1;
  for (int j = i + 1; j < m_fwd && rec < 0; ++j)
    if (m_g.ops[static_cast<size_t>(j)].get("rnn", 0) == 2) rec = j;
  if (rec < 0)
    throw InputError(
        fmt::format("train=1: op '{}' (matmul) has rnn=1 (a recurrent layer's input projection) "
                    "but no recurrent GEMM (rnn=2) follows it",
                    f.name));
  // Copied: emitting below grows the op vector.
  const std::string r_name = m_g.ops[static_cast<size_t>(rec)].name;
  const int64_t rk = m_g.ops[static_cast<size_t>(rec)].at("k"),
                rn = m_g.ops[static_cast<size_t>(rec)].at("n");
  const bool r_bias = m_g.ops[static_cast<size_t>(rec)].get("bias", 0) != 0;
  std::vector<int> saved = all;
  saved.insert(saved.end(), dd.begin(), dd.end());
  const int dw_ih = gemm(f.name + ".grad_weight", k, n, m, saved);
  weight_grad(i, dw_ih, k, n, "grad_weight");
  if (f.get("bias", 0)) {
    Op db = reduce_op(f.name + ".grad_bias", m, n, 1, 1, f.out_dtype, f.dtype, with_grad(dy, all));
    weight_grad(i, emit(std::move(rnn_launch(db))), 1, n, "grad_bias");
  }
  const int dw_hh = gemm(r_name + ".grad_weight", rk, rn, m, all);
  weight_grad(rec, dw_hh, rk, rn, "grad_weight", true);
  if (r_bias) {
    Op db = reduce_op(r_name + ".grad_bias", m, rn, 1, 1, f.out_dtype, f.dtype, with_grad(dy, all));
    weight_grad(rec, emit(std::move(rnn_launch(db))), 1, rn, "grad_bias", true);
  }
}

}  // namespace tessera::training
