#pragma once
// One parametrised model of a dot-product / matrix-multiply accumulation path.
//
// A dot product of K products a_k*b_k runs through four nested stages:
//
//   library   K is cut into chunks of `k_chunk` products (cuBLAS K blocking or
//             split-K); each chunk is reduced by the stages below starting from
//             zero, and chunk results are added in fp32 (RNE) in order.
//   promotion inside a chunk, every `promotion_interval` products the tensor-core
//             accumulator is added into an fp32 (RNE) register and cleared
//             (CUTLASS/cuBLAS FP8 "two-level accumulation", DeepSeek-V3 §3.3).
//   step      the tensor core adds `group_size` products and its running
//             accumulator in one operation: every addend is aligned to the largest
//             exponent among them, keeping `alignment_bits` bits below that
//             exponent (shifted-out bits truncated or rounded), the aligned addends
//             are summed exactly, and the sum is normalised to an accumulator with
//             `accumulator_mant_bits` fraction bits (truncated or RNE).
//   product   a_k*b_k exactly, or rounded to `product_format`.
//
// The output is then rounded (RNE) to the output format. Fasi, Higham, Mikaitis,
// Pranesh, "Numerical behavior of NVIDIA tensor cores", PeerJ CS 7:e330 (2021)
// is the origin of the step model; the H100 parameters were fitted to the raw
// H100 outputs in reference/h100/precision-bits (see docs/numerics.md).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/numerics/format.h"
#include "core/dtype.h"

namespace tessera::numerics {

// Products between promotions of the fp8 tensor-core accumulator into an fp32
// register (H100 cuBLAS default mode, CUTLASS two-level accumulation): 128 = 4
// k32 WGMMAs per k-tile, the only interval that reproduces the measured fp8_e4m3
// and fp8_e5m2xe4m3 bits (64 and 256 fail; presets.cpp, h100_fp8). The GPU
// mapper issues its promotion work at the same interval.
inline constexpr int64_t k_fp8_promotion_interval = 128;

struct AccumulationModel {
  std::string name;         // preset name, e.g. "h100_bf16"
  std::string description;  // hardware path modelled and where the parameters come from

