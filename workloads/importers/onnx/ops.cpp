// ONNX import: the operator table and the compute operators (products,
// convolutions, pools, element-wise and row-wise operators).
#include <fmt/format.h>

#include <algorithm>

#include "workloads/builder.h"
#include "workloads/importers/onnx/importer.h"

namespace tessera::onnx {

// The operators the importer accepts and the handler of each. check_supported()
// reports every node whose operator is not listed (and lists these, sorted, as
// the accepted ones); node() imports through the same entry.
const std::map<std::string_view, OnnxImporter::OpRule, std::less<>>& OnnxImporter::op_table() {
  using I = OnnxImporter;
  static const std::map<std::string_view, OpRule, std::less<>> table = {
      {"MatMul", {[](I& m) { m.matmul(); }}},
      {"Gemm", {[](I& m) { m.gemm(); }}},
      {"Einsum", {[](I& m) { m.einsum(); }}},
      {"LSTM", {[](I& m) { m.rnn(false); }}},
      {"GRU", {[](I& m) { m.rnn(true); }}},
      {"TopK", {[](I& m) { m.topk(); }}},
      {"Conv", {[](I& m) { m.conv(); }}},
      {"ConvTranspose", {[](I& m) { m.conv_transpose(); }}},
      {"MaxPool", {[](I& m) { m.pool(OpKind::maxpool); }}},
      {"AveragePool", {[](I& m) { m.pool(OpKind::avgpool); }}},
      {"GlobalAveragePool", {[](I& m) { m.global_pool(false); }}},
      {"GlobalMaxPool", {[](I& m) { m.global_pool(true); }}},
      // Element-wise operators by cost class (the IR kind whose per-element work
      // matches: relu one lane operation, tanh one special-function result, sigmoid
      // an exponential and a reciprocal, gelu an erf; add/mul read `inputs` full-size
      // operands). The node keeps its name.
      {"Relu", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"LeakyRelu", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Clip", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"HardSwish", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Neg", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Abs", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Sign", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Floor", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Ceil", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Round", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Not", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Sigmoid", {[](I& m) { m.elementwise(OpKind::sigmoid); }}},
      // max(0, min(1, alpha x + beta)): a clamp, no transcendental (as HardSwish).
      {"HardSigmoid", {[](I& m) { m.elementwise(OpKind::relu); }}},
      {"Exp", {[](I& m) { m.elementwise(OpKind::sigmoid); }}},
      {"Log", {[](I& m) { m.elementwise(OpKind::sigmoid); }}},
      {"Softplus", {[](I& m) { m.elementwise(OpKind::sigmoid); }}},
      {"Tanh", {[](I& m) { m.elementwise(OpKind::tanh); }}},
      {"Sqrt", {[](I& m) { m.elementwise(OpKind::tanh); }}},
      {"Reciprocal", {[](I& m) { m.elementwise(OpKind::tanh); }}},
      {"Sin", {[](I& m) { m.elementwise(OpKind::tanh); }}},
      {"Cos", {[](I& m) { m.elementwise(OpKind::tanh); }}},
      {"Gelu", {[](I& m) { m.elementwise(OpKind::gelu); }}},
      {"Erf", {[](I& m) { m.elementwise(OpKind::gelu); }}},
      {"Add", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Sub", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Sum", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Max", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Min", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Mod", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Equal", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Less", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Greater", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"LessOrEqual", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"GreaterOrEqual", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"And", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Or", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Xor", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Where", {[](I& m) { m.elementwise(OpKind::add); }}},
      {"Mul", {[](I& m) { m.elementwise(OpKind::mul); }}},
      {"Div", {[](I& m) { m.elementwise(OpKind::mul); }}},
      {"Pow", {[](I& m) { m.elementwise(OpKind::mul); }}},
      {"Softmax", {[](I& m) { m.softmax(); }}},
      {"LogSoftmax", {[](I& m) { m.softmax(); }}},
      {"LayerNormalization", {[](I& m) { m.layernorm(); }}},
      {"BatchNormalization", {[](I& m) { m.batchnorm(); }}},
      {"InstanceNormalization", {[](I& m) { m.instance_norm(); }}},
      {"ReduceMean", {[](I& m) { m.reduce_op(); }}},
      {"ReduceSum", {[](I& m) { m.reduce_op(); }}},
      {"ReduceMax", {[](I& m) { m.reduce_op(); }}},
      {"ReduceMin", {[](I& m) { m.reduce_op(); }}},
      {"ReduceProd", {[](I& m) { m.reduce_op(); }}},
      {"ReduceL2", {[](I& m) { m.reduce_op(); }}},
      {"ReduceSumSquare", {[](I& m) { m.reduce_op(); }}},
      {"Flatten", {[](I& m) { m.flatten(); }}},
      {"Reshape", {[](I& m) { m.reshape(); }}},
      {"Squeeze", {[](I& m) { m.squeeze(false); }}},
      {"Unsqueeze", {[](I& m) { m.squeeze(true); }}},
      {"Identity", {[](I& m) { m.alias(); }}},
      {"Dropout", {[](I& m) { m.dropout(); }}},
      {"Transpose", {[](I& m) { m.transpose(); }}},
      {"Concat", {[](I& m) { m.concat(); }}},
      {"Gather", {[](I& m) { m.gather(); }}},
      {"Expand", {[](I& m) { m.expand(); }}},
      {"Tile", {[](I& m) { m.tile(); }}},
      {"Pad", {[](I& m) { m.pad(); }}},
      {"Split", {[](I& m) { m.split(); }}},
      {"Resize", {[](I& m) { m.resize(); }}},
      {"ScatterND", {[](I& m) { m.same_shape_copy(); }}},
      {"Trilu", {[](I& m) { m.same_shape_copy(); }}},
      {"ConstantOfShape", {[](I& m) { m.constant_of_shape(); }}},
      {"Range", {[](I& m) { m.range(); }}},
      {"Constant", {[](I& m) { m.constant(); }, true}},
      {"Shape", {[](I& m) { m.shape(); }, true}},
      {"Cast", {[](I& m) { m.cast(); }}},
      {"Slice", {[](I& m) { m.slice(); }}},
  };
  return table;
}

std::vector<std::string_view> OnnxImporter::supported_ops() {
  std::vector<std::string_view> names;
  for (const auto& [name, rule] : op_table()) names.push_back(name);
  return names;
}

void OnnxImporter::matmul() {
  const Value& a = in(0);
  const Value& b = in(1);
  if (a.shape.empty() || b.shape.empty()) fail("MatMul of a scalar");
  std::vector<int64_t> as = a.shape, bs = b.shape;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), k2 = bs[bs.size() - 2], n = bs.back();
  if (k != k2)
    fail(fmt::format("inner dimensions differ: [{}] x [{}]", fmt::join(a.shape, ","),
                     fmt::join(b.shape, ",")));
  const std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const std::vector<int64_t> batch = broadcast(a_batch, b_batch);
  Op op;
  op.kind = OpKind::matmul;
  op.dtype = a.dtype;
  op.out_dtype = product_out_dtype(a.dtype);
  if (numel(b_batch) == 1) {  // one B for every row block: a single (m*batch) x k product
    op.attrs = {{"batch", 1}, {"m", numel(batch) * m}, {"n", n}, {"k", k}, {"b_shared", 1}};
    mark_weight(op);
  } else {
    op.attrs = {{"batch", numel(batch)}, {"m", m}, {"n", n}, {"k", k}};
  }
  Value out;
  out.shape = batch;
  if (!a_vec) out.shape.push_back(m);
  if (!b_vec) out.shape.push_back(n);
  out.dtype = op.out_dtype;
  out.producer = emit(op);
  set_out(out);
}

void OnnxImporter::gemm() {
  const Value& a = in(0);
  const Value& b = in(1);
  if (a.shape.size() != 2 || b.shape.size() != 2) fail("Gemm needs 2-D A and B");
  const bool ta = m_node->attr_i("transA", 0) != 0, tb = m_node->attr_i("transB", 0) != 0;
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t k2 = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1];
  if (k != k2)
    fail(fmt::format("inner dimensions differ: A [{}]{} x B [{}]{}", fmt::join(a.shape, ","),
                     ta ? "^T" : "", fmt::join(b.shape, ","), tb ? "^T" : ""));
  Op op;
  op.kind = OpKind::matmul;
  op.dtype = a.dtype;
  op.out_dtype = product_out_dtype(a.dtype);
  op.attrs = {{"batch", 1}, {"m", m}, {"n", n}, {"k", k}, {"b_shared", 1}};
  mark_weight(op);
  emit_out(op, {m, n}, op.out_dtype);
}

void OnnxImporter::mark_weight(Op& op) {
  if (!in(1).is_const || !m_weights.insert(m_node->inputs[1]).second) return;
  op.attrs["param"] = 1;
}

// Conv over 1, 2 or 3 spatial axes (Conv1d, Conv2d, Conv3d): the IR's conv2d, a
// 1-D one with a height of 1, a 3-D one with its depth (d, t, stride_d, pad_d,
// dilation_d).
void OnnxImporter::conv() {
  const Value& x = in(0);
  const Value& w = in(1);
  if (x.shape.size() < 3 || x.shape.size() > 5 || w.shape.size() != x.shape.size())
    fail(fmt::format(
        "only 1-D, 2-D and 3-D convolution is supported (3- to 5-D input and weight of the same rank); "
        "got input [{}] and weight [{}]",
        fmt::join(x.shape, ","), fmt::join(w.shape, ",")));
  const size_t axes = x.shape.size() - 2;
  const int64_t groups = m_node->attr_i("group", 1);
  const AxisPair stride = axis_pair("strides", axes, 1), dil = axis_pair("dilations", axes, 1);
  if (x.shape[1] != w.shape[1] * groups)
    fail(fmt::format("input has {} channels but the weight [{}] with group={} expects {}",
                     x.shape[1], fmt::join(w.shape, ","), groups, w.shape[1] * groups));
  const std::vector<int64_t> in_sp(x.shape.begin() + 2, x.shape.end()), k(w.shape.begin() + 2, w.shape.end());
  const Window win = window(in_sp, k, stride, dil, false);
  Op op;
  op.kind = OpKind::conv2d;
  op.dtype = x.dtype;
  op.out_dtype = product_out_dtype(x.dtype);
  op.attrs = {{"n", x.shape[0]}, {"cin", x.shape[1]}, {"cout", w.shape[0]}, {"groups", groups}};
  set_window(op, win, k, stride, dil);
  std::vector<int64_t> out = {x.shape[0], w.shape[0]};
  for (int64_t o : win.out) {
    if (o <= 0)
      fail(fmt::format("filter {} does not fit input {}", fmt::join(k, "x"), fmt::join(in_sp, "x")));
    out.push_back(o);
  }
  emit_out(op, out, op.out_dtype);
}

// MaxPool / AveragePool over 1, 2 or 3 spatial axes (as conv()).
void OnnxImporter::pool(OpKind kind) {
  const Value& x = in(0);
  if (x.shape.size() < 3 || x.shape.size() > 5)
    fail(fmt::format("only 1-D, 2-D and 3-D pooling is supported (3- to 5-D input); got [{}]",
                     fmt::join(x.shape, ",")));
  const size_t axes = x.shape.size() - 2;
  const OnnxAttr* ks = m_node->attr("kernel_shape");
  if (!ks || ks->ints.size() != axes) fail(fmt::format("kernel_shape must list {} value(s)", axes));
  const AxisPair stride = axis_pair("strides", axes, 1);
  if (const AxisPair dil = axis_pair("dilations", axes, 1); dil.hw != 1 || dil.d != 1 || dil.width() != 1)
    fail("dilated pooling is not supported");
  const std::vector<int64_t> in_sp(x.shape.begin() + 2, x.shape.end()), k = ks->ints;
  const Window win = window(in_sp, k, stride, {1, 1}, m_node->attr_i("ceil_mode", 0) != 0);
  Op op;
  op.kind = kind;
  op.dtype = op.out_dtype = x.dtype;
  op.attrs = {{"n", x.shape[0]}, {"c", x.shape[1]}};
  set_window(op, win, k, stride, {1, 1});
  std::vector<int64_t> out = {x.shape[0], x.shape[1]};
  for (int64_t o : win.out) {
    if (o <= 0)
      fail(fmt::format("window {} does not fit input {}", fmt::join(k, "x"), fmt::join(in_sp, "x")));
    out.push_back(o);
  }
  emit_out(op, out, x.dtype);
}

void OnnxImporter::global_pool(bool max) {
  const Value& x = in(0);
  if (x.shape.size() < 3 || x.shape.size() > 5)
    fail(fmt::format("only 1-D, 2-D and 3-D pooling is supported (3- to 5-D input); got [{}]",
                     fmt::join(x.shape, ",")));
  const std::vector<int64_t> in_sp(x.shape.begin() + 2, x.shape.end());
  Op op;
  op.kind = max ? OpKind::maxpool : OpKind::avgpool;
  op.dtype = op.out_dtype = x.dtype;
  op.attrs = {{"n", x.shape[0]}, {"c", x.shape[1]}};
  Window win;
  win.in = in_sp;
  set_window(op, win, in_sp, {1, 1}, {1, 1});
  std::vector<int64_t> out = {x.shape[0], x.shape[1]};
  out.resize(x.shape.size(), 1);
  emit_out(op, out, x.dtype);
}

// Dropout (opset 12+: data, ratio, training_mode; outputs output and mask). With
// training_mode absent or a constant false, what every inference export has, it is
// the identity. With training_mode a constant true (torch.onnx.export with
// TrainingMode.TRAINING, or a training graph) it draws its mask: one native_dropout
// kernel reading x and writing the output and a bool mask, as PyTorch runs
// nn.Dropout in model.train() (the `dropout` op; a ratio > 0 does not change the
// kernel's work; a constant ratio 0 is the identity). A training_mode computed at
// run time is refused: which kernel runs depends on it.
void OnnxImporter::dropout() {
  bool training = false;
  if (has_in(2)) {
    const Value& mode = in(2);
    if (!mode.values || mode.values->size() != 1)
      fail(
          fmt::format("training_mode '{}' is not known before the model runs; accepted: a constant scalar "
                      "true or false (an initializer or a Constant), which decides whether a mask is drawn",
                      m_node->inputs[2]));
    training = (*mode.values)[0] != 0;
  }
  // ratio 0 (a constant): nothing is dropped, and PyTorch's dropout returns its
  // input without a kernel (torchvision's Swin exports F.dropout(attn, p=0.0,
  // training=True) so). An unknown ratio is taken as > 0.
  if (training && has_in(1) && in(1).real && *in(1).real == 0.0) training = false;
  if (!training) {
    alias();
    if (m_node->outputs.size() > 1 && !m_node->outputs[1].empty()) {
      // The mask of an inference Dropout is all true: a constant, no kernel.
      Value mask = in(0);
      mask.dtype = DType::uint8;
      mask.producer = -1;
      mask.is_const = true;
      mask.values.reset();
      set_out(mask, 1);
    }
    return;
  }
  const Value& x = in(0);
  Op op = vec_op(OpKind::dropout, x.shape, x.dtype);
  emit_out(op, x.shape, x.dtype);
  if (m_node->outputs.size() > 1 && !m_node->outputs[1].empty()) {
    Value mask = m_values.at(m_node->outputs[0]);
    mask.dtype = DType::uint8;
    set_out(mask, 1);
  }
}

void OnnxImporter::softmax() {
  const Value& x = in(0);
  const size_t rank = x.shape.size();
  Op op = vec_op(OpKind::softmax, x.shape, x.dtype);
  if (rank > 0) {
    // Opset 13 normalises along `axis` alone (default -1); earlier opsets
    // flatten from `axis` (default 1) onwards.
    const bool v13 = m_model.opset == 0 || m_model.opset >= 13;
    const int64_t ax = axis(m_node->attr_i("axis", v13 ? -1 : 1), rank);
    int64_t cols = 1;
    for (size_t i = static_cast<size_t>(ax); i < (v13 ? static_cast<size_t>(ax) + 1 : rank); ++i)
      cols = mul_checked(cols, x.shape[i]);
    if (cols == 0) fail(fmt::format("softmax over an empty dimension of [{}]", fmt::join(x.shape, ",")));
    op.attrs["cols"] = cols;
    op.attrs["rows"] = numel(x.shape) / cols;
  }
  emit_out(op, x.shape, x.dtype);
}

void OnnxImporter::layernorm() {
  const Value& x = in(0);
  if (x.shape.empty()) fail("LayerNormalization of a scalar");
  const int64_t ax = axis(m_node->attr_i("axis", -1), x.shape.size());
  int64_t cols = 1;
  for (size_t i = static_cast<size_t>(ax); i < x.shape.size(); ++i) cols = mul_checked(cols, x.shape[i]);
  if (cols == 0) fail(fmt::format("normalisation over an empty dimension of [{}]", fmt::join(x.shape, ",")));
  Op op = vec_op(OpKind::layernorm, x.shape, x.dtype);
  op.attrs["cols"] = cols;
  op.attrs["rows"] = numel(x.shape) / cols;
  emit_out(op, x.shape, x.dtype);
}

void OnnxImporter::batchnorm() {
  const Value& x = in(0);
  if (x.shape.size() < 2 || x.shape[1] == 0) fail("BatchNormalization needs an N x C x ... input with C >= 1");
  Op op = vec_op(OpKind::batchnorm, x.shape, x.dtype);
  op.attrs["cols"] = x.shape[1];
  op.attrs["rows"] = numel(x.shape) / x.shape[1];
  if (x.shape[0] > 0) op.attrs["n"] = x.shape[0];   // the batch: cuDNN's limit (compiler/tensorcore/batchnorm.h)
  emit_out(op, x.shape, x.dtype);
}

// LSTM and GRU in the structure of the built-in `lstm` and `gru` workloads
// (cuDNN's, which ONNX Runtime's CUDA provider also calls: the input projection
// of every step at once, then per step the recurrent GEMM and the fused cell;
// workloads/models/rnn.cpp), once per direction, the node being one call. X is [seq, batch, input] ([batch,
// seq, input] with layout=1), W [directions, gates x hidden, input] (LSTM 4 gates, GRU 3). GRU's
// linear_before_reset (PyTorch exports 1) picks where the reset gate applies.
void OnnxImporter::rnn(bool gru) {
  const Value& x = in(0);
  const Value& w = in(1);
  const int64_t gates = gru ? 3 : 4;
  if (x.shape.size() != 3) fail(fmt::format("X must be 3-D; got [{}]", fmt::join(x.shape, ",")));
  const bool batch_first = m_node->attr_i("layout", 0) != 0;
  const int64_t seq = batch_first ? x.shape[1] : x.shape[0], batch = batch_first ? x.shape[0] : x.shape[1];
  const int64_t input = x.shape[2];
  const OnnxAttr* da = m_node->attr("direction");
  const std::string dir = da ? da->s : "forward";
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    fail(fmt::format("direction '{}' is not accepted; accepted: forward, reverse, bidirectional", dir));
  const int64_t dirs = dir == "bidirectional" ? 2 : 1;
  const int64_t hidden = m_node->attr_i("hidden_size", w.shape.size() == 3 ? w.shape[1] / gates : 0);
  if (hidden < 1 || w.shape.size() != 3 || w.shape[0] != dirs || w.shape[1] != mul_checked(gates, hidden) ||
      w.shape[2] != input)
    fail(fmt::format("W [{}] must be [{}, {} x hidden_size = {}, input = {}]", fmt::join(w.shape, ","), dirs,
                     gates, mul_checked(gates, hidden), input));
  if (!gru && has_in(7)) fail("peephole weights (input P) are not modelled");
  const int64_t lbr = gru ? m_node->attr_i("linear_before_reset", 0) : 1;
  if (lbr != 0 && lbr != 1) fail(fmt::format("linear_before_reset = {} must be 0 or 1", lbr));
  if (seq < 1 || batch < 1) fail(fmt::format("X [{}] has no steps or no sequences", fmt::join(x.shape, ",")));
  // Ops per direction: 2 seq + 1 (a GEMM and a cell per step); 10 seq - 3 for a
  // GRU without linear_before_reset (op by op).
  const double per_step = gru && !lbr ? 10.0 : 2.0;
  if (static_cast<double>(dirs) * per_step * static_cast<double>(seq) > static_cast<double>(int64_t{1} << 20))
    fail(fmt::format("{} steps give more than the 1048576 ops a run takes ({} per step and direction)", seq,
                     per_step));
  int last = -1;
  if (!m_folding) {
    GraphBuilder b(m_graph, x.dtype);
    b.set_linear_bias(has_in(3));
    int64_t tied = 0;  // each recurrent weight of each direction: its own tie group
    for (const Op& op : m_graph.ops) tied = std::max(tied, op.get("tied", 0));
    for (int64_t d = 0; d < dirs; ++d) {
      const bool reverse = dir == "reverse" || d == 1;
      const std::string pre = fmt::format("{}.{}.", m_name, reverse ? "reverse" : "forward");
      const std::vector<int> hs =
          gru ? gru_layer(b, pre, deps_of_inputs(), batch, seq, input, hidden, tied + 2 * d + 1, lbr != 0,
                          tied + 2 * d + 2, d == 0)
              : lstm_layer(b, pre, deps_of_inputs(), batch, seq, input, hidden, tied + d + 1, d == 0);
      last = hs.back();
    }
  }
  Value y;
  y.dtype = x.dtype;
  y.producer = last;
  y.shape = batch_first ? std::vector<int64_t>{batch, seq, dirs, hidden} : std::vector<int64_t>{seq, dirs, batch, hidden};
  set_out(y, 0);
  y.shape = batch_first ? std::vector<int64_t>{batch, dirs, hidden} : std::vector<int64_t>{dirs, batch, hidden};
  set_out(y, 1);
  if (!gru) set_out(y, 2);
}

// ConvTranspose (1-D, 2-D, 3-D): what cuDNN runs for it, the data gradient
// (dgrad) of the convolution it transposes (PyTorch's cudnn_convolution_transpose):
// an IR conv2d with grad=1 whose forward input is the output [N, C_out, ...out]
// and whose forward output is this node's input, so FLOPs and the dgrad GEMM are
// the convolution's. Out = (In - 1) x stride - 2 pad + dilation x (k - 1) +
// output_padding + 1 per axis; W is [C_in, C_out / group, k...]. The padding is
// symmetric on each axis (IR pad, pad_w and pad_d).
void OnnxImporter::conv_transpose() {
  const Value& x = in(0);
  const Value& w = in(1);
  if (x.shape.size() < 3 || x.shape.size() > 5 || w.shape.size() != x.shape.size())
    fail(fmt::format(
        "only 1-D, 2-D and 3-D transposed convolution is supported (3- to 5-D input and weight of "
        "the same rank); got input [{}] and weight [{}]",
        fmt::join(x.shape, ","), fmt::join(w.shape, ",")));
  const size_t axes = x.shape.size() - 2;
  const int64_t groups = m_node->attr_i("group", 1);
  if (x.shape[1] != w.shape[0])
    fail(fmt::format("input has {} channels but the weight [{}] expects {}", x.shape[1], fmt::join(w.shape, ","),
                     w.shape[0]));
  if (m_node->attr("output_shape")) fail("attribute output_shape is not supported; give pads and output_padding");
  if (const OnnxAttr* ap = m_node->attr("auto_pad"); ap && ap->s != "NOTSET" && ap->s != "VALID")
    fail(fmt::format("auto_pad '{}' is not supported for ConvTranspose; accepted: NOTSET, VALID", ap->s));
  const AxisPair stride = axis_pair("strides", axes, 1), dil = axis_pair("dilations", axes, 1);
  // pads [begin..., end...]: each axis's begin equal to its end.
  AxisPair pad{0, 0, 0};
  if (const OnnxAttr* pa = m_node->attr("pads"); pa && !pa->ints.empty()) {
    const std::vector<int64_t>& v = pa->ints;
    bool ok = v.size() == 2 * axes;
    for (size_t i = 0; ok && i < axes; ++i) ok = v[i] == v[i + axes];
    if (!ok)
      fail(fmt::format("pads [{}] must list a begin and an end for each of {} axes, equal on both sides",
                       fmt::join(v, ","), axes));
    pad = {axes >= 2 ? v[axes - 2] : 0, axes == 3 ? v[0] : 0, v[axes - 1]};
  }
  const OnnxAttr* op_pad = m_node->attr("output_padding");
  const std::vector<int64_t> extra = op_pad ? op_pad->ints : std::vector<int64_t>(axes, 0);
  const std::vector<int64_t> k(w.shape.begin() + 2, w.shape.end());
  const auto of = [&](AxisPair p, size_t i) { return p.of(i, axes); };
  bool extra_ok = extra.size() == axes;
  for (size_t i = 0; extra_ok && i < axes; ++i)
    extra_ok = extra[i] >= 0 && extra[i] < std::max(of(stride, i), of(dil, i));
  if (!extra_ok)
    fail(fmt::format("output_padding [{}] must list {} value(s) below the stride or dilation",
                     fmt::join(extra, ","), axes));
  const int64_t cout = mul_checked(w.shape[1], groups);
  Window win;
  win.pad = pad.hw;
  win.pad_d = pad.d;
  win.pad_w = pad.width();
  std::vector<int64_t> out_sp;
  for (size_t i = 0; i < axes; ++i) {
    if (x.shape[2 + i] < 1 || k[i] < 1)
      fail(fmt::format("input [{}] or kernel {} is empty", fmt::join(x.shape, ","), fmt::join(k, "x")));
    const __int128 o128 = static_cast<__int128>(x.shape[2 + i] - 1) * of(stride, i) -
                          2 * static_cast<__int128>(of(pad, i)) +
                          static_cast<__int128>(of(dil, i)) * (k[i] - 1) + extra[i] + 1;
    if (o128 > (int64_t{1} << 62)) fail("the output is larger than 2^62 per axis");
    if (o128 < 1)
      fail(fmt::format("input [{}] with kernel {}, stride {} and pad {} gives no output",
                       fmt::join(x.shape, ","), fmt::join(k, "x"), of(stride, i), of(pad, i)));
    out_sp.push_back(static_cast<int64_t>(o128));
    win.in.push_back(static_cast<int64_t>(o128));
  }
  Op op;
  op.kind = OpKind::conv2d;
  op.dtype = x.dtype;
  op.out_dtype = product_out_dtype(x.dtype);
  op.attrs = {{"n", x.shape[0]},  {"cin", cout}, {"cout", x.shape[1]},
              {"groups", groups}, {"grad", 1},   {"transposed", 1}};
  set_window(op, win, k, stride, dil);
  std::vector<int64_t> out = {x.shape[0], cout};
  out.insert(out.end(), out_sp.begin(), out_sp.end());
  emit_out(op, out, op.out_dtype);
}

// InstanceNormalization: each (n, c) row of H x W (or of whatever follows C)
// normalised, a LayerNorm-like row kernel; GroupNorm exports reach it with the
// input reshaped to [N, groups, C / groups x H x W].
void OnnxImporter::instance_norm() {
  const Value& x = in(0);
  if (x.shape.size() < 3) fail("InstanceNormalization needs an N x C x D1 ... input");
  int64_t cols = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) cols = mul_checked(cols, x.shape[i]);
  if (cols == 0 || x.shape[1] == 0)
    fail(fmt::format("normalisation over an empty dimension of [{}]", fmt::join(x.shape, ",")));
  Op op = vec_op(OpKind::layernorm, x.shape, x.dtype);
  op.attrs["cols"] = cols;
  op.attrs["rows"] = numel(x.shape) / cols;
  op.attrs["affine"] = x.shape[1];  // scale and B: one per channel
  emit_out(op, x.shape, x.dtype);
}

}  // namespace tessera::onnx
