// Training step: backward rules per op kind, as PyTorch's autograd launches them on
// CUDA (tools/autograd/derivatives.yaml names every formula; the files cited below
// hold the CUDA kernels), and torch.optim's optimizer step.
//
// Autograd's order. The engine runs the ready node with the highest sequence
// number first; with one forward op per node that is the forward order reversed.
// A node's kernels run, then its gradients are handed to the producers of its
// inputs; a tensor that already holds a gradient (it was consumed more than once:
// residual streams, a LayerNorm output read by Q, K and V) gets the new one added
// (InputBuffer::accumulate: one add kernel, 2 reads 1 write). Parameter gradients
// go to AccumulateGrad; with zero_grad(set_to_none=True) the first one is stolen
// without a kernel, a tied weight's further ones are added.
#include "workloads/training.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/error.h"

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


// embedding_dense_backward_cuda's kernels (aten/src/ATen/native/cuda/Embedding.cu,
// EmbeddingBackwardKernel.cu). Up to 3072 indices: at::zeros of the weight gradient
// and embedding_backward_feature_kernel (2). Above: at::arange of the positions (1),
// cuda::cub::radix_sort_pairs over the 64 key bits (a histogram kernel and 8
// onesweep passes of 8 bits: 9), at::zeros (1), cub::unique_by_key (2),
// krn_partials_per_segment (1), cub::exclusive_sum (2), compute_num_of_partial_segments
// (1), krn_partial_segment_offset (1), compute_grad_weight (1), sum_and_scatter (1): 20.
// The cub counts are the usual single-pass implementations (one init and one
// sweep kernel for unique_by_key and the scan); the byte counts are in ir.cpp.
constexpr int64_t k_embedding_direct_launches = 2;
constexpr int64_t k_embedding_sorted_launches = 20;
constexpr int64_t k_embedding_direct_indices = 3072;

// Parameter tensors of a forward op (elements each), in nn.Module order (weight,
// then bias).
std::vector<int64_t> param_tensors(const Op& op) {
  const int64_t bias = op.get("bias", 0);
  switch (op.kind) {
    case OpKind::matmul:
      if (!op.get("param", 0)) return {};
      if (bias) return {op.at("k") * op.at("n"), op.at("n")};
      return {op.at("k") * op.at("n")};
    case OpKind::conv2d: {
      const int64_t w = op.at("cout") * (op.at("cin") / op.get("groups", 1)) * op.at("r") * op.at("s");
      if (bias) return {w, op.at("cout")};
      return {w};
    }
    case OpKind::embedding: return {op.get("vocab", op.at("tokens")) * op.at("dim")};
    case OpKind::layernorm:
    case OpKind::batchnorm: return {op.at("cols"), op.at("cols")};
    case OpKind::rmsnorm: return {op.at("cols")};
    case OpKind::mul:   // an element-wise weight (e.g. an RMSNorm's `weight * h`)
      if (op.get("param", 0)) return {op.at("cols")};
      return {};
    default: return {};
  }
}

bool has_weights(const Op& op) { return !param_tensors(op).empty(); }

// A 2-D view (rows x cols) of an op's output, for the kernels that add or copy it.
std::pair<int64_t, int64_t> out_shape(const Op& op) {
  switch (op.kind) {
    case OpKind::matmul: return {op.at("batch") * op.at("m"), op.at("n")};
    case OpKind::conv2d: {
      const int64_t e = op_out_elems(op);
      return {e / op.at("cout"), op.at("cout")};
    }
    case OpKind::attention: return {op.at("batch") * op.at("heads") * op.at("sq"), op.at("d")};
    case OpKind::maxpool:
    case OpKind::avgpool: return {op_out_elems(op) / op.at("c"), op.at("c")};
    case OpKind::embedding: return {op.at("tokens"), op.at("dim")};
    case OpKind::reduce: return {op.get("outputs", 1), op.at("cols")};
    default: return {op.at("rows"), op.at("cols")};
  }
}

class Step {
 public:
  Step(Graph& g, const TrainingOptions& opt) : m_g(g), m_opt(opt), m_fwd(static_cast<int>(g.ops.size())) {}

