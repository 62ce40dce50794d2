// The host side of eager execution (models/compute/host.h): the recurrence on
// exact two-kernel cases, the queue bound, CUDA-graph replays, and the fitted
// host costs against the shared hot-L2 records.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "compiler/compile.h"
#include "models/compute/host.h"
#include "models/hardware.h"
#include "sim/engines/engine.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

const std::filesystem::path k_host_shared = TESSERA_SHARED_DIR;

// Two bf16 element-wise adds of 1024 x 1024, the second reading the first's output.
Graph two_adds() {
  Graph g;
  g.name = "two";
  for (int i = 0; i < 2; ++i) {
    Op op;
    op.name = fmt::format("add{}", i);
    op.kind = OpKind::add;
    op.dtype = op.out_dtype = DType::bf16;
    op.attrs = {{"rows", 1024}, {"cols", 1024}, {"inputs", 2}};
    if (i > 0) op.deps = {0};
    g.add(op);
  }
  return g;
}

// --set arguments: a 4 us launch and a 1.5 us back-to-back gap, then `more`.
std::vector<std::string> launch_sets(std::vector<std::string> more) {
  more.insert(more.begin(), {"compute.launch_overhead=4us", "compute.kernel_gap=1.5us"});
  return more;
}

// two_adds() as a graph replay (no host time) under launch_sets: the run, and the
// kernels' own times d0, d1 (launch / gap excluded).
struct Replay {
  RunResult run;
  double d0 = 0, d1 = 0;
};
Replay replay_two_adds() {
  const auto hw = load_hardware("h100-sxm", launch_sets({"compute.host_mode=graph"}));
  Replay r{simulate(two_adds(), *hw)};
  r.d0 = r.run.ops[0].time_s - 4e-6;
  r.d1 = r.run.ops[1].time_s - 1.5e-6;
  return r;
}

double mape(const nlohmann::json& s, const std::string& section, const std::string& group) {
  return s["sections"][section]["groups"][group]["mape"].get<double>();
}

}  // namespace

TEST_CASE("host recurrence: a host-bound and a device-bound pair of kernels", "[gpu][host]") {
  const auto sets = launch_sets;
  // The kernels' own times d0, d1 (launch / gap excluded), from the graph replay.
  const Replay replay = replay_two_adds();
  const RunResult& g = replay.run;
  const double d0 = replay.d0, d1 = replay.d1;
  REQUIRE(d0 > 0);
  REQUIRE(d0 < 8.5e-6);   // ~6 MiB of HBM traffic: a few us
  REQUIRE(d1 < 6e-6);
  CHECK(g.stats.has("host.busy") == false);

  SECTION("host-bound: 10 us per add") {
    const auto hw = load_hardware("h100-sxm", sets({"compute.host_elementwise=10us"}));
    const RunResult r = simulate(two_adds(), *hw);
    // l1 = 0, begin1 = max(0 + 4, 0 + 4) = 4 us, end1 = 4 + d0; h1 = 10 us.
    CHECK(r.ops[0].time_s == Approx(4e-6 + d0).epsilon(1e-12));
    // l2 = 10 us, begin2 = max(end1 + 1.5, 10 + 4) = 14 us (d0 < 8.5 us): the GPU
    // waits 14 - (4 + d0 + 1.5) = 8.5 us - d0 for the host; end2 = 14 + d1.
    CHECK(r.ops[1].start_s == Approx(4e-6 + d0).epsilon(1e-12));
    CHECK(r.ops[1].time_s == Approx(14e-6 + d1 - (4e-6 + d0)).epsilon(1e-9));
    CHECK(r.ops[1].idle_s - g.ops[1].idle_s == Approx(8.5e-6 - d0).epsilon(1e-9));
    // h2 = 20 us > end2 (d1 < 6 us): the run ends when the host is done.
    CHECK(r.host_done_s == Approx(20e-6).epsilon(1e-12));
    CHECK(r.time_s == Approx(20e-6).epsilon(1e-12));
    CHECK(r.stats.get("host.busy") == Approx(20e-6).epsilon(1e-12));
    // Waiting for the host is launch idle: the kernel time is the replay's.
    CHECK(r.kernel_time_s == Approx(g.kernel_time_s).epsilon(1e-9));
  }
  SECTION("device-bound: 1 us per add") {
    const auto hw = load_hardware("h100-sxm", sets({"compute.host_elementwise=1us"}));
    const RunResult r = simulate(two_adds(), *hw);
    // l2 = 1 us: ready at 1 + 4 = 5 us, before end1 + 1.5 = 5.5 us + d0; h2 = 2 us.
    CHECK(r.time_s == Approx(g.time_s).epsilon(1e-12));
    CHECK(r.ops[1].idle_s == Approx(g.ops[1].idle_s).epsilon(1e-12));
  }
  SECTION("the systemc engine follows the same recurrence") {
    const auto hw = load_hardware("h100-sxm", sets({"compute.host_elementwise=10us"}));
    const RunResult a = simulate(two_adds(), *hw, "analytic");
    const RunResult s = simulate(two_adds(), *hw, "systemc");
    CHECK(s.time_s == Approx(a.time_s).epsilon(1e-6));
    CHECK(s.ops[1].time_s == Approx(a.ops[1].time_s).epsilon(1e-6));
  }
}

