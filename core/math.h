#pragma once
// Integer arithmetic shared by every layer.
#include <cstdint>

namespace tessera {

// ceil(a / b) for a >= 0, b > 0: tiles, folds and waves needed to cover a extent.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace tessera
