#pragma once
// Number formats known to every layer of Tessera (IR, compiler, models, reports).
// Bit-exact arithmetic for each format lives in models/numerics; this header only
// names them and says how many bits one element occupies in memory.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

enum class DType {
  fp64, fp32, tf32, bf16, fp16,
  fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1,
  mxfp8, mxfp6, mxfp4, nvfp4,
  int32, int8, int4, uint8, ternary,
};

struct DTypeInfo {
  DType type;
  std::string_view name;         // canonical spelling used on the CLI and in files
  double storage_bits;           // bits per element in memory, block scales included
  bool is_float;
  std::string_view description;
};

const std::vector<DTypeInfo>& all_dtypes();
const DTypeInfo& dtype_info(DType t);
std::string_view dtype_name(DType t);
// Accepts the canonical names and common aliases ("e4m3" -> fp8_e4m3, "float16" -> fp16).
std::optional<DType> parse_dtype(std::string_view s);
// Integer formats (int32, int8, int4, uint8, ternary): every format whose
// DTypeInfo::is_float is false. The one definition of "is this format an integer".
bool is_integer_dtype(DType t);
// Bytes occupied by `elems` elements (block scales of MX/NVFP4 formats included).
double dtype_bytes(DType t, double elems);
// Comma-separated list of canonical names, for error messages.
std::string dtype_names();

}  // namespace tessera
