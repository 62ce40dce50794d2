#include "workloads/workloads.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/atomic_file.h"
#include "core/error.h"
#include "workloads/builtin.h"
#include "workloads/importers.h"
#include "workloads/models/parallel.h"
#include "workloads/training.h"

namespace tessera {
namespace {

std::string accepted_keys(const WorkloadInfo& w) {
  std::string s;
  for (const auto& p : w.params) s += (s.empty() ? "" : ", ") + p.name;
  for (const auto& p : common_workload_params()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

bool is_common_param(const std::string& key) {
  for (const auto& p : common_workload_params())
    if (p.name == key) return true;
  return false;
}

// The common parameters of `spec` (defaults filled in) as training options;
// nullopt when train=0. `params` are the workload's own (for the checks that
// depend on them: phase, cache, dtype).
std::optional<TrainingOptions> training_options(const std::string& spec, const WorkloadInfo& info,
                                                std::map<std::string, std::string> common,
                                                const std::map<std::string, std::string>& params) {
  const bool optimizer_given = common.count("optimizer") > 0;
  const bool amp_given = common.count("amp") > 0;
  const bool clip_given = common.count("clip_grad_norm") > 0;
  for (const auto& p : common_workload_params())
    if (!common.count(p.name)) common[p.name] = p.default_value;
  const std::string& train = common.at("train");
  if (train != "0" && train != "1")
    throw InputError(fmt::format("--workload '{}': parameter 'train': '{}' is not accepted; accepted: 0, 1",
                                 spec, train));
  Optimizer o = Optimizer::adamw;
  if (!parse_optimizer(common.at("optimizer"), o))
    throw InputError(fmt::format("--workload '{}': parameter 'optimizer': '{}' is not accepted; accepted: {}",
                                 spec, common.at("optimizer"), optimizer_names()));
  if (train == "0") {
    if (amp_given && common.at("amp") != "none")
      throw InputError(fmt::format("--workload '{}': parameter 'amp' applies to a training step only "
                                   "(add train=1)", spec));
    if (optimizer_given)
      throw InputError(fmt::format("--workload '{}': parameter 'optimizer' applies to a training step only "
                                   "(add train=1)", spec));
    if (clip_given)
      throw InputError(
          fmt::format("--workload '{}': parameter 'clip_grad_norm' applies to a training step "
                      "only (add train=1)",
                      spec));
    return std::nullopt;
  }
  TrainingOptions opt;
  opt.optimizer = o;
  const std::string& amp = common.at("amp");
  if (amp != "none" && amp != "bf16" && amp != "fp16")
    throw InputError(fmt::format("--workload '{}': parameter 'amp': '{}' is not accepted; accepted: none, bf16, "
                                 "fp16", spec, amp));
  opt.amp = amp == "bf16" ? Amp::bf16 : amp == "fp16" ? Amp::fp16 : Amp::none;
  {
    const std::string& v = common.at("clip_grad_norm");
    double max_norm = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), max_norm);
    if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(max_norm) || max_norm < 0)
      throw InputError(
          fmt::format("--workload '{}': parameter 'clip_grad_norm': '{}' is not accepted; expected "
                      "a finite max_norm >= 0 (e.g. 1.0; 0: no clipping)",
                      spec, v));
    opt.clip_grad_norm = max_norm > 0;
  }
  if (opt.amp != Amp::none && info.kernel_level)
    throw InputError(fmt::format("--workload '{}': parameter 'amp': {} is a kernel-level workload; amp={} "
                                 "trains a model (an fp32 module under torch.autocast with its loss)",
                                 spec, info.name, amp));
  if (info.kernel_level) {
    if (opt.clip_grad_norm)
      throw InputError(
          fmt::format("--workload '{}': parameter 'clip_grad_norm': {} is a kernel-level workload "
                      "without parameters",
                      spec, info.name));
    if (optimizer_given)
      throw InputError(fmt::format("--workload '{}': parameter 'optimizer': {} is a kernel-level workload "
                                   "without parameters (train=1 appends the backward of its op only)",
                                   spec, info.name));
    opt.inputs_require_grad = true;
    opt.optimizer = Optimizer::none;
  }
  if (auto it = params.find("phase"); it != params.end() && it->second != "prefill")
    throw InputError(fmt::format("--workload '{}': train=1 needs phase=prefill (a decode step against a KV "
                                 "cache is inference only)", spec));
  if (auto it = params.find("kv_cache"); it != params.end() && it->second == "static")
    throw InputError(fmt::format("--workload '{}': train=1 needs kv_cache=auto or dynamic (a preallocated KV "
                                 "cache is inference only)", spec));
  if (auto it = params.find("dtype"); it != params.end()) {
    const auto t = parse_dtype(it->second);
    if (t && *t != DType::fp32 && *t != DType::tf32 && *t != DType::bf16 && *t != DType::fp16)
      throw InputError(fmt::format("--workload '{}': train=1 needs dtype fp32, tf32, bf16 or fp16 (PyTorch "
                                   "trains floating-point parameters); got {}", spec, it->second));
  }
  return opt;
}

std::string workload_names() {
  std::string s;
  for (const auto& w : builtin_workloads()) s += (s.empty() ? "" : ", ") + w.name;
  return s;
}

}  // namespace

