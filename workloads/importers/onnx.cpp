// ONNX importer. The model is decoded straight from the protobuf wire format
// with the field numbers of onnx.proto (Debian's libonnx-dev ships it as
// /usr/include/onnx/onnx.proto): ModelProto.graph = 7, opset_import = 8;
// GraphProto.node = 1, initializer = 5, input = 11, output = 12, value_info = 13;
// NodeProto.input = 1, output = 2, name = 3, op_type = 4, attribute = 5,
// domain = 7; AttributeProto.name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7,
// ints = 8, type = 20; TensorProto.dims = 1, data_type = 2, int32_data = 5,
// int64_data = 7, name = 8, raw_data = 9; ValueInfoProto.name = 1, type = 2;
// TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1, shape = 2;
// TensorShapeProto.dim = 1; Dimension.dim_value = 1, dim_param = 2.
// (libonnx's generated C++ classes need libprotobuf's headers, which are not
// among the project's dependencies; the wire format is stable and small.)
//
// Shapes are inferred node by node from the graph inputs and initializers.
// Symbolic dimensions (dim_param, e.g. a batch size) are taken as 1 and
// counted in info["onnx_symbolic_dims"]. Nodes whose inputs are all constants
// (initializers, Constant, Shape outputs) are folded: they launch nothing.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/importers.h"
#include "workloads/importers/common.h"
#include "workloads/importers/protobuf_wire.h"

namespace tessera {
namespace {

using importers::WireReader;
using importers::WireType;

struct OnnxTensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  std::string_view raw;
  std::vector<int64_t> ints;  // int32_data / int64_data
};

struct OnnxAttr {
  std::string name;
  int64_t type = 0;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<int64_t> ints;
  bool has_t = false;
  OnnxTensor t;
};

struct OnnxNode {
  std::vector<std::string> inputs, outputs;
  std::string name, op_type, domain;
  std::vector<OnnxAttr> attrs;

  const OnnxAttr* attr(std::string_view n) const {
    for (const auto& a : attrs)
      if (a.name == n) return &a;
    return nullptr;
  }
  int64_t attr_i(std::string_view n, int64_t fallback) const {
    const OnnxAttr* a = attr(n);
    return a ? a->i : fallback;
  }
};

struct OnnxValueInfo {
  std::string name;
  int32_t elem_type = 0;
  bool has_shape = false;
  std::vector<int64_t> dims;  // -1: symbolic
};

struct OnnxGraph {
  std::vector<OnnxNode> nodes;
  std::vector<OnnxTensor> initializers;
  std::vector<OnnxValueInfo> inputs;
  int64_t opset = 0;  // default-domain opset version (0: not given)
};

std::string str(std::string_view v) { return std::string(v); }

OnnxTensor parse_tensor(WireReader r) {
  OnnxTensor t;
  uint32_t f;
  WireType w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: r.repeated_int64(w, t.dims); break;
      case 2: t.data_type = static_cast<int32_t>(r.int64(w)); break;
      case 5: case 7: r.repeated_int64(w, t.ints); break;
      case 8: t.name = str(r.bytes()); break;
      case 9: t.raw = r.bytes(); break;
      default: r.skip(w);
    }
  }
  return t;
}

WireReader sub(WireReader& r, std::string_view source, std::string_view what) {
  size_t off = 0;
  const std::string_view b = r.bytes(&off);
  return WireReader(b, source, what, off);
}

OnnxAttr parse_attr(WireReader r, std::string_view source) {
  OnnxAttr a;
  uint32_t f;
  WireType w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: a.name = str(r.bytes()); break;
      case 2:
        if (w != WireType::fixed32) r.fail("attribute float with a non-32-bit wire type");
        {
          const uint32_t bits = r.fixed32();
          std::memcpy(&a.f, &bits, 4);
        }
        break;
      case 3: a.i = r.int64(w); break;
      case 4: a.s = str(r.bytes()); break;
      case 5: a.has_t = true; a.t = parse_tensor(sub(r, source, "AttributeProto.t")); break;
      case 8: r.repeated_int64(w, a.ints); break;
      case 20: a.type = r.int64(w); break;
      default: r.skip(w);
    }
  }
  return a;
}

OnnxNode parse_node(WireReader r, std::string_view source) {
  OnnxNode n;
  uint32_t f;
  WireType w;
  while (r.next(f, w)) {
    switch (f) {
      case 1: n.inputs.push_back(str(r.bytes())); break;
      case 2: n.outputs.push_back(str(r.bytes())); break;
      case 3: n.name = str(r.bytes()); break;
      case 4: n.op_type = str(r.bytes()); break;
      case 5: n.attrs.push_back(parse_attr(sub(r, source, "AttributeProto"), source)); break;
      case 7: n.domain = str(r.bytes()); break;
      default: r.skip(w);
    }
  }
  return n;
}