  void run() {
    check();
    for (auto& op : m_g.ops)
      if (op.kind == OpKind::batchnorm) op.attrs["training"] = 1;
    const double flops_fwd = m_g.total_flops();
    mark_requires_grad();
    seed_outputs();
    m_wgrad.assign(m_fwd, 0);
    for (int i = m_fwd - 1; i >= 0; --i)
      if (m_grad[i] != k_none && m_rg[i]) backward(i);
    const int n_bwd = static_cast<int>(m_g.ops.size()) - m_fwd;
    double flops_bwd = 0;
    for (size_t i = m_fwd; i < m_g.ops.size(); ++i) flops_bwd += op_flops(m_g.ops[i]);
    optimizer_step();
    double flops_opt = 0;
    for (size_t i = static_cast<size_t>(m_fwd + n_bwd); i < m_g.ops.size(); ++i) flops_opt += op_flops(m_g.ops[i]);
    m_g.info["train_step"] = 1;
    m_g.info["flops_forward"] = flops_fwd;
    m_g.info["flops_backward"] = flops_bwd;
    m_g.info["flops_optimizer"] = flops_opt;
    m_g.info["ops_forward"] = m_fwd;
    m_g.info["ops_backward"] = n_bwd;
    m_g.info["ops_optimizer"] = static_cast<double>(m_g.ops.size()) - m_fwd - n_bwd;
    m_g.info["params_trained"] = static_cast<double>(m_params);
    m_g.info["param_tensors"] = static_cast<double>(m_tensors.size());
  }

 private:
  static constexpr int k_none = -2;   // no gradient yet
  static constexpr int k_seed = -1;   // the given output gradient (no kernel made it)

  void check() const {
    for (const auto& op : m_g.ops) {
      if (op.kind == OpKind::kv_read || op.kind == OpKind::kv_write)
        throw InputError(fmt::format("train=1: op '{}' ({}) reads or writes a KV cache, which only "
                                     "inference uses", op.name, op_kind_name(op.kind)));
      if (is_collective_kind(op.kind))
        throw InputError(fmt::format("train=1: op '{}' ({}): collectives have no backward rule",
                                     op.name, op_kind_name(op.kind)));
      if (is_training_op(op))
        throw InputError(fmt::format("train=1: op '{}' is already part of a training step", op.name));
    }
  }

  // Data dependencies, each producer once, in order.
  static std::vector<int> unique_deps(const Op& op) {
    std::vector<int> out;
    for (int d : op.deps)
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
  }

  // requires_grad of each forward op's output: it has weights, or reads a tensor
  // that requires grad (or, for functional kernels, a leaf input). Integer and
  // boolean results (masks, indices) never do.
  void mark_requires_grad() {
    m_rg.assign(m_fwd, 0);
    for (int i = 0; i < m_fwd; ++i) {
      const Op& op = m_g.ops[i];
      if (is_integer_dtype(op.out_dtype)) continue;
      bool rg = has_weights(op) || (op.deps.empty() && m_opt.inputs_require_grad);
      for (int d : op.deps) rg = rg || m_rg[d];
      m_rg[i] = rg;
    }
  }

  // Backward starts at the ops marked output=1, else at every op nobody consumes.
  void seed_outputs() {
    m_grad.assign(m_fwd, k_none);
    m_acc.assign(m_fwd, 0);
    bool marked = false;
    for (const auto& op : m_g.ops) marked = marked || op.get("output", 0) != 0;
    std::vector<char> consumed(m_fwd, 0);
    for (const auto& op : m_g.ops)
      for (int d : op.deps) consumed[d] = 1;
    for (int i = 0; i < m_fwd; ++i) {
      const bool out = marked ? m_g.ops[i].get("output", 0) != 0 : !consumed[i];
      if (out && m_rg[i]) m_grad[i] = k_seed;
    }
  }

  int emit(Op op) { return m_g.add(std::move(op)); }

  // deps of a backward kernel: the gradient it reads (unless it is the seed), the
  // forward tensors it reads, and the forward op whose backward it is (autograd
  // runs a node's backward after its forward, also when the gradient is given).
  std::vector<int> with_grad(int grad, std::vector<int> saved) const {
    std::vector<int> deps;
    if (grad >= 0) deps.push_back(grad);
    saved.push_back(m_cur);
    for (int s : saved)
      if (s >= 0 && std::find(deps.begin(), deps.end(), s) == deps.end()) deps.push_back(s);
    return deps;
  }

