#pragma once
// The clock/power service of a power-capped accelerator: a kernel runs at the
// highest clock in [min_clock, max_clock] whose average power (static + dynamic
// energy / time) stays within the board's power limit. Dynamic energy is per
// action and does not depend on the clock; time does, so power falls
// monotonically with the clock and a bisection finds the limit. A kernel that
// runs in a host-timed loop (KernelInfo::loop_idle) is limited on the loop's
// average power: its idle gap draws static power only.
#include "isa/isa.h"

namespace tessera {

class ComputeModel;
class Hardware;

class PowerCappedClock {
 public:
  PowerCappedClock() = default;
  // limit_w <= 0: no power limit (always max_clock).
  PowerCappedClock(double min_clock_hz, double max_clock_hz, double static_w, double limit_w)
      : m_min_clock(min_clock_hz), m_max_clock(max_clock_hz), m_static_w(static_w), m_limit_w(limit_w) {}

  // Clock for `k` on `hw`: its stages costed by cost_stage (models/compute/
  // stage_cost.h, as the engines cost them) plus cm.kernel_overhead_s; to 0.1 MHz.
  double clock_hz(const ComputeModel& cm, const Kernel& k, const Hardware& hw) const;

 private:
  double m_min_clock = 1, m_max_clock = 1, m_static_w = 0, m_limit_w = 0;
};

}  // namespace tessera
