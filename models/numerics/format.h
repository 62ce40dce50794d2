#pragma once
// Bit-exact software emulation of the number formats named by tessera::DType.
//
// Every binary floating-point format (fp64 down to fp4) is one parametrised
// minifloat, FloatFormat: sign bit, `exp_bits` exponent bits with `bias`,
// `mant_bits` stored fraction bits, gradual underflow (subnormals), and a rule for
// the top exponent code (IEEE inf/NaN, OCP "fn" single NaN pattern, or ordinary
// finite values). Integer formats (int32/int8/int4/uint8/ternary) are clamped
// integer grids. Block-scaled formats (MXFP8/6/4, NVFP4) combine an element
// FloatFormat with a per-block scale (see BlockFormat).
//
// Conversions go from double (every value of every format here is exactly a
// double, so double is the common carrier) with a rounding mode and a saturation
// flag. Decoding returns the exact double.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera::numerics {

// 2^e as a double, built from its bit pattern inside the normal range.
inline double pow2(int e) {
  if (e < -1022 || e > 1023) return std::ldexp(1.0, e);
  const uint64_t b = static_cast<uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

enum class Rounding {
  nearest_even,  // IEEE 754 roundTiesToEven
  toward_zero,   // truncation of the magnitude
  stochastic,    // round up with probability (x - floor)/ulp; needs a seed and an index
};

// What the all-ones exponent code means.
enum class SpecialCodes {
  ieee,       // all-ones exponent: mantissa 0 = inf, otherwise NaN (fp64..fp16, e5m2)
  fn_single,  // OCP "fn": no inf; only S.1111.111 (all ones) is NaN (fp8 e4m3)
  none,       // no inf, no NaN: every code is finite (fp6, fp4, OCP MX spec v1.0 §5.3)
};

struct FloatFormat {
  std::string_view name;
  int exp_bits;   // width of the exponent field
  int mant_bits;  // stored fraction bits (the significand has mant_bits + 1 bits)
  int bias;       // exponent bias; value = 2^(field - bias) * 1.f for normal codes
  SpecialCodes special;

  int total_bits() const { return 1 + exp_bits + mant_bits; }
  // Exponent of the largest normal binade (unbiased).
  int emax() const;
  // Exponent of the smallest normal binade: 1 - bias.
  int emin() const { return 1 - bias; }
  // Largest finite magnitude (e.g. 448 for e4m3, 57344 for e5m2, 6 for e2m1).
  double max_finite() const;
  double min_normal() const;
  double min_subnormal() const;
  bool has_inf() const { return special == SpecialCodes::ieee; }
  bool has_nan() const { return special != SpecialCodes::none; }
  // The canonical positive quiet NaN code (0x7E00 style for IEEE; 0x7F for e4m3).
  uint64_t nan_code() const;
  uint64_t inf_code() const;  // positive infinity; only for has_inf()
};

// The float format of a DType's values. tf32 is its own format (8-bit exponent,
// 10-bit fraction; in memory the top 19 bits of an fp32 word). For MX/NVFP4 this
// is the element format.
// Throws std::invalid_argument for integer types.
const FloatFormat& float_format(DType t);
bool is_float_format(DType t);   // fp64..fp4_e2m1 (no block scale)
bool is_block_format(DType t);   // mxfp8, mxfp6, mxfp4, nvfp4

struct ConvertOptions {
  Rounding rounding = Rounding::nearest_even;
  // Saturating: finite values beyond max_finite (and +-inf) become +-max_finite.
  // Non-saturating: overflow gives +-inf, or NaN for formats without inf (e4m3),
  // or +-max_finite for formats with neither (fp6/fp4 have nothing else to give).
  // Under toward_zero a finite overflow gives +-max_finite in either mode
  // (IEEE 754 §7.4: roundTowardZero overflows to the largest finite number).
  bool saturate = false;
  // Stochastic rounding draws u = splitmix64(seed ^ splitmix64(index)) / 2^64 and
  // rounds the magnitude up when u < fraction of an ulp: deterministic per (seed, index).
  uint64_t seed = 0;
  uint64_t index = 0;
};

// Bit pattern (low total_bits() bits) -> exact value. NaN codes decode to quiet NaN.
double decode(const FloatFormat& f, uint64_t bits);
// Value -> bit pattern. NaN input gives nan_code() (sign kept), or +0 for formats
// without NaN (fp6/fp4: the OCP MX spec leaves it implementation-defined).
uint64_t encode(const FloatFormat& f, double x, const ConvertOptions& opt = {});
// Same as decode(f, encode(f, x, opt)) without building the pattern.
double round_to(const FloatFormat& f, double x, const ConvertOptions& opt = {});

// Integer grids: int32 [-2^31, 2^31-1], int8 [-128,127], int4 [-8,7], uint8 [0,255],
// ternary [-1,1]. Rounding per opt.rounding; values outside the range are always
// clamped (integer formats have no inf/NaN to overflow to); NaN gives 0.
double round_to_integer(DType t, double x, const ConvertOptions& opt = {});

// splitmix64 finaliser (Steele, Lea, Flood 2014): the counter-based hash behind
// stochastic rounding and every sampled figure in this library.
uint64_t splitmix64(uint64_t x);

// Block-scaled formats: each run of `block_size` consecutive elements shares one
// power-of-two (E8M0) or E4M3 scale.
enum class ScaleKind {
  e8m0,  // OCP MX v1.0: 2^(floor(log2(amax)) - emax_elem), clamped to [2^-127, 2^127]
  e4m3,  // NVFP4: amax / max_elem (6) rounded to e4m3 (RNE, saturating)
};
struct BlockFormat {
  DType type;
  const FloatFormat* element;
  int block_size;  // 32 for MX (OCP MX v1.0 §5.1), 16 for NVFP4
  ScaleKind scale;
};
const BlockFormat& block_format(DType t);  // throws std::invalid_argument if not a block type

struct BlockEncoding {
  std::vector<uint8_t> scales;    // one scale code per block (E8M0 code, or e4m3 code)
  std::vector<uint16_t> elements; // one element code per input value
};
// Elements are x / scale converted with opt (saturating as the MX spec requires:
// OCP MX v1.0 §6.3 clamps to the element format's largest normal). A block whose
// amax is 0 gets the smallest scale and all-zero elements. NaN/inf in a block: MX
// gives the NaN scale code 0xFF (the whole block decodes to NaN); NVFP4 gives the
// e4m3 NaN scale code 0x7F.
BlockEncoding encode_blocks(const BlockFormat& bf, std::span<const double> x,
                            const ConvertOptions& opt = {});
std::vector<double> decode_blocks(const BlockFormat& bf, const BlockEncoding& enc);
// Value of one scale code.
double decode_scale(const BlockFormat& bf, uint8_t code);

// Propagation helpers for end-to-end error studies: round-to-nearest-even with
// saturation to the type's range (NaN stays NaN for formats that have it).
// For block types quantize() treats x as a one-element block (scale from |x|);
// quantize_inplace() applies the block structure to consecutive runs of the span.
double quantize(double x, DType t);
void quantize_inplace(std::span<double> x, DType t);

}  // namespace tessera::numerics
