#pragma once
// Table of built-in accumulation presets (internal to models/numerics).
#include <vector>

#include "models/numerics/accumulation.h"

namespace tessera::numerics {
const std::vector<AccumulationModel>& builtin_presets();
}  // namespace tessera::numerics
