// JSON trace importer; the schema is documented in docs/trace-format.md.
#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdint>
#include <set>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/importers.h"
#include "workloads/importers/common.h"

namespace tessera {
namespace {

using nlohmann::json;

// Byte offsets of the elements of the top-level "ops" array, found by a scan
// that tracks nesting and skips strings, so that errors can name a line even
// though the parsed json values carry no positions.
std::vector<size_t> op_offsets(std::string_view t) {
  std::vector<size_t> out;
  int depth = 0, ops_depth = -1;
  std::string last_key;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '"') {
      std::string s;
      size_t j = i + 1;
      for (; j < t.size() && t[j] != '"'; ++j) {
        if (t[j] == '\\') ++j;
        else s += t[j];
      }
      size_t k = j + 1;
      while (k < t.size() && std::isspace(static_cast<unsigned char>(t[k]))) ++k;
      if (depth == 1 && k < t.size() && t[k] == ':') last_key = s;
      i = j;
      continue;
    }
    if (c == '{' || c == '[') {
      if (ops_depth >= 0 && depth == ops_depth && c == '{') out.push_back(i);
      if (depth == 1 && c == '[' && last_key == "ops" && ops_depth < 0) ops_depth = 2;
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
      if (ops_depth >= 0 && depth < ops_depth) ops_depth = -2;  // the ops array is closed
    }
  }
  return out;
}

std::string type_name(const json& v) { return v.type_name(); }

DType parse_dtype_field(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_string())
    throw InputError(fmt::format("{}: '{}' must be a string naming a format, got {}", where, key,
                                 v.dump()));
  auto t = parse_dtype(v.get<std::string>());
  if (!t)
    throw InputError(fmt::format("{}: '{}' = '{}' is not a known format; accepted: {}", where, key,
                                 v.get<std::string>(), dtype_names()));
  return *t;
}

std::string join(const std::vector<std::string_view>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ", ") + std::string(x);
  return s;
}

}  // namespace

