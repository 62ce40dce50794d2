#pragma once
// ONNX model as the importer reads it: the nodes, initializers and graph inputs
// of a ModelProto's graph, decoded from the protobuf wire format
// (onnx/graph.cpp states the field numbers), and the format of ONNX element types.
#include <cstdint>
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

// Decodes a ModelProto; throws InputError naming `source` when the bytes are not
// an ONNX model (malformed protobuf, or no graph). Strings in the result view
// `bytes`, which must outlive it.
OnnxGraph parse_model(std::string_view bytes, std::string_view source);

// ONNX TensorProto.DataType -> format (nullopt: no Tessera format).
std::optional<DType> onnx_dtype(int32_t t);

// Integer contents of a constant tensor (int32/int64, raw or typed fields).
std::optional<std::vector<int64_t>> tensor_ints(const OnnxTensor& t);

}  // namespace tessera::onnx