OnnxValueInfo parse_value_info(WireReader r, std::string_view source) {
  OnnxValueInfo v;
  uint32_t f;
  WireType w;
  while (r.next(f, w)) {
    if (f == 1) {
      v.name = str(r.bytes());
    } else if (f == 2) {
      WireReader type = sub(r, source, "TypeProto");
      while (type.next(f, w)) {
        if (f != 1) { type.skip(w); continue; }
        WireReader tensor = sub(type, source, "TypeProto.Tensor");
        while (tensor.next(f, w)) {
          if (f == 1) {
            v.elem_type = static_cast<int32_t>(tensor.int64(w));
          } else if (f == 2) {
            v.has_shape = true;
            WireReader shape = sub(tensor, source, "TensorShapeProto");
            while (shape.next(f, w)) {
              if (f != 1) { shape.skip(w); continue; }
              WireReader dim = sub(shape, source, "TensorShapeProto.Dimension");
              int64_t value = -1;
              while (dim.next(f, w)) {
                if (f == 1) value = dim.int64(w);
                else dim.skip(w);
              }
              v.dims.push_back(value > 0 ? value : -1);
            }
          } else {
            tensor.skip(w);
          }
        }
      }
    } else {
      r.skip(w);
    }
  }
  return v;
}

OnnxGraph parse_model(std::string_view bytes, std::string_view source) {
  OnnxGraph g;
  WireReader model(bytes, source, "ModelProto", 0);
  uint32_t f;
  WireType w;
  bool has_graph = false;
  while (model.next(f, w)) {
    if (f == 8) {
      WireReader opset = sub(model, source, "OperatorSetIdProto");
      std::string domain;
      int64_t version = 0;
      while (opset.next(f, w)) {
        if (f == 1) domain = str(opset.bytes());
        else if (f == 2) version = opset.int64(w);
        else opset.skip(w);
      }
      if (domain.empty() || domain == "ai.onnx") g.opset = version;
    } else if (f == 7) {
      if (w != WireType::bytes) model.fail("graph field is not length-delimited");
      has_graph = true;
      WireReader graph = sub(model, source, "GraphProto");
      while (graph.next(f, w)) {
        switch (f) {
          case 1: g.nodes.push_back(parse_node(sub(graph, source, "NodeProto"), source)); break;
          case 5: g.initializers.push_back(parse_tensor(sub(graph, source, "TensorProto"))); break;
          case 11: g.inputs.push_back(parse_value_info(sub(graph, source, "ValueInfoProto"), source)); break;
          default: graph.skip(w);
        }
      }
    } else {
      model.skip(w);
    }
  }
  if (!has_graph)
    throw InputError(fmt::format("{}: not an ONNX model: no graph (ModelProto field 7) found",
                                 source));
  return g;
}

// ONNX TensorProto.DataType -> format.
std::optional<DType> onnx_dtype(int32_t t) {
  switch (t) {
    case 1: return DType::fp32;
    case 2: return DType::uint8;
    case 3: return DType::int8;
    case 6: case 7: case 12: case 13: case 4: case 5: return DType::int32;  // integer tensors
    case 9: return DType::uint8;   // bool
    case 10: return DType::fp16;
    case 11: return DType::fp64;
    case 16: return DType::bf16;
    case 17: return DType::fp8_e4m3;
    case 19: return DType::fp8_e5m2;
    default: return std::nullopt;
  }
}

// Integer contents of a constant tensor (int32/int64, raw or typed fields).
std::optional<std::vector<int64_t>> tensor_ints(const OnnxTensor& t) {
  if (t.data_type != 6 && t.data_type != 7) return std::nullopt;
  if (!t.ints.empty()) return t.ints;
  std::vector<int64_t> out;
  const size_t width = t.data_type == 7 ? 8 : 4;
  if (t.raw.size() % width != 0) return std::nullopt;
  for (size_t i = 0; i < t.raw.size(); i += width) {
    if (width == 8) {
      int64_t v;
      std::memcpy(&v, t.raw.data() + i, 8);
      out.push_back(v);
    } else {
      int32_t v;
      std::memcpy(&v, t.raw.data() + i, 4);
      out.push_back(v);
    }
  }
  return out;
}

// A tensor during shape inference.
struct Value {
  std::vector<int64_t> shape;
  DType dtype = DType::fp32;
  int producer = -1;     // op that wrote it (-1: graph input or constant)
  bool is_const = false; // known before the model runs (initializer, Constant, Shape)
  std::optional<std::vector<int64_t>> values;  // integer contents when known and small
};

// A shape with a negative dimension or more than 2^62 elements; turned into an
// InputError naming the node or tensor by the caller.
struct ShapeError {
  std::string what;
};

int64_t mul_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62))
    throw ShapeError{fmt::format("{} x {} is negative or larger than 2^62", a, b)};
  return r;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ShapeError{fmt::format("shape [{}] has a negative dimension", fmt::join(s, ","))};
    n = mul_checked(n, d);
  }
  return n;
}

