#pragma once
// Power impl "board": a constant static power and an optional power limit.
#include "models/power/power.h"
#include "core/registry.h"

namespace tessera {

class BoardPower : public PowerModel {
 public:
  double static_power_w() const override { return m_params.real("static_power"); }
  double power_limit_w() const override { return m_params.real("power_limit"); }
};

void register_board_power(Registry& r);

}  // namespace tessera
