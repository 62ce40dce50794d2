#pragma once
// Precision report of a run (`tessera run --precision`): every op's output error
// against an fp64 reference on sampled output elements, computed bit-exactly
// through the accumulation model of the hardware's matrix unit
// (models/numerics), plus the rounding error of the vector ops' outputs.
#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "models/hardware.h"
#include "models/numerics/accumulation.h"
#include "workloads/ir.h"

namespace tessera {

struct PrecisionOptions {
  int64_t samples = 256;       // sampled output elements per op
  uint64_t seed = 1;           // operand draws (deterministic for a seed)
  std::string dist = "normal"; // operand distribution: normal | uniform01
};

// Accumulation preset for an op's operand format on this hardware: the
// `numerics.family` of the description ("h100", "a100", "v100", "ideal") joined
// with the format ("h100_bf16"); formats without a preset of that family use an
// exact integer path (integer formats) or the ideal fp32 accumulator. fast_accum
// (matmul attr) picks the fp8 fast-accumulation preset ("h100_fp8_fastacc").
std::string accumulation_preset_for(const Hardware& hw, DType operand, bool fast_accum = false);

// The accumulation model the hardware's matrix unit uses for an op with operand
// format `operand` (Compute::operand_dtype): the compute model's own when it has
// one (Compute::accumulation), else the preset accumulation_preset_for() names.
// The precision report and the end-to-end emulation (sim/propagate.h) both use it.
numerics::AccumulationModel accumulation_model_for(const Hardware& hw, const Op& op, DType operand);

// Rounds a whole tensor to format t as the hardware holds it. Floating-point and
// block formats: quantize_inplace (RNE, saturating; block scales per block).
// Integer formats hold integers times one scale per tensor, symmetric max
// calibration (Wu, Judd, Zhang, Isaev, Micikevicius, "Integer Quantization for
// Deep Learning Inference: Principles and Empirical Evaluation", arXiv:2004.09602,
// 2020, §3.1 scale quantization, §4.1 max calibration): scale = max|x| / the
// format's largest integer (int8 127, int4 7, uint8 255 with negatives clamped
// to 0, ternary 1, int32 2^31 - 1), each value rounded (RNE) to an integer
// multiple of it. An all-zero tensor stays zero. Without a scale an int8 tensor
// of O(1) activations would round to a handful of integers.
void quantize_tensor(std::span<double> x, DType t);

// {"ops": [{name, kind, preset, k, normwise_rel_err, max_abs_err, snr_db,
//           overflow, underflow, nan, samples}], "total": {...}}
nlohmann::json precision_report(const Graph& g, const Hardware& hw, const PrecisionOptions& opt);

// Estimated CPU seconds of precision_report(g, hw, opt): opt.samples dot products
// of each distinct (path, K) times the path's cost per product
// (numerics::emulation_ns_per_mac). `run --precision` checks it against
// engine.emulation_budget before it starts.
double precision_report_seconds(const Graph& g, const Hardware& hw, const PrecisionOptions& opt);

}  // namespace tessera