  static Op vec_op(OpKind kind, std::string name, int64_t rows, int64_t cols, DType in, DType out,
                   std::vector<int> deps) {
    Op op;
    op.name = std::move(name);
    op.kind = kind;
    op.dtype = in;
    op.out_dtype = out;
    op.attrs = {{"rows", rows}, {"cols", cols}};
    op.deps = std::move(deps);
    return op;
  }

  static Op matmul_op(std::string name, int64_t batch, int64_t m, int64_t n, int64_t k, DType t,
                      std::vector<int> deps, bool b_shared) {
    Op op;
    op.name = std::move(name);
    op.kind = OpKind::matmul;
    op.dtype = op.out_dtype = t;
    op.attrs = {{"batch", batch}, {"m", m}, {"n", n}, {"k", k}};
    if (b_shared) op.attrs["b_shared"] = 1;
    op.deps = std::move(deps);
    return op;
  }

  static Op reduce_op(std::string name, int64_t rows, int64_t cols, int64_t inputs, int64_t outputs, DType in,
                      DType out, std::vector<int> deps) {
    Op op = vec_op(OpKind::reduce, std::move(name), rows, cols, in, out, std::move(deps));
    if (inputs != 1) op.attrs["inputs"] = inputs;
    if (outputs != 1) op.attrs["outputs"] = outputs;
    return op;
  }

  // Hands a gradient made by op `src` (or the seed, or a pass-through) to the
  // tensor of forward op `d`; a second one is added to the first.
  void contribute(int d, int src) {
    if (d < 0 || !m_rg[d]) return;
    if (m_grad[d] == k_none) {
      m_grad[d] = src;
      return;
    }
    const Op& t = m_g.ops[d];
    const auto [rows, cols] = out_shape(t);
    const int n = ++m_acc[d];
    Op add = vec_op(OpKind::add, fmt::format("{}.grad_acc{}", t.name, n == 1 ? std::string() : std::to_string(n)), rows, cols,
                    t.out_dtype, t.out_dtype, with_grad(m_grad[d], {src}));
    add.attrs["inputs"] = 2;
    m_grad[d] = emit(std::move(add));
  }

  // A weight gradient made by `src` for forward op `i`: tied weights (the same
  // `tied` id) add every gradient after the first (AccumulateGrad).
  void weight_grad(int i, int src, int64_t rows, int64_t cols, const char* what) {
    m_wgrad[i] = 1;
    m_param_grads.push_back(src);
    const int64_t tied = m_g.ops[i].get("tied", 0);
    if (tied == 0) return;
    auto& prev = m_tied_grad[{tied, what}];
    if (prev == 0) {
      prev = src + 1;
      return;
    }
    const Op& op = m_g.ops[i];
    Op add = vec_op(OpKind::add, fmt::format("{}.{}_acc", op.name, what), rows, cols, op.dtype, op.dtype,
                    {prev - 1, src});
    add.attrs["inputs"] = 2;
    prev = emit(std::move(add)) + 1;
    m_param_grads.push_back(prev - 1);
  }

  // Whether input `d` of an op (or, with d < 0, a leaf input) needs a gradient.
  bool needs(int d) const { return d >= 0 ? m_rg[d] != 0 : m_opt.inputs_require_grad; }

