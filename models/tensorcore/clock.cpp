#include "models/tensorcore/clock.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/units.h"
#include "models/hardware.h"

#include "models/compute/compute.h"
#include "models/compute/stage_cost.h"

namespace tessera {

double PowerCappedClock::clock_hz(const ComputeModel& cm, const Kernel& k, const Hardware& hw) const {
  if (m_limit_w <= 0) return m_max_clock;
  // Dynamic energy does not depend on the clock (energy per action); time does.
  // Stages are costed as the engines cost them (cost_stage).
  double energy = 0;
  KernelContext probe;
  probe.clock_hz = m_max_clock;
  for (const Block& b : k.blocks) energy += cost_stage(b, k, hw, probe).energy_j * static_cast<double>(b.repeat);
  // Steady-state time of the kernel at clock f: every stage costs max(l, c).
  const auto time_at = [&](double f) {
    KernelContext ctx;
    ctx.clock_hz = f;
    double t = cm.kernel_overhead_s(k, ctx);
    for (const Block& b : k.blocks) {
      const StageCost st = cost_stage(b, k, hw, ctx);
      t += static_cast<double>(b.repeat) * std::max(st.load_s, st.compute_s);
    }
    return t;
  };
  // A limit the device cannot meet is a mistake in the description, not a
  // reason to report a power above it.
  const double budget = m_limit_w - m_static_w;
  if (budget <= 0)
    throw InputError(fmt::format("{}: power.power_limit {} is not above power.static_power {}: no power is "
                                 "left for kernel '{}' (power_limit 0 = no limit)", hw.source,
                                 format_quantity(m_limit_w, Unit::watts), format_quantity(m_static_w, Unit::watts),
                                 k.name));
  const auto fits = [&](double f) {
    const double t = time_at(f);
    return t <= 0 || energy / t <= budget;
  };
  if (fits(m_max_clock)) return m_max_clock;
  if (!fits(m_min_clock))
    throw InputError(fmt::format("{}: kernel '{}' draws {} even at compute.min_clock {}, above power.power_limit "
                                 "{}; raise the limit or lower min_clock", hw.source, k.name,
                                 format_quantity(m_static_w + energy / time_at(m_min_clock), Unit::watts),
                                 format_quantity(m_min_clock, Unit::hertz),
                                 format_quantity(m_limit_w, Unit::watts)));
  // Power falls monotonically with the clock (time grows, energy is fixed):
  // bisect for the highest clock within the limit, to 0.1 MHz.
  double lo = m_min_clock, hi = m_max_clock;
  while (hi - lo > 1e5) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace tessera
