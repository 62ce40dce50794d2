#include "models/tensorcore/clock.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/units.h"
#include "models/compute/compute.h"
#include "models/compute/stage_cost.h"
#include "models/hardware.h"

namespace tessera {

double PowerCappedClock::clock_hz(const ComputeModel& cm, const Kernel& k, const Hardware& hw) const {
  if (m_limit_w <= 0) return m_max_clock;
  // Dynamic energy does not depend on the clock (energy per action); time does.
  // Stages are costed as the engines cost them (cost_stage).
  // The blocks' units are looked up once; the bisection below re-times them.
  std::vector<ResolvedBlock> blocks;
  blocks.reserve(k.blocks.size());
  for (const Block& b : k.blocks) blocks.push_back(resolve_block(b, k, hw));
  double energy = 0;
  KernelContext probe;
  probe.clock_hz = m_max_clock;
  for (const ResolvedBlock& rb : blocks)
    energy += stage_energy_j(rb, k, probe) * static_cast<double>(rb.repeat);
  // Steady-state time of the kernel at clock f: every stage costs max(l, c).
  const auto time_at = [&](double f) {
    KernelContext ctx;
    ctx.clock_hz = f;
    double t = cm.kernel_overhead_s(k, ctx);
    for (const ResolvedBlock& rb : blocks) t += static_cast<double>(rb.repeat) * stage_time_s(rb, k, ctx);
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
  // A kernel run in a host-timed loop is followed by `idle` seconds at static
  // power; the board's controller limits the power averaged over its sampling
  // period (1/6 s to 1 s: torch.cuda.power_draw, NVML nvmlDeviceGetPowerUsage),
  // thousands of such iterations, so the limit holds for the loop's average.
  const double idle = k.info.loop_idle.value_or(0.0);
  if (!(idle >= 0) || !std::isfinite(idle))
    throw InputError(fmt::format("{}: kernel '{}': loop_idle must be a finite number of seconds >= 0, not {}",
                                 hw.source, k.name, idle));
  const auto fits = [&](double f) {
    const double t = time_at(f) + idle;
    return t <= 0 || energy / t <= budget;
  };
  if (fits(m_max_clock)) return m_max_clock;
  if (!fits(m_min_clock))
    throw InputError(fmt::format(
        "{}: kernel '{}' draws {} even at compute.min_clock {}, above power.power_limit "
        "{}; raise the limit or lower min_clock",
        hw.source, k.name, format_quantity(m_static_w + energy / (time_at(m_min_clock) + idle), Unit::watts),
        format_quantity(m_min_clock, Unit::hertz), format_quantity(m_limit_w, Unit::watts)));
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
