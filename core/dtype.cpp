#include "core/dtype.h"

#include <stdexcept>

namespace tessera {

const std::vector<DTypeInfo>& all_dtypes() {
  // MX formats: OCP Microscaling spec v1.0 -- 32 elements share one 8-bit E8M0 scale,
  // so each element costs its own bits + 8/32. NVFP4: 16 fp4 elements share one
  // 8-bit E4M3 scale (NVIDIA Blackwell docs) -> 4 + 8/16 bits. Ternary weights are
  // packed at 2 bits per element (the usual 4-per-byte layout).
  static const std::vector<DTypeInfo> k = {
      {DType::fp64, "fp64", 64, true, "IEEE 754 binary64"},
      {DType::fp32, "fp32", 32, true, "IEEE 754 binary32"},
      {DType::tf32, "tf32", 32, true, "fp32 storage, 10-bit mantissa in tensor cores"},
      {DType::bf16, "bf16", 16, true, "bfloat16 (8-bit exponent, 7-bit mantissa)"},
      {DType::fp16, "fp16", 16, true, "IEEE 754 binary16"},
      {DType::fp8_e4m3, "fp8_e4m3", 8, true, "OCP FP8 E4M3 (fn: no inf, max 448)"},
      {DType::fp8_e5m2, "fp8_e5m2", 8, true, "OCP FP8 E5M2"},
      {DType::fp6_e3m2, "fp6_e3m2", 6, true, "OCP FP6 E3M2"},
      {DType::fp6_e2m3, "fp6_e2m3", 6, true, "OCP FP6 E2M3"},
      {DType::fp4_e2m1, "fp4_e2m1", 4, true, "OCP FP4 E2M1"},
      {DType::mxfp8, "mxfp8", 8.25, true, "MXFP8: e4m3 elements, E8M0 scale per 32"},
      {DType::mxfp6, "mxfp6", 6.25, true, "MXFP6: e3m2 elements, E8M0 scale per 32"},
      {DType::mxfp4, "mxfp4", 4.25, true, "MXFP4: e2m1 elements, E8M0 scale per 32"},
      {DType::nvfp4, "nvfp4", 4.5, true, "NVFP4: e2m1 elements, E4M3 scale per 16"},
      {DType::int32, "int32", 32, false, "32-bit two's complement (accumulators)"},
      {DType::int8, "int8", 8, false, "8-bit two's complement"},
      {DType::int4, "int4", 4, false, "4-bit two's complement"},
      {DType::uint8, "uint8", 8, false, "8-bit unsigned"},
      {DType::ternary, "ternary", 2, false, "{-1, 0, +1}, packed 2 bits per element"},
  };
  return k;
}

const DTypeInfo& dtype_info(DType t) {
  for (const auto& d : all_dtypes())
    if (d.type == t) return d;
  throw std::logic_error("dtype_info: unknown DType");
}

std::string_view dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& d : all_dtypes())
    if (d.name == s) return d.type;
  struct Alias { std::string_view alias; DType t; };
  static const Alias aliases[] = {
      {"float64", DType::fp64}, {"double", DType::fp64}, {"float32", DType::fp32},
      {"float", DType::fp32},   {"float16", DType::fp16}, {"half", DType::fp16},
      {"bfloat16", DType::bf16}, {"e4m3", DType::fp8_e4m3}, {"fp8", DType::fp8_e4m3},
      {"e5m2", DType::fp8_e5m2}, {"e3m2", DType::fp6_e3m2}, {"e2m3", DType::fp6_e2m3},
      {"e2m1", DType::fp4_e2m1}, {"fp4", DType::fp4_e2m1}, {"i8", DType::int8},
      {"u8", DType::uint8},     {"i4", DType::int4},     {"i32", DType::int32},
  };
  for (const auto& a : aliases)
    if (a.alias == s) return a.t;
  return std::nullopt;
}

double dtype_bytes(DType t, double elems) { return elems * dtype_info(t).storage_bits / 8.0; }

std::string dtype_names() {
  std::string out;
  for (const auto& d : all_dtypes()) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

bool is_integer_dtype(DType t) { return !dtype_info(t).is_float; }

}  // namespace tessera
