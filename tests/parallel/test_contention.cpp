// A collective running on the communication stream holds NCCL's SMs (one per
// channel: system.reduce_units), so compute beside it runs on the rest
// (sim/engines/parallel_pass.cpp: Simulator::crowded, time_pass; the systemc
// iteration's compute ops, systemc_iteration.cpp).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "sim/engines/parallel_parts.h"
#include "workloads/workloads.h"

using namespace tessera;
using namespace tessera::parallel_engine;

namespace {

// gpt h = 1024, 4 layers, dp 8 on a DGX H100 with FSDP2: its backward holds a
// reduce-scatter per layer on the communication stream.
const std::string k_contention_spec =
    "gpt:layers=4,hidden=1024,heads=16,seq=1024,batch=16,train=1,dp=8,microbatch=1,zero=3,ddp=fsdp";

// The backward's op named `name`, or (name empty) its first matmul.
size_t backward_op(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].get("pass", 0) == 1 &&
        (name.empty() ? g.ops[i].kind == OpKind::matmul : g.ops[i].name == name))
      return i;
  FAIL("no op " << name);
  return 0;
}

}  // namespace

TEST_CASE("compute beside a collective runs on the SMs NCCL's channels leave", "[parallel][contention]") {
  const Graph g = build_workload(k_contention_spec);
  const size_t rs = backward_op(g, "fsdp.reduce_scatter.l3");
  const size_t mm = backward_op(g, "");
  REQUIRE(g.ops[rs].get("overlap", 0) == 1);
  // The reduce-scatter is issued first, so it runs from the pass's start; the
  // matmul starts beside it.
  const std::vector<size_t> ops{rs, mm};

  SECTION("a collective longer than the compute: the op takes its crowded time") {
    // NVLink at 0.1 GB/s a link: the layer's reduce-scatter takes milliseconds.
    auto hw = load_hardware("dgx-h100", {"fabric.nvlink.bandwidth=0.1GB/s"});
    Simulator sim(*hw, "analytic");
    Simulator* crowded = sim.crowded();
    REQUIRE(crowded != nullptr);
    const double alone = sim.run(g, {mm}).time_s, beside = crowded->run(g, {mm}).time_s;
    REQUIRE(sim.transfer(g, rs).time_s > 10 * beside);
    // 132 SMs less NCCL's 32 channels (dgx-h100.yaml): 100 SMs, so the GEMM's
    // waves are re-cut and it takes longer.
    CHECK(beside > 1.1 * alone);
    const PassTiming t = time_pass(sim, g, ops, 0.0);
    CHECK(t.inline_s == Approx(beside).epsilon(1e-12));
    CHECK(t.contention_s == Approx(beside - alone).epsilon(1e-12));
    CHECK(t.gather_wait_s == 0);
    // With every SM but one left to the compute the crowded time is (almost) the time alone.
    auto one = load_hardware("dgx-h100", {"fabric.nvlink.bandwidth=0.1GB/s", "system.reduce_units=1"});
    Simulator sim1(*one, "analytic");
    CHECK(time_pass(sim1, g, ops, 0.0).contention_s < 0.2 * t.contention_s);
  }

  SECTION("a collective shorter than the compute: crowded while it runs, alone after") {
    auto hw = load_hardware("dgx-h100", {});
    Simulator sim(*hw, "analytic");
    const double a = sim.run(g, {mm}).time_s, c = sim.crowded()->run(g, {mm}).time_s;
    const double C = sim.transfer(g, rs).time_s;
    REQUIRE(C < c);
    // The share C / c of the op runs beside the collective, the rest alone:
    // end = C + (1 - C / c) * a.
    const PassTiming t = time_pass(sim, g, ops, 0.0);
    CHECK(t.inline_s == Approx(C + (1 - C / c) * a).epsilon(1e-12));
    CHECK(t.contention_s == Approx(C * (1 - a / c)).epsilon(1e-9));
  }

  SECTION("no collective on the communication stream: nothing is crowded") {
    auto hw = load_hardware("dgx-h100", {"fabric.nvlink.bandwidth=0.1GB/s"});
    Simulator sim(*hw, "analytic");
    const PassTiming t = time_pass(sim, g, {mm}, 0.0);
    CHECK(t.contention_s == 0);
    CHECK(t.inline_s == sim.run(g, {mm}).time_s);
  }
}

