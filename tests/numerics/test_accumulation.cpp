// Accumulation engine: step semantics written out by hand, presets, sampled error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/numerics/accumulation.h"

using namespace tessera;
using namespace tessera::numerics;

TEST_CASE("preset table and lookup errors", "[accumulation]") {
  const auto names = accumulation_preset_names();
  for (const char* n : {"h100_fp16", "h100_bf16", "h100_tf32", "h100_fp8", "h100_fp8_fastacc",
                        "h100_int8", "h100_fp32_simt", "a100_fp16", "a100_bf16", "a100_tf32",
                        "v100_fp16", "ideal_fp32", "fp64_reference"}) {
    INFO(n);
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
    CHECK(accumulation_preset(n).name == n);
    CHECK(!accumulation_preset(n).description.empty());
  }
  try {
    accumulation_preset("h200_fp16");
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("h200_fp16") != std::string::npos);
    CHECK(msg.find("h100_bf16") != std::string::npos);
  }
}

TEST_CASE("H100 fp16 step: 25 alignment bits below the largest ea+eb, truncated",
          "[accumulation]") {
  const AccumulationModel& m = accumulation_preset("h100_fp16");
  // 1*1 has ea+eb = 0, so the quantum is 2^-25: 2^-25 survives, 2^-26 is shifted out.
  const std::vector<double> a1 = {1.0, 0x1p-13}, b1 = {1.0, 0x1p-12};
  CHECK(dot(m, a1, b1, DType::fp32) == 1.0);  // 2^-25 survives alignment, then RZ to fp32
  const std::vector<double> b2 = {1.0, 0x1p-13};
  CHECK(dot(m, a1, b2, DType::fp64) == 1.0);  // 2^-26 is truncated away
  // A product with significand in [2, 4): 1.5 * 1.5 = 2.25 has ea+eb = 0, so the
  // quantum stays 2^-25 and a 2^-25 addend survives: 2.25 + 2^-25 exact before RZ
  // to 24 bits, which drops it (fp32 ulp at 2.25 is 2^-22).
  const std::vector<double> a3 = {1.5, 0x1p-12}, b3 = {1.5, 0x1p-13};
  CHECK(dot(m, a3, b3, DType::fp64) == 2.25);
  // Negative addends truncate toward zero: 1 - 2^-26 aligns to 1 - 0 = 1.
  const std::vector<double> b4 = {1.0, -0x1p-13};
  CHECK(dot(m, a1, b4, DType::fp64) == 1.0);
  // Normalisation truncates: 1 + 3*2^-25 -> 24-bit RZ gives 1 (fp32 ulp 2^-23).
  const std::vector<double> a5 = {1.0, 0x1p-12, 0x1p-12, 0x1p-12}, b5 = {1.0, 0x1p-13, 0x1p-13, 0x1p-13};
  CHECK(dot(m, a5, b5, DType::fp64) == 1.0);
  // ... and 1 + 4 * 2^-25 = 1 + 2^-23 is kept.
  const std::vector<double> a6 = {1.0, 0x1p-12, 0x1p-12, 0x1p-12, 0x1p-12},
                            b6 = {1.0, 0x1p-13, 0x1p-13, 0x1p-13, 0x1p-13};
  CHECK(dot(m, a6, b6, DType::fp64) == 1.0 + 0x1p-23);
}

TEST_CASE("H100 fp8 accumulator keeps 13 fraction bits; promotion every 128", "[accumulation]") {
  const AccumulationModel& fast = accumulation_preset("h100_fp8_fastacc");
  const AccumulationModel& promo = accumulation_preset("h100_fp8");
  // 256 in the first step, then 256 products of 2^-6 (0.125 * 0.125 with ea+eb = -6):
  // quantum at 256 is 2^(8-13) = 2^-5, so each 2^-6 is truncated away in fast mode.
  std::vector<double> a(257, 0.125), b(257, 0.125);
  a[0] = 16.0;
  b[0] = 16.0;
  CHECK(dot(fast, a, b) == 256.0);
  // With promotion the first 128 products still lose their 127 small ones against
  // 256, but products 128..255 start from 0 and sum exactly to 128 * 2^-6 = 2, and
  // the last one (2^-6) forms a third partial: 256 + 2 + 1/64 in fp32.
  CHECK(dot(promo, a, b) == 256.0 + 2.0 + 1.0 / 64.0);
}

