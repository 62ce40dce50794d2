// The SystemC engine on a whole parallel iteration (sim/engines/systemc_iteration.h):
// every device a process, the pipeline transfers, tensor- and data-parallel
// collectives flows on the shared link ports.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "tests/support/cli_run.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

RunResult run_parallel(const std::string& spec, const std::string& engine, std::vector<std::string> sets) {
  auto hw = load_hardware("dgx-h100", sets);
  return simulate_parallel(build_workload(spec), *hw, engine);
}

}  // namespace

TEST_CASE("systemc whole iteration: a pipeline without contention equals the analytic engine",
          "[parallel][systemc]") {
  // pp = 4 on one 4-GPU node, tp = dp = 1: the only transfers are the stage-to-
  // stage activations and gradients, each on its own pair of NVLink ports while
  // the stages compute; none overlaps another on one port, so every device
  // process follows the analytic schedule exactly. The SystemC passes round each
  // op to the kernel's 1 ps time resolution, hence 1e-6 against the analytic
  // engine (1f1b: 11 x (F + B) plus the transfers) and 1e-9 against the analytic
  // schedule of the same passes. Both charge each device's host time
  // (sim/engines/parallel_parts.h, Simulator): 6.231 ms for 1f1b in eager (the
  // default), 2.525 ms with compute.host_mode=graph.
  for (const char* sched : {"gpipe", "1f1b"}) {
    INFO(sched);
    const std::string spec = fmt::format(
        "gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1,schedule={}", sched);
    const RunResult a = run_parallel(spec, "analytic", {"system.devices_per_node=4"});
    const RunResult s = run_parallel(spec, "systemc", {"system.devices_per_node=4"});
    REQUIRE(s.extra.contains("system_simulation"));
    const auto& sim = s.extra["system_simulation"];
    CHECK(sim["devices"].get<int64_t>() == 4);
    // 4 chunks x 8 microbatches: 3 activation and 3 gradient sends per microbatch;
    // then the gradient norm's 4-byte all-reduce over the 4 stages (Megatron-LM's
    // grad-stats group): one flow per member.
    CHECK(sim["transfers"].get<int64_t>() == 6 * 8 + 4);
    CHECK(s.time_s == Approx(sim["analytic_iteration_s"].get<double>()).epsilon(1e-9));
    CHECK(s.time_s == Approx(a.time_s).epsilon(1e-6));
    CHECK(s.extra["parallel"]["iteration_s"].get<double>() == s.time_s);
  }
  // With the embedding on the first stage and the LM head on the last, the
  // stages' optimizer steps differ, and every stage waits at the gradient norm's
  // all-reduce over pp for the last to arrive: the analytic engine meets there too,
  // so the two still agree (to the kernel's picoseconds) and nothing is contention.
  {
    const std::string full = "gpt:layers=8,hidden=256,heads=4,seq=64,vocab=1000,pp=4,global_batch=4,train=1";
    const RunResult fa = run_parallel(full, "analytic", {"system.devices_per_node=4"});
    const RunResult fs = run_parallel(full, "systemc", {"system.devices_per_node=4"});
    CHECK(fs.time_s == Approx(fa.time_s).epsilon(1e-9));
    CHECK(fs.extra["system_simulation"]["contention_s"].get<double>() == Approx(0).margin(1e-11));
    // The stages leave the all-reduce together: each then ends after its own step.
    const auto& roles = fa.extra["parallel"]["roles"];
    double last = 0;
    for (const auto& r : roles) last = std::max(last, r["end_s"].get<double>());
    CHECK(last == fa.time_s);
  }
  // Interleaved (v = 2): the same.
  const std::string spec =
      "gpt:layers=8,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1,schedule=interleaved,"
      "virtual_stages=2";
  const RunResult a = run_parallel(spec, "analytic", {"system.devices_per_node=4"});
  const RunResult s = run_parallel(spec, "systemc", {"system.devices_per_node=4"});
  CHECK(s.time_s == Approx(a.time_s).epsilon(1e-6));
}

TEST_CASE("systemc whole iteration: data-parallel buckets slow the tensor-parallel all-reduces sharing their ports",
          "[parallel][systemc]") {
  // tp = 2, dp = 4 on the 8 GPUs of one dgx-h100 node: in the last microbatch's
  // backward each layer's DDP gradient bucket (an all-reduce over the dp group,
  // ~25 MB) runs on the communication stream while the backward's tensor-parallel
  // all-reduces run inline, both over every GPU's NVLink ports. The analytic
  // engine gives each its own lane and times them as if alone; here they share
  // the transmit and receive ports max-min fairly, so the inline all-reduces take
  // longer and the iteration ends later. As a CUDA-graph replay (no host time),
  // so that the all-reduces follow each other as closely as the device allows;
  // in eager the host spaces them out and the overlap is smaller (3.02 us of
  // contention on 8.335 ms).
  const std::string spec = "gpt:layers=4,hidden=1024,heads=16,seq=512,tp=2,dp=4,global_batch=8,train=1";
  const RunResult a = run_parallel(spec, "analytic", {"compute.host_mode=graph"});
  const RunResult s = run_parallel(spec, "systemc", {"compute.host_mode=graph"});
  const auto& sim = s.extra["system_simulation"];
  CHECK(sim["devices"].get<int64_t>() == 8);
  const double analytic_schedule = sim["analytic_iteration_s"].get<double>();
  CHECK(analytic_schedule == Approx(a.time_s).epsilon(1e-6));
  // 6.152 ms alone, 6.161 ms shared (9.05 us of contention): more than the
  // passes' 1 ps rounding by far.
  CHECK(s.time_s > analytic_schedule + 5e-6);
  CHECK(sim["contention_s"].get<double>() == Approx(s.time_s - analytic_schedule).epsilon(1e-12));
  CHECK(sim["busiest_channel"].get<std::string>().find("fabric.nvlink") != std::string::npos);
  // Without data parallelism (tp = 2 alone, 2 GPUs) nothing shares a port.
  const std::string solo = "gpt:layers=4,hidden=1024,heads=16,seq=512,tp=2,global_batch=2,train=1";
  const RunResult s2 = run_parallel(solo, "systemc", {"system.devices_per_node=2"});
  CHECK(s2.extra["system_simulation"]["contention_s"].get<double>() == Approx(0).margin(1e-9));
}

TEST_CASE("systemc whole iteration: more than 64 devices is refused with exit 2", "[parallel][systemc]") {
  const auto o = testing::run_cli({"run", "--hw", "dgx-h100", "--set", "system.nodes=9", "--workload",
                                   "gpt:layers=2,hidden=256,heads=8,seq=128,tp=8,dp=9,global_batch=9,train=1",
                                   "--engine", "systemc"});
  CHECK(o.code == 2);
  CHECK(o.err.find("at most 64 devices") != std::string::npos);
  CHECK(o.err.find("has 72") != std::string::npos);
  CHECK(o.err.find("--engine analytic") != std::string::npos);
  CHECK(o.out.empty());
}

TEST_CASE("systemc whole iteration: the text report's devices line", "[parallel][systemc]") {
  const auto o = testing::run_cli({"run", "--hw", "dgx-h100", "--set", "system.devices_per_node=4", "--workload",
                                   "gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1",
                                   "--engine", "systemc"});
  REQUIRE(o.code == 0);
  // 4 devices, 52 transfers (see above), no contention.
  CHECK(o.out.find("devices    4 devices simulated as concurrent processes (the whole iteration, 52 transfers)") !=
        std::string::npos);
  CHECK(o.out.find("contention on shared ports 0 s") != std::string::npos);
}