const std::set<std::string>& supported_ops() {
  static const std::set<std::string> s = {
      "MatMul", "Gemm", "Conv", "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "Tanh",
      "Gelu", "Softmax", "LogSoftmax", "Add", "Sub", "Mul", "Div", "LayerNormalization",
      "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
      "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Transpose", "Concat",
      "Gather", "Constant", "Shape", "Cast", "Slice"};
  return s;
}

class OnnxImporter {
 public:
  OnnxImporter(const OnnxGraph& model, std::string_view source)
      : m_model(model), m_source(source) {}

  Graph run() {
    check_supported();
    for (const auto& t : m_model.initializers) {
      Value v;
      v.shape = t.dims;
      v.dtype = onnx_dtype(t.data_type).value_or(DType::fp32);
      v.is_const = true;
      try {
        if (numel(t.dims) <= 64) v.values = tensor_ints(t);
      } catch (const ShapeError& e) {
        throw InputError(fmt::format("{}: initializer '{}': {}", m_source, t.name, e.what));
      }
      m_values[t.name] = v;
    }
    for (const auto& in : m_model.inputs) {
      if (m_values.count(in.name)) continue;  // initializer listed as an input
      if (!in.has_shape)
        throw InputError(fmt::format("{}: graph input '{}' has no shape; the importer needs "
                                     "static input shapes", m_source, in.name));
      const auto dt = onnx_dtype(in.elem_type);
      if (!dt)
        throw InputError(fmt::format("{}: graph input '{}' has element type {}, which has no "
                                     "Tessera format", m_source, in.name, in.elem_type));
      Value v;
      v.dtype = *dt;
      for (int64_t d : in.dims) {
        if (d < 0) ++m_symbolic;
        v.shape.push_back(d < 0 ? 1 : d);
      }
      m_values[in.name] = v;
    }
    for (size_t i = 0; i < m_model.nodes.size(); ++i) {
      try {
        node(m_model.nodes[i], i);
      } catch (const ShapeError& e) {
        fail(e.what);
      }
    }
    if (m_graph.ops.empty())
      throw InputError(fmt::format("{}: the model launches no kernels (every node is a shape "
                                   "operation or folds to a constant)", m_source));
    m_graph.info["onnx_symbolic_dims"] = static_cast<double>(m_symbolic);
    m_graph.info["onnx_nodes"] = static_cast<double>(m_model.nodes.size());
    return std::move(m_graph);
  }

 private:
  void check_supported() const {
    std::string bad;
    int count = 0;
    for (size_t i = 0; i < m_model.nodes.size(); ++i) {
      const OnnxNode& n = m_model.nodes[i];
      const bool default_domain = n.domain.empty() || n.domain == "ai.onnx";
      if (default_domain && supported_ops().count(n.op_type)) continue;
      const std::string type = default_domain ? n.op_type : n.domain + "::" + n.op_type;
      bad += fmt::format("{}{} (node '{}')", bad.empty() ? "" : ", ", type, node_name(n, i));
      ++count;
    }
    if (count == 0) return;
    std::string accepted;
    for (const auto& s : supported_ops()) accepted += (accepted.empty() ? "" : ", ") + s;
    throw InputError(fmt::format("{}: {} unsupported ONNX operator node(s): {}; supported "
                                 "operators: {}", m_source, count, bad, accepted));
  }

  static std::string node_name(const OnnxNode& n, size_t i) {
    return n.name.empty() ? fmt::format("{}_{}", n.op_type, i) : n.name;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(fmt::format("{}: node '{}' ({}): {}", m_source, m_name, m_node->op_type, why));
  }

  // Input `i` of the current node (must exist and have a known shape).
  const Value& in(size_t i) const {
    if (i >= m_node->inputs.size() || m_node->inputs[i].empty())
      fail(fmt::format("input {} is missing", i));
    auto it = m_values.find(m_node->inputs[i]);
    if (it == m_values.end())
      fail(fmt::format("input '{}' is not produced by an earlier node, an initializer or a graph "
                       "input", m_node->inputs[i]));
    return it->second;
  }
  bool has_in(size_t i) const { return i < m_node->inputs.size() && !m_node->inputs[i].empty(); }

  std::vector<int> deps_of_inputs() const {
    std::vector<int> d;
    for (const auto& name : m_node->inputs) {
      auto it = m_values.find(name);
      if (!name.empty() && it != m_values.end() && it->second.producer >= 0 &&
          std::find(d.begin(), d.end(), it->second.producer) == d.end())
        d.push_back(it->second.producer);
    }
    return d;
  }

  void set_out(Value v, size_t idx = 0) {
    if (idx >= m_node->outputs.size()) return;
    v.is_const = m_folding;
    if (m_folding) v.producer = -1;
    m_values[m_node->outputs[idx]] = std::move(v);
  }

