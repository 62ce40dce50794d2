// The SystemC engine on a multi-device system (sim/engines/systemc_system.h):
// every rank a process, every port and switch a shared channel. Without
// contention it reproduces the analytic engine; with contention it shows what
// the analytic engine cannot.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

RunResult run(const std::string& hw_name, const std::string& spec, const std::string& engine,
              const std::vector<std::string>& sets = {}) {
  const auto hw = load_hardware(hw_name, sets);
  return simulate(build_workload(spec), *hw, engine);
}

}  // namespace

TEST_CASE("systemc runs every rank; without contention it equals the analytic engine", "[interconnect][systemc]") {
  struct Case {
    std::string hw, spec;
    std::vector<std::string> sets;
    int64_t ranks;
  };
  // Ring, NVLS (in-switch), direct, tree and rings across nodes, halving-doubling,
  // a 3D torus (hierarchical), one rank per node (stride 8).
  for (const Case& c : std::vector<Case>{
           {"dgx-h100", "allreduce:bytes=1073741824,ranks=8,algo=ring,protocol=simple", {}, 8},
           {"dgx-h100", "allreduce:bytes=16777216,ranks=8", {}, 8},
           {"dgx-h100", "alltoall:bytes=16777216,ranks=8", {}, 8},
           {"dgx-h100", "allreduce:bytes=268435456,ranks=16,algo=tree", {"system.nodes=2"}, 16},
           {"dgx-h100", "allgather:bytes=268435456,ranks=64,algo=ring", {"system.nodes=8"}, 64},
           {"dgx-h100", "allreduce:bytes=67108864,ranks=8,algo=halving_doubling", {}, 8},
           {"dgx-h100", "allreduce:bytes=67108864,ranks=4,stride=8,algo=ring", {"system.nodes=4"}, 4},
           {"tpu-v4-pod", "allreduce:bytes=16777216,ranks=64", {}, 64},
           {"dgx-1", "broadcast:bytes=16777216,ranks=8", {}, 8}}) {
    INFO(c.hw << " " << c.spec);
    const RunResult a = run(c.hw, c.spec, "analytic", c.sets);
    const RunResult s = run(c.hw, c.spec, "systemc", c.sets);
    // Both time the same stages; the SystemC kernel rounds each event to 1 ps
    // (up to a few hundred events per rank here: 1e-6 of a run of >= 50 us).
    CHECK(s.time_s == Approx(a.time_s).epsilon(1e-6));
    CHECK(s.energy_j == Approx(a.energy_j).epsilon(1e-6));
    REQUIRE(s.extra.contains("system_simulation"));
    CHECK(s.extra["system_simulation"]["ranks"].get<int64_t>() == c.ranks);
    // Every rank runs at the same pace: the ranks end together.
    CHECK(s.stats.get("system.rank_end_spread") == Approx(0).margin(1e-11));
  }
}

TEST_CASE("systemc: an all-to-all through a switch with fewer ports than links waits for them",
          "[interconnect][systemc]") {
  // DGX H100: 8 GPUs x 18 NVLinks = 144 links into 4 NVSwitch chips. With 9 ports
  // per chip (36 in all) the switch carries about a quarter of what the GPUs send,
  // so the 14 MiB each GPU sends (16 MiB x 7/8, LL128) move at the switch's share:
  // 36 ports x 25 GB/s x 0.824 (port efficiency) x 120/128 (LL128) / 8 GPUs,
  // instead of the GPU's own rate; the analytic engine's switch is non-blocking.
  const std::string spec = "alltoall:bytes=16777216,ranks=8,protocol=ll128";
  const std::vector<std::string> few = {"fabric.nvswitch.ports=9"};
  const RunResult a = run("dgx-h100", spec, "analytic", few);
  const RunResult s = run("dgx-h100", spec, "systemc", few);
  const double bytes = 16777216.0 * 7 / 8;
  // 18 links x 25 GB/s x 128/155.4 (packet efficiency) x 120/128 (LL128 data share).
  const double rate = 18 * 25e9 * 128.0 / 155.4 * 120.0 / 128.0;
  CHECK(a.time_s == Approx(run("dgx-h100", spec, "analytic").time_s).epsilon(1e-12));   // ports do not matter
  const double shared = 36 * 25e9 * 0.824 * 120.0 / 128.0 / 8;
  CHECK(rate / shared == Approx(4.0).epsilon(1e-3));
  // The instruction carries ceil(bytes / 18) per link: 1e-5 of the bytes.
  CHECK(s.time_s - a.time_s == Approx(bytes / shared - bytes / rate).epsilon(1e-5));
  // With the preset's 64 ports per chip (256 >= 144) the two engines agree.
  CHECK(run("dgx-h100", spec, "systemc").time_s == Approx(a.time_s).epsilon(1e-8));
}

TEST_CASE("systemc: two collectives in concurrent streams share every rank's NVLink ports",
          "[interconnect][systemc]") {
  // Two independent 256 MiB ring all-reduces: alone each runs at the ports' rate;
  // together they share the ports, so their bytes take twice as long; each step's
  // fixed latency (0.5 us + 4 us Simple step latency, 14 steps) and its memory and
  // reduction phases overlap the other's bytes, so the pair takes a little less
  // than twice one (1.92 here); without contention it would take about one.
  const auto hw = load_hardware("dgx-h100", {});
  Graph g = build_workload("allreduce:bytes=268435456,ranks=8,algo=ring,protocol=simple");
  Op second = g.ops[0];
  second.name = "second";
  g.ops.push_back(second);
  const double one = simulate(build_workload("allreduce:bytes=268435456,ranks=8,algo=ring,protocol=simple"), *hw,
                              "systemc").time_s;
  const RunResult two = simulate(g, *hw, "systemc:streams=2");
  CHECK(two.time_s / one > 1.9);
  CHECK(two.time_s / one < 2.0);
  CHECK(two.extra["system_simulation"]["ranks"].get<int64_t>() == 8);
}

TEST_CASE("systemc: more than 64 ranks is refused, pointing to the analytic engine", "[interconnect][systemc]") {
  const auto hw = load_hardware("dgx-h100", {"system.nodes=16"});
  const Graph g = build_workload("allreduce:bytes=1048576,ranks=128");
  REQUIRE_THROWS_AS(simulate(g, *hw, "systemc"), InputError);
  REQUIRE_THROWS_WITH(simulate(g, *hw, "systemc"),
                      Catch::Contains("at most 64 devices") && Catch::Contains("128 ranks") &&
                          Catch::Contains("--engine analytic"));
  CHECK(simulate(g, *hw, "analytic").time_s > 0);
}
