// The board's power limit: the SM clock a kernel runs at (models/tensorcore/
// clock.h, PowerCappedClock), back to back and in a host-timed loop.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "tests/support/graph_ops.h"

using namespace tessera;

using testing::one_gemm;

TEST_CASE("power limit lowers the SM clock under dense load", "[gpu][power]") {
  const auto hw = load_hardware("h100-sxm", {});
  const RunResult bf16 = simulate(one_gemm(8192, 8192, 8192), *hw);
  // Sustained bf16 GEMMs: measured 1.2-1.4 GHz (energy records); the average power
  // sits at the 700 W limit.
  CHECK(bf16.ops[0].clock_hz > 1.2e9);
  CHECK(bf16.ops[0].clock_hz < 1.45e9);
  CHECK(bf16.avg_power_w == Approx(700).epsilon(0.01));
  // fp32 on the CUDA cores: measured ~1.9 GHz.
  const RunResult fp32 = simulate(one_gemm(4096, 4096, 4096, DType::fp32), *hw);
  CHECK(fp32.ops[0].clock_hz > 1.8e9);
  // Without a limit the clock stays at its maximum.
  const auto free = load_hardware("h100-sxm", {"power.power_limit=0W"});
  CHECK(simulate(one_gemm(8192, 8192, 8192), *free).ops[0].clock_hz == Approx(1.98e9));
  // A small kernel is far below the limit.
  CHECK(simulate(one_gemm(512, 512, 512), *hw).ops[0].clock_hz == Approx(1.98e9));
}

TEST_CASE("a kernel timed in a host loop is clocked on the loop's average power", "[gpu][power]") {
  const auto hw = load_hardware("h100-sxm", {});
  const double budget = 700 - 140;  // power_limit - static_power (h100-sxm.yaml)
  const auto dynamic = [](const RunResult& r) { return r.energy_j - 140 * r.time_s; };
  Graph g = one_gemm(8192, 8192, 8192);
  const RunResult alone = simulate(g, *hw);
  REQUIRE(alone.ops[0].clock_hz < 1.45e9);  // power-bound back to back (above)
  // Idle for a tenth of the kernel after each run: the dynamic energy is the same
  // (per action), spread over kernel + idle, so the clock rises until
  // E / (t(f) + idle) is the budget again (bisection to 0.1 MHz). The clock is
  // solved on the kernel's steady-state time; the run's time also holds the launch
  // (~5 us of ~1.7 ms), so the run's own average is within 0.5 % of the budget.
  const double idle = 0.1 * alone.time_s;
  g.info["loop_idle_s"] = idle;
  const RunResult loop = simulate(g, *hw);
  CHECK(loop.ops[0].clock_hz > alone.ops[0].clock_hz * 1.05);
  CHECK(dynamic(loop) == Approx(dynamic(alone)).epsilon(1e-9));
  CHECK(dynamic(loop) / (loop.time_s + idle) == Approx(budget).epsilon(5e-3));
  CHECK(dynamic(loop) / (loop.time_s + idle) < budget);
  // Idle long enough for the kernel to fit at the maximum clock: about
  // E / budget - t(max), up to the launch time (10 us margin either side).
  const auto free = load_hardware("h100-sxm", {"power.power_limit=0W"});
  const RunResult fast = simulate(one_gemm(8192, 8192, 8192), *free);
  g.info["loop_idle_s"] = dynamic(fast) / budget - fast.time_s + 1e-5;
  CHECK(simulate(g, *hw).ops[0].clock_hz == 1.98e9);
  g.info["loop_idle_s"] = dynamic(fast) / budget - fast.time_s - 1e-5;
  CHECK(simulate(g, *hw).ops[0].clock_hz < 1.98e9);
  // A negative or non-finite gap is refused.
  g.info["loop_idle_s"] = -1e-6;
  CHECK_THROWS_WITH(simulate(g, *hw), Catch::Contains("loop_idle must be a finite number of seconds >= 0"));
}
