#pragma once
// Built-in workloads, built from a spec "name:key=value,...", e.g.
// "gemm:m=4096,n=4096,k=4096,dtype=bf16" or "llama-7b:phase=decode,ctx=4096".
// A spec that names an existing file is imported instead (JSON trace, SCALE-Sim
// topology CSV, ONNX model) by build_workload().
#include <map>
#include <string>
#include <vector>

#include "core/params.h"
#include "workloads/ir.h"

namespace tessera {

// A workload parameter's declaration. Unless declared otherwise a parameter is a
// positive integer; `choices` lists the accepted values of a choice and the
// words an integer also accepts ("auto"). The declaration drives `--set
// workload.<key>` validation and `tessera list params`; builders read the
// values with wl_int/wl_dtype/... (below).
struct WorkloadParam {
  std::string name;
  std::string default_value;   // empty = required
  std::string description;
  ParamType type = ParamType::integer;
  std::vector<std::string> choices = {};
  int64_t min = 1;              // integer only
  Unit unit = Unit::none;       // quantity only (bytes: "64MiB", "4096")
  bool probability = false;     // real only: accepted in [0, 1)
  // As a ParamSpec (name, type, default, description, choices, min).
  ParamSpec spec() const;
};

struct WorkloadInfo {
  std::string name;
  std::string description;
  std::vector<WorkloadParam> params;
  // Builds the graph from validated parameters (every declared param present),
  // plus "train": "1" when build_workload appends a training step to it, else "0".
  Graph (*build)(const std::map<std::string, std::string>& params);
  // A single functional kernel (gemm, conv2d, attention, ...) rather than a model:
  // with train=1 its inputs require grad and there is no optimizer step.
  bool kernel_level = false;
};

const std::vector<WorkloadInfo>& builtin_workloads();
// Parameters every built-in workload accepts besides its own (handled by
// build_workload): train (0/1) and optimizer (see workloads/training.h).
const std::vector<WorkloadParam>& common_workload_params();
// Parses the spec, checks keys against the declaration, fills defaults, builds
// and validates. Throws InputError naming the spec, the key and what is accepted.
// A file path is imported; path:key=value,... takes the common parameters (a
// training step of the imported model) and, for .onnx, its symbolic dimensions.
Graph build_workload(const std::string& spec);

// The built-in workload called `name`, or nullptr.
const WorkloadInfo* find_builtin_workload(const std::string& name);

// `spec` with key=value set: an existing key's value is replaced in place, a new
// key is appended, so the result equals the spec written with the key in it.
// `set_arg` (the whole `--set` argument) prefixes every error: the key is unknown
// (the accepted keys follow; an imported file takes only the common ones: train,
// optimizer, amp), the value does not fit the declared type.
std::string workload_spec_with(const std::string& spec, const std::string& key,
                               const std::string& value, const std::string& set_arg);

// The declared parameters of a workload spec (a built-in's own, then the common
// ones; an imported file's common ones) with their current values: as given in
// the spec, else the default (empty when required and missing). Throws
// InputError for an unknown name.
std::vector<std::pair<WorkloadParam, std::string>> workload_param_values(const std::string& spec);

// Helpers for builders: typed access to validated parameters (throw InputError).
int64_t wl_int(const std::map<std::string, std::string>& p, const std::string& key);
DType wl_dtype(const std::map<std::string, std::string>& p, const std::string& key);
bool wl_bool(const std::map<std::string, std::string>& p, const std::string& key);
const std::string& wl_choice(const std::map<std::string, std::string>& p, const std::string& key,
                             const std::vector<std::string>& accepted);
// A probability in [0, 1) (a dropout's p), and a parameter declared as one.
double wl_probability(const std::map<std::string, std::string>& p, const std::string& key);
WorkloadParam probability_param(const std::string& name, const std::string& default_value,
                                const std::string& description);
// The `dropout` parameter of the models with nn.Dropout layers (HF's configs), and
// its value: > 0 only in a training step (p["train"] = "1"); in inference
// (model.eval()) dropout launches nothing, so a p > 0 there is refused.
WorkloadParam dropout_param(const std::string& description);
bool wl_dropout(const std::map<std::string, std::string>& p);

}  // namespace tessera
