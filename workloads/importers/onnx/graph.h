#pragma once
// ONNX model as the importer reads it: the nodes, initializers and graph inputs
// of a ModelProto's graph, parsed by ONNX's library (onnx/graph.cpp), the static
// shapes ONNX's shape inference found, and the format of ONNX element types.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera::onnx {

struct OnnxTensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  std::string raw;
  std::vector<int64_t> ints;  // int32_data / int64_data
  std::vector<double> reals;  // float_data / double_data
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
  bool schema_known = true;   // false: the operator is not defined at the model's opset

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
  // Symbolic dimension names of the graph inputs: bound to a size, or left unbound
  // (taken as 1).
  std::map<std::string, int64_t> bound_dims;
  std::vector<std::string> unbound_dims;
  // Static shapes ONNX's shape inference gave intermediate tensors and outputs.
  std::map<std::string, std::vector<int64_t>> inferred;
};

// The oldest default-domain opset the importer accepts (opset 7: the broadcasting
// rules of today's Add/Mul and Gemm; older models convert with
// onnx.version_converter).
inline constexpr int64_t kOldestOnnxOpset = 7;
// The newest default-domain opset this build's ONNX library knows.
int64_t newest_onnx_opset();

// Parses a ModelProto with ONNX's library and runs ONNX's shape inference; throws
// InputError naming `source` when the bytes are not an ONNX model (malformed
// protobuf, or no graph) or the opset is older than kOldestOnnxOpset. A node whose
// operator this library defines, but not at the model's opset, is marked
// (OnnxNode::schema_known) and refused by the importer. Opsets newer than
// newest_onnx_opset() import: operators the library does not know yet are
// checked by the importer alone.
// `dims` binds symbolic dimensions (dim_param names of the graph inputs, such as an
// exporter's dynamic "batch_size" or "sequence_length") to sizes before shape
// inference; a name no graph input uses is an error listing the model's names.
OnnxGraph parse_model(std::string_view bytes, std::string_view source,
                      const std::map<std::string, int64_t>& dims = {});

// ONNX TensorProto.DataType -> format (nullopt: no Tessera format).
std::optional<DType> onnx_dtype(int32_t t);

// Integer contents of a constant tensor (int32/int64, bool/uint8/int8, raw or typed
// fields).
std::optional<std::vector<int64_t>> tensor_ints(const OnnxTensor& t);
// The value of a one-element floating-point constant (FLOAT, DOUBLE; FLOAT16 and
// BFLOAT16 when it is zero), else nullopt.
std::optional<double> tensor_real_scalar(const OnnxTensor& t);

}  // namespace tessera::onnx
