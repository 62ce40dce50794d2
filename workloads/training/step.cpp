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
//
// This file: the walk over the forward graph (append_training_step); the rules
// per op kind are in autograd.cpp, the optimizers in optimizers.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "workloads/training/step.h"

namespace tessera {
namespace training {

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
      const int64_t w = conv_weight_elems(op);
      // A transposed convolution's output (and bias) has the transposed C's input channels.
      if (bias) return {w, op.at(op.get("transposed", 0) ? "cin" : "cout")};
      return {w};
    }
    case OpKind::embedding: return {op.get("vocab", op.at("tokens")) * op.at("dim")};
    case OpKind::layernorm: {  // a group or instance norm's scale and shift: `affine` elements
      const int64_t a = op.get("affine", op.at("cols"));
      return {a, a};
    }
    case OpKind::batchnorm: return {op.at("cols"), op.at("cols")};
    case OpKind::rmsnorm: return {op.at("cols")};
    case OpKind::mul:   // an element-wise weight (e.g. an RMSNorm's `weight * h`)
      if (op.get("param", 0)) return {op.at("cols")};
      return {};
    case OpKind::add:   // a learned tensor added (ViT's pos_embedding)
    case OpKind::copy:  // or concatenated (ViT's class_token)
      if (op.attrs.count("param_elems")) return {op.at("param_elems")};
      return {};
    default: return {};
  }
}

namespace {

bool has_weights(const Op& op) { return !param_tensors(op).empty(); }

}  // namespace

// A 2-D view (rows x cols) of an op's output, for the kernels that add or copy it.
std::pair<int64_t, int64_t> out_shape(const Op& op) {
  switch (op.kind) {
    case OpKind::matmul: return {op.at("batch") * op.at("m"), op.at("n")};
    case OpKind::conv2d: {
      const int64_t e = op_out_elems(op), c = op.at(op.get("transposed", 0) ? "cin" : "cout");
      return {e / c, c};
    }
    case OpKind::attention: return {op.at("batch") * op.at("heads") * op.at("sq"), op.at("d")};
    case OpKind::maxpool:
    case OpKind::avgpool: return {op_out_elems(op) / op.at("c"), op.at("c")};
    case OpKind::embedding:
      return {op.get("bags", op.at("tokens")), op.at("dim")};
    case OpKind::reduce: return {op.get("outputs", 1), op.at("cols")};
    default: return {op.at("rows"), op.at("cols")};
  }
}

