// ONNX import: the walk over the graph's nodes and the support check.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "workloads/importers.h"
#include "workloads/importers/common.h"
#include "workloads/importers/onnx/importer.h"

namespace tessera {
namespace onnx {

Graph OnnxImporter::run() {
  check_supported();
  for (const auto& t : m_model.initializers) {
    Value v;
    v.shape = t.dims;
    v.dtype = onnx_dtype(t.data_type).value_or(DType::fp32);
    v.is_const = true;
    try {
      if (numel(t.dims) <= 64) v.values = tensor_ints(t);
      v.real = tensor_real_scalar(t);
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
  // The symbolic dimensions by name (the report lists them): "onnx_dim:NAME" the size
  // given, "onnx_dim_unset:NAME" one left at 1.
  for (const auto& [name, value] : m_model.bound_dims)
    m_graph.info["onnx_dim:" + name] = static_cast<double>(value);
  for (const auto& name : m_model.unbound_dims) m_graph.info["onnx_dim_unset:" + name] = 1;
  m_graph.info["onnx_nodes"] = static_cast<double>(m_model.nodes.size());
  return std::move(m_graph);
}

void OnnxImporter::check_supported() const {
  // Unsupported operator types in order of first use, each with its nodes: one
  // node is named; more are counted, the first three named.
  std::vector<std::pair<std::string, std::vector<std::string>>> bad;
  int count = 0;
  for (size_t i = 0; i < m_model.nodes.size(); ++i) {
    const OnnxNode& n = m_model.nodes[i];
    const bool default_domain = n.domain.empty() || n.domain == "ai.onnx";
    if (default_domain && op_table().contains(n.op_type)) continue;
    const std::string type = default_domain ? n.op_type : n.domain + "::" + n.op_type;
    auto it = std::find_if(bad.begin(), bad.end(), [&](const auto& b) { return b.first == type; });
    if (it == bad.end()) it = bad.insert(bad.end(), {type, {}});
    it->second.push_back(node_name(n, i));
    ++count;
  }
  if (count == 0) return;
  std::string listed;
  for (const auto& [type, nodes] : bad) {
    std::string names;
    for (size_t i = 0; i < std::min<size_t>(3, nodes.size()); ++i)
      names += fmt::format("{}'{}'", i ? ", " : "", nodes[i]);
    listed += fmt::format("{}{} ({})", listed.empty() ? "" : ", ", type,
                          nodes.size() == 1 ? "node " + names
                                            : fmt::format("{} nodes: {}{}", nodes.size(), names,
                                                          nodes.size() > 3 ? ", ..." : ""));
  }
  std::string accepted;
  for (std::string_view s : supported_ops()) accepted += fmt::format("{}{}", accepted.empty() ? "" : ", ", s);
  throw InputError(fmt::format("{}: {} unsupported ONNX operator node(s): {}; supported "
                               "operators: {}", m_source, count, listed, accepted));
}

void OnnxImporter::node(const OnnxNode& n, size_t index) {
  m_node = &n;
  m_name = node_name(n, index);
  const auto rule = op_table().find(n.op_type);
  if (rule == op_table().end()) fail("operator is not handled");  // unreachable: check_supported() listed it
  if (!n.schema_known)
    fail(fmt::format("operator {} is not defined at opset {}, the model's (ONNX's operator sets 1..{})", n.op_type,
                     m_model.opset, newest_onnx_opset()));
  // Constant folding: a node whose inputs are all constants launches nothing.
  m_folding = rule->second.folds;
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
  rule->second.import(*this);
}

std::string OnnxImporter::node_name(const OnnxNode& n, size_t i) {
  return n.name.empty() ? fmt::format("{}_{}", n.op_type, i) : n.name;
}

void OnnxImporter::fail(const std::string& why) const {
  throw InputError(fmt::format("{}: node '{}' ({}): {}", m_source, m_name, m_node->op_type, why));
}

}  // namespace onnx

using onnx::OnnxGraph;
using onnx::OnnxImporter;

Graph parse_onnx(std::string_view bytes, std::string_view source,
                 const std::map<std::string, int64_t>& dims) {
  if (bytes.empty()) throw InputError(fmt::format("{}: the file is empty", source));
  const OnnxGraph model = onnx::parse_model(bytes, source, dims);
  Graph g = OnnxImporter(model, source).run();
  g.name = std::filesystem::path(std::string(source)).stem().string();
  return g;
}

Graph import_onnx(const std::string& path, const std::map<std::string, int64_t>& dims) {
  const std::string bytes = importers::read_input_file(path);
  return parse_onnx(bytes, path, dims);
}

}  // namespace tessera
