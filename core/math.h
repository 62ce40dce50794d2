#pragma once
// Integer arithmetic shared by every layer. Sizes, element counts, FLOPs, bytes
// and cycles are int64 (or double once they are rates and times); a product of
// user-given sizes can exceed 2^63, so such products go through the checked
// forms below, which throw InputError naming what was computed instead of
// wrapping around.
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string_view>

namespace tessera {

// ceil(a / b) for a >= 0, b > 0: tiles, folds and waves needed to cover a extent.
// (a / b + remainder: no a + b - 1 that could overflow.) b <= 0 is a bug of the
// caller (parameters are range-checked where declared): std::domain_error, never
// a division by zero.
constexpr int64_t ceil_div(int64_t a, int64_t b) {
  if (b <= 0) throw std::domain_error("ceil_div: divisor must be positive");
  return a / b + (a % b > 0 ? 1 : 0);
}

// a * b and a + b, or InputError "<what>: the product a x b exceeds 2^63 - 1" when
// the result does not fit in int64.
int64_t checked_mul(int64_t a, int64_t b, std::string_view what);
int64_t checked_add(int64_t a, int64_t b, std::string_view what);
// The product of `values`, checked as above.
int64_t checked_product(std::initializer_list<int64_t> values, std::string_view what);

// The largest product of an op's dimensions that the models represent exactly
// (validate_graph refuses a larger op): 2^56 leaves a factor 128 of headroom for
// the byte, FLOP and re-read multipliers the mappers apply in int64.
inline constexpr int64_t k_max_op_volume = int64_t{1} << 56;

}  // namespace tessera
