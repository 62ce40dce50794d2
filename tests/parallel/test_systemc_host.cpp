// PyTorch's host time on the SystemC engine across devices: every rank of a
// program that sends over a system's links has its own host process
// (sim/engines/host_process.h, systemc_system.cpp), so the multi-device systemc
// engine charges the host time the analytic engine charges
// (sim/engines/parallel_parts.h, Simulator), and without contention gives the
// same times.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "compiler/compile.h"
#include "models/hardware.h"
#include "sim/engines/engine.h"
#include "sim/engines/parallel.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

// Two all-reduces of 64 KiB over 2 ranks, the second after the first.
Graph two_allreduces() {
  Graph g = build_workload("allreduce:bytes=65536,ranks=2");
  Op second = g.ops[0];
  second.name = "allreduce2";
  second.deps = {0};
  g.add(second);
  return g;
}

RunResult sc_iteration(const std::string& spec, const std::string& engine, std::vector<std::string> sets) {
  auto hw = load_hardware("dgx-h100", sets);
  return simulate_parallel(build_workload(spec), *hw, engine);
}

// The SystemC kernel rounds every wait to its 1 ps time resolution; an iteration
// of these models is thousands of waits, so the engines agree to 1e-7 of the
// iteration (the bound parallel.cpp itself takes as rounding, not contention).
constexpr double k_rounding = 1e-7;

// systemc and analytic agree on the iteration, every pass and every op of the
// report (start, time, and the launch idle that holds the host wait).
void check_same(const RunResult& s, const RunResult& a) {
  CHECK(s.time_s == Approx(a.time_s).epsilon(k_rounding));
  const auto& rs = s.extra["parallel"]["roles"];
  const auto& ra = a.extra["parallel"]["roles"];
  REQUIRE(rs.size() == ra.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    CHECK(rs[i]["forward_s"].get<double>() == Approx(ra[i]["forward_s"].get<double>()).epsilon(k_rounding));
    CHECK(rs[i]["backward_s"].get<double>() == Approx(ra[i]["backward_s"].get<double>()).epsilon(k_rounding));
  }
  REQUIRE(s.ops.size() == a.ops.size());
  const double margin = k_rounding * a.time_s;
  double idle = 0;
  for (size_t i = 0; i < s.ops.size(); ++i) {
    INFO(a.ops[i].name);
    CHECK(s.ops[i].name == a.ops[i].name);
    CHECK(s.ops[i].start_s == Approx(a.ops[i].start_s).margin(margin));
    CHECK(s.ops[i].time_s == Approx(a.ops[i].time_s).margin(margin));
    CHECK(s.ops[i].idle_s == Approx(a.ops[i].idle_s).margin(margin));
    idle += a.ops[i].idle_s;
  }
  CHECK(idle > 0);
  // Without contention.
  CHECK(s.extra["system_simulation"]["contention_s"].get<double>() == 0);
}

// The iteration on the analytic and the systemc engine, checked equal
// (check_same): {analytic, systemc}.
std::pair<RunResult, RunResult> on_both_engines(const std::string& spec, const std::vector<std::string>& sets) {
  std::pair<RunResult, RunResult> r{sc_iteration(spec, "analytic", sets),
                                    sc_iteration(spec, "systemc", sets)};
  check_same(r.second, r.first);
  return r;
}

}  // namespace

