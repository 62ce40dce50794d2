#include "models/numerics/accumulation.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "models/numerics/presets.h"

namespace tessera::numerics {

namespace {

using Int = __int128;
using UInt = unsigned __int128;

// Unbiased exponent floor(log2|x|) of a finite nonzero double (bit extraction for
// normal numbers, std::ilogb for subnormal ones).
inline int exponent_of(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  const int field = static_cast<int>((b >> 52) & 0x7FF);
  return field != 0 ? field - 1023 : std::ilogb(x);
}

// Rounds the exact value S * 2^q (S an integer) to `sig_bits` significant bits.
double round_scaled(Int s, int q, int sig_bits, Rounding mode) {
  if (s == 0) return 0.0;
  const bool neg = s < 0;
  UInt u = neg ? static_cast<UInt>(-s) : static_cast<UInt>(s);
  const uint64_t hi = static_cast<uint64_t>(u >> 64), lo = static_cast<uint64_t>(u);
  const int width = hi != 0 ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll(lo);
  const int shift = width - sig_bits;
  if (shift > 0) {
    const UInt rem = u & ((static_cast<UInt>(1) << shift) - 1);
    u >>= shift;
    if (mode == Rounding::nearest_even) {
      const UInt half = static_cast<UInt>(1) << (shift - 1);
      if (rem > half || (rem == half && (u & 1))) ++u;
    }
    q += shift;
  }
  // u has at most sig_bits + 1 <= 54 bits (one more after a carry), so the
  // conversion is exact unless sig_bits > 52.
  const double v = static_cast<double>(static_cast<uint64_t>(u)) * pow2(q);
  return neg ? -v : v;
}

// x / 2^q reduced to an integer by truncation or RNE; the caller keeps the result
// below 2^62 (|x| < 2^(q + alignment_bits + 2)).
inline Int align_addend(double x, int q, Rounding mode) {
  const double r = x * pow2(-q);   // exact: scaling by a power of two
  int64_t n = static_cast<int64_t>(r);  // truncation toward zero
  if (mode == Rounding::nearest_even) {
    const double frac = std::fabs(r - static_cast<double>(n));
    if (frac > 0.5 || (frac == 0.5 && (n & 1) != 0)) n += r < 0 ? -1 : 1;
  }
  return static_cast<Int>(n);
}

constexpr double k_fp32_max = 0x1.fffffep127;

double fp32_add(double x, double y) {
  return static_cast<double>(static_cast<float>(x) + static_cast<float>(y));
}

// Correctly rounded fp32 fma(a, b, c) for a*b exact in double (operands of at most
// 26 significant bits): TwoSum gives s + e = a*b + c exactly, and the only case where
// rounding s to float differs from rounding s + e is s on a float midpoint, where the
// sign of e breaks the tie.
double fp32_fma(double a, double b, double c) {
  // Operands that are fp32 values (every path here: operands quantised to their
  // format, the accumulator an earlier result) go to the C library's fmaf, which
  // C99 7.12.13.1 defines as (x*y)+z rounded once: the same correctly rounded
  // value as below, about ten times faster (one hardware FMA where the CPU has one).
  const float fa = static_cast<float>(a), fb = static_cast<float>(b), fc = static_cast<float>(c);
  if (static_cast<double>(fa) == a && static_cast<double>(fb) == b && static_cast<double>(fc) == c)
    return static_cast<double>(std::fmaf(fa, fb, fc));
  const double p = a * b;
  const double s = p + c;
  const double bp = s - c;
  const double e = (p - bp) + (c - (s - bp));
  const float f = static_cast<float>(s);
  const double fd = f;
  if (e == 0.0 || fd == s || !std::isfinite(s)) return fd;
  const float other = std::nextafter(f, s > fd ? std::numeric_limits<float>::infinity()
                                                : -std::numeric_limits<float>::infinity());
  const double mid = 0.5 * (fd + static_cast<double>(other));
  if (s != mid) return fd;
  return ((other > f) == (e > 0.0)) ? static_cast<double>(other) : fd;
}

}  // namespace

int64_t chunk_for(const AccumulationModel& m, int64_t K) {
  if (m.split_k0 > 0) {
    if (K <= m.unblocked_max_k) return 0;
    const int64_t splits = static_cast<int64_t>(std::ceil(m.split_exponent == 0.5 ? std::sqrt(static_cast<double>(K) / m.split_k0)
                                                      : std::pow(static_cast<double>(K) / m.split_k0, m.split_exponent)));
    if (splits <= 1) return 0;
    const int64_t tile = std::max<int64_t>(1, m.k_tile);
    const int64_t per_split = (K + splits - 1) / splits;
    return (per_split + tile - 1) / tile * tile;
  }
  for (const auto& r : m.k_blocking)
    if (K <= r.max_k) return r.chunk;
  return m.k_chunk;
}

double accumulate_step(const AccumulationModel& m, double acc, std::span<const double> p,
                       std::span<const int> pe) {
  int e = INT_MIN;
  if (acc != 0.0) e = exponent_of(acc);
  bool special = !std::isfinite(acc);
  for (size_t i = 0; i < p.size(); ++i) {
    if (!std::isfinite(p[i])) special = true;
    if (p[i] == 0.0) continue;
    e = std::max(e, m.align_on_operand_exponents ? pe[i] : exponent_of(p[i]));
  }
  if (special) {  // inf/NaN propagate as in IEEE addition
    double s = acc;
    for (double v : p) s += v;
    return s;
  }
  if (e == INT_MIN) return acc;  // all zero
  const int q = e - m.alignment_bits;
  if (m.alignment_bits <= 40 && p.size() < 256 && q > -1000 && q < 900 && m.accumulator_mant_bits < 52) {
    // The same arithmetic in int64 and double: every aligned addend is below
    // 2^(alignment_bits + 2), so the sum of at most 256 of them stays below 2^51
    // and is exact as a double; scaling by 2^q is exact in this exponent range,
    // and rounding the double to accumulator_mant_bits fraction bits (on its bit
    // pattern) is round_scaled's rounding of the same integer.
    int64_t s = static_cast<int64_t>(align_addend(acc, q, m.alignment_rounding));
    for (double v : p)
      if (v != 0.0) s += static_cast<int64_t>(align_addend(v, q, m.alignment_rounding));
    if (s == 0) return 0.0;
    double r = static_cast<double>(s) * pow2(q);
    const int drop = 52 - m.accumulator_mant_bits;
    uint64_t u;
    std::memcpy(&u, &r, sizeof u);
    const uint64_t mask = (uint64_t{1} << drop) - 1;
    if (m.accumulator_rounding == Rounding::nearest_even) u += (mask >> 1) + ((u >> drop) & 1);
    u &= ~mask;
    std::memcpy(&r, &u, sizeof r);
    if (std::fabs(r) > k_fp32_max) r = std::copysign(std::numeric_limits<double>::infinity(), r);
    return r;
  }
  Int s = align_addend(acc, q, m.alignment_rounding);
  for (double v : p)
    if (v != 0.0) s += align_addend(v, q, m.alignment_rounding);
  double r = round_scaled(s, q, m.accumulator_mant_bits + 1, m.accumulator_rounding);
  if (std::fabs(r) > k_fp32_max) r = std::copysign(std::numeric_limits<double>::infinity(), r);
  return r;
}

double dot_unrounded(const AccumulationModel& m, const double* a, const double* b, int64_t K) {
  const size_t k = K > 0 ? static_cast<size_t>(K) : 0;
  if (m.fp64_reference) {
    // Products of operands with at most 26 significant bits are exact in double, so
    // this multiply-then-add chain equals an fp64 FMA chain for every format here
    // narrower than fp64 (and is a plain fp64 multiply-add for fp64 operands).
    // Four interleaved partial sums (added at the end) shorten the dependency chain;
    // the reference's own error stays near 1e-16, far below every modelled path.
    double s4[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= k; i += 4)
      for (size_t j = 0; j < 4; ++j) s4[j] += a[i + j] * b[i + j];
    for (; i < k; ++i) s4[0] += a[i] * b[i];
    return (s4[0] + s4[1]) + (s4[2] + s4[3]);
  }
  if (m.integer_exact) {
    // Integer products and sums are exact in an int32 accumulator for int8 x int8
    // up to K = 2^17 (127*128*2^17 < 2^31); the sum is kept exactly here (scaled
    // operands: the int32 sum times the product of the two scales, exact as well).
    long double s = 0.0L;
    for (size_t i = 0; i < k; ++i) s += static_cast<long double>(a[i]) * b[i];
    return static_cast<double>(s);
  }

  // Aligned addends are held as int64 (< 2^(alignment_bits + 2)).
  if (!m.fp32_fma_chain && (m.alignment_bits < 0 || m.alignment_bits > 58))
    throw std::invalid_argument("dot: model '" + m.name + "' alignment_bits " +
                                std::to_string(m.alignment_bits) + " outside [0, 58]");
  constexpr size_t k_max_group = 256;   // products per step held on the stack
  if (m.group_size > static_cast<int>(k_max_group))
    throw std::invalid_argument("dot: model '" + m.name + "' group_size " + std::to_string(m.group_size) +
                                " above 256");
  const size_t gs = static_cast<size_t>(std::max(1, m.group_size));
  const int64_t ck = chunk_for(m, static_cast<int64_t>(k));
  const size_t chunk = ck > 0 ? static_cast<size_t>(ck) : std::max<size_t>(k, 1);
  const size_t promo = static_cast<size_t>(std::max<int64_t>(0, m.promotion_interval));
  const FloatFormat* pf = m.exact_products ? nullptr : &float_format(m.product_format);
  const ConvertOptions rne{};

  double p[k_max_group];
  int pe[k_max_group];
  std::vector<double> partial;   // chunk results, kept only for a pairwise sum
  double total = 0.0;
  for (size_t c0 = 0; c0 < k; c0 += chunk) {
    const size_t c1 = std::min(k, c0 + chunk);
    double outer = 0.0;  // fp32 register fed by promotion
    double acc = 0.0;    // tensor-core accumulator
    size_t since_promo = 0;
    for (size_t g0 = c0; g0 < c1; g0 += gs) {
      const size_t n = std::min(gs, c1 - g0);
      if (m.fp32_fma_chain) {
        for (size_t i = 0; i < n; ++i) acc = fp32_fma(a[g0 + i], b[g0 + i], acc);
      } else {
        for (size_t i = 0; i < n; ++i) {
          const double x = a[g0 + i], y = b[g0 + i];
          double v = x * y;  // exact: operand significands here have at most 26 bits
          if (pf) v = round_to(*pf, v, rne);
          p[i] = v;
          pe[i] = (v == 0.0) ? 0 : exponent_of(x) + exponent_of(y);
        }
        acc = accumulate_step(m, acc, std::span<const double>(p, n), std::span<const int>(pe, n));
      }
      since_promo += n;
      if (promo > 0 && since_promo >= promo) {
        outer = fp32_add(outer, acc);
        acc = 0.0;
        since_promo = 0;
      }
    }
    const double chunk_result = promo > 0 ? fp32_add(outer, acc) : acc;
    if (m.chunk_pairwise) partial.push_back(chunk_result);
    else total = c0 == 0 ? chunk_result : fp32_add(total, chunk_result);
  }
  if (m.chunk_pairwise) {
    // Pairwise tree: neighbours added level by level (an odd last one is carried up).
    while (partial.size() > 1) {
      std::vector<double> next;
      for (size_t i = 0; i + 1 < partial.size(); i += 2) next.push_back(fp32_add(partial[i], partial[i + 1]));
      if (partial.size() % 2) next.push_back(partial.back());
      partial.swap(next);
    }
    total = partial.empty() ? 0.0 : partial[0];
  }
  return total;
}

double emulation_ns_per_mac(const AccumulationModel& m) {
  // bench_emulation (K = 4096, bf16 operands) on an idle x86-64 core, Release:
  // fp64 reference 0.15 ns, exact integer sum 1.7 ns, the int64 fast path of
  // accumulate_step (alignment_bits <= 40, fewer than 256 addends per step, exact
  // products; the h100 fp16/bf16/tf32 presets) 3-4 ns, product rounding (fp8) adds
  // ~15 ns, and every step in 128-bit integers (systolic PEs: one product per
  // step, 52 alignment bits) 83-148 ns. The fp32 FMA chain is one fmaf per product.
  if (m.fp64_reference) return 0.2;
  if (m.integer_exact) return 2;
  if (m.fp32_fma_chain) return 10;
  const bool fast = m.alignment_bits <= 40 && m.group_size < 256 && m.accumulator_mant_bits < 52;
  return (fast ? 5.0 : 150.0) + (m.exact_products ? 0.0 : 20.0);
}

double dot(const AccumulationModel& m, std::span<const double> a, std::span<const double> b,
           DType out) {
  if (a.size() != b.size()) throw std::invalid_argument("dot: operand lengths differ");
  const double v = dot_unrounded(m, a.data(), b.data(), static_cast<int64_t>(a.size()));
  const ConvertOptions out_opt{};  // RNE, non-saturating
  if (out == DType::fp64) return v;
  if (is_integer_dtype(out)) return round_to_integer(out, v, out_opt);
  return round_to(float_format(out), v, out_opt);
}

std::vector<std::string> accumulation_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : builtin_presets()) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