  bool exact_products = true;          // products a*b enter the adder exactly
  DType product_format = DType::fp32;  // format products are rounded to (RNE) if !exact_products
  int group_size = 1;                  // products added per step together with the accumulator
  int alignment_bits = 52;             // bits kept below the largest addend exponent after alignment
  Rounding alignment_rounding = Rounding::toward_zero;  // fate of shifted-out bits (RZ or RNE)
  bool align_on_operand_exponents = false;  // product exponent = ea + eb (unnormalised) instead
                                            // of floor(log2|a*b|); the accumulator's is its own
  int accumulator_mant_bits = 23;      // fraction bits of the normalised running sum
  Rounding accumulator_rounding = Rounding::nearest_even;  // normalisation of each step (RZ/RNE)
  int64_t promotion_interval = 0;      // products between moves into an fp32 register; 0 = never
  int64_t k_chunk = 0;                 // library K blocking, chunks summed in fp32; 0 = no blocking
  // Library split-K as a rule over K (chunk_for): K <= unblocked_max_k is one
  // chunk; a longer K is cut into s = ceil((K / split_k0)^split_exponent) splits,
  // each of ceil(K / s) products rounded up to a multiple of k_tile (the kernel's
  // K step), the last one shorter. With the exponent 1/2 the K iterations per
  // split and the number of splits grow together. split_k0 = 0: no rule.
  int64_t unblocked_max_k = 0;
  double split_k0 = 0;
  double split_exponent = 0.5;
  int64_t k_tile = 1;
  // Explicit K-dependent blocking (used only without a split_k0 rule): the first
  // entry with K <= max_k gives the chunk (0 = no blocking); else k_chunk applies.
  struct KBlockRule {
    int64_t max_k;
    int64_t chunk;
  };
  std::vector<KBlockRule> k_blocking;
  bool chunk_pairwise = false;         // chunk results summed as a pairwise tree, else in order
  bool fp32_fma_chain = false;         // CUDA-core path: every step is one correctly rounded fp32
                                       // FMA (group/alignment/accumulator fields unused)
  bool integer_exact = false;          // int8-style: exact integer sum (int32 wrap-free) then output
  bool fp64_reference = false;         // plain fp64 fused multiply-add chain (the error reference)
  DType output = DType::fp32;          // output format (RNE, non-saturating)
};

// Chunk length m uses for a dot product of length K (0 = whole K in one chunk).
int64_t chunk_for(const AccumulationModel& m, int64_t K);

// Names of the built-in presets, sorted.
std::vector<std::string> accumulation_preset_names();
// Throws std::invalid_argument naming the accepted names when `name` is unknown.
const AccumulationModel& accumulation_preset(std::string_view name);

// The accumulated value of the dot product of a[0..K) and b[0..K) (operands
// already in their formats) before output rounding: the library, promotion, step
// and product stages above, bit-exact. No allocation unless chunk_pairwise; the
// end-to-end emulation (sim/propagate.h) calls it for every output element.
double dot_unrounded(const AccumulationModel& m, const double* a, const double* b, int64_t K);

// CPU time one multiply-accumulate of dot_unrounded(m, ...) costs, by the code path
// m takes (nanoseconds; bench_emulation measures them): the bound on emulation
// work that `run --precision` and `compare` enforce before they start. An
// estimate, deliberately on the slow side, and the same on every machine so that
// the decision to emulate is deterministic.
double emulation_ns_per_mac(const AccumulationModel& m);

// Dot product of operands already in their formats (values as doubles; a and b
// the same length K). Returns the value after output rounding to `out`.
double dot(const AccumulationModel& m, std::span<const double> a, std::span<const double> b,
           DType out);
inline double dot(const AccumulationModel& m, std::span<const double> a,
                  std::span<const double> b) {
  return dot(m, a, b, m.output);
}

// One tensor-core step: accumulator `acc` (a value of the accumulator format) plus
// the products p, per the step parameters of m. `pe` holds each product's
// alignment exponent (ea + eb when align_on_operand_exponents, else ignored).
double accumulate_step(const AccumulationModel& m, double acc, std::span<const double> p,
                       std::span<const int> pe);

// Error of the modelled path against an fp64 reference on sampled output elements
// of an M x N x K product whose operands are drawn from `dist` ("normal": N(0,1);
// "uniform01": U[0,1)) and rounded (RNE, saturating) to a and b. `samples` output
// elements are spread over 2 ceil(sqrt(samples)) rows of A and as many columns of B
// (plan in accumulation.cpp), every one computed bit-exactly. The error figures
// exclude NaN/inf outputs, which are counted instead. Deterministic for a seed.
struct MatmulPrecision {
  double normwise_rel_err;  // ||C - ref||_F / ||ref||_F over the sampled elements
  double max_abs_err;       // max |C - ref|
  double snr_db;            // 10 log10(sum ref^2 / sum (C - ref)^2)
  int64_t overflow;         // elements whose output is +-inf (or NaN from overflow)
  int64_t underflow;        // nonzero reference whose output is 0
  int64_t nan;              // NaN outputs
  int64_t samples;          // elements evaluated
};
MatmulPrecision evaluate_matmul_precision(const AccumulationModel& m, DType a, DType b, DType out,
                                          int64_t K, std::string_view dist, int64_t samples,
                                          uint64_t seed);

// The same for several output formats of one accumulation (e.g. fp16 and fp32
// outputs of an fp16 GEMM): one pass, one result per entry of `outs`.
std::vector<MatmulPrecision> evaluate_matmul_precision_outputs(const AccumulationModel& m, DType a,
                                                              DType b, std::span<const DType> outs,
                                                              int64_t K, std::string_view dist,
                                                              int64_t samples, uint64_t seed);

}  // namespace tessera::numerics