TEST_CASE("systemc on a system: each rank's host launches its kernels as on one device",
          "[parallel][systemc][host]") {
  // 2 H100s, two 64 KiB all-reduces, each op 50 us of host time (host_other, the
  // family of a collective). The recurrence of models/compute/host.h with the
  // kernels' own overheads and durations (d1, d2 as the CUDA-graph run gives them)
  // and L = the launch onto an idle device:
  //   l1 = 0: begin1 = max(0 + overhead1, 0 + L), end1 = begin1 + d1; h1 = 50 us
  //   l2 = 50 us: begin2 = max(end1 + overhead2, 50 us + L) = 50 us + L (end1 ~ 8 us),
  //     the device waiting 50 us + L - (end1 + overhead2) for the host;
  //   end2 = begin2 + d2 < h2 = 100 us: the run ends when the host is done, 100 us.
  const Graph g = two_allreduces();
  const std::vector<std::string> sets = {"system.devices_per_node=2", "compute.host_other=50us"};
  auto eager = load_hardware("dgx-h100", sets);
  auto sets_graph = sets;
  sets_graph.push_back("compute.host_mode=graph");
  auto graph = load_hardware("dgx-h100", sets_graph);
  const Program p = compile(g, *eager);
  REQUIRE(p.kernels.size() == 2);
  const KernelPlan k1 = plan_kernel(p.kernels[0], *eager), k2 = plan_kernel(p.kernels[1], *eager);
  CHECK(k1.host_s == Approx(50e-6).epsilon(1e-12));
  CHECK(k2.host_s == Approx(50e-6).epsilon(1e-12));
  const double L = k2.launch_s;
  for (const char* engine : {"analytic", "systemc"}) {
    INFO(engine);
    const RunResult r = simulate(g, *eager, engine);
    const RunResult rg = simulate(g, *graph, engine);
    if (std::string(engine) == "systemc") REQUIRE(r.extra.contains("system_simulation"));
    // Every event is rounded to 1 ps by SystemC: a few ps in all.
    const double ps = 5e-12;
    const double d1 = rg.ops[0].time_s - rg.ops[0].overhead_s, d2 = rg.ops[1].time_s - rg.ops[1].overhead_s;
    const double end1 = std::max(k1.overhead_s, L) + d1;
    CHECK(r.ops[0].start_s + r.ops[0].time_s == Approx(end1).margin(ps));
    const double wait2 = 50e-6 + L - (end1 + k2.overhead_s);
    REQUIRE(wait2 > 0);
    CHECK(r.ops[1].start_s == Approx(end1).margin(ps));
    CHECK(r.ops[1].idle_s - rg.ops[1].idle_s == Approx(wait2).margin(ps));
    CHECK(r.ops[1].start_s + r.ops[1].time_s == Approx(50e-6 + L + d2).margin(ps));
    CHECK(r.host_done_s == Approx(100e-6).margin(ps));
    CHECK(r.time_s == Approx(100e-6).margin(ps));
    CHECK(r.stats.get("host.busy") == Approx(100e-6).margin(ps));
    // The device's waits: before kernel 2, and after it until the host is done.
    CHECK(r.stats.get("host.wait") == Approx(wait2 + 100e-6 - (50e-6 + L + d2)).margin(ps));
    // A CUDA-graph replay has no host: end2 = end1 + overhead2 + d2.
    CHECK(rg.host_done_s == 0);
    CHECK_FALSE(rg.stats.has("host.busy"));
    CHECK(rg.time_s == Approx(end1 + k2.overhead_s + d2).margin(ps));
  }
}

TEST_CASE("systemc on a system: the launch queue blocks each rank's host", "[parallel][systemc][host]") {
  // host_queue_depth = 1: the host launches kernel i only once kernel i-1 has
  // ended, l_i = max(h_{i-1}, end_{i-1}) (models/compute/host.h). On the same two
  // all-reduces with 1 us of host time each: l2 = end1 > h1 = 1 us, so
  // begin2 = max(end1 + overhead2, end1 + L) = end1 + L (L > overhead2 on the GPU:
  // a launch onto an idle device costs more than one queued behind a kernel).
  const Graph g = two_allreduces();
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=2", "compute.host_other=1us",
                                       "compute.host_queue_depth=1"});
  const Program p = compile(g, *hw);
  const KernelPlan k2 = plan_kernel(p.kernels[1], *hw);
  REQUIRE(k2.launch_s > k2.overhead_s);
  const RunResult a = simulate(g, *hw, "analytic");
  const RunResult s = simulate(g, *hw, "systemc");
  REQUIRE(s.extra.contains("system_simulation"));
  const double end1 = s.ops[0].start_s + s.ops[0].time_s;
  CHECK(s.ops[1].idle_s - a.ops[1].idle_s == Approx(0).margin(5e-12));
  CHECK(s.ops[1].overhead_s == Approx(k2.launch_s).margin(5e-12));
  CHECK(s.ops[1].start_s == Approx(end1).margin(5e-12));
  CHECK(s.time_s == Approx(a.time_s).margin(5e-12));
  // Unbounded queue: l2 = h1 = 1 us, long before end1: begin2 = end1 + overhead2.
  auto unbounded = load_hardware("dgx-h100", {"system.devices_per_node=2", "compute.host_other=1us"});
  const RunResult u = simulate(g, *unbounded, "systemc");
  CHECK(u.ops[1].overhead_s == Approx(k2.overhead_s).margin(5e-12));
  CHECK(u.time_s == Approx(s.time_s - (k2.launch_s - k2.overhead_s)).margin(5e-12));
}

