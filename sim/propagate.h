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
// The hardware path's dot products are the bit-exact accumulation model of the
// matrix unit (numerics::dot_unrounded: products, alignment and truncation of the
// addends, accumulator width and rounding, promotion, K blocking), the same
// model the per-op report (sim/precision.h) samples. Operands and outputs are
// rounded to each op's format as whole tensors (quantize_tensor: integer formats
// with one max-calibrated scale per tensor). The per-op error is that of the
// accumulation on operands already in the format; the end-to-end error also
// holds the rounding of the inputs and weights to the format and what earlier
// ops passed on, so it is the larger of the two for one GEMM.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "models/hardware.h"
#include "sim/precision.h"
#include "workloads/ir.h"

namespace tessera {

double graph_macs(const Graph& g);

// Estimated CPU seconds of propagate_error(g, hw, ...): every op's
// multiply-accumulates times its accumulation path's cost
// (numerics::emulation_ns_per_mac); the vector ops are not counted.
double propagate_seconds(const Graph& g, const Hardware& hw);

// {"ops": [{name, normwise_rel_err}], "output": {name, normwise_rel_err,
//  max_abs_err, snr_db, nan, inf}, "macs": N}. Throws InputError when
// propagate_seconds() exceeds budget_s (engine.emulation_budget).
nlohmann::json propagate_error(const Graph& g, const Hardware& hw, const PrecisionOptions& opt,
                               double budget_s = 1.0);

}  // namespace tessera
