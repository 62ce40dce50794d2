#pragma once
// Checks shared by the tests that run whole workloads: the analytic run is
// complete and consistent, and the SystemC engine agrees with it. Include after
// catch2/catch.hpp.
#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/ir.h"

namespace tessera::testing {

// Runs `g` on `hw` with both engines; returns the analytic result.
inline RunResult check_both_engines(const Graph& g, const Hardware& hw) {
  const RunResult a = simulate(g, hw, "analytic");
  REQUIRE(a.ops.size() == g.ops.size());
  CHECK(a.time_s > 0);
  CHECK(a.energy_j > 0);
  CHECK(a.flops == Approx(g.total_flops()));
  for (const auto& o : a.ops) CHECK(o.time_s >= 0);
  // Without concurrency the event-driven engine reproduces the closed form.
  const RunResult s = simulate(g, hw, "systemc");
  CHECK(s.time_s == Approx(a.time_s).epsilon(1e-6));
  return a;
}

}  // namespace tessera::testing