TEST_CASE("host launch queue: the launch call blocks while Q launches are outstanding", "[gpu][host]") {
  HostIssue h(2);
  // Q = 2: l1 = 0, l2 = h1 = 1 us; kernel 1 ends at 9 us, kernel 2 at 12 us.
  CHECK(h.launch(1e-6) == 0);
  h.retire(9e-6);
  CHECK(h.launch(1e-6) == Approx(1e-6));
  h.retire(12e-6);
  // l3 = max(h2 = 2 us, end1 = 9 us) = 9 us; l4 = max(10 us, end2 = 12 us) = 12 us.
  CHECK(h.launch(1e-6) == Approx(9e-6));
  h.retire(20e-6);
  CHECK(h.launch(1e-6) == Approx(12e-6));
  CHECK(h.done() == Approx(13e-6));
  // Unbounded (Q = 0): the host never waits.
  HostIssue u(0);
  u.launch(5e-6);
  u.retire(100e-6);
  CHECK(u.launch(5e-6) == Approx(5e-6));
}

TEST_CASE("host op families follow the aten API of each op", "[gpu][host]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto family = [&](const std::string& spec) {
    const Program p = compile(build_workload(spec), *hw);
    return std::string(host_op_name(host_op(p.kernels.at(0))));
  };
  CHECK(family("gemm:m=128,n=128,k=128,dtype=bf16") == "matmul");
  CHECK(family("gemm:m=128,n=128,k=128,dtype=fp8_e4m3") == "scaled_mm");
  CHECK(family("gemm:m=128,n=128,k=128,dtype=int8") == "int_mm");
  const Program r = compile(build_workload("resnet50:batch=1"), *hw);
  CHECK(host_op_name(host_op(r.kernels.at(0))) == "conv");
}

TEST_CASE("a CUDA-graph replay pays no host time", "[gpu][host]") {
  const auto eager = load_hardware("h100-sxm", {});
  const auto graph = load_hardware("h100-sxm", {"compute.host_mode=graph"});
  // Decode over the static cache (the default in decode) is a graph replay in
  // either mode: the same time, no host statistic.
  const std::string decode = "llama-7b:phase=decode,batch=1,ctx=128,layers=2";
  const RunResult de = simulate(build_workload(decode), *eager);
  CHECK(de.time_s == simulate(build_workload(decode), *graph).time_s);
  CHECK_FALSE(de.stats.has("host.busy"));
  // HF's DynamicCache decode runs eager: every kernel waits for the host here.
  const std::string dynamic = decode + ",kv_cache=dynamic";
  const RunResult dd = simulate(build_workload(dynamic), *eager);
  CHECK(dd.time_s > 1.5 * simulate(build_workload(dynamic), *graph).time_s);
  CHECK(dd.stats.get("host.wait") > 0);
}