const std::vector<WorkloadParam>& common_workload_params() {
  static const std::vector<WorkloadParam> params = {
      {"train",
       "0",
       "1: one training step (forward, backward from a given output gradient, optimizer step); "
       "kernel-level workloads: the op's backward with its inputs requiring grad",
       ParamType::choice,
       {"0", "1"}},
      {"optimizer",
       "adamw",
       "with train=1: adamw (torch.optim.AdamW, foreach), adamw_fused (fused=True), sgd, sgd_momentum, none",
       ParamType::choice,
       {"adamw", "adamw_fused", "sgd", "sgd_momentum", "none"}},
      {"amp",
       "none",
       "with train=1: none (the model trains in its dtype), bf16 (an fp32 model under "
       "torch.autocast(bfloat16): "
       "bf16 products on cast weights, fp32 norms and softmax, fp32 gradients and optimizer, the loss "
       "y.float().pow(2).mean()), fp16 (the same under torch.autocast(float16) with torch.amp.GradScaler: "
       "the scaled loss, the gradients' inf check and unscale, the scale update)",
       ParamType::choice,
       {"none", "bf16", "fp16"}},
      {"clip_grad_norm", "0",
       "with train=1: max_norm of torch.nn.utils.clip_grad_norm_ before the step (Hugging Face Trainer's "
       "max_grad_norm, 1.0 there): the gradients' foreach norm and their scaling (under amp=fp16 after "
       "scaler.unscale_); 0: no clipping",
       ParamType::real}};
  return params;
}

ParamSpec WorkloadParam::spec() const {
  ParamSpec s{name, type, unit, default_value, description, choices};
  if (type == ParamType::integer) s.min = min;
  if (probability) {
    s.lo = 0;
    s.hi = 1;
    s.hi_open = true;
  }
  return s;
}

const WorkloadInfo* find_builtin_workload(const std::string& name) {
  for (const auto& w : builtin_workloads())
    if (w.name == name) return &w;
  return nullptr;
}

namespace {

// The name of a built-in workload spec and its key=value items in order
// (an item without '=' is kept whole as its key, value empty).
struct SpecItems {
  std::string name;
  std::vector<std::pair<std::string, std::string>> items;
};

SpecItems split_spec(const std::string& spec) {
  SpecItems s;
  const auto colon = spec.find(':');
  s.name = spec.substr(0, colon);
  if (colon == std::string::npos) return s;
  const std::string rest = spec.substr(colon + 1);
  for (size_t pos = 0; pos < rest.size();) {
    size_t comma = rest.find(',', pos);
    if (comma == std::string::npos) comma = rest.size();
    const std::string item = rest.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    s.items.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
  }
  return s;
}

// The file an imported workload's spec names (the spec, or the part before one of
// its colons: path:key=value,...); empty for a built-in.
std::string imported_path(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) return spec;
  for (size_t c = spec.find(':'); c != std::string::npos; c = spec.find(':', c + 1))
    if (std::filesystem::is_regular_file(spec.substr(0, c), ec)) return spec.substr(0, c);
  return "";
}

// The name and key=value items of a spec: a built-in's (name:...), or with
// `path` (imported_path) the file's (path:...).
SpecItems spec_items(const std::string& spec, const std::string& path) {
  if (path.empty()) return split_spec(spec);
  SpecItems s = split_spec("x" + spec.substr(path.size()));
  s.name = path;
  return s;
}

