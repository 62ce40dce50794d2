#pragma once
// Built-in workloads, built from a spec "name:key=value,...", e.g.
// "gemm:m=4096,n=4096,k=4096,dtype=bf16" or "llama-7b:phase=decode,ctx=4096".
// A spec that names an existing file is imported instead (JSON trace, SCALE-Sim
// topology CSV, ONNX model) by build_workload().
#include <map>
#include <string>
#include <vector>

#include "workloads/ir.h"

namespace tessera {

struct WorkloadParam {
  std::string name;
  std::string default_value;   // empty = required
  std::string description;
};

struct WorkloadInfo {
  std::string name;
  std::string description;
  std::vector<WorkloadParam> params;
  // Builds the graph from validated parameters (every declared param present).
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
Graph build_workload(const std::string& spec);

// Helpers for builders: typed access to validated parameters (throw InputError).
int64_t wl_int(const std::map<std::string, std::string>& p, const std::string& key);
DType wl_dtype(const std::map<std::string, std::string>& p, const std::string& key);
bool wl_bool(const std::map<std::string, std::string>& p, const std::string& key);
const std::string& wl_choice(const std::map<std::string, std::string>& p, const std::string& key,
                             const std::vector<std::string>& accepted);

}  // namespace tessera