TEST_CASE("a CUDA-graph replay starts a multi-kernel op's further kernels at the queued gap", "[gpu][host]") {
  const auto eager = load_hardware("h100-sxm", {});
  const auto graph = load_hardware("h100-sxm", {"compute.host_mode=graph"});
  // ResNet-50's bn1 in eval, bf16: PyTorch's three launches (copy_, calc_invstd,
  // transform_input). Eager: the first queued (kernel_gap, 2 us) and two whole
  // launches (launch_overhead, 4.611 us, each paced by the host); graph: all three at
  // the gap: 2 x (4.611 - 2) = 5.222 us less.
  const Program p = compile(build_workload("resnet50:batch=1,dtype=bf16"), *eager);
  const Kernel& bn = p.kernels.at(1);
  REQUIRE(bn.info.launches.value_or(1) == 3);
  const KernelContext c = eager->compute().begin_kernel(bn, *eager);
  const double gap = eager->compute().params().real("kernel_gap");
  const double launch = eager->compute().params().real("launch_overhead");
  CHECK(gap == Approx(2e-6));
  CHECK(eager->compute().kernel_overhead_s(bn, c) - graph->compute().kernel_overhead_s(bn, c) ==
        Approx(2 * (launch - gap)));
  // A static-cache decode step is one replay: its kernels are graph nodes, so its
  // two-launch flash-decoding op pays the gap in either host mode.
  const Program d = compile(build_workload("llama-7b:phase=decode,batch=1,ctx=1024,layers=1"), *eager);
  bool two = false;
  for (const Kernel& k : d.kernels) {
    CHECK(k.info.graph.value_or(0) == 1);
    if (k.info.launches.value_or(1) == 2) {
      two = true;
      CHECK(eager->compute().kernel_overhead_s(k, c) == Approx(graph->compute().kernel_overhead_s(k, c)));
    }
  }
  CHECK(two);
  // HF's DynamicCache decode runs eager: not graph nodes.
  for (const Kernel& k :
       compile(build_workload("llama-7b:phase=decode,batch=1,ctx=64,layers=1,kv_cache=dynamic"), *eager)
           .kernels)
    CHECK_FALSE(k.info.graph.has_value());
}

TEST_CASE("a wrong host cost breaks the hot-L2 records", "[gpu][host][accuracy]") {
  const auto path = k_host_shared / "reference/h100/microbench.jsonl";
  REQUIRE(std::filesystem::exists(path));
  // The sections this test reads (gemm, membw): the precision records' emulation
  // and the rest would triple its time for nothing.
  std::vector<nlohmann::json> recs;
  for (auto& r : read_jsonl(path.string()))
    if (r.value("section", std::string()) == "gemm" || r.value("section", std::string()) == "membw")
      recs.push_back(std::move(r));
  REQUIRE(recs.size() == 438 + 27);  // the shared file's gemm and membw records
  const auto right = compare_records(recs, *load_hardware("h100-sxm", {}), path.parent_path());
  // The calibrated costs (bounds in test_gpu.cpp, "accuracy on the shared H100").
  CHECK(mape(right, "gemm", "hot L2") <= 0.125);
  CHECK(mape(right, "membw", "copy, hot, < 64 MiB") <= 0.032);
  // No host time (graph mode): 21.2 % and 37.6 %, the device time alone.
  const auto none = compare_records(recs, *load_hardware("h100-sxm", {"compute.host_mode=graph"}), path.parent_path());
  CHECK(mape(none, "gemm", "hot L2") > 0.2);
  CHECK(mape(none, "membw", "copy, hot, < 64 MiB") > 0.3);
  // Twice the fitted matmul and copy costs overshoot.
  const auto twice = compare_records(
      recs, *load_hardware("h100-sxm", {"compute.host_matmul=49.34us", "compute.host_copy=14.66us"}),
      path.parent_path());
  CHECK(mape(twice, "gemm", "hot L2") > 0.2);
  CHECK(mape(twice, "membw", "copy, hot, < 64 MiB") > 0.2);
  // The cold records do not see the host at all.
  for (const char* group : {"cold, >= 1 GFLOP", "cold, < 1 GFLOP"})
    CHECK(mape(twice, "gemm", group) == mape(right, "gemm", group));
}