const AccumulationModel& accumulation_preset(std::string_view name) {
  for (const auto& p : builtin_presets())
    if (p.name == name) return p;
  std::string accepted;
  for (const auto& n : accumulation_preset_names()) accepted += (accepted.empty() ? "" : ", ") + n;
  throw std::invalid_argument("accumulation_preset: unknown name '" + std::string(name) +
                              "'; accepted: " + accepted);
}

namespace {

// Fills v with stream `stream` of seed: U[0,1) from one splitmix64 draw per value, or
// N(0,1) by Box-Muller (both the cosine and the sine output of each pair of draws).
void draw(std::string_view dist, uint64_t seed, uint64_t stream, std::vector<double>& v) {
  const uint64_t base = splitmix64(seed ^ splitmix64(stream));
  auto uniform = [&](uint64_t i) {
    return static_cast<double>(splitmix64(base + i) >> 11) * 0x1p-53;  // [0, 1)
  };
  if (dist == "uniform01") {
    for (size_t i = 0; i < v.size(); ++i) v[i] = uniform(i);
    return;
  }
  constexpr double two_pi = 6.283185307179586476925;
  for (size_t i = 0; i < v.size(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(1.0 - uniform(i)));  // 1 - u in (0, 1]
    const double t = two_pi * uniform(i + 1);
    v[i] = r * std::cos(t);
    if (i + 1 < v.size()) v[i + 1] = r * std::sin(t);
  }
}

}  // namespace

