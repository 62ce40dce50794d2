// ONNX models through ONNX's own library: the bytes are parsed into an
// onnx::ModelProto (libonnx-dev's generated protobuf classes, libprotobuf-dev),
// ONNX's shape inference fills in every intermediate tensor it can, and the
// graph is copied into the importer's view (graph.h). The default-domain opset
// is checked against what this ONNX library knows and against each node's
// operator (an operator not defined at the model's opset is an error).
#include "workloads/importers/onnx/graph.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"

namespace tessera::onnx {
namespace {

namespace pb = google::protobuf;

// Where the top level of a ModelProto that libprotobuf refused goes wrong, for
// the error message: the first field whose length runs past the end or whose
// tag is invalid, read with protobuf's own CodedInputStream.
std::string where_malformed(std::string_view bytes) {
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  while (true) {
    const int at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return at < static_cast<int>(bytes.size()) ? fmt::format(" at byte {}: invalid field tag", at) : "";
    using W = pb::internal::WireFormatLite;
    if (W::GetTagWireType(tag) == W::WIRETYPE_LENGTH_DELIMITED) {
      const int len_at = in.CurrentPosition();
      uint32_t len = 0;
      if (!in.ReadVarint32(&len)) return fmt::format(" at byte {}: truncated length", len_at);
      // The byte where the field's contents would start.
      if (static_cast<int64_t>(in.CurrentPosition()) + len > static_cast<int64_t>(bytes.size()))
        return fmt::format(" at byte {}: length {} runs past the end", in.CurrentPosition(), len);
      if (!in.Skip(static_cast<int>(len))) return fmt::format(" at byte {}: truncated", len_at);
    } else if (!W::SkipField(&in, tag)) {
      return fmt::format(" at byte {}: malformed field", at);
    }
  }
}

OnnxTensor tensor_of(const ::onnx::TensorProto& t) {
  OnnxTensor o;
  o.name = t.name();
  o.dims.assign(t.dims().begin(), t.dims().end());
  o.data_type = t.data_type();
  o.raw = t.raw_data();
  o.ints.assign(t.int64_data().begin(), t.int64_data().end());
  o.ints.insert(o.ints.end(), t.int32_data().begin(), t.int32_data().end());
  o.reals.assign(t.float_data().begin(), t.float_data().end());
  o.reals.insert(o.reals.end(), t.double_data().begin(), t.double_data().end());
  return o;
}

OnnxValueInfo value_info_of(const ::onnx::ValueInfoProto& v) {
  OnnxValueInfo o;
  o.name = v.name();
  if (!v.type().has_tensor_type()) return o;
  const auto& tt = v.type().tensor_type();
  o.elem_type = tt.elem_type();
  if (!tt.has_shape()) return o;
  o.has_shape = true;
  for (const auto& d : tt.shape().dim()) o.dims.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
  return o;
}

// ONNX's shape inference divides by strides and dilations unchecked (ONNX 1.12
// convPoolShapeInference: a stride of 0 is a SIGFPE in the library), so the
// window attributes of convolutions and pools are checked first, in every
// subgraph too: the ONNX operator docs define them as positive (strides,
// dilations, kernel_shape, group) and non-negative (pads).
void check_window_attributes(const ::onnx::GraphProto& graph, std::string_view source) {
  static const std::set<std::string> windowed = {"Conv",        "ConvTranspose", "ConvInteger", "QLinearConv",
                                                 "MaxPool",     "AveragePool",   "LpPool",      "MaxUnpool",
                                                 "MaxRoiPool",  "DeformConv",    "Col2Im"};
  constexpr int64_t limit = int64_t{1} << 31;
  for (const auto& n : graph.node()) {
    for (const auto& a : n.attribute()) {
      if (a.type() == ::onnx::AttributeProto::GRAPH) check_window_attributes(a.g(), source);
      for (const auto& sub : a.graphs()) check_window_attributes(sub, source);
      if (!windowed.count(n.op_type())) continue;
      const bool positive = a.name() == "strides" || a.name() == "dilations" || a.name() == "kernel_shape";
      const bool non_negative = a.name() == "pads" || a.name() == "output_padding";
      auto bad = [&](int64_t v) {
        return (positive && (v < 1 || v > limit)) || (non_negative && (v < 0 || v > limit));
      };
      for (int64_t v : a.ints())
        if (bad(v))
          throw InputError(fmt::format("{}: node '{}' ({}): attribute {} has {}; accepted: {} up to 2^31", source,
                                       n.name(), n.op_type(), a.name(), v,
                                       positive ? "integers from 1" : "integers from 0"));
      if (a.name() == "group" && (a.i() < 1 || a.i() > limit))
        throw InputError(fmt::format("{}: node '{}' ({}): attribute group is {}; accepted: 1 up to 2^31", source,
                                     n.name(), n.op_type(), a.i()));
    }
  }
}

// ONNX 1.12's Einsum inference (einsumRankInference, onnx/defs/math/defs.cc)
// counts an implicit output's letters in an array indexed by letter - 'a', so an
// equation without "->" holding anything but lower-case letters writes outside it
// (a stack corruption): such equations are refused first, in every subgraph too.
// ONNX's Einsum documents equations of lower-case letters.
void check_einsum_equations(const ::onnx::GraphProto& graph, std::string_view source) {
  for (const auto& n : graph.node()) {
    for (const auto& a : n.attribute()) {
      if (a.type() == ::onnx::AttributeProto::GRAPH) check_einsum_equations(a.g(), source);
      for (const auto& sub : a.graphs()) check_einsum_equations(sub, source);
      if (n.op_type() != "Einsum" || a.name() != "equation" || a.s().find("->") != std::string::npos)
        continue;
      for (char c : a.s())
        if (!(c >= 'a' && c <= 'z') && c != ',' && c != '.' && c != ' ')
          throw InputError(
              fmt::format("{}: node '{}' (Einsum): equation '{}' has an implicit output (no '->') and "
                          "the character '{}'; such an equation takes lower-case letters, ',', '...' "
                          "and spaces only",
                          source, n.name(), a.s(), c));
    }
  }
}

// ONNX's shape inference also reads a node input's type without checking that it
// was defined (a SEGV in libonnx for a graph whose node reads a value produced
// only by a later node): every input must be a graph input, an initializer, an
// output of an earlier node or a name of an enclosing graph (subgraphs), as the
// ONNX IR spec requires ("nodes are topologically sorted"). Empty names are the
// spec's omitted optional inputs.
void check_topological(const ::onnx::GraphProto& graph, std::set<std::string> known, std::string_view source) {
  for (const auto& v : graph.input()) known.insert(v.name());
  for (const auto& t : graph.initializer()) known.insert(t.name());
  for (const auto& t : graph.sparse_initializer()) known.insert(t.values().name());
  for (const auto& n : graph.node()) {
    for (const auto& in : n.input())
      if (!in.empty() && !known.count(in))
        throw InputError(fmt::format("{}: node '{}' ({}) reads '{}', which no graph input, initializer or earlier "
                                     "node defines (ONNX graphs list their nodes in topological order)",
                                     source, n.name(), n.op_type(), in));
    for (const auto& a : n.attribute()) {
      if (a.type() == ::onnx::AttributeProto::GRAPH) check_topological(a.g(), known, source);
      for (const auto& sub : a.graphs()) check_topological(sub, known, source);
    }
    for (const auto& out : n.output()) known.insert(out);
  }
}

}  // namespace

int64_t newest_onnx_opset() {
  return ::onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(::onnx::ONNX_DOMAIN).second;
}

OnnxGraph parse_model(std::string_view bytes, std::string_view source,
                      const std::map<std::string, int64_t>& dims) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw InputError(fmt::format("{}: {} bytes; ONNX models over 2 GiB (external data) are not supported", source,
                                 bytes.size()));
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw InputError(fmt::format("{}: malformed ONNX protobuf (ModelProto){}", source, where_malformed(bytes)));
  if (!model.has_graph())
    throw InputError(fmt::format("{}: not an ONNX model: no graph (ModelProto field 7) found", source));

