#pragma once
// End-to-end error of a (small) network: the graph is executed numerically
// twice on the same seeded inputs and weights -- once in fp64, once the way the
// hardware computes it (operands rounded to each op's format, dot products
// accumulated with the matrix unit's accumulator width and grouping, vector ops
// in fp32 with outputs rounded to the op's format) -- and every op's output is
// compared with its fp64 counterpart. Errors therefore accumulate from op to op
// as they do in the real network.
//
// Data flow: an op reads its producers (Op::deps) in order; when a producer's
// output has a different element count the values are reused cyclically, and
// inputs without a producer (and all weights) are seeded random tensors (weights
// scaled by 1/sqrt(fan-in) so activations stay O(1)).
//
// "Fast" emulation: products are exact, the aligned-addend truncation of the
// bit-exact model is not applied (the per-op report in sim/precision.h is the
// bit-exact one); group size, accumulator width and rounding, promotion and K
// blocking are.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "models/hardware.h"
#include "sim/precision.h"
#include "workloads/ir.h"

namespace tessera {

// Multiply-accumulates a graph may have for propagate_error() (a few seconds).
constexpr double kPropagateMacLimit = 2e9;

double graph_macs(const Graph& g);

// {"ops": [{name, normwise_rel_err}], "output": {name, normwise_rel_err,
//  max_abs_err, snr_db, nan, inf}, "macs": N}. Throws InputError when the graph
// has more than kPropagateMacLimit multiply-accumulates.
nlohmann::json propagate_error(const Graph& g, const Hardware& hw, const PrecisionOptions& opt);

}  // namespace tessera
