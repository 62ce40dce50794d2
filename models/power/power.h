#pragma once
// Component kind "power": static power and the board/chip power limit.
#include "core/component.h"

namespace tessera {

class PowerModel : public Component {
 public:
  virtual double static_power_w() const = 0;   // drawn whenever the device is on
  virtual double power_limit_w() const = 0;    // 0 = no limit
};

}  // namespace tessera
