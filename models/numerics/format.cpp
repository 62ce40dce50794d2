#include "models/numerics/format.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace tessera::numerics {

namespace {

// Format table. Field widths and biases: IEEE 754-2019 (binary64/32/16), bfloat16
// (Intel BF16 spec: fp32 exponent, 7 fraction bits), TF32 (NVIDIA A100 whitepaper:
// fp32 exponent, 10 fraction bits), OCP 8-bit Floating Point spec v1.0 (E4M3 bias 7
// "fn" encoding, E5M2 bias 15 IEEE-like), OCP MX spec v1.0 §5.3 (FP6 E3M2 bias 3,
// FP6 E2M3 bias 1, FP4 E2M1 bias 1; none has inf or NaN).
const FloatFormat k_fp64{"fp64", 11, 52, 1023, SpecialCodes::ieee};
const FloatFormat k_fp32{"fp32", 8, 23, 127, SpecialCodes::ieee};
const FloatFormat k_tf32{"tf32", 8, 10, 127, SpecialCodes::ieee};
const FloatFormat k_bf16{"bf16", 8, 7, 127, SpecialCodes::ieee};
const FloatFormat k_fp16{"fp16", 5, 10, 15, SpecialCodes::ieee};
const FloatFormat k_e4m3{"fp8_e4m3", 4, 3, 7, SpecialCodes::fn_single};
const FloatFormat k_e5m2{"fp8_e5m2", 5, 2, 15, SpecialCodes::ieee};
const FloatFormat k_e3m2{"fp6_e3m2", 3, 2, 3, SpecialCodes::none};
const FloatFormat k_e2m3{"fp6_e2m3", 2, 3, 1, SpecialCodes::none};
const FloatFormat k_e2m1{"fp4_e2m1", 2, 1, 1, SpecialCodes::none};

// OCP MX v1.0 Table 1: MXFP8 uses E4M3 (or E5M2), MXFP6 E3M2 (or E2M3), MXFP4 E2M1,
// k = 32. core/dtype.cpp names the element choice for mxfp8/mxfp6. NVFP4: E2M1 with
// an E4M3 scale per 16 elements (NVIDIA Blackwell documentation).
const BlockFormat k_mxfp8{DType::mxfp8, &k_e4m3, 32, ScaleKind::e8m0};
const BlockFormat k_mxfp6{DType::mxfp6, &k_e3m2, 32, ScaleKind::e8m0};
const BlockFormat k_mxfp4{DType::mxfp4, &k_e2m1, 32, ScaleKind::e8m0};
const BlockFormat k_nvfp4{DType::nvfp4, &k_e2m1, 16, ScaleKind::e4m3};

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr double k_inf = std::numeric_limits<double>::infinity();

// Rounds a nonnegative real r (exactly representable, r < 2^53) to an integer.
double round_integer(double r, const ConvertOptions& opt) {
  double n = r < 0x1p62 ? static_cast<double>(static_cast<int64_t>(r)) : r;  // floor for r >= 0
  const double frac = r - n;  // exact: r and n share the binade or n = 0
  switch (opt.rounding) {
    case Rounding::nearest_even:
      if (frac > 0.5 || (frac == 0.5 && (static_cast<int64_t>(n) & 1) != 0)) n += 1.0;
      break;
    case Rounding::toward_zero:
      break;
    case Rounding::stochastic: {
      const uint64_t h = splitmix64(opt.seed ^ splitmix64(opt.index));
      const double u = static_cast<double>(h >> 11) * 0x1p-53;  // uniform in [0, 1)
      if (u < frac) n += 1.0;
      break;
    }
  }
  return n;
}

double overflow_value(const FloatFormat& f, const ConvertOptions& opt) {
  if (opt.saturate || opt.rounding == Rounding::toward_zero) return f.max_finite();
  switch (f.special) {
    case SpecialCodes::ieee: return k_inf;
    case SpecialCodes::fn_single: return k_nan;
    case SpecialCodes::none: return f.max_finite();
  }
  return f.max_finite();
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

int FloatFormat::emax() const {
  // IEEE keeps the all-ones exponent for inf/NaN; "fn" and "none" use it for values.
  const int top = (1 << exp_bits) - 1;
  return (special == SpecialCodes::ieee ? top - 1 : top) - bias;
}

double FloatFormat::max_finite() const {
  // fn: the all-ones mantissa in the top binade is NaN, so the largest significand
  // is 2 - 2^(1-m) (e4m3: 1.75 * 2^8 = 448); otherwise 2 - 2^-m.
  const double sig = special == SpecialCodes::fn_single ? 2.0 - pow2(1 - mant_bits)
                                                        : 2.0 - pow2(-mant_bits);
  return sig * pow2(emax());
}

double FloatFormat::min_normal() const { return pow2(emin()); }
double FloatFormat::min_subnormal() const { return pow2(emin() - mant_bits); }

uint64_t FloatFormat::nan_code() const {
  const uint64_t exp_ones = ((uint64_t{1} << exp_bits) - 1) << mant_bits;
  if (special == SpecialCodes::fn_single) return exp_ones | ((uint64_t{1} << mant_bits) - 1);
  if (special == SpecialCodes::ieee) return exp_ones | (uint64_t{1} << (mant_bits - 1));
  throw std::invalid_argument(std::string("nan_code: format ") + std::string(name) +
                              " has no NaN");
}

uint64_t FloatFormat::inf_code() const {
  if (special != SpecialCodes::ieee)
    throw std::invalid_argument(std::string("inf_code: format ") + std::string(name) +
                                " has no infinity");
  return ((uint64_t{1} << exp_bits) - 1) << mant_bits;
}

bool is_float_format(DType t) {
  switch (t) {
    case DType::fp64: case DType::fp32: case DType::tf32: case DType::bf16: case DType::fp16:
    case DType::fp8_e4m3: case DType::fp8_e5m2: case DType::fp6_e3m2: case DType::fp6_e2m3:
    case DType::fp4_e2m1:
      return true;
    default:
      return false;
  }
}

bool is_block_format(DType t) {
  return t == DType::mxfp8 || t == DType::mxfp6 || t == DType::mxfp4 || t == DType::nvfp4;
}

const FloatFormat& float_format(DType t) {
  switch (t) {
    case DType::fp64: return k_fp64;
    case DType::fp32: return k_fp32;
    case DType::tf32: return k_tf32;
    case DType::bf16: return k_bf16;
    case DType::fp16: return k_fp16;
    case DType::fp8_e4m3: return k_e4m3;
    case DType::fp8_e5m2: return k_e5m2;
    case DType::fp6_e3m2: return k_e3m2;
    case DType::fp6_e2m3: return k_e2m3;
    case DType::fp4_e2m1: return k_e2m1;
    case DType::mxfp8: return k_e4m3;
    case DType::mxfp6: return k_e3m2;
    case DType::mxfp4: return k_e2m1;
    case DType::nvfp4: return k_e2m1;
    default:
      throw std::invalid_argument("float_format: " + std::string(dtype_name(t)) +
                                  " is not a floating-point format; accepted: fp64, fp32, tf32, "
                                  "bf16, fp16, fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, "
                                  "mxfp8, mxfp6, mxfp4, nvfp4");
  }
}

const BlockFormat& block_format(DType t) {
  switch (t) {
    case DType::mxfp8: return k_mxfp8;
    case DType::mxfp6: return k_mxfp6;
    case DType::mxfp4: return k_mxfp4;
    case DType::nvfp4: return k_nvfp4;
    default:
      throw std::invalid_argument("block_format: " + std::string(dtype_name(t)) +
                                  " is not block-scaled; accepted: mxfp8, mxfp6, mxfp4, nvfp4");
  }
}

double round_to(const FloatFormat& f, double x, const ConvertOptions& opt) {
  if (std::isnan(x)) return f.has_nan() ? k_nan : 0.0;
  if (std::isinf(x)) {
    const double mag = (opt.saturate || f.special == SpecialCodes::none) ? f.max_finite()
                       : f.has_inf()                                     ? k_inf
                                                                         : k_nan;
    return std::copysign(mag, x);
  }
  if (x == 0.0) return x;
  if (f.exp_bits == 11 && f.mant_bits == 52) return x;  // binary64 carries itself
  const double a = std::fabs(x);
  // Quantum of a's binade, clamped to the subnormal quantum below the normal range.
  const int e = std::max(std::ilogb(a), f.emin());
  const int q = e - f.mant_bits;
  // Scaling by 2^-q is exact; done in two steps so neither factor leaves the normal range.
  const double n = round_integer(a * pow2(-q / 2) * pow2(-q + q / 2), opt);
  double r = n * pow2(q / 2) * pow2(q - q / 2);
  if (r > f.max_finite()) r = overflow_value(f, opt);
  return std::copysign(r, x);
}

uint64_t encode(const FloatFormat& f, double x, const ConvertOptions& opt) {
  const int m = f.mant_bits;
  const uint64_t sign_bit = uint64_t{1} << (f.exp_bits + m);
  const double v = round_to(f, x, opt);
  const uint64_t s = std::signbit(std::isnan(v) ? x : v) ? sign_bit : 0;
  if (std::isnan(v)) return f.has_nan() ? (s | f.nan_code()) : 0;
  if (std::isinf(v)) return s | f.inf_code();
  const double a = std::fabs(v);
  if (a == 0.0) return s;
  const int e = std::ilogb(a);
  if (e < f.emin()) {  // subnormal: field 0, value = mant * 2^(emin - m)
    return s | static_cast<uint64_t>(std::ldexp(a, m - f.emin()));
  }
  const uint64_t field = static_cast<uint64_t>(e + f.bias);
  const uint64_t mant = static_cast<uint64_t>(std::ldexp(a, m - e)) - (uint64_t{1} << m);
  return s | (field << m) | mant;
}

double decode(const FloatFormat& f, uint64_t bits) {
  const int m = f.mant_bits;
  const uint64_t mant_mask = (uint64_t{1} << m) - 1;
  const uint64_t exp_mask = (uint64_t{1} << f.exp_bits) - 1;
  const bool neg = (bits >> (f.exp_bits + m)) & 1;
  const uint64_t field = (bits >> m) & exp_mask;
  const uint64_t mant = bits & mant_mask;
  double v;
  if (field == exp_mask && f.special == SpecialCodes::ieee) {
    v = mant == 0 ? k_inf : k_nan;
  } else if (field == exp_mask && f.special == SpecialCodes::fn_single && mant == mant_mask) {
    v = k_nan;
  } else if (field == 0) {
    v = std::ldexp(static_cast<double>(mant), f.emin() - m);
  } else {
    v = std::ldexp(static_cast<double>(mant | (uint64_t{1} << m)),
                   static_cast<int>(field) - f.bias - m);
  }
  return neg ? -v : v;
}

double round_to_integer(DType t, double x, const ConvertOptions& opt) {
  double lo, hi;
  switch (t) {
    case DType::int32: lo = -2147483648.0; hi = 2147483647.0; break;
    case DType::int8: lo = -128; hi = 127; break;
    case DType::int4: lo = -8; hi = 7; break;
    case DType::uint8: lo = 0; hi = 255; break;
    case DType::ternary: lo = -1; hi = 1; break;
    default:
      throw std::invalid_argument("round_to_integer: " + std::string(dtype_name(t)) +
                                  " is not an integer format; accepted: int32, int8, int4, "
                                  "uint8, ternary");
  }
  if (std::isnan(x)) return 0.0;
  if (x <= lo) return lo;
  if (x >= hi) return hi;
  const double n = round_integer(std::fabs(x), opt);
  return std::clamp(std::copysign(n, x), lo, hi) + 0.0;  // + 0.0 turns -0 into +0
}

double decode_scale(const BlockFormat& bf, uint8_t code) {
  if (bf.scale == ScaleKind::e8m0) {
    // OCP MX v1.0 §5.4: E8M0 is an unsigned biased exponent (bias 127), 0xFF = NaN.
    return code == 0xFF ? k_nan : std::ldexp(1.0, static_cast<int>(code) - 127);
  }
  return decode(k_e4m3, code);
}

namespace {

// Scale value and code of one block. `bad` marks a block holding NaN or inf.
struct BlockScale {
  double value;
  uint8_t code;
};

BlockScale choose_scale(const BlockFormat& bf, std::span<const double> x) {
  double amax = 0.0;
  bool bad = false;
  for (double v : x) {
    if (!std::isfinite(v)) bad = true;
    else amax = std::max(amax, std::fabs(v));
  }
  if (bf.scale == ScaleKind::e8m0) {
    if (bad) return {k_nan, 0xFF};
    if (amax == 0.0) return {std::ldexp(1.0, -127), 0};
    // OCP MX v1.0 §6.3: shared_exp = floor(log2(amax)) - emax_elem, clamped to the
    // E8M0 range [-127, 127].
    const int se = std::clamp(std::ilogb(amax) - bf.element->emax(), -127, 127);
    return {std::ldexp(1.0, se), static_cast<uint8_t>(se + 127)};
  }
  if (bad) return {k_nan, static_cast<uint8_t>(k_e4m3.nan_code())};
  // NVFP4: per-block scale = amax / 6 (6 = e2m1 max) rounded to e4m3, saturating.
  ConvertOptions o;
  o.saturate = true;
  const uint8_t code = static_cast<uint8_t>(encode(k_e4m3, amax / bf.element->max_finite(), o));
  return {decode(k_e4m3, code), code};
}

}  // namespace

BlockEncoding encode_blocks(const BlockFormat& bf, std::span<const double> x,
                            const ConvertOptions& opt) {
  BlockEncoding enc;
  ConvertOptions eo = opt;
  eo.saturate = true;
  for (size_t b = 0; b < x.size(); b += bf.block_size) {
    const auto blk = x.subspan(b, std::min<size_t>(bf.block_size, x.size() - b));
    const BlockScale sc = choose_scale(bf, blk);
    enc.scales.push_back(sc.code);
    for (size_t i = 0; i < blk.size(); ++i) {
      eo.index = opt.index + b + i;
      const double scaled = (std::isnan(sc.value) || sc.value == 0.0) ? 0.0 : blk[i] / sc.value;
      enc.elements.push_back(static_cast<uint16_t>(encode(*bf.element, scaled, eo)));
    }
  }
  return enc;
}

std::vector<double> decode_blocks(const BlockFormat& bf, const BlockEncoding& enc) {
  std::vector<double> out(enc.elements.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const double s = decode_scale(bf, enc.scales.at(i / bf.block_size));
    out[i] = std::isnan(s) ? k_nan : decode(*bf.element, enc.elements[i]) * s;
  }
  return out;
}

double quantize(double x, DType t) {
  quantize_inplace(std::span<double>(&x, 1), t);
  return x;
}

void quantize_inplace(std::span<double> x, DType t) {
  ConvertOptions o;
  o.saturate = true;
  if (is_integer_dtype(t)) {
    for (double& v : x) v = round_to_integer(t, v, o);
    return;
  }
  if (is_block_format(t)) {
    const BlockFormat& bf = block_format(t);
    for (size_t b = 0; b < x.size(); b += bf.block_size) {
      const auto blk = x.subspan(b, std::min<size_t>(bf.block_size, x.size() - b));
      const BlockScale sc = choose_scale(bf, blk);
      for (double& v : blk) {
        if (std::isnan(sc.value)) v = k_nan;
        else if (sc.value == 0.0) v = 0.0;
        else v = round_to(*bf.element, v / sc.value, o) * sc.value;
      }
    }
    return;
  }
  const FloatFormat& f = float_format(t);
  for (double& v : x) v = round_to(f, v, o);
}

}  // namespace tessera::numerics