  OnnxGraph g;
  // Symbolic dimensions of the graph inputs: bound ones become sizes (so that ONNX's
  // shape inference sees them), the others stay symbolic (the importer takes 1).
  std::set<std::string> names;
  for (auto& in : *model.mutable_graph()->mutable_input()) {
    if (!in.type().has_tensor_type() || !in.type().tensor_type().has_shape()) continue;
    for (auto& d : *in.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
      if (d.has_dim_value() && d.dim_value() > 0) continue;
      const std::string name = d.has_dim_param() ? d.dim_param() : std::string();
      if (!name.empty()) names.insert(name);
      if (const auto it = dims.find(name); !name.empty() && it != dims.end()) {
        d.set_dim_value(it->second);
        g.bound_dims[name] = it->second;
      } else if (!name.empty() &&
                 std::find(g.unbound_dims.begin(), g.unbound_dims.end(), name) == g.unbound_dims.end()) {
        g.unbound_dims.push_back(name);
      }
    }
  }
  for (const auto& [name, value] : dims)
    if (!names.count(name)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
      throw InputError(fmt::format("{}: no graph input has a symbolic dimension '{}'; {}", source, name,
                                   names.empty() ? std::string("the model's input shapes are all fixed")
                                                 : "the model's symbolic dimensions: " + list));
    }
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  // An opset newer than this ONNX library's is accepted: its operators that the
  // library knows are checked at their newest version here, the newer ones
  // (Gelu, opset 20) by the importer's own rules, and shape inference skips them.
  if (g.opset != 0 && g.opset < kOldestOnnxOpset)
    throw InputError(fmt::format("{}: opset {} is older than {}, the oldest the importer accepts; convert the "
                                 "model with onnx.version_converter",
                                 source, g.opset, kOldestOnnxOpset));