TEST_CASE("collectives crowd GPU compute only: no system, or no SMs to take", "[parallel][contention]") {
  // One device, no collective library: nothing to crowd.
  CHECK(Simulator(*load_hardware("h100-sxm", {}), "analytic").crowded() == nullptr);
  // A TPU pod's collectives run on its ICI and DMA engines, not its MXUs.
  CHECK(Simulator(*load_hardware("tpu-v4-pod", {}), "analytic").crowded() == nullptr);
  // A description whose collectives would take every SM is refused when loaded.
  CHECK_THROWS_WITH(load_hardware("dgx-h100", {"system.reduce_units=132"}),
                    Catch::Contains("system.reduce_units: 132 is not below compute.sm_count 132") &&
                        Catch::Contains("accepted: 1..131"));
  CHECK_NOTHROW(load_hardware("dgx-h100", {"system.reduce_units=131"}));
}

TEST_CASE("collective contention: both engines slow the compute alike, and the report says by how much",
          "[parallel][contention][systemc]") {
  auto hw = load_hardware("dgx-h100", {});
  const RunResult a = simulate_parallel(build_workload(k_contention_spec), *hw, "analytic");
  const RunResult s = simulate_parallel(build_workload(k_contention_spec), *hw, "systemc");
  CHECK(s.time_s == Approx(a.time_s).epsilon(1e-7));
  const double contention = a.extra.at("parallel").at("roles")[0].at("comm_contention_s").get<double>();
  CHECK(contention > 0);
  // Without the SMs taken (one channel of 132 SMs: 131 left) the iteration is shorter by about that much.
  auto one = load_hardware("dgx-h100", {"system.reduce_units=1"});
  const RunResult b = simulate_parallel(build_workload(k_contention_spec), *one, "analytic");
  CHECK(a.time_s > b.time_s);
}

TEST_CASE("the last microbatch's DDP buckets crowd its backward, not the others'",
          "[parallel][contention][ddp]") {
  // PyTorch DDP over 8 GPUs with NVLink at 2 GB/s a link: the buckets' all-reduces
  // run for most of the last backward.
  auto hw = load_hardware("dgx-h100", {"fabric.nvlink.bandwidth=2GB/s"});
  const std::string spec =
      "gpt:layers=4,hidden=1024,heads=16,seq=1024,batch=16,train=1,dp=8,microbatch=4,ddp=torch";
  const Graph g = build_workload(spec);
  std::vector<size_t> bwd;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].get("pass", 0) == 1) bwd.push_back(i);
  Simulator sim(*hw, "analytic");
  const PassTiming other = time_pass(sim, g, bwd, 0.0);
  const PassTiming last = time_pass(sim, g, bwd, 0.0, true);
  REQUIRE(!last.late.empty());
  CHECK(other.contention_s == 0);
  CHECK(last.contention_s > 0);
  CHECK(last.inline_s == Approx(other.inline_s + last.contention_s).epsilon(1e-12));
  // Both engines alike over the iteration (4 microbatches: only the last crowded).
  const RunResult a = simulate_parallel(g, *hw, "analytic");
  const RunResult s = simulate_parallel(g, *hw, "systemc");
  CHECK(s.time_s == Approx(a.time_s).epsilon(1e-7));
  CHECK(a.extra.at("parallel").at("roles")[0].at("comm_contention_s").get<double>() ==
        Approx(last.contention_s).epsilon(1e-12));
}
