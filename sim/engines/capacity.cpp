#include "sim/engines/capacity.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/units.h"
#include "workloads/models/parallel.h"

namespace tessera {
namespace {
double bytes_of(DType t) { return dtype_info(t).storage_bits / 8.0; }

// Parameter elements of `op` (op_param_elems), a tied group's once.
double param_elems(const Op& op, std::map<int64_t, int>& tied_seen) {
  if (const int64_t tied = op.get("tied", 0); tied != 0 && tied_seen[tied]++ > 0) return 0;
  return op_param_elems(op);
}

// Optimizer state bytes per parameter, from the optimizer's kernels in the graph.
// torch.optim keeps its state in the parameters' format (exp_avg and exp_avg_sq,
// or the momentum buffer, are zeros_like(param)) and no master copy: AdamW on a
// bf16 model holds 2 x 2 bytes per parameter, on fp32 (or autocast's fp32)
// parameters 2 x 4; the step's kernels (workloads/training/optimizers.cpp) read
// and write the state in that format too.
double optimizer_bytes_per_param(const Graph& g, size_t first_optimizer_op, double param_bytes) {
  bool adam = false, momentum = false, any = false;
  for (size_t i = first_optimizer_op; i < g.ops.size(); ++i) {
    const std::string& n = g.ops[i].name;
    adam = adam || n.rfind("adamw", 0) == 0;
    momentum = momentum || n.find("momentum") != std::string::npos;
    any = true;
  }
  if (!any) return 0;
  return param_bytes * (adam ? 2 : momentum ? 1 : 0);
}

}  // namespace

Footprint graph_footprint(const Graph& g) {
  Footprint f;
  const bool training = info_or(g, "train_step", 0) != 0;
  const size_t n_fwd = training ? static_cast<size_t>(info_or(g, "ops_forward", 0)) : g.ops.size();
  const size_t n_bwd = training ? static_cast<size_t>(info_or(g, "ops_backward", 0)) : 0;
  std::map<int64_t, int> tied;
  double params = 0, param_bytes = 0;
  // Mixed precision (workloads/training/autocast.cpp): the parameters are fp32
  // master weights whatever their products' format; the bf16 copies autocast
  // makes are forward outputs (activations).
  const bool amp = info_or(g, "amp", 0) != 0;
  for (size_t i = 0; i < n_fwd && i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    const double p = param_elems(op, tied);
    params += p;
    param_bytes += p * (amp ? 4.0 : bytes_of(op.dtype));
    if (op.kind == OpKind::kv_read || op.kind == OpKind::kv_write) {
      // K and V of `positions` tokens: a read covers the cached tokens and the
      // appended ones; a write into a preallocated cache covers the whole context.
      const double positions = op.kind == OpKind::kv_read
                                   ? static_cast<double>(op.at("tokens") + op.get("append", 0))
                                   : std::max(static_cast<double>(op.at("tokens")), info_or(g, "context", 0));
      f.kv_cache += 2.0 * static_cast<double>(op.at("batch") * op.at("kv_heads") * op.at("d")) * positions *
                    bytes_of(op.dtype);
      continue;
    }
    if (is_collective_kind(op.kind)) continue;
    if (training) {
      f.activations += static_cast<double>(op_out_elems(op)) * bytes_of(op.out_dtype);
      // native_dropout's bool mask is kept for its backward (1 byte per element).
      if (op.kind == OpKind::dropout) f.activations += static_cast<double>(op_out_elems(op));
    } else {
      std::map<int64_t, int> none;
      const double own = param_elems(op, none) * bytes_of(op.dtype);
      f.activations = std::max(f.activations, std::max(0.0, op_min_bytes(op) - own));
    }
  }
  f.weights = param_bytes;
  if (training) {
    f.gradients = param_bytes;
    const double pb = params > 0 ? param_bytes / params : 4;
    f.optimizer = params * optimizer_bytes_per_param(g, n_fwd + n_bwd, pb);
  }
  return f;
}

nlohmann::json footprint_json(const Footprint& f, const Hardware& hw) {
  const double cap = hw.outermost_memory().capacity_bytes();
  return {{"weights_bytes", f.weights},
          {"grads_bytes", f.gradients},
          {"optimizer_bytes", f.optimizer},
          {"activations_bytes", f.activations},
          {"kv_cache_bytes", f.kv_cache},
          {"total_bytes", f.total()},
          {"capacity_bytes", cap},
          {"memory_level", hw.memories().back().first},
          {"fits", cap <= 0 || f.total() <= cap}};
}

std::string footprint_breakdown(const Footprint& f) {
  const auto q = [](double v) { return format_quantity(v, Unit::bytes); };
  return fmt::format("weights {}, gradients {}, optimizer state {}, activations {}, KV cache {}", q(f.weights),
                     q(f.gradients), q(f.optimizer), q(f.activations), q(f.kv_cache));
}

void check_capacity(const Footprint& f, const Hardware& hw, const std::string& device, bool allow) {
  const double cap = hw.outermost_memory().capacity_bytes();
  if (allow || cap <= 0 || f.total() <= cap) return;
  throw CapacityError(fmt::format(
      "{}: {} must stay resident ({}) but the device's memory ({}) holds {}; shard it over more devices "
      "(tp, pp, dp, zero), reduce the batch or sequence, or --set engine.allow_over_capacity=1 to report "
      "it as a warning", device, format_quantity(f.total(), Unit::bytes), footprint_breakdown(f),
      hw.memories().back().first, format_quantity(cap, Unit::bytes)));
}

}  // namespace tessera