  // Appends an op for the current node unless it folds to a constant.
  int emit(Op op) {
    if (m_folding) return -1;
    op.name = m_name;
    op.deps = deps_of_inputs();
    return m_graph.add(std::move(op));
  }

  Op vec_op(OpKind kind, const std::vector<int64_t>& shape, DType dt) const {
    Op op;
    op.kind = kind;
    op.dtype = op.out_dtype = dt;
    const int64_t cols = shape.empty() ? 1 : shape.back();
    op.attrs = {{"rows", cols == 0 ? 0 : numel(shape) / cols}, {"cols", cols}};
    return op;
  }

  int64_t axis(int64_t a, size_t rank) const {
    const int64_t r = static_cast<int64_t>(rank);
    if (a < -r || a >= r) fail(fmt::format("axis {} is out of range for rank {}", a, rank));
    return a < 0 ? a + r : a;
  }

  std::vector<int64_t> ints_input_or_attr(size_t input, std::string_view attr) const {
    if (has_in(input)) {
      const Value& v = in(input);
      if (!v.values) fail(fmt::format("input '{}' must be a constant integer tensor",
                                      m_node->inputs[input]));
      return *v.values;
    }
    if (const OnnxAttr* a = m_node->attr(attr)) return a->ints;
    return {};
  }