// The built-in workload of `spec`; `where` prefixes the errors (an unknown name).
const WorkloadInfo& builtin_of(const std::string& name, const std::string& where) {
  const WorkloadInfo* info = find_builtin_workload(name);
  if (!info)
    throw InputError(fmt::format("{}: unknown workload '{}'; accepted: {}", where, name, workload_names()));
  return *info;
}

}  // namespace

std::string workload_spec_with(const std::string& spec, const std::string& key,
                               const std::string& value, const std::string& set_arg) {
  const std::string where = fmt::format("--set '{}'", set_arg);
  const std::string path = imported_path(spec);
  SpecItems s = spec_items(spec, path);
  const WorkloadParam* decl = nullptr;
  for (const auto& p : common_workload_params())
    if (p.name == key) decl = &p;
  if (!path.empty() && !decl)
    throw InputError(
        fmt::format("{}: the workload '{}' is an imported file; its shapes are fixed "
                    "(accepted: workload.train, workload.optimizer, workload.amp, a training "
                    "step of it; other workload.<key> apply to built-in workloads: {})",
                    where, path, workload_names()));
  if (path.empty()) {
    const WorkloadInfo& info = builtin_of(s.name, where);
    for (const auto& p : info.params)
      if (p.name == key) decl = &p;
    if (!decl)
      throw InputError(fmt::format("{}: unknown key '{}' for workload {}; accepted: {}", where, key,
                                   info.name, accepted_keys(info)));
  }
  if (const std::string why = param_value_problem(decl->spec(), value); !why.empty())
    throw InputError(fmt::format("{}: invalid value '{}' for workload.{}: {}", where, value, key, why));
  bool replaced = false;
  for (auto& [k, v] : s.items)
    if (k == key) {
      v = value;
      replaced = true;
    }
  if (!replaced) s.items.emplace_back(key, value);
  std::string out = s.name;
  for (size_t i = 0; i < s.items.size(); ++i)
    out += (i == 0 ? ":" : ",") + s.items[i].first +
           (s.items[i].second.empty() && s.items[i].first != key ? "" : "=" + s.items[i].second);
  return out;
}

std::vector<std::pair<WorkloadParam, std::string>> workload_param_values(const std::string& spec) {
  const std::string path = imported_path(spec);
  const SpecItems s = spec_items(spec, path);
  WorkloadInfo imported;  // an imported file: the common parameters only
  const WorkloadInfo& info = path.empty() ? builtin_of(s.name, "--workload") : imported;
  std::vector<std::pair<WorkloadParam, std::string>> out;
  auto add = [&](const WorkloadParam& p) {
    std::string v = p.default_value;
    for (const auto& [k, given] : s.items)
      if (k == p.name) v = given;
    out.emplace_back(p, v);
  };
  for (const auto& p : info.params) add(p);
  for (const auto& p : common_workload_params()) add(p);
  return out;
}

int64_t wl_int(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size())
    throw InputError(fmt::format("workload parameter '{}': '{}' is not an integer", key, v));
  if (out <= 0)
    throw InputError(fmt::format("workload parameter '{}': {} must be a positive integer", key, v));
  // Builders multiply up to three parameters in int64; 2^31 keeps that exact.
  if (out > (int64_t{1} << 31))
    throw InputError(fmt::format("workload parameter '{}': {} is larger than the accepted 2^31",
                                 key, v));
  return out;
}

DType wl_dtype(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  auto t = parse_dtype(v);
  if (!t)
    throw InputError(fmt::format("workload parameter '{}': unknown dtype '{}'; accepted: {}", key,
                                 v, dtype_names()));
  return *t;
}

bool wl_bool(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  if (v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw InputError(fmt::format("workload parameter '{}': '{}' is not a boolean (accepted: 0, 1, "
                               "true, false)", key, v));
}

const std::string& wl_choice(const std::map<std::string, std::string>& p, const std::string& key,
                             const std::vector<std::string>& accepted) {
  const std::string& v = p.at(key);
  for (const auto& a : accepted)
    if (a == v) return v;
  std::string acc;
  for (const auto& a : accepted) acc += (acc.empty() ? "" : ", ") + a;
  throw InputError(fmt::format("workload parameter '{}': '{}' is not accepted; accepted: {}", key,
                               v, acc));
}

double wl_probability(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(out) || out < 0 || out >= 1)
    throw InputError(
        fmt::format("workload parameter '{}': '{}' is not accepted; expected a probability in "
                    "[0, 1) (e.g. 0.1)",
                    key, v));
  return out;
}

