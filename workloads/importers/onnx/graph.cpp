// ONNX wire decoding. The model is decoded straight from the protobuf wire format
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
#include "workloads/importers/onnx/graph.h"

#include <fmt/format.h>

#include <cstring>

#include "core/error.h"
#include "workloads/importers/protobuf_wire.h"

namespace tessera::onnx {
namespace {

using importers::WireReader;
using importers::WireType;

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

}  // namespace

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

}  // namespace tessera::onnx