  std::vector<int64_t> broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b) const {
    std::vector<int64_t> out(std::max(a.size(), b.size()), 1);
    for (size_t i = 0; i < out.size(); ++i) {
      const int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
      const int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
      if (x != y && x != 1 && y != 1)
        fail(fmt::format("shapes [{}] and [{}] do not broadcast", fmt::join(a, ","),
                         fmt::join(b, ",")));
      out[i] = std::max(x, y);
    }
    return out;
  }

  // Square stride/pad/dilation from ONNX's per-axis lists (the IR's contract).
  int64_t square(std::string_view what, const std::vector<int64_t>& v, int64_t fallback) const {
    if (v.empty()) return fallback;
    for (int64_t x : v)
      if (x != v[0])
        fail(fmt::format("{} [{}] differ between axes or sides; only equal values are supported",
                         what, fmt::join(v, ",")));
    return v[0];
  }

  // Padding of a conv/pool with kernel k (per axis) from pads or auto_pad.
  int64_t padding(const std::vector<int64_t>& in_hw, const std::vector<int64_t>& k, int64_t stride,
                  int64_t dil) const {
    const OnnxAttr* ap = m_node->attr("auto_pad");
    const std::string mode = ap ? ap->s : "NOTSET";
    if (mode == "NOTSET") {
      const OnnxAttr* pads = m_node->attr("pads");
      return pads ? square("pads", pads->ints, 0) : 0;
    }
    if (mode == "VALID") return 0;
    if (mode != "SAME_UPPER" && mode != "SAME_LOWER")
      fail(fmt::format("auto_pad '{}' is not accepted; accepted: NOTSET, VALID, SAME_UPPER, "
                       "SAME_LOWER", mode));
    std::vector<int64_t> totals;
    for (size_t i = 0; i < in_hw.size(); ++i) {
      const int64_t out = (in_hw[i] + stride - 1) / stride;
      totals.push_back(std::max<int64_t>(0, (out - 1) * stride + dil * (k[i] - 1) + 1 - in_hw[i]));
    }
    for (int64_t t : totals)
      if (t % 2 != 0 || t != totals[0])
        fail(fmt::format("auto_pad {} needs uneven padding [{}]; only symmetric padding is "
                         "supported", mode, fmt::join(totals, ",")));
    return totals[0] / 2;
  }

  void node(const OnnxNode& n, size_t index) {
    m_node = &n;
    m_name = node_name(n, index);
    const std::string& t = n.op_type;
    // Constant folding: a node whose inputs are all constants launches nothing.
    m_folding = t == "Constant" || t == "Shape";
    if (!m_folding) {
      bool all_const = true, any = false;
      for (const auto& name : n.inputs) {
        if (name.empty()) continue;
        any = true;
        auto it = m_values.find(name);
        all_const = all_const && it != m_values.end() && it->second.is_const;
      }
      m_folding = any && all_const;
    }
    if (t == "MatMul") return matmul();
    if (t == "Gemm") return gemm();
    if (t == "Conv") return conv();
    if (t == "MaxPool" || t == "AveragePool") return pool(t == "MaxPool" ? OpKind::maxpool : OpKind::avgpool);
    if (t == "GlobalAveragePool" || t == "GlobalMaxPool") return global_pool(t == "GlobalMaxPool");
    if (t == "Relu" || t == "LeakyRelu" || t == "Clip") return unary(OpKind::relu);
    if (t == "Sigmoid" || t == "HardSigmoid") return unary(OpKind::sigmoid);
    if (t == "Tanh") return unary(OpKind::tanh);
    if (t == "Gelu") return unary(OpKind::gelu);
    if (t == "Softmax" || t == "LogSoftmax") return softmax();
    if (t == "Add" || t == "Sub") return binary(OpKind::add);
    if (t == "Mul" || t == "Div") return binary(OpKind::mul);
    if (t == "LayerNormalization") return layernorm();
    if (t == "BatchNormalization") return batchnorm();
    if (t == "Flatten") return flatten();
    if (t == "Reshape") return reshape();
    if (t == "Squeeze" || t == "Unsqueeze") return squeeze(t == "Unsqueeze");
    if (t == "Identity" || t == "Dropout") return alias();
    if (t == "Transpose") return transpose();
    if (t == "Concat") return concat();
    if (t == "Gather") return gather();
    if (t == "Constant") return constant();
    if (t == "Shape") return shape();
    if (t == "Cast") return cast();
    if (t == "Slice") return slice();
    fail("operator is not handled");  // unreachable: check_supported() listed it
  }

  void matmul() {
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

  void gemm() {
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
    Value out;
    out.shape = {m, n};
    out.dtype = op.out_dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void conv() {
    const Value& x = in(0);
    const Value& w = in(1);
    if (x.shape.size() != 4 || w.shape.size() != 4)
      fail(fmt::format("only 2-D convolution is supported (4-D input and weight); got input [{}] "
                       "and weight [{}]", fmt::join(x.shape, ","), fmt::join(w.shape, ",")));
    const int64_t groups = m_node->attr_i("group", 1);
    const OnnxAttr* st = m_node->attr("strides");
    const OnnxAttr* di = m_node->attr("dilations");
    const int64_t stride = square("strides", st ? st->ints : std::vector<int64_t>{}, 1);
    const int64_t dil = square("dilations", di ? di->ints : std::vector<int64_t>{}, 1);
    const int64_t r = w.shape[2], s = w.shape[3];
    if (x.shape[1] != w.shape[1] * groups)
      fail(fmt::format("input has {} channels but the weight [{}] with group={} expects {}",
                       x.shape[1], fmt::join(w.shape, ","), groups, w.shape[1] * groups));
    const int64_t pad = padding({x.shape[2], x.shape[3]}, {r, s}, stride, dil);
    Op op;
    op.kind = OpKind::conv2d;
    op.dtype = x.dtype;
    op.out_dtype = product_out_dtype(x.dtype);
    op.attrs = {{"n", x.shape[0]}, {"cin", x.shape[1]}, {"cout", w.shape[0]}, {"h", x.shape[2]},
                {"w", x.shape[3]}, {"r", r}, {"s", s}, {"stride", stride}, {"pad", pad},
                {"dilation", dil}, {"groups", groups}};
    const int64_t ho = conv_out_dim(x.shape[2], r, stride, pad, dil);
    const int64_t wo = conv_out_dim(x.shape[3], s, stride, pad, dil);
    if (ho <= 0 || wo <= 0)
      fail(fmt::format("filter {}x{} does not fit input {}x{}", r, s, x.shape[2], x.shape[3]));
    Value out;
    out.shape = {x.shape[0], w.shape[0], ho, wo};
    out.dtype = op.out_dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void pool(OpKind kind) {
    const Value& x = in(0);
    if (x.shape.size() != 4)
      fail(fmt::format("only 2-D pooling is supported (4-D input); got [{}]", fmt::join(x.shape, ",")));
    const OnnxAttr* ks = m_node->attr("kernel_shape");
    if (!ks || ks->ints.size() != 2) fail("kernel_shape must list 2 values");
    const OnnxAttr* st = m_node->attr("strides");
    const OnnxAttr* di = m_node->attr("dilations");
    if (di && square("dilations", di->ints, 1) != 1) fail("dilated pooling is not supported");
    const int64_t stride = square("strides", st ? st->ints : std::vector<int64_t>{}, 1);
    const int64_t r = ks->ints[0], s = ks->ints[1];
    const int64_t pad = padding({x.shape[2], x.shape[3]}, {r, s}, stride, 1);
    const int64_t ho = conv_out_dim(x.shape[2], r, stride, pad, 1);
    const int64_t wo = conv_out_dim(x.shape[3], s, stride, pad, 1);
    if (m_node->attr_i("ceil_mode", 0) != 0) {
      const int64_t hc = (x.shape[2] + 2 * pad - r + stride - 1) / stride + 1;
      const int64_t wc = (x.shape[3] + 2 * pad - s + stride - 1) / stride + 1;
      if (hc != ho || wc != wo)
        fail("ceil_mode=1 changes the output size here; only floor rounding is supported");
    }
    if (ho <= 0 || wo <= 0)
      fail(fmt::format("window {}x{} does not fit input {}x{}", r, s, x.shape[2], x.shape[3]));
    Op op;
    op.kind = kind;
    op.dtype = op.out_dtype = x.dtype;
    op.attrs = {{"n", x.shape[0]}, {"c", x.shape[1]}, {"h", x.shape[2]}, {"w", x.shape[3]},
                {"r", r}, {"s", s}, {"stride", stride}, {"pad", pad}};
    Value out;
    out.shape = {x.shape[0], x.shape[1], ho, wo};
    out.dtype = x.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void global_pool(bool max) {
    const Value& x = in(0);
    if (x.shape.size() != 4)
      fail(fmt::format("only 2-D pooling is supported (4-D input); got [{}]", fmt::join(x.shape, ",")));
    Op op;
    op.kind = max ? OpKind::maxpool : OpKind::avgpool;
    op.dtype = op.out_dtype = x.dtype;
    op.attrs = {{"n", x.shape[0]}, {"c", x.shape[1]}, {"h", x.shape[2]}, {"w", x.shape[3]},
                {"r", x.shape[2]}, {"s", x.shape[3]}, {"stride", 1}, {"pad", 0}};
    Value out;
    out.shape = {x.shape[0], x.shape[1], 1, 1};
    out.dtype = x.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void unary(OpKind kind) {
    const Value& x = in(0);
    Value out;
    out.shape = x.shape;
    out.dtype = x.dtype;
    out.producer = emit(vec_op(kind, x.shape, x.dtype));
    set_out(out);
  }

  void softmax() {
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
        cols *= x.shape[i];
      op.attrs["cols"] = cols;
      op.attrs["rows"] = numel(x.shape) / cols;
    }
    Value out;
    out.shape = x.shape;
    out.dtype = x.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void binary(OpKind kind) {
    const Value& a = in(0);
    const Value& b = in(1);
    Value out;
    out.shape = broadcast(a.shape, b.shape);
    const bool a_act = !a.is_const, b_act = !b.is_const;
    out.dtype = a_act || !b_act ? a.dtype : b.dtype;
    if (a.values && b.values && (a.values->size() == b.values->size() || a.values->size() == 1 ||
                                 b.values->size() == 1)) {
      std::vector<int64_t> v(std::max(a.values->size(), b.values->size()));
      for (size_t i = 0; i < v.size(); ++i) {
        const int64_t x = (*a.values)[a.values->size() == 1 ? 0 : i];
        const int64_t y = (*b.values)[b.values->size() == 1 ? 0 : i];
        const std::string& t = m_node->op_type;
        v[i] = t == "Add" ? x + y : t == "Sub" ? x - y : t == "Mul" ? x * y : (y != 0 ? x / y : 0);
      }
      out.values = v;
    }
    Op op = vec_op(kind, out.shape, out.dtype);
    const int64_t full = numel(out.shape);
    op.attrs["inputs"] = (numel(a.shape) == full ? 1 : 0) + (numel(b.shape) == full ? 1 : 0);
    if (op.attrs["inputs"] == 0) op.attrs["inputs"] = 1;
    out.producer = emit(op);
    set_out(out);
  }

  void layernorm() {
    const Value& x = in(0);
    if (x.shape.empty()) fail("LayerNormalization of a scalar");
    const int64_t ax = axis(m_node->attr_i("axis", -1), x.shape.size());
    int64_t cols = 1;
    for (size_t i = static_cast<size_t>(ax); i < x.shape.size(); ++i) cols *= x.shape[i];
    Op op = vec_op(OpKind::layernorm, x.shape, x.dtype);
    op.attrs["cols"] = cols;
    op.attrs["rows"] = numel(x.shape) / cols;
    Value out;
    out.shape = x.shape;
    out.dtype = x.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void batchnorm() {
    const Value& x = in(0);
    if (x.shape.size() < 2) fail("BatchNormalization needs an N x C x ... input");
    Op op = vec_op(OpKind::batchnorm, x.shape, x.dtype);
    op.attrs["cols"] = x.shape[1];
    op.attrs["rows"] = numel(x.shape) / x.shape[1];
    Value out;
    out.shape = x.shape;
    out.dtype = x.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  // Shape-only operators: the output aliases the input's producer.
  void alias_with_shape(std::vector<int64_t> shape) {
    const Value& x = in(0);
    if (numel(shape) != numel(x.shape))
      fail(fmt::format("cannot view [{}] as [{}]", fmt::join(x.shape, ","), fmt::join(shape, ",")));
    Value out = x;
    out.shape = std::move(shape);
    set_out(out);
    if (!m_folding && x.is_const) m_values[m_node->outputs[0]].is_const = true;
  }

  void alias() { alias_with_shape(in(0).shape); }

  void flatten() {
    const Value& x = in(0);
    const int64_t ax = x.shape.empty() ? 0 : (m_node->attr_i("axis", 1) == static_cast<int64_t>(x.shape.size())
                                                  ? static_cast<int64_t>(x.shape.size())
                                                  : axis(m_node->attr_i("axis", 1), x.shape.size()));
    int64_t outer = 1;
    for (int64_t i = 0; i < ax; ++i) outer *= x.shape[static_cast<size_t>(i)];
    alias_with_shape({outer, numel(x.shape) / std::max<int64_t>(outer, 1)});
  }

  void reshape() {
    const Value& x = in(0);
    std::vector<int64_t> target = ints_input_or_attr(1, "shape");
    const bool allowzero = m_node->attr_i("allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == 0 && !allowzero) {
        if (i >= x.shape.size()) fail("shape entry 0 refers to a dimension the input lacks");
        target[i] = x.shape[i];
      }
      if (target[i] == -1) {
        if (infer >= 0) fail("shape has more than one -1");
        infer = static_cast<int>(i);
      } else {
        known = mul_checked(known, target[i]);
      }
    }
    if (infer >= 0) {
      if (known == 0 || numel(x.shape) % known != 0)
        fail(fmt::format("cannot reshape [{}] to [{}]", fmt::join(x.shape, ","), fmt::join(target, ",")));
      target[static_cast<size_t>(infer)] = numel(x.shape) / known;
    }
    alias_with_shape(target);
  }

  void squeeze(bool unsqueeze) {
    const Value& x = in(0);
    std::vector<int64_t> axes = ints_input_or_attr(1, "axes");
    std::vector<int64_t> shape = x.shape;
    if (unsqueeze) {
      const size_t rank = shape.size() + axes.size();
      for (auto& a : axes) a = axis(a, rank);
      std::sort(axes.begin(), axes.end());
      for (int64_t a : axes) shape.insert(shape.begin() + a, 1);
    } else if (axes.empty()) {
      shape.erase(std::remove(shape.begin(), shape.end(), 1), shape.end());
    } else {
      for (auto& a : axes) a = axis(a, shape.size());
      std::sort(axes.rbegin(), axes.rend());
      for (int64_t a : axes) {
        if (shape[static_cast<size_t>(a)] != 1) fail(fmt::format("cannot squeeze axis {} of size {}", a, shape[static_cast<size_t>(a)]));
        shape.erase(shape.begin() + a);
      }
    }
    alias_with_shape(shape);
  }

  void transpose() {
    const Value& x = in(0);
    std::vector<int64_t> perm;
    if (const OnnxAttr* p = m_node->attr("perm")) perm = p->ints;
    if (perm.empty())
      for (size_t i = x.shape.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    if (perm.size() != x.shape.size()) fail("perm does not match the input rank");
    Value out;
    out.dtype = x.dtype;
    for (int64_t p : perm) out.shape.push_back(x.shape[static_cast<size_t>(axis(p, x.shape.size()))]);
    out.producer = emit(vec_op(OpKind::transpose, x.shape, x.dtype));
    set_out(out);
  }

  void concat() {
    const Value& first = in(0);
    const int64_t ax = axis(m_node->attr_i("axis", 0), std::max<size_t>(first.shape.size(), 1));
    Value out;
    out.shape = first.shape;
    out.dtype = first.dtype;
    bool values = true;
    std::vector<int64_t> v;
    for (size_t i = 0; i < m_node->inputs.size(); ++i) {
      if (!has_in(i)) continue;
      const Value& x = in(i);
      if (x.shape.size() != first.shape.size()) fail("inputs differ in rank");
      if (i > 0 && !x.shape.empty()) out.shape[static_cast<size_t>(ax)] += x.shape[static_cast<size_t>(ax)];
      if (x.values) v.insert(v.end(), x.values->begin(), x.values->end());
      else values = false;
    }
    if (values && out.shape.size() == 1) out.values = v;
    out.producer = emit(vec_op(OpKind::copy, out.shape, out.dtype));
    set_out(out);
  }

  void gather() {
    const Value& data = in(0);
    const Value& idx = in(1);
    if (data.shape.empty()) fail("Gather from a scalar");
    const int64_t ax = axis(m_node->attr_i("axis", 0), data.shape.size());
    Value out;
    out.dtype = data.dtype;
    out.shape.assign(data.shape.begin(), data.shape.begin() + ax);
    out.shape.insert(out.shape.end(), idx.shape.begin(), idx.shape.end());
    out.shape.insert(out.shape.end(), data.shape.begin() + ax + 1, data.shape.end());
    if (data.values && idx.values && data.shape.size() == 1) {
      std::vector<int64_t> v;
      for (int64_t i : *idx.values) {
        const int64_t j = i < 0 ? i + data.shape[0] : i;
        if (j < 0 || j >= data.shape[0]) fail(fmt::format("index {} is out of range", i));
        v.push_back((*data.values)[static_cast<size_t>(j)]);
      }
      out.values = v;
    }
    if (data.is_const && data.shape.size() == 2 && ax == 0) {
      Op op;  // embedding lookup: rows of a weight table
      op.kind = OpKind::embedding;
      op.dtype = op.out_dtype = data.dtype;
      op.attrs = {{"tokens", std::max<int64_t>(1, numel(idx.shape))}, {"dim", data.shape[1]},
                  {"vocab", data.shape[0]}};
      out.producer = emit(op);
    } else {
      out.producer = emit(vec_op(OpKind::copy, out.shape, out.dtype));
    }
    set_out(out);
  }

  void constant() {
    Value out;
    const OnnxAttr* a = m_node->attr("value");
    if (a && a->has_t) {
      out.shape = a->t.dims;
      out.dtype = onnx_dtype(a->t.data_type).value_or(DType::fp32);
      if (numel(out.shape) <= 64) out.values = tensor_ints(a->t);
    } else if ((a = m_node->attr("value_int"))) {
      out.dtype = DType::int32;
      out.values = std::vector<int64_t>{a->i};
    } else if ((a = m_node->attr("value_ints"))) {
      out.shape = {static_cast<int64_t>(a->ints.size())};
      out.dtype = DType::int32;
      out.values = a->ints;
    } else if (m_node->attr("value_float")) {
      out.dtype = DType::fp32;
    } else if ((a = m_node->attr("value_floats"))) {
      out.dtype = DType::fp32;
      out.shape = {static_cast<int64_t>(a->ints.size())};
    } else {
      fail("Constant without a supported value attribute (value, value_int, value_ints, "
           "value_float, value_floats)");
    }
    set_out(out);
  }

  void shape() {
    const Value& x = in(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t start = m_node->attr_i("start", 0), end = m_node->attr_i("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    Value out;
    out.dtype = DType::int32;
    out.values = std::vector<int64_t>(x.shape.begin() + start, x.shape.begin() + end);
    out.shape = {end - start};
    set_out(out);
  }

  void cast() {
    const Value& x = in(0);
    Value out = x;
    out.dtype = onnx_dtype(static_cast<int32_t>(m_node->attr_i("to", 1))).value_or(x.dtype);
    if (m_folding) {
      set_out(out);
      return;
    }
    Op op = vec_op(OpKind::copy, x.shape, x.dtype);
    op.out_dtype = out.dtype;
    out.producer = emit(op);
    set_out(out);
  }

  void slice() {
    const Value& x = in(0);
    std::vector<int64_t> starts, ends, axes, steps;
    if (has_in(1)) {  // opset >= 10: inputs
      starts = ints_input_or_attr(1, "");
      ends = ints_input_or_attr(2, "");
      if (has_in(3)) axes = ints_input_or_attr(3, "");
      if (has_in(4)) steps = ints_input_or_attr(4, "");
    } else {
      starts = ints_input_or_attr(99, "starts");
      ends = ints_input_or_attr(99, "ends");
      axes = ints_input_or_attr(99, "axes");
    }
    if (starts.size() != ends.size()) fail("starts and ends differ in length");
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    Value out = x;
    out.values.reset();
    int64_t first = 0, last = 0, step = 1;
    for (size_t i = 0; i < starts.size(); ++i) {
      const size_t a = static_cast<size_t>(axis(axes[i], x.shape.size()));
      const int64_t dim = x.shape[a];
      if (steps[i] == 0) fail("slice step 0");
      int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (steps[i] > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        out.shape[a] = e > s ? (e - s + steps[i] - 1) / steps[i] : 0;
      } else {
        s = std::clamp<int64_t>(s, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        out.shape[a] = s > e ? (s - e - steps[i] - 1) / -steps[i] : 0;
      }
      first = s;
      last = e;
      step = steps[i];
    }
    if (x.values && x.shape.size() == 1 && starts.size() == 1) {
      std::vector<int64_t> v;
      for (int64_t i = first; step > 0 ? i < last : i > last; i += step)
        v.push_back((*x.values)[static_cast<size_t>(i)]);
      out.values = v;
    }
    if (numel(out.shape) == 0) fail("the slice is empty");
    out.producer = emit(vec_op(OpKind::copy, out.shape, x.dtype));
    set_out(out);
  }

  const OnnxGraph& m_model;
  std::string_view m_source;
  Graph m_graph;
  std::map<std::string, Value> m_values;
  const OnnxNode* m_node = nullptr;
  std::string m_name;
  bool m_folding = false;
  int m_symbolic = 0;
};

}  // namespace

Graph parse_onnx(std::string_view bytes, std::string_view source) {
  if (bytes.empty()) throw InputError(fmt::format("{}: the file is empty", source));
  const OnnxGraph model = parse_model(bytes, source);
  Graph g = OnnxImporter(model, source).run();
  g.name = std::filesystem::path(std::string(source)).stem().string();
  return g;
}

Graph import_onnx(const std::string& path) {
  const std::string bytes = importers::read_input_file(path);
  return parse_onnx(bytes, path);
}

}  // namespace tessera