TEST_CASE("ideal_fp32 equals a host fmaf chain bit for bit", "[accumulation]") {
  const AccumulationModel& m = accumulation_preset("ideal_fp32");
  uint64_t s = 42;
  for (int t = 0; t < 50; ++t) {
    std::vector<double> a(257), b(257);
    float acc = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
      s = splitmix64(s);
      const float x = static_cast<float>(static_cast<double>(s >> 11) * 0x1p-53 - 0.3);
      s = splitmix64(s);
      const float y = static_cast<float>(static_cast<double>(s >> 11) * 0x1p-50);
      a[i] = x;
      b[i] = y;
      acc = std::fmaf(x, y, acc);
    }
    REQUIRE(dot(m, a, b) == static_cast<double>(acc));
  }
}

TEST_CASE("int8 is exact and chunked fp32 sums are in order", "[accumulation]") {
  std::vector<double> a(1000), b(1000);
  double want = 0.0;
  for (int i = 0; i < 1000; ++i) {
    a[i] = (i * 37) % 255 - 127;
    b[i] = (i * 91) % 256 - 128;
    want += a[i] * b[i];
  }
  CHECK(dot(accumulation_preset("h100_int8"), a, b) == want);
  // Split-K rules (presets.cpp): K=4096 -> 2 x 2048 for h100_bf16, none at 1024.
  CHECK(chunk_for(accumulation_preset("h100_bf16"), 4096) == 2048);
  CHECK(chunk_for(accumulation_preset("h100_bf16"), 1024) == 0);
  CHECK(chunk_for(accumulation_preset("h100_tf32"), 4096) == 352);
  CHECK(chunk_for(accumulation_preset("h100_fp8_fastacc"), 65536) == 21888);
}

TEST_CASE("evaluate_matmul_precision is deterministic and orders the paths", "[accumulation]") {
  const auto& fast = accumulation_preset("h100_fp8_fastacc");
  const auto& promo = accumulation_preset("h100_fp8");
  const auto r1 = evaluate_matmul_precision(fast, DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32,
                                            2048, "uniform01", 64, 5);
  const auto r2 = evaluate_matmul_precision(fast, DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32,
                                            2048, "uniform01", 64, 5);
  CHECK(r1.normwise_rel_err == r2.normwise_rel_err);
  CHECK(r1.samples == 64);
  const auto r3 = evaluate_matmul_precision(promo, DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32,
                                            2048, "uniform01", 64, 5);
  // Fast accumulation swamps small products in a long all-positive sum.
  CHECK(r1.normwise_rel_err > 10.0 * r3.normwise_rel_err);
  const auto ref = evaluate_matmul_precision(accumulation_preset("fp64_reference"), DType::bf16,
                                             DType::bf16, DType::fp64, 512, "normal", 64, 5);
  CHECK(ref.normwise_rel_err < 1e-15);
  // U[0,1) operands at K=4096 give C near 1024, beyond e4m3's 448: a non-saturating
  // e4m3 output has no infinity, so every sampled output is NaN and is counted.
  const auto big = evaluate_matmul_precision(promo, DType::fp8_e4m3, DType::fp8_e4m3,
                                             DType::fp8_e4m3, 4096, "uniform01", 16, 1);
  CHECK(big.nan == 16);
  CHECK(big.overflow == 0);
  const auto inf = evaluate_matmul_precision(promo, DType::fp8_e4m3, DType::fp8_e4m3,
                                             DType::fp8_e5m2, 4096, "uniform01", 16, 1);
  CHECK(inf.nan == 0);
  CHECK(inf.overflow == 0);  // 1024 fits e5m2 (max 57344)
  CHECK_THROWS_AS(evaluate_matmul_precision(fast, DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32,
                                            64, "laplace", 16, 1),
                  std::invalid_argument);
}
