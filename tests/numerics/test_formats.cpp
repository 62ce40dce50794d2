// Formats: every code of every format of 16 bits or fewer decoded against an
// independent derivation, round trips, ties, saturation, overflow, specials.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "models/numerics/format.h"

using namespace tessera;
using namespace tessera::numerics;

namespace {

// Textbook value of a sign/exponent/fraction pattern:
// normal (-1)^s 2^(e-bias) (1 + m/2^M), subnormal (-1)^s 2^(1-bias) (m/2^M).
// `special` says what the all-ones exponent means; written without the library.
double textbook(uint32_t code, int E, int M, int bias, SpecialCodes special) {
  const uint32_t s = (code >> (E + M)) & 1u;
  const uint32_t e = (code >> M) & ((1u << E) - 1);
  const uint32_t m = code & ((1u << M) - 1);
  const double sign = s ? -1.0 : 1.0;
  const uint32_t e_ones = (1u << E) - 1, m_ones = (1u << M) - 1;
  if (special == SpecialCodes::ieee && e == e_ones)
    return m == 0 ? sign * std::numeric_limits<double>::infinity()
                  : std::numeric_limits<double>::quiet_NaN();
  if (special == SpecialCodes::fn_single && e == e_ones && m == m_ones)
    return std::numeric_limits<double>::quiet_NaN();
  const double frac = static_cast<double>(m) / std::pow(2.0, M);
  if (e == 0) return sign * std::pow(2.0, 1 - bias) * frac;
  return sign * std::pow(2.0, static_cast<int>(e) - bias) * (1.0 + frac);
}

bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// fp16 -> fp32 by the classic bit manipulation (exponent rebias, subnormal renormalise).
float half_to_float_bits(uint16_t h) {
  const uint32_t s = (h >> 15) & 1u, e = (h >> 10) & 0x1Fu;
  uint32_t m = h & 0x3FFu, out;
  if (e == 0x1F) {
    out = (s << 31) | 0x7F800000u | (m << 13);
  } else if (e != 0) {
    out = (s << 31) | ((e + 112u) << 23) | (m << 13);
  } else if (m == 0) {
    out = s << 31;
  } else {
    int shift = 0;
    while ((m & 0x400u) == 0) { m <<= 1; ++shift; }
    m &= 0x3FFu;
    out = (s << 31) | (static_cast<uint32_t>(113 - shift) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct SmallFormat {
  DType type;
  int E, M, bias;
  SpecialCodes special;
};
const SmallFormat k_small[] = {
    {DType::fp8_e4m3, 4, 3, 7, SpecialCodes::fn_single},
    {DType::fp8_e5m2, 5, 2, 15, SpecialCodes::ieee},
    {DType::fp6_e3m2, 3, 2, 3, SpecialCodes::none},
    {DType::fp6_e2m3, 2, 3, 1, SpecialCodes::none},
    {DType::fp4_e2m1, 2, 1, 1, SpecialCodes::none},
};

}  // namespace

TEST_CASE("every code of the 8-bit-or-smaller formats decodes to the textbook value",
          "[formats]") {
  for (const auto& sf : k_small) {
    const FloatFormat& f = float_format(sf.type);
    REQUIRE(f.total_bits() == 1 + sf.E + sf.M);
    const uint32_t n = 1u << f.total_bits();
    int nan_codes = 0;
    for (uint32_t c = 0; c < n; ++c) {
      const double want = textbook(c, sf.E, sf.M, sf.bias, sf.special);
      const double got = decode(f, c);
      INFO(f.name << " code " << c);
      REQUIRE(same(got, want));
      if (std::isnan(want)) {
        ++nan_codes;
        continue;
      }
      REQUIRE(encode(f, got) == c);  // round trip of every non-NaN code, -0 included
    }
    const int expected_nan = sf.special == SpecialCodes::ieee        ? 2 * ((1 << sf.M) - 1)
                             : sf.special == SpecialCodes::fn_single ? 2
                                                                     : 0;
    CHECK(nan_codes == expected_nan);
  }
}

TEST_CASE("every fp16 and bf16 code matches the host float conversion", "[formats]") {
  const FloatFormat& h = float_format(DType::fp16);
  const FloatFormat& b = float_format(DType::bf16);
  for (uint32_t c = 0; c < 65536; ++c) {
    INFO("code " << c);
    const double hv = decode(h, c);
    REQUIRE(same(hv, static_cast<double>(half_to_float_bits(static_cast<uint16_t>(c)))));
    REQUIRE(same(hv, textbook(c, 5, 10, 15, SpecialCodes::ieee)));
    const double bv = decode(b, c);
    REQUIRE(same(bv, static_cast<double>(bits_to_float(c << 16))));
    if (!std::isnan(hv)) REQUIRE(encode(h, hv) == c);
    if (!std::isnan(bv)) REQUIRE(encode(b, bv) == c);
  }
}

TEST_CASE("fp32 and bf16 rounding agree with host RNE on random values", "[formats]") {
  const FloatFormat& f32 = float_format(DType::fp32);
  const FloatFormat& bf = float_format(DType::bf16);
  uint64_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = splitmix64(state);
    // Random double across fp32's range including subnormals and overflow.
    const double mant = 1.0 + static_cast<double>(state >> 12) * 0x1p-52;
    const int exp = static_cast<int>((state >> 3) % 300) - 160;
    const double x = ((state & 1) ? -1.0 : 1.0) * std::ldexp(mant, exp);
    REQUIRE(same(round_to(f32, x), static_cast<double>(static_cast<float>(x))));
    // bf16 from a float by the integer RNE trick: add 0x7FFF + lsb, drop 16 bits.
    const float xf = static_cast<float>(x);
    uint32_t u;
    std::memcpy(&u, &xf, 4);
    if ((u & 0x7F800000u) == 0x7F800000u) continue;
    const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    REQUIRE(encode(bf, xf) == r);
  }
}

TEST_CASE("midpoints between neighbouring codes round to the even code", "[formats]") {
  for (const auto& sf : k_small) {
    const FloatFormat& f = float_format(sf.type);
    const uint32_t pos = 1u << (f.total_bits() - 1);
    for (uint32_t c = 0; c + 1 < pos; ++c) {
      const double lo = decode(f, c), hi = decode(f, c + 1);
      if (std::isnan(hi) || std::isinf(hi)) break;
      const double mid = 0.5 * (lo + hi);
      INFO(f.name << " codes " << c << "/" << c + 1);
      REQUIRE(encode(f, mid) == ((c % 2 == 0) ? c : c + 1));
      REQUIRE(encode(f, -mid) == (((c % 2 == 0) ? c : c + 1) | pos));
      const double eps = (hi - lo) * 1e-6;
      REQUIRE(encode(f, mid - eps) == c);
      REQUIRE(encode(f, mid + eps) == c + 1);
      ConvertOptions rz;
      rz.rounding = Rounding::toward_zero;
      REQUIRE(encode(f, hi - eps, rz) == c);
    }
  }
}

TEST_CASE("e4m3: max 448, single NaN pattern, saturating and non-saturating overflow",
          "[formats]") {
  const FloatFormat& f = float_format(DType::fp8_e4m3);
  ConvertOptions sat;
  sat.saturate = true;
  CHECK(f.max_finite() == 448.0);
  CHECK(decode(f, 0x7E) == 448.0);
  CHECK(std::isnan(decode(f, 0x7F)));
  CHECK(std::isnan(decode(f, 0xFF)));
  CHECK(decode(f, 0x01) == std::ldexp(1.0, -9));  // smallest subnormal 2^-9
  CHECK(encode(f, 449.0) == 0x7E);
  CHECK(encode(f, 464.0) == 0x7E);  // tie 448 | 480: 448 has the even mantissa 110
  CHECK(encode(f, 465.0) == 0x7F);  // rounds to 480 > max: NaN, no infinity
  CHECK(encode(f, 465.0, sat) == 0x7E);
  CHECK(encode(f, 1e9, sat) == 0x7E);
  CHECK(encode(f, -1e9, sat) == 0xFE);
  CHECK(encode(f, std::numeric_limits<double>::infinity()) == 0x7F);
  CHECK(encode(f, -std::numeric_limits<double>::infinity()) == 0xFF);
  CHECK(encode(f, std::numeric_limits<double>::infinity(), sat) == 0x7E);
  CHECK(encode(f, std::numeric_limits<double>::quiet_NaN()) == 0x7F);
  CHECK(encode(f, std::ldexp(1.0, -10)) == 0x00);        // tie 0 | 2^-9 -> 0
  CHECK(encode(f, 1.5 * std::ldexp(1.0, -10)) == 0x01);  // above the tie
  CHECK(encode(f, 3 * std::ldexp(1.0, -10)) == 0x02);    // tie 2^-9 | 2^-8 -> 2^-8 (even)
}

TEST_CASE("e5m2, fp16, fp6, fp4 overflow rules", "[formats]") {
  ConvertOptions sat;
  sat.saturate = true;
  const FloatFormat& e5 = float_format(DType::fp8_e5m2);
  CHECK(e5.max_finite() == 57344.0);
  CHECK(decode(e5, 0x7C) == std::numeric_limits<double>::infinity());
  CHECK(std::isnan(decode(e5, 0x7D)));
  CHECK(encode(e5, 61440.0) == 0x7C);  // tie 57344 | 2^16: even side is the inf code
  CHECK(encode(e5, 61439.0) == 0x7B);
  CHECK(encode(e5, 61440.0, sat) == 0x7B);
  CHECK(encode(e5, -1e30) == 0xFC);
  const FloatFormat& h = float_format(DType::fp16);
  CHECK(encode(h, 65519.0) == 0x7BFF);
  CHECK(encode(h, 65520.0) == 0x7C00);
  CHECK(encode(h, 65520.0, sat) == 0x7BFF);
  const FloatFormat& f4 = float_format(DType::fp4_e2m1);
  CHECK(f4.max_finite() == 6.0);
  CHECK(decode(f4, 0x1) == 0.5);  // the only subnormal
  CHECK(round_to(f4, 5.0) == 4.0);  // tie 4 | 6 -> 4 (mantissa 0)
  CHECK(round_to(f4, 5.01) == 6.0);
  CHECK(round_to(f4, 100.0) == 6.0);  // no inf or NaN: overflow saturates
  CHECK(round_to(f4, -0.25) == -0.0);
  CHECK(std::signbit(round_to(f4, -0.25)));
  CHECK(float_format(DType::fp6_e3m2).max_finite() == 28.0);
  CHECK(float_format(DType::fp6_e2m3).max_finite() == 7.5);
  ConvertOptions rz;
  rz.rounding = Rounding::toward_zero;
  CHECK(round_to(f4, 1.9, rz) == 1.5);
  CHECK(round_to(f4, -1.9, rz) == -1.5);
  CHECK(round_to(e5, 1e9, rz) == 57344.0);  // RZ overflows to the largest finite
}

TEST_CASE("stochastic rounding is seeded, unbiased and stays on the two neighbours",
          "[formats]") {
  const FloatFormat& f4 = float_format(DType::fp4_e2m1);
  ConvertOptions o;
  o.rounding = Rounding::stochastic;
  o.seed = 7;
  double sum = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    o.index = static_cast<uint64_t>(i);
    const double r = round_to(f4, 1.25, o);  // between 1.0 and 1.5, halfway
    REQUIRE((r == 1.0 || r == 1.5));
    sum += r;
    REQUIRE(round_to(f4, 1.25, o) == r);  // same seed and index: same result
  }
  // Mean 1.25; the std of one draw is 0.25, so the mean's std is 0.25/sqrt(1e5) = 8e-4.
  CHECK(std::fabs(sum / n - 1.25) < 0.004);
  o.index = 0;
  CHECK(round_to(f4, 1.0, o) == 1.0);  // representable values never move
}

TEST_CASE("integer formats round to nearest even and clamp", "[formats]") {
  CHECK(round_to_integer(DType::int8, 200.0) == 127.0);
  CHECK(round_to_integer(DType::int8, -200.0) == -128.0);
  CHECK(round_to_integer(DType::int8, 2.5) == 2.0);
  CHECK(round_to_integer(DType::int8, 3.5) == 4.0);
  CHECK(round_to_integer(DType::int8, -2.5) == -2.0);
  CHECK(round_to_integer(DType::int4, 7.6) == 7.0);
  CHECK(round_to_integer(DType::int4, -9.0) == -8.0);
  CHECK(round_to_integer(DType::uint8, -3.0) == 0.0);
  CHECK(round_to_integer(DType::uint8, 254.5) == 254.0);
  CHECK(round_to_integer(DType::ternary, 0.5) == 0.0);
  CHECK(round_to_integer(DType::ternary, 0.6) == 1.0);
  CHECK(round_to_integer(DType::ternary, -7.0) == -1.0);
  CHECK(quantize(1.4, DType::int32) == 1.0);
}

TEST_CASE("MX and NVFP4 blocks: scale choice, element rounding, NaN scale", "[formats]") {
  std::vector<double> x(32, 0.0);
  x[0] = 10.0;
  x[1] = 0.3;
  x[2] = -1.0;
  {
    // MXFP8: floor(log2 10) = 3, emax(e4m3) = 8 -> scale 2^-5 (E8M0 code 122).
    const BlockFormat& bf = block_format(DType::mxfp8);
    const BlockEncoding e = encode_blocks(bf, x);
    REQUIRE(e.scales.size() == 1);
    CHECK(e.scales[0] == 122);
    const auto d = decode_blocks(bf, e);
    CHECK(d[0] == 10.0);                // 320 = 1.25 * 2^8 is an e4m3 value
    CHECK(d[1] == 10.0 / 32.0);  // 0.3 * 32 = 9.6 -> e4m3 10 (grid step 1 in [8,16))
    CHECK(d[2] == -1.0);
  }
  {
    // MXFP4: emax(e2m1) = 2 -> scale 2^1; 10/2 = 5 ties 4|6 -> 4, so 8.
    const BlockFormat& bf = block_format(DType::mxfp4);
    const BlockEncoding e = encode_blocks(bf, x);
    CHECK(e.scales[0] == 128);
    const auto d = decode_blocks(bf, e);
    CHECK(d[0] == 8.0);
    CHECK(d[1] == 0.0);  // 0.15 rounds to 0 (below the 0.25 tie)
    CHECK(d[2] == -1.0);
  }
  {
    // NVFP4: scale = 7/6 = 1.1667 -> e4m3 1.125; 7/1.125 = 6.2 saturates to 6 -> 6.75.
    std::vector<double> y(16, 0.0);
    y[0] = 7.0;
    y[1] = 1.0;
    const BlockFormat& bf = block_format(DType::nvfp4);
    const BlockEncoding e = encode_blocks(bf, y);
    CHECK(decode_scale(bf, e.scales[0]) == 1.125);
    const auto d = decode_blocks(bf, e);
    CHECK(d[0] == 6.75);
    CHECK(d[1] == 1.125);  // 1/1.125 = 0.89 -> 1.0
  }
  {
    std::vector<double> z(32, 1.0);
    z[5] = std::numeric_limits<double>::quiet_NaN();
    const BlockFormat& bf = block_format(DType::mxfp6);
    const BlockEncoding e = encode_blocks(bf, z);
    CHECK(e.scales[0] == 0xFF);
    CHECK(std::isnan(decode_blocks(bf, e)[0]));
  }
}

TEST_CASE("quantize_inplace equals encode/decode for every block type", "[formats]") {
  for (DType t : {DType::mxfp8, DType::mxfp6, DType::mxfp4, DType::nvfp4}) {
    std::vector<double> x(100);
    uint64_t s = 99;
    for (auto& v : x) {
      s = splitmix64(s);
      v = (static_cast<double>(s >> 11) * 0x1p-53 - 0.5) * std::ldexp(1.0, static_cast<int>(s % 20) - 10);
    }
    const BlockFormat& bf = block_format(t);
    ConvertOptions sat;
    sat.saturate = true;
    const auto want = decode_blocks(bf, encode_blocks(bf, x, sat));
    std::vector<double> got = x;
    quantize_inplace(got, t);
    for (size_t i = 0; i < x.size(); ++i) {
      INFO(dtype_name(t) << " element " << i);
      REQUIRE(same(got[i], want[i]));
    }
  }
  CHECK(quantize(1.0625, DType::fp8_e4m3) == 1.0);
  CHECK(quantize(1e6, DType::fp8_e4m3) == 448.0);
  CHECK(quantize(1.0 + 0x1p-11, DType::fp16) == 1.0);
  CHECK(quantize(1.0 + 0x1p-11 + 0x1p-20, DType::fp16) == 1.0 + 0x1p-10);
}
