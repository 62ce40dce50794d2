#pragma once
// The registry of every built-in component implementation (models/builtin.cpp).
#include "core/registry.h"

namespace tessera {

const Registry& builtin_registry();

}  // namespace tessera
