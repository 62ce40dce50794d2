#pragma once
// Device memory capacity: what a run keeps resident on one device, and the check
// that it fits the device's outermost memory level (HBM, DRAM).
//
// Footprint of one device (bytes):
//   weights       parameters the device holds (param tensors of the graph's
//                 forward ops, tied weights once; parallel: its shard)
//   gradients     training: one per parameter, in the parameters' format
//   optimizer     training: the optimizer's state per parameter (AdamW: momentum
//                 and variance, 8 B, plus a 4-byte fp32 master copy when the
//                 parameters are narrower than fp32; SGD with momentum: 4 B (+4);
//                 ZeRO, Rajbhandari et al. 2020 §3)
//   activations   training: every forward op's output, saved for the backward
//                 pass (autograd's saved tensors, no recomputation); inference:
//                 the largest op's inputs and outputs besides its weights (a
//                 forward pass that frees each activation once consumed)
//   kv_cache      K and V of the cache a decode step uses: every kv_read's cached
//                 and appended tokens (a dynamic cache), every kv_write's whole
//                 context (a preallocated cache); a prefill's newly computed K and
//                 V are counted as its activations
// A parallel workload states its devices' footprints in graph.info
// (workloads/models/parallel.h).
//
// Over capacity is an error (InputError naming the device, the breakdown and the
// capacity) unless the engine parameter allow_over_capacity is set, which makes
// it a warning in the report.
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "workloads/ir.h"

namespace tessera {

struct Footprint {
  double weights = 0, gradients = 0, optimizer = 0, activations = 0, kv_cache = 0;
  double total() const { return weights + gradients + optimizer + activations + kv_cache; }
};

// The footprint of a single-device graph (a training step or a forward pass).
Footprint graph_footprint(const Graph& g);

// {weights_bytes, grads_bytes, optimizer_bytes, activations_bytes, kv_cache_bytes,
//  total_bytes, capacity_bytes, memory_level, fits}; capacity 0 = not stated (fits).
nlohmann::json footprint_json(const Footprint& f, const Hardware& hw);

// "weights 1 GiB, gradients ..., KV cache 0 B" for messages.
std::string footprint_breakdown(const Footprint& f);

// The InputError check_capacity throws: `compare` reports a record whose workload
// does not fit as skipped with its message; `sweep` records the point as an error.
class CapacityError : public InputError {
 public:
  using InputError::InputError;
};

// Throws CapacityError (an InputError) when `f` exceeds the capacity of hw's outermost memory level
// and !allow: the message names `device`, the breakdown, the capacity and the
// ways out (shard over devices, smaller batch, engine.allow_over_capacity=1).
void check_capacity(const Footprint& f, const Hardware& hw, const std::string& device, bool allow);

}  // namespace tessera