Graph parse_json_trace(std::string_view text, std::string_view source) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::out_of_range& e) {
    // A number too large for a double (1e330): nlohmann reports it without an offset.
    throw InputError(fmt::format("{}: malformed JSON: a number is out of range ({})", source, e.what()));
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const auto colon = what.find("]: ");
    if (colon != std::string::npos) what = what.substr(colon + 3);
    else if (what.find("] ") != std::string::npos) what = what.substr(what.find("] ") + 2);
    throw InputError(fmt::format("{}:{}: malformed JSON: {}", source,
                                 importers::line_of_offset(text, e.byte == 0 ? 0 : e.byte - 1),
                                 what));
  }
  if (!root.is_object())
    throw InputError(fmt::format("{}:1: a trace is a JSON object with an \"ops\" array, got {}",
                                 source, type_name(root)));
  static const std::set<std::string> kTop = {"format", "version", "name", "dtype", "info", "ops",
                                             "meta"};
  for (const auto& [key, value] : root.items())
    if (!kTop.count(key))
      throw InputError(fmt::format("{}: unknown top-level key '{}'; accepted: format, version, "
                                   "name, dtype, info, ops, meta", source, key));
  if (root.contains("format") &&
      (!root["format"].is_string() || root["format"].get<std::string>() != "tessera-trace"))
    throw InputError(fmt::format("{}: \"format\" = {} is not accepted; expected \"tessera-trace\"",
                                 source, root["format"].dump()));
  if (root.contains("version") && root["version"] != 1)
    throw InputError(fmt::format("{}: \"version\" = {} is not supported; accepted: 1", source,
                                 root["version"].dump()));
  Graph g;
  g.name = std::string(source);
  if (root.contains("name")) {
    if (!root["name"].is_string())
      throw InputError(fmt::format("{}: \"name\" must be a string", source));
    g.name = root["name"].get<std::string>();
  }
  DType default_dtype = DType::fp32;
  if (root.contains("dtype")) default_dtype = parse_dtype_field(root["dtype"], std::string(source), "dtype");
  if (root.contains("info")) {
    if (!root["info"].is_object())
      throw InputError(fmt::format("{}: \"info\" must be an object of numbers", source));
    for (const auto& [key, value] : root["info"].items()) {
      if (!value.is_number())
        throw InputError(fmt::format("{}: info '{}' = {} is not a number", source, key,
                                     value.dump()));
      g.info[key] = value.get<double>();
    }
  }
  if (!root.contains("ops") || !root["ops"].is_array())
    throw InputError(fmt::format("{}: missing \"ops\" array (the list of kernels in execution "
                                 "order)", source));
  const json& ops = root["ops"];
  if (ops.empty()) throw InputError(fmt::format("{}: \"ops\" is empty", source));
  const std::vector<size_t> offsets = op_offsets(text);
  std::map<std::string, int> index_of;
  static const std::set<std::string> kOpKeys = {"name", "kind", "dtype", "out_dtype", "attrs",
                                                "deps", "meta"};
  for (size_t i = 0; i < ops.size(); ++i) {
    const int line = i < offsets.size() ? importers::line_of_offset(text, offsets[i]) : 0;
    std::string where = line > 0 ? fmt::format("{}:{}: op {}", source, line, i)
                                 : fmt::format("{}: op {}", source, i);
    const json& o = ops[i];
    if (!o.is_object())
      throw InputError(fmt::format("{}: each op is a JSON object, got {}", where, type_name(o)));
    for (const auto& [key, value] : o.items())
      if (!kOpKeys.count(key))
        throw InputError(fmt::format("{}: unknown key '{}'; accepted: name, kind, dtype, "
                                     "out_dtype, attrs, deps, meta", where, key));
    Op op;
    if (!o.contains("name") || !o["name"].is_string() || o["name"].get<std::string>().empty())
      throw InputError(fmt::format("{}: missing \"name\" (a non-empty string)", where));
    op.name = o["name"].get<std::string>();
    where += " '" + op.name + "'";
    if (index_of.count(op.name))
      throw InputError(fmt::format("{}: name '{}' is already used by op {}", where, op.name,
                                   index_of[op.name]));
    if (!o.contains("kind") || !o["kind"].is_string())
      throw InputError(fmt::format("{}: missing \"kind\"; accepted: {}", where, op_kind_names()));
    const std::string kind = o["kind"].get<std::string>();
    if (!parse_op_kind(kind, op.kind))
      throw InputError(fmt::format("{}: unknown kind '{}'; accepted: {}", where, kind,
                                   op_kind_names()));
    op.dtype = o.contains("dtype") ? parse_dtype_field(o["dtype"], where, "dtype") : default_dtype;
    const bool product = op.kind == OpKind::matmul || op.kind == OpKind::conv2d ||
                         op.kind == OpKind::attention;
    op.out_dtype = o.contains("out_dtype") ? parse_dtype_field(o["out_dtype"], where, "out_dtype")
                                           : (product ? product_out_dtype(op.dtype) : op.dtype);
    if (!o.contains("attrs") || !o["attrs"].is_object())
      throw InputError(fmt::format("{}: missing \"attrs\" object; {} takes {}", where, kind,
                                   join(op_attr_names(op.kind))));
    const auto names = op_attr_names(op.kind);
    for (const auto& [key, value] : o["attrs"].items()) {
      bool known = false;
      for (auto n : names) known = known || n == key;
      if (!known)
        throw InputError(fmt::format("{}: unknown attribute '{}' for kind {}; accepted: {}", where,
                                     key, kind, join(names)));
      int64_t v = 0;
      if (value.is_boolean()) {
        v = value.get<bool>() ? 1 : 0;
      } else if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{INT64_MAX}) {
        throw InputError(fmt::format("{}: attribute '{}' = {} is outside the accepted 0..2^48", where, key,
                                     value.dump()));
      } else if (value.is_number_integer()) {
        v = value.get<int64_t>();
      } else if (value.is_number_float() && std::fabs(value.get<double>()) < 0x1p62 &&
                 value.get<double>() == std::trunc(value.get<double>())) {
        v = static_cast<int64_t>(value.get<double>());
      } else if (value.is_number_float() && value.get<double>() == std::trunc(value.get<double>())) {
        throw InputError(fmt::format("{}: attribute '{}' = {} is outside the accepted 0..2^48", where, key,
                                     value.dump()));
      } else {
        throw InputError(fmt::format("{}: attribute '{}' = {} is not an integer", where, key,
                                     value.dump()));
      }
      op.attrs[key] = v;
    }
    if (o.contains("deps")) {
      if (!o["deps"].is_array())
        throw InputError(fmt::format("{}: \"deps\" must be an array of op names", where));
      for (const auto& d : o["deps"]) {
        if (!d.is_string())
          throw InputError(fmt::format("{}: dependency {} is not an op name (string)", where,
                                       d.dump()));
        const std::string dn = d.get<std::string>();
        auto it = index_of.find(dn);
        if (it == index_of.end()) {
          bool later = false;
          for (size_t j = i + 1; j < ops.size(); ++j)
            later = later || (ops[j].is_object() && ops[j].contains("name") && ops[j]["name"] == dn);
          throw InputError(fmt::format("{}: dependency '{}' {}", where, dn,
                                       later ? "appears later in \"ops\"; ops are listed in "
                                               "execution order, producers first"
                                             : "names no op"));
        }
        op.deps.push_back(it->second);
      }
    }
    // Check this op's attributes now, so that the message carries its line.
    Graph one;
    one.ops.push_back(op);
    one.ops.back().deps.clear();
    validate_graph(one, line > 0 ? fmt::format("{}:{}", source, line) : std::string(source));
    index_of[op.name] = static_cast<int>(g.ops.size());
    g.add(std::move(op));
  }
  return g;
}

Graph import_json_trace(const std::string& path) {
  return parse_json_trace(importers::read_input_file(path), path);
}

}  // namespace tessera