WorkloadParam probability_param(const std::string& name, const std::string& default_value,
                                const std::string& description) {
  WorkloadParam w{name, default_value, description, ParamType::real};
  w.probability = true;
  return w;
}

WorkloadParam dropout_param(const std::string& description) {
  return probability_param("dropout", "0", description);
}

bool wl_dropout(const std::map<std::string, std::string>& p) {
  const double d = wl_probability(p, "dropout");
  if (d > 0 && p.count("train") && p.at("train") != "1")
    throw InputError(
        fmt::format("workload parameter 'dropout': {} applies to a training step (add train=1); "
                    "in inference (model.eval()) dropout launches nothing",
                    p.at("dropout")));
  return d > 0;
}

namespace {

// NAME=SIZE,... after an ONNX file: sizes of its symbolic dimensions, positive
// integers up to 2^31 (as the built-ins' integer parameters).
std::map<std::string, int64_t> onnx_dims(const std::string& spec, const std::string& list) {
  std::map<std::string, int64_t> dims;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(pos, comma - pos);
    pos = comma + 1;
    const auto eq = item.find('=');
    if (item.empty() || eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw InputError(
          fmt::format("--workload '{}': malformed dimension '{}'; expected NAME=SIZE,... (the model's "
                      "symbolic input dimensions)",
                      spec, item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    int64_t v = 0;
    const auto [end, errc] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (errc != std::errc() || end != value.data() + value.size() || v < 1 || v > (int64_t{1} << 31))
      throw InputError(fmt::format(
          "--workload '{}': dimension '{}': '{}' is not a positive integer up to 2^31", spec, key, value));
    if (!dims.emplace(key, v).second)
      throw InputError(fmt::format("--workload '{}': dimension '{}' is given twice", spec, key));
    if (comma == list.size()) break;
  }
  return dims;
}

// An imported model with parameters after its path: path:key=value,... The
// common parameters (train, optimizer, amp) make it a training step; an ONNX
// model's other keys size its symbolic dimensions.
Graph build_imported(const std::string& spec, const std::string& path, const std::string& list) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (list.find(",,") != std::string::npos || (!list.empty() && list.front() == ','))
    throw InputError(
        fmt::format("--workload '{}': empty item in the parameter list; expected key=value,...", spec));
  std::map<std::string, std::string> common;
  std::string dims;
  for (const auto& [key, value] : split_spec("x:" + list).items) {
    if (!is_common_param(key)) {
      dims += (dims.empty() ? "" : ",") + key + (value.empty() ? "" : "=" + value);
      continue;
    }
    if (value.empty())
      throw InputError(
          fmt::format("--workload '{}': malformed parameter '{}'; expected key=value", spec, key));
    if (!common.emplace(key, value).second)
      throw InputError(fmt::format("--workload '{}': parameter '{}' given twice", spec, key));
  }
  if (!dims.empty() && ext != ".onnx")
    throw InputError(fmt::format(
        "--workload '{}': '{}' takes train, optimizer and amp after its path (a training step of the "
        "imported model); symbolic dimensions (model.onnx:batch_size=8) apply to .onnx models",
        spec, path));
  Graph g = ext == ".onnx"
                ? import_onnx(path, dims.empty() ? std::map<std::string, int64_t>{} : onnx_dims(spec, dims))
                : import_workload_file(path);
  g.spec = spec;
  validate_graph(g, spec);
  WorkloadInfo info;
  info.name = path;
  const std::optional<TrainingOptions> training = training_options(spec, info, common, {});
  if (!training) return g;
  for (const auto& op : g.ops)
    if ((op.kind == OpKind::matmul || op.kind == OpKind::conv2d) && op.dtype != DType::fp32 &&
        op.dtype != DType::tf32 && op.dtype != DType::bf16 && op.dtype != DType::fp16)
      throw InputError(
          fmt::format("--workload '{}': train=1 needs products in fp32, tf32, bf16 or fp16 "
                      "(PyTorch trains floating-point parameters); op '{}' is {}",
                      spec, op.name, dtype_name(op.dtype)));
  if (!has_parameters(g))
    throw InputError(fmt::format(
        "--workload '{}': train=1: the imported model has no parameters (convolutions, normalisations, "
        "embeddings, or products marked with attr param = 1, as scripts/trace_pytorch.py marks "
        "nn.Linear), so a training step has nothing to train",
        spec));
  try {
    append_training_step(g, *training);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--workload '{}': {}", spec, e.what()));
  }
  validate_graph(g, spec);
  return g;
}

}  // namespace

Graph build_workload(const std::string& spec) {
  if (spec.empty()) throw InputError("--workload: empty workload spec; expected name:key=value,...");
  // A path to an existing file is imported.
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) {
    Graph g = import_workload_file(spec);
    validate_graph(g, spec);
    return g;
  }
  // A file with parameters: path:key=value,...
  if (const std::string path = imported_path(spec); !path.empty())
    return build_imported(spec, path, spec.substr(path.size() + 1));
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const WorkloadInfo* info = nullptr;
  for (const auto& w : builtin_workloads())
    if (w.name == name) info = &w;
  if (!info) {
    const bool looks_like_file = name.find('/') != std::string::npos ||
                                 name.find('.') != std::string::npos;
    if (looks_like_file)
      throw InputError(fmt::format("--workload: file '{}' {}", spec, not_a_file_reason(spec)));
    throw InputError(fmt::format("--workload: unknown workload '{}'; accepted: {} (or a path to a "
                                 "JSON trace, SCALE-Sim topology .csv or .onnx file)",
                                 name, workload_names()));
  }
  std::map<std::string, std::string> params, common;
  if (colon != std::string::npos) {
    std::string rest = spec.substr(colon + 1);
    size_t pos = 0;
    while (pos <= rest.size()) {
      size_t comma = rest.find(',', pos);
      if (comma == std::string::npos) comma = rest.size();
      std::string item = rest.substr(pos, comma - pos);
      pos = comma + 1;
      if (item.empty()) {
        if (comma == rest.size()) break;
        throw InputError(fmt::format("--workload '{}': empty item in the parameter list; "
                                     "expected key=value,...", spec));
      }
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
        throw InputError(fmt::format("--workload '{}': malformed parameter '{}'; expected "
                                     "key=value", spec, item));
      const std::string key = item.substr(0, eq);
      bool known = is_common_param(key);
      for (const auto& p : info->params) known = known || p.name == key;
      if (!known)
        throw InputError(fmt::format("--workload '{}': unknown parameter '{}' for {}; accepted: "
                                     "{}", spec, key, name, accepted_keys(*info)));
      auto& dest = is_common_param(key) ? common : params;
      if (dest.count(key))
        throw InputError(fmt::format("--workload '{}': parameter '{}' given twice", spec, key));
      dest[key] = item.substr(eq + 1);
    }
  }
  // amp=bf16/fp16 runs the model's fp32 module (its master weights) under autocast.
  if (common.count("amp") && (common.at("amp") == "bf16" || common.at("amp") == "fp16")) {
    const std::string& amp = common.at("amp");
    bool has_dtype = false;
    for (const auto& p : info->params) has_dtype = has_dtype || p.name == "dtype";
    if (has_dtype) {
      if (params.count("dtype") && params.at("dtype") != "fp32")
        throw InputError(fmt::format("--workload '{}': parameter 'dtype': amp={} runs the fp32 model under "
                                     "autocast; accepted with amp={}: fp32 (or leave dtype out)", spec, amp, amp));
      params["dtype"] = "fp32";
    }
  }
  for (const auto& p : info->params) {
    if (params.count(p.name)) continue;
    if (p.default_value.empty())
      throw InputError(fmt::format("--workload '{}': missing required parameter '{}' ({})", spec,
                                   p.name, p.description));
    params[p.name] = p.default_value;
  }
  const std::optional<TrainingOptions> training = training_options(spec, *info, common, params);
  // Builders see whether the graph becomes a training step (a model whose
  // inference and training kernels differ decides so itself: the RNNs' algo).
  params["train"] = training ? "1" : "0";
  Graph g;
  try {
    g = info->build(params);
    if (is_parallel_graph(g) && !training && g.info.count("grad_reduce_fp32"))
      throw InputError("parameter 'grad_reduce' applies to a training step only (add train=1)");
    if (is_parallel_graph(g))
      g = finish_parallel_graph(g, training ? &*training : nullptr);
    else if (training)
      append_training_step(g, *training);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--workload '{}': {}", spec, e.what()));
  }
  g.spec = spec;
  if (g.name.empty()) g.name = name;
  validate_graph(g, "--workload '" + spec + "'");
  return g;
}

}  // namespace tessera