std::vector<MatmulPrecision> evaluate_matmul_precision_outputs(const AccumulationModel& m, DType a,
                                                              DType b, std::span<const DType> outs,
                                                              int64_t K, std::string_view dist,
                                                              int64_t samples, uint64_t seed) {
  if (dist != "normal" && dist != "uniform01")
    throw std::invalid_argument("evaluate_matmul_precision: dist '" + std::string(dist) +
                                "' unknown; accepted: normal, uniform01");
  if (K <= 0 || samples <= 0)
    throw std::invalid_argument("evaluate_matmul_precision: K and samples must be positive");
  // Sampling plan: R rows of A and R columns of B, R = min(samples, 2 ceil(sqrt(samples))),
  // and T = ceil(samples / R) output elements per row: element p is (i, j) with
  // i = p mod R, j = (i + t R / T) mod R, t = p div R. Compared with a sqrt(S) x sqrt(S)
  // grid, twice as many distinct rows and columns carry the row/column effects that
  // dominate the spread of all-positive (uniform01) outputs around a binade edge,
  // for 4 sqrt(S) instead of 2 sqrt(S) generated operand vectors.
  const int64_t side = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(samples))));
  const int64_t r = std::min<int64_t>(samples, 2 * side);
  const int64_t per_row = (samples + r - 1) / r;
  const size_t kk = static_cast<size_t>(K);
  // Row i of A is stream 2i and column j of B stream 2j+1 of the seed, each rounded
  // to its operand format.
  std::vector<std::vector<double>> rows(r), cols(r);
  for (int64_t i = 0; i < r; ++i) {
    rows[i].resize(kk);
    cols[i].resize(kk);
    draw(dist, seed, 2 * static_cast<uint64_t>(i), rows[i]);
    draw(dist, seed, 2 * static_cast<uint64_t>(i) + 1, cols[i]);
    quantize_inplace(rows[i], a);
    quantize_inplace(cols[i], b);
  }
  AccumulationModel ref;
  ref.fp64_reference = true;
  std::vector<MatmulPrecision> res(outs.size(), MatmulPrecision{0, 0, 0, 0, 0, 0, 0});
  std::vector<double> err2(outs.size(), 0.0), ref2(outs.size(), 0.0);
  const ConvertOptions out_opt{};
  for (int64_t p = 0; p < samples; ++p) {
    {
      const int64_t i = p % r;
      const int64_t j = (i + (p / r) * (r / per_row)) % r;
      // The unrounded result (fp64 "output") is the accumulator value; each output
      // format is one RNE rounding of it, exactly as dot(m, ..., out) would give.
      const double acc = dot(m, rows[i], cols[j], DType::fp64);
      const double x = dot(ref, rows[i], cols[j], DType::fp64);
      for (size_t o = 0; o < outs.size(); ++o) {
        const DType out = outs[o];
        const double c = out == DType::fp64           ? acc
                         : is_integer_dtype(out) ? round_to_integer(out, acc, out_opt)
                                                  : round_to(float_format(out), acc, out_opt);
        MatmulPrecision& s = res[o];
        ++s.samples;
        if (std::isnan(c)) { ++s.nan; continue; }
        if (std::isinf(c)) { ++s.overflow; continue; }
        if (c == 0.0 && x != 0.0) ++s.underflow;
        const double d = c - x;
        err2[o] += d * d;
        ref2[o] += x * x;
        s.max_abs_err = std::max(s.max_abs_err, std::fabs(d));
      }
    }
  }
  for (size_t o = 0; o < outs.size(); ++o) {
    res[o].normwise_rel_err = ref2[o] > 0.0 ? std::sqrt(err2[o] / ref2[o]) : 0.0;
    res[o].snr_db = err2[o] > 0.0 ? 10.0 * std::log10(ref2[o] / err2[o])
                                  : std::numeric_limits<double>::infinity();
  }
  return res;
}

MatmulPrecision evaluate_matmul_precision(const AccumulationModel& m, DType a, DType b, DType out,
                                          int64_t K, std::string_view dist, int64_t samples,
                                          uint64_t seed) {
  const DType outs[] = {out};
  return evaluate_matmul_precision_outputs(m, a, b, outs, K, dist, samples, seed)[0];
}

}  // namespace tessera::numerics