  void backward(int i) {
    m_cur = i;
    const Op f = m_g.ops[i];   // copy: emitting grows the vector
    const int dy = m_grad[i];
    const std::vector<int> dd = unique_deps(f);
    const DType gt = f.out_dtype;   // the incoming gradient's format
    const DType it = f.dtype;       // the input's (and the weight's) format
    switch (f.kind) {
      case OpKind::matmul: return f.get("param", 0) ? linear(i, f, dy, dd) : bmm(i, f, dy);
      case OpKind::conv2d: return conv(i, f, dy, dd);
      case OpKind::attention: return attention(i, f, dy, dd);
      case OpKind::embedding: {
        // embedding_dense_backward (aten/src/ATen/native/cuda/Embedding.cu): no input
        // gradient (indices), the weight gradient zero-filled and scatter-added.
        Op op = f;
        op.name = f.name + ".grad_weight";
        op.dtype = gt;
        op.out_dtype = it;
        op.attrs.erase("output");
        op.attrs.erase("tied");
        op.attrs["backward"] = 1;
        op.attrs["launches"] = f.at("tokens") <= k_embedding_direct_indices ? k_embedding_direct_launches
                                                                             : k_embedding_sorted_launches;
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
        Op op = vec_op(f.kind, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it,
                       with_grad(dy, {uses_output ? i : (dd.empty() ? -1 : dd[0])}));
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
        weight_grad(i, w, 1, f.at("cols"), "grad_weight");
        if (dx >= 0) contribute(x, dx);
        return;
      }
      case OpKind::batchnorm: {
        // Training-mode batch_norm_backward (aten/src/ATen/native/cuda/Normalization.cuh):
        // batch_norm_backward_reduce (sum dy and sum dy * (x - mean) per channel, giving
        // the weight and bias gradients), then batch_norm_backward_elemt (dx).
        const int x = dd.empty() ? -1 : dd[0];
        const int w = emit(reduce_op(f.name + ".grad_weight", f.at("rows"), f.at("cols"), 2, 2, gt, it,
                                     with_grad(dy, {x})));
        weight_grad(i, w, 1, f.at("cols"), "grad_weight");
        if (!needs(x)) return;
        Op op = vec_op(OpKind::batchnorm, f.name + ".grad_input", f.at("rows"), f.at("cols"), gt, it,
                       with_grad(dy, {x, w}));
        op.attrs["backward"] = 1;
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
        return;
      }
      case OpKind::mul: return mul(i, f, dy, dd);
      case OpKind::copy:
      case OpKind::transpose: {
        // Casts, copies and layout changes: the gradient goes back the same way (one
        // copy, formats swapped); concatenations hand out views of it.
        bool any = dd.empty() && m_opt.inputs_require_grad;
        for (int d : dd) any = any || m_rg[d];
        if (!any) return;
        const int g = emit(vec_op(f.kind, f.name + ".grad", f.at("rows"), f.at("cols"), gt, it, with_grad(dy, {})));
        for (int d : dd) contribute(d, g);
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
  void linear(int i, const Op& f, int dy, const std::vector<int>& dd) {
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
  void bmm(int /*i*/, const Op& f, int dy) {
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
  void conv(int i, const Op& f, int dy, const std::vector<int>& dd) {
    const int x = dd.empty() ? -1 : dd[0];
    int dx = -1;
    const auto pass = [&](const char* suffix, int grad, std::vector<int> saved) {
      Op op = f;
      op.name = f.name + suffix;
      op.dtype = f.out_dtype;
      op.out_dtype = f.dtype;
      op.attrs.erase("output");
      op.attrs.erase("bias");
      op.attrs["grad"] = grad;
      op.deps = with_grad(dy, std::move(saved));
      return emit(std::move(op));
    };
    if (needs(x)) dx = pass(".grad_input", 1, {});
    const int dw = pass(".grad_weight", 2, {x});
    int db = -1;
    if (f.get("bias", 0)) {
      const int64_t px = op_out_elems(f) / f.at("cout");
      db = emit(reduce_op(f.name + ".grad_bias", px, f.at("cout"), 1, 1, f.out_dtype, f.dtype, with_grad(dy, {})));
    }
    if (dx >= 0) contribute(x, dx);
    weight_grad(i, dw, f.at("cout"), op_out_elems(m_g.ops[dw]) / f.at("cout"), "grad_weight");
    if (db >= 0) weight_grad(i, db, 1, f.at("cout"), "grad_bias");
  }

  // Fused attention (_scaled_dot_product_flash_attention_backward ->
  // FlashAttention-2's mha_bwd): one attention op with backward=1 that reads Q, K,
  // V, O, dO and the log-sum-exp and writes dQ, dK, dV. Producers: {q, k, v
  // [, bias]}, {q, kv} (K and V packed) or {qkv} (all three packed, e.g. GPT-2's
  // c_attn): the packed gradients are concatenated back (split's backward is
  // torch.cat: one copy).
  void attention(int i, const Op& f, int dy, const std::vector<int>& dd) {
    const int64_t B = f.at("batch"), H = f.at("heads"), Hkv = f.get("kv_heads", H);
    const int64_t sq = f.at("sq"), skv = f.at("skv"), D = f.at("d");
    const bool bias = f.get("bias", 0) != 0;
    int q = -1, k = -1, v = -1, bias_op = -1;
    if (dd.size() >= 3) {
      q = dd[0];
      k = dd[1];
      v = dd[2];
      if (bias && dd.size() >= 4) bias_op = dd[3];
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
      // The bias gradient (dS) is written per batch entry; one broadcast over the
      // batch is summed back (sum_to_size).
      if (f.get("bias_shared", 0) && B > 1)
        contribute(bias_op, emit(reduce_op(f.name + ".grad_bias", B, H * sq * skv, 1, 1, f.dtype, f.dtype, {g})));
      else
        contribute(bias_op, g);
    }
  }

  // MulBackward0 (derivatives.yaml mul: self: grad * other, other: grad * self):
  // one multiplication kernel per operand that needs a gradient, reading the
  // gradient and the other operand (full-size or broadcast); a broadcast operand's
  // gradient is then summed to its shape. A `param` mul's weight (cols elements,
  // broadcast over the rows) gets grad * input summed over the rows.
  void mul(int i, const Op& f, int dy, const std::vector<int>& dd) {
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

  // --- optimizer --------------------------------------------------------------

  // One torch._foreach_* call (or fused kernel) over every trained parameter.
  void foreach_op(const std::string& name, int reads, int writes, int flops, int sfu, int depth, bool scalar_list,
                  DType t, const std::vector<int64_t>& numels) {
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
    // optimizer.step() runs after backward: the first kernel waits for every
    // parameter gradient, the others for their predecessor.
    const int last = static_cast<int>(m_g.ops.size()) - 1;
    if (m_g.ops[static_cast<size_t>(last)].kind == OpKind::optimizer) {
      op.deps = {last};
    } else {
      op.deps = m_param_grads;
      std::sort(op.deps.begin(), op.deps.end());
      op.deps.erase(std::unique(op.deps.begin(), op.deps.end()), op.deps.end());
    }
    emit(std::move(op));
  }

  void optimizer_step() {
    // Parameters with a gradient, in graph (module) order; a tied weight once.
    DType t = DType::fp32;
    bool first = true;
    std::map<int64_t, int> tied_seen;
    for (int i = 0; i < m_fwd; ++i) {
      if (!m_wgrad[i]) continue;
      const Op& op = m_g.ops[i];
      if (first) t = op.dtype;
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
        m_params += n;
      }
    }
    if (m_tensors.empty() || m_opt.optimizer == Optimizer::none) return;
    const std::vector<int64_t>& p = m_tensors;
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
        foreach_op("adamw_fused.step_count", 1, 1, 1, 0, 1, false, DType::fp32, std::vector<int64_t>(p.size(), 1));
        foreach_op("adamw_fused.update", 4, 3, 12, 1, 4, false, t, p);
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
  }

  Graph& m_g;
  const TrainingOptions& m_opt;
  const int m_fwd;
  std::vector<char> m_rg;
  std::vector<int> m_grad;       // per forward op: op holding its output gradient
  std::vector<int> m_acc;        // accumulations made per forward op (names)
  std::vector<char> m_wgrad;     // forward op got its weight gradient
  std::map<std::pair<int64_t, std::string>, int> m_tied_grad;   // tied id, tensor -> op + 1
  std::vector<int64_t> m_tensors;
  std::vector<int> m_param_grads;   // ops that made (or summed) a parameter gradient
  int64_t m_params = 0;
  int m_cur = -1;                   // forward op whose backward is being appended
};

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
  int64_t launches = 0, blocks = 0, tensors = 0;
  for (int64_t numel : numels) {
    if (numel <= 0) continue;   // empty tensors are skipped
    ++tensors;
    const int64_t chunks = (numel + k_multi_tensor_chunk - 1) / k_multi_tensor_chunk;
    for (int64_t c = 0; c < chunks; ++c) {
      ++blocks;
      const bool tensors_full = tensors == lim.max_tensors && c == chunks - 1;
      const bool blocks_full = blocks == lim.max_blocks;
      if (tensors_full || blocks_full) {
        ++launches;
        blocks = 0;
        // A tensor whose chunks continue is carried over to the next launch.
        tensors = c == chunks - 1 ? 0 : 1;
      }
    }
  }
  return launches + (blocks != 0 ? 1 : 0);
}

void append_training_step(Graph& g, const TrainingOptions& opt) {
  Step(g, opt).run();
}

}  // namespace tessera