  // ONNX's shape inference: node-level failures leave a tensor's shape unknown
  // (the importer's own checks then name the node); only a model that cannot be
  // inferred at all is an error here. It runs where the model states an opset
  // this library knows (ONNX 1.12's inference crashes on a newer opset).
  check_window_attributes(model.graph(), source);
  check_einsum_equations(model.graph(), source);
  check_topological(model.graph(), {}, source);
  // ONNX's shape inference trusts the graph it is given (a value defined twice, or
  // a Conv fed by an operator ONNX does not know, so that its input has no type,
  // is a SEGV inside libonnx 1.12): it runs only on models that ONNX's own
  // checker (onnx/checker.h check_model: SSA form, registered operators,
  // attributes against their schemas) accepts. Other models go on with the
  // importer's own shape rules and checks, which name the node at fault.
  bool well_formed = true;
  try {
    ::onnx::checker::check_model(model);
  } catch (const std::exception&) {
    well_formed = false;
  }
  if (well_formed && g.opset >= kOldestOnnxOpset && g.opset <= newest_onnx_opset()) try {
    ::onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/0, /*data_propagation=*/true);
    ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: ONNX shape inference failed: {}", source, e.what()));
  }

  const ::onnx::GraphProto& graph = model.graph();
  for (const auto& n : graph.node()) {
    OnnxNode node;
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    node.name = n.name();
    node.op_type = n.op_type();
    node.domain = n.domain();
    for (const auto& a : n.attribute()) {
      OnnxAttr attr;
      attr.name = a.name();
      attr.type = a.type();
      attr.f = a.f();
      attr.i = a.i();
      attr.s = a.s();
      attr.ints.assign(a.ints().begin(), a.ints().end());
      attr.has_t = a.has_t();
      if (a.has_t()) attr.t = tensor_of(a.t());
      node.attrs.push_back(std::move(attr));
    }
    // The operator must exist at the model's opset (when one is given).
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    node.schema_known = !default_domain || g.opset == 0 ||
                        ::onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(g.opset), ::onnx::ONNX_DOMAIN) ||
                        !::onnx::OpSchemaRegistry::Schema(n.op_type(), ::onnx::ONNX_DOMAIN);
    g.nodes.push_back(std::move(node));
  }
  for (const auto& t : graph.initializer()) g.initializers.push_back(tensor_of(t));
  for (const auto& v : graph.input()) g.inputs.push_back(value_info_of(v));
  for (const auto& v : graph.value_info()) {
    OnnxValueInfo info = value_info_of(v);
    bool is_static = info.has_shape;
    for (int64_t d : info.dims) is_static = is_static && d > 0;
    if (is_static) g.inferred[info.name] = info.dims;
  }
  for (const auto& v : graph.output()) {
    OnnxValueInfo info = value_info_of(v);
    bool is_static = info.has_shape;
    for (int64_t d : info.dims) is_static = is_static && d > 0;
    if (is_static) g.inferred[info.name] = info.dims;
  }
  return g;
}

// TensorProto.DataType numbers (onnx.proto): 1 FLOAT, 2 UINT8, 3 INT8, 4 UINT16,
// 5 INT16, 6 INT32, 7 INT64, 9 BOOL, 10 FLOAT16, 11 DOUBLE, 12 UINT32, 13 UINT64,
// 16 BFLOAT16, 17 FLOAT8E4M3FN, 19 FLOAT8E5M2.
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

std::optional<double> tensor_real_scalar(const OnnxTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.dims) n *= d;
  if (n != 1) return std::nullopt;
  if (t.data_type == 1 || t.data_type == 11) {  // FLOAT, DOUBLE
    if (t.reals.size() == 1) return t.reals[0];
    if (t.data_type == 1 && t.raw.size() == 4) {
      float f;
      std::memcpy(&f, t.raw.data(), 4);
      return f;
    }
    if (t.data_type == 11 && t.raw.size() == 8) {
      double v;
      std::memcpy(&v, t.raw.data(), 8);
      return v;
    }
    return std::nullopt;
  }
  if ((t.data_type == 10 || t.data_type == 16) && t.raw.size() == 2 &&  // FLOAT16, BFLOAT16: +-0 only
      (static_cast<unsigned char>(t.raw[0]) == 0 && (static_cast<unsigned char>(t.raw[1]) & 0x7f) == 0))
    return 0.0;
  return std::nullopt;
}

std::optional<std::vector<int64_t>> tensor_ints(const OnnxTensor& t) {
  // INT32 (6), INT64 (7); BOOL (9), UINT8 (2) and INT8 (3) are one byte each in
  // raw_data and int32_data elements otherwise (onnx.proto TensorProto).
  const bool byte = t.data_type == 9 || t.data_type == 2 || t.data_type == 3;
  if (t.data_type != 6 && t.data_type != 7 && !byte) return std::nullopt;
  if (!t.ints.empty()) return t.ints;
  std::vector<int64_t> out;
  const size_t width = t.data_type == 7 ? 8 : byte ? 1 : 4;
  if (t.raw.size() % width != 0) return std::nullopt;
  for (size_t i = 0; i < t.raw.size(); i += width) {
    if (width == 1) {
      const auto u = static_cast<unsigned char>(t.raw[i]);
      out.push_back(t.data_type == 3 ? static_cast<int64_t>(static_cast<signed char>(u)) : u);
    } else if (width == 8) {
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

}  // namespace tessera::onnx