void Step::run() {
  check();
  // Batch norms use batch statistics; cuDNN's RNN forward keeps its gate
  // activations for the backward (cudnnRNNForward in CUDNN_FWD_MODE_TRAINING).
  for (auto& op : m_g.ops)
    if (op.kind == OpKind::batchnorm || op.kind == OpKind::rnn_cell) op.attrs["training"] = 1;
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

void Step::check() const {
  for (const auto& op : m_g.ops) {
    if (op.kind == OpKind::kv_read || op.kind == OpKind::kv_write)
      throw InputError(fmt::format("train=1: op '{}' ({}) reads or writes a KV cache, which only "
                                   "inference uses", op.name, op_kind_name(op.kind)));
    if (is_collective_kind(op.kind))
      throw InputError(fmt::format("train=1: op '{}' ({}): collectives have no backward rule",
                                   op.name, op_kind_name(op.kind)));
    if (is_training_op(op))
      throw InputError(fmt::format("train=1: op '{}' is already part of a training step", op.name));
    if (op.kind == OpKind::matmul && op.get("rnn", 0) == 3)
      throw InputError(
          fmt::format("train=1: op '{}' is a persistent cuDNN RNN recurrence (rnn=3), whose backward "
                      "is not modelled; the standard algorithm's is (algo=standard)",
                      op.name));
  }
}

// Data dependencies, each producer once, in order.
std::vector<int> Step::unique_deps(const Op& op) {
  std::vector<int> out;
  for (int d : op.deps)
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  return out;
}

// requires_grad of each forward op's output: it has weights, or reads a tensor
// that requires grad (or, for functional kernels, a leaf input). Integer and
// boolean results (masks, indices) never do.
void Step::mark_requires_grad() {
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
void Step::seed_outputs() {
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
  if (m_amp_loss) {
    // loss.backward(): torch.autograd's _make_grads creates the seed with
    // torch.ones_like(loss) (one fill kernel of the scalar).
    for (int i = 0; i < m_fwd; ++i)
      if (m_grad[i] == k_seed) m_grad[i] = emit(vec_op(OpKind::copy, "loss.backward_seed", 1, 1, DType::fp32,
                                                       DType::fp32, {i}));
  }
}

// The format of the gradient `src` hands to the tensor of forward op `d`.
DType Step::grad_dtype(int d, int src) const {
  return src >= 0 ? m_g.ops[static_cast<size_t>(src)].out_dtype : m_g.ops[static_cast<size_t>(d)].out_dtype;
}

// deps of a backward kernel: the gradient it reads (unless it is the seed), the
// forward tensors it reads, and the forward op whose backward it is (autograd
// runs a node's backward after its forward, also when the gradient is given).
std::vector<int> Step::with_grad(int grad, std::vector<int> saved) const {
  std::vector<int> deps;
  if (grad >= 0) deps.push_back(grad);
  saved.push_back(m_cur);
  for (int s : saved)
    if (s >= 0 && std::find(deps.begin(), deps.end(), s) == deps.end()) deps.push_back(s);
  return deps;
}

Op Step::vec_op(OpKind kind, std::string name, int64_t rows, int64_t cols, DType in, DType out,
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

Op Step::matmul_op(std::string name, int64_t batch, int64_t m, int64_t n, int64_t k, DType t,
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

Op Step::reduce_op(std::string name, int64_t rows, int64_t cols, int64_t inputs, int64_t outputs,
                   DType in, DType out, std::vector<int> deps) {
  Op op = vec_op(OpKind::reduce, std::move(name), rows, cols, in, out, std::move(deps));
  if (inputs != 1) op.attrs["inputs"] = inputs;
  if (outputs != 1) op.attrs["outputs"] = outputs;
  return op;
}

// Hands a gradient made by op `src` (or the seed, or a pass-through) to the
// tensor of forward op `d`; a second one is added to the first.
void Step::contribute(int d, int src) {
  if (d < 0 || !m_rg[d]) return;
  if (m_amp && src >= 0 && grad_dtype(d, src) != m_g.ops[d].out_dtype) {
    // The engine's validate_outputs (torch/csrc/autograd/engine.cpp) casts a
    // gradient to its input's type: a bf16 input of an fp32 (promoted) op gets
    // the fp32 gradient cast, one kernel.
    const auto [rows, cols] = out_shape(m_g.ops[d]);
    src = emit(vec_op(OpKind::copy, m_g.ops[d].name + ".grad_cast", rows, cols, grad_dtype(d, src),
                      m_g.ops[d].out_dtype, {src}));
  }
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
void Step::join(int d, int src) {
  if (d < 0 || !m_rg[d]) return;
  if (m_grad[d] == k_none) {
    m_grad[d] = src;
    return;
  }
  m_joined[d].push_back(src);
}

void Step::weight_grad(int i, int src, int64_t rows, int64_t cols, const char* what, bool whole_group) {
  m_wgrad[i] = 1;
  const Op op = m_g.ops[i];   // copy: emitting grows the vector
  // Mixed precision: a bf16 product's weight gradient goes back through the
  // autocast cast (ToCopyBackward0: one bf16 -> fp32 kernel) into the fp32 .grad.
  const bool cast_back = m_amp && op.dtype != DType::fp32 &&
                         (op.kind == OpKind::matmul || op.kind == OpKind::conv2d);
  const auto to_fp32 = [&](int g) {
    return emit(vec_op(OpKind::copy, fmt::format("{}.{}_to_fp32", op.name, what), rows, cols, op.dtype,
                       DType::fp32, {g}));
  };
  const int64_t tied = op.get("tied", 0);
  if (tied == 0) {
    m_param_grads.push_back(cast_back ? to_fp32(src) : src);
    return;
  }
  if (!cast_back) m_param_grads.push_back(src);
  auto& prev = m_tied_grad[{tied, what}];
  int& left = m_tied_left[{tied, what}];
  if (prev == 0) {
    // Uses of the tied weight: the cached cast's input buffer sums them all first.
    for (int j = 0; j < m_fwd; ++j) left += m_g.ops[j].get("tied", 0) == tied ? 1 : 0;
  }
  --left;
  if (whole_group) left = 0;
  if (prev == 0) {
    prev = src + 1;
  } else {
    Op add = vec_op(OpKind::add, fmt::format("{}.{}_acc", op.name, what), rows, cols, op.dtype, op.dtype,
                    {prev - 1, src});
    add.attrs["inputs"] = 2;
    prev = emit(std::move(add)) + 1;
    if (!cast_back) m_param_grads.push_back(prev - 1);
  }
  if (cast_back && left <= 0) m_param_grads.push_back(to_fp32(prev - 1));
}

}  // namespace training

bool has_parameters(const Graph& g) {
  return std::any_of(g.ops.begin(), g.ops.end(),
                     [](const Op& op) { return !training::param_tensors(op).empty(); });
}

void append_training_step(Graph& g, const TrainingOptions& opt) {
  if (!opt.inputs_require_grad) training::add_batchnorm_counters(g);   // nn.BatchNorm2d modules only
  if (opt.amp != Amp::none) training::apply_autocast(g, opt.amp, opt.amp_loss);
  training::Step(g, opt).run();
}

}  // namespace tessera
