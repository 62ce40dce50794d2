#include "core/math.h"

#include <fmt/format.h>

#include "core/error.h"

namespace tessera {

int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw InputError(fmt::format("{}: the product {} x {} exceeds 2^63 - 1", what, a, b));
  return r;
}

int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw InputError(fmt::format("{}: the sum {} + {} exceeds 2^63 - 1", what, a, b));
  return r;
}

int64_t checked_product(std::initializer_list<int64_t> values, std::string_view what) {
  int64_t r = 1;
  for (int64_t v : values) r = checked_mul(r, v, what);
  return r;
}

}  // namespace tessera