TEST_CASE("multi-device host time: the systemc engine equals the analytic engine on tp = 2",
          "[parallel][systemc][host]") {
  // GPT h=256 on 2 H100s, tp = 2: host-bound (1.867 ms eager against 784.1 us as a
  // CUDA-graph replay, docs/parallel.md). Every pass holds tensor-parallel
  // all-reduces, so the systemc engine runs both ranks at once, each with its own
  // host, and the whole iteration again over the shared ports.
  const std::string spec = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1";
  const std::vector<std::string> sets = {"system.devices_per_node=2"};
  const auto [a, s] = on_both_engines(spec, sets);
  const RunResult g = sc_iteration(spec, "systemc", {"system.devices_per_node=2", "compute.host_mode=graph"});
  CHECK(s.time_s > 2 * g.time_s);
  // Deterministic: a second run gives the same numbers.
  const RunResult s2 = sc_iteration(spec, "systemc", sets);
  CHECK(s2.time_s == s.time_s);
  CHECK(s2.ops.size() == s.ops.size());
  for (size_t i = 0; i < s.ops.size() && i < s2.ops.size(); ++i) CHECK(s2.ops[i].idle_s == s.ops[i].idle_s);
  // With the launch queue blocking after every launch (depth 1) on a device-
  // bound model the host waits for the device instead: the engines still agree.
  const std::string big = "gpt:layers=2,hidden=1024,heads=16,seq=512,vocab=1000,tp=2,train=1";
  const std::vector<std::string> q1 = {"system.devices_per_node=2", "compute.host_queue_depth=1"};
  const RunResult sq = on_both_engines(big, q1).second;
  CHECK(sq.time_s > sc_iteration(big, "systemc", {"system.devices_per_node=2"}).time_s);
}

TEST_CASE("multi-device host time: the systemc engine equals the analytic engine on tp = 2 x dp = 2",
          "[parallel][systemc][host]") {
  // 4 H100s on one node, tp = 2 x dp = 2, 2 microbatches: the last microbatch's
  // DDP gradient buckets run beside the backward's tensor-parallel all-reduces
  // but do not overlap them on a port here (contention 0), so the whole
  // iteration is the analytic schedule, host time included.
  const std::string spec = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,dp=2,global_batch=4,train=1";
  const std::vector<std::string> sets = {"system.devices_per_node=4"};
  const auto [a, s] = on_both_engines(spec, sets);
  CHECK(s.extra["system_simulation"]["devices"].get<int64_t>() == 4);
  CHECK(s.extra["system_simulation"]["analytic_iteration_s"].get<double>() == Approx(a.time_s).epsilon(k_rounding));
}

TEST_CASE("multi-device host time: host_mode=graph removes it on both engines", "[parallel][systemc][host]") {
  const std::string spec = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,dp=2,global_batch=4,train=1";
  const std::vector<std::string> eager = {"system.devices_per_node=4"};
  const std::vector<std::string> graph = {"system.devices_per_node=4", "compute.host_mode=graph"};
  const RunResult ae = sc_iteration(spec, "analytic", eager), ag = sc_iteration(spec, "analytic", graph);
  const RunResult se = sc_iteration(spec, "systemc", eager), sg = sc_iteration(spec, "systemc", graph);
  // Host-bound in eager on both engines; the replay has no host time: the two
  // engines agree on it, and every op's launch idle is the kernel's own (no
  // wait for a host) -- the same as the eager run's minus its host waits.
  CHECK(ae.time_s > 2 * ag.time_s);
  CHECK(se.time_s > 2 * sg.time_s);
  CHECK(sg.time_s == Approx(ag.time_s).epsilon(k_rounding));
  REQUIRE(sg.ops.size() == ag.ops.size());
  double graph_idle = 0, eager_idle = 0;
  for (size_t i = 0; i < sg.ops.size(); ++i) {
    CHECK(sg.ops[i].idle_s == Approx(ag.ops[i].idle_s).margin(k_rounding * ag.time_s));
    graph_idle += sg.ops[i].idle_s;
    eager_idle += se.ops[i].idle_s;
  }
  CHECK(eager_idle > graph_idle);
}