TEST_CASE("host sync: .item() holds the host until the kernel ends", "[gpu][host]") {
  const auto sets = launch_sets;
  const Replay replay = replay_two_adds();
  const RunResult& g = replay.run;
  const double d0 = replay.d0, d1 = replay.d1;
  REQUIRE(d0 > 1e-6);
  Graph synced = two_adds();
  synced.ops[0].attrs["host_sync"] = 1;
  SECTION("device-bound: the sync exposes the next launch") {
    const auto hw = load_hardware("h100-sxm", sets({"compute.host_elementwise=1us"}));
    // Without it the host runs ahead: the replay's time (see above).
    CHECK(simulate(two_adds(), *hw).time_s == Approx(g.time_s).epsilon(1e-12));
    // With it: end1 = 4 + d0, h1 = max(1, end1) = 4 + d0 = l2; begin2 = max(end1 +
    // 1.5, l2 + 4) = 8 + d0; end2 = 8 + d0 + d1 (h2 = 5 + d0 is earlier): the sync
    // costs the launch less the back-to-back gap, 2.5 us.
    for (const char* engine : {"analytic", "systemc"}) {
      INFO(engine);
      const RunResult r = simulate(synced, *hw, engine);
      CHECK(r.time_s == Approx(8e-6 + d0 + d1).epsilon(1e-6));
      CHECK(r.time_s - g.time_s == Approx(2.5e-6).epsilon(1e-3));
    }
  }
  SECTION("host-bound: the host is past the kernel's end already") {
    const auto hw = load_hardware("h100-sxm", sets({"compute.host_elementwise=10us"}));
    // h1 = 10 us > end1 = 4 + d0 (d0 < 6 us): nothing changes.
    REQUIRE(d0 < 6e-6);
    CHECK(simulate(synced, *hw).time_s == Approx(simulate(two_adds(), *hw).time_s).epsilon(1e-12));
  }
}

TEST_CASE("host calls: a per-tensor Python loop made one op pays each call", "[gpu][host]") {
  const auto hw = load_hardware("h100-sxm", launch_sets({"compute.host_elementwise=10us"}));
  Graph looped = two_adds();
  looped.ops[1].attrs["host_calls"] = 3;
  // l1 = 0, h1 = 10 us; l2 = 10 us, h2 = 10 + 3 x 10 = 40 us, after end2 = 14 us + d1:
  // the run ends at 40 us (20 us with one call).
  for (const char* engine : {"analytic", "systemc"}) {
    INFO(engine);
    CHECK(simulate(two_adds(), *hw, engine).time_s == Approx(20e-6).epsilon(1e-6));
    const RunResult r = simulate(looped, *hw, engine);
    CHECK(r.time_s == Approx(40e-6).epsilon(1e-6));
    CHECK(r.host_done_s == Approx(40e-6).epsilon(1e-6));
  }
}

TEST_CASE("GradScaler's found_inf.item(): the unscale_() path synchronises, the fused step does not",
          "[gpu][host]") {
  // torch/amp/grad_scaler.py: _maybe_opt_step reads found_inf with .item() after
  // unscale_(); an optimizer with _step_supports_amp_scaling (fused AdamW) takes
  // found_inf into its kernel and nothing waits.
  const auto unscale = [](const std::string& opt) {
    const Graph g = build_workload("gpt2-small:layers=1,seq=64,train=1,amp=fp16,optimizer=" + opt);
    for (const auto& op : g.ops)
      if (op.name == "grad_scaler.unscale") return op.get("host_sync", 0);
    FAIL("no grad_scaler.unscale");
    return int64_t{-1};
  };
  CHECK(unscale("adamw") == 1);
  CHECK(unscale("sgd") == 1);
  CHECK(unscale("adamw_fused") == 0);
}
