// zero=3 parameter gathers, prefetched as FSDP2 and Megatron-core issue them
// (attr prefetch; sim/engines/parallel_pass.cpp, issue_order and time_pass): a
// unit's gather goes out once the unit `prefetch` gathers earlier has begun, and
// the unit's first op waits for it.
#include <catch2/catch.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "sim/engines/parallel_parts.h"
#include "workloads/workloads.h"

using namespace tessera;
using namespace tessera::parallel_engine;

namespace {

// gpt h = 1024, 4 layers, seq 512, dp 8 (a DGX H100), 2 microbatches.
const std::string k_prefetch_spec =
    "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,dp=8,global_batch=16,train=1,zero=3";

// The ops of chunk 0's pass (0 forward, 1 backward), in graph order.
std::vector<size_t> pass_ops(const Graph& g, int64_t pass) {
  std::vector<size_t> out;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].get("stage", 0) == 0 && g.ops[i].get("pass", 0) == pass) out.push_back(i);
  return out;
}

// The names of the gathers and of the ops that wait for them, in issue order.
std::vector<std::string> issued(const Graph& g, const IssueOrder& io) {
  std::vector<std::string> out;
  for (size_t i : io.ops) {
    const Op& op = g.ops[i];
    if (op.get("prefetch", 0) > 0) out.push_back(op.name);
    if (auto w = io.waits.find(i); w != io.waits.end()) out.push_back("wait " + g.ops[w->second].name);
  }
  return out;
}

}  // namespace

TEST_CASE("zero=3 gathers: FSDP2 prefetches two units ahead in the forward, one in the backward",
          "[parallel][fsdp][prefetch]") {
  const Graph g = build_workload(k_prefetch_spec + ",ddp=fsdp");
  // Forward: the root's and layer 0's gathers at the pass's start (nothing earlier
  // to overlap); layer u + 1's once layer u - 1's copy-out has run (two all-gather
  // outputs alive), so each layer's gather runs under the layer before it.
  CHECK(issued(g, issue_order(g, pass_ops(g, 0))) ==
        std::vector<std::string>{"fsdp.gather_fwd.root", "fsdp.gather_fwd.l0", "wait fsdp.gather_fwd.root",
                                 "fsdp.gather_fwd.l1", "wait fsdp.gather_fwd.l0", "fsdp.gather_fwd.l2",
                                 "wait fsdp.gather_fwd.l1", "fsdp.gather_fwd.l3", "wait fsdp.gather_fwd.l2",
                                 "wait fsdp.gather_fwd.l3"});
  // Backward (the root keeps its parameters): the last layer's at the start, then
  // each next layer's right after the current one's copy-out.
  const std::vector<size_t> bwd = pass_ops(g, 1);
  const IssueOrder io = issue_order(g, bwd);
  CHECK(issued(g, io) == std::vector<std::string>{"fsdp.gather_bwd.l3", "wait fsdp.gather_bwd.l3",
                                                  "fsdp.gather_bwd.l2", "wait fsdp.gather_bwd.l2",
                                                  "fsdp.gather_bwd.l1", "wait fsdp.gather_bwd.l1",
                                                  "fsdp.gather_bwd.l0", "wait fsdp.gather_bwd.l0"});
  // The op waiting is the copy-out, and layer 2's gather is issued before layer 3's
  // reduce-scatter (explicit backward prefetch), so it does not queue behind it.
  for (const auto& [op, gather] : io.waits) CHECK(g.ops[op].name.rfind("fsdp.copy_out.", 0) == 0);
  auto at = [&](const std::string& name) {
    for (size_t k = 0; k < io.ops.size(); ++k)
      if (g.ops[io.ops[k]].name == name) return k;
    FAIL("no op " << name);
    return size_t{0};
  };
  CHECK(at("fsdp.gather_bwd.l2") < at("fsdp.reduce_scatter.l3"));
  // Every op is issued once.
  CHECK(io.ops.size() == bwd.size());
  // Megatron-core's zero=3 prefetches one unit both ways: layer 0's gather waits
  // until the ops before the layers (unit "other") have begun.
  const Graph m = build_workload(k_prefetch_spec);
  const std::vector<std::string> fwd_m = issued(m, issue_order(m, pass_ops(m, 0)));
  REQUIRE(fwd_m.size() >= 4);
  CHECK(std::vector<std::string>(fwd_m.begin(), fwd_m.begin() + 4) ==
        std::vector<std::string>{"zero3.gather_fwd.other", "wait zero3.gather_fwd.other",
                                 "zero3.gather_fwd.l0", "wait zero3.gather_fwd.l0"});
}

TEST_CASE("zero=3 gathers: with gathers far slower than compute the forward is the gathers back to back",
          "[parallel][fsdp][prefetch]") {
  // NVLink at 0.1 GB/s a link: a layer's 25 MB gather takes ~10 ms against tens of
  // microseconds of compute, so every gather is issued before the one ahead of it
  // ends and the comm stream never idles. The forward's inline part is then the
  // sum of the gathers, then what follows the last one's copy-out (the last layer,
  // the final norm, the head, the loss), as simulated.
  auto hw = load_hardware("dgx-h100", {"fabric.nvlink.bandwidth=0.1GB/s"});
  const Graph g = build_workload(k_prefetch_spec + ",ddp=fsdp");
  Simulator sim(*hw, "analytic");
  const std::vector<size_t> ops = pass_ops(g, 0);
  const PassTiming t = time_pass(sim, g, ops, 0.0);
  double gathers = 0;
  size_t last = 0;  // the last layer's copy-out
  for (size_t i : ops) {
    if (g.ops[i].get("prefetch", 0) > 0) gathers += sim.transfer(g, i).time_s;
    if (g.ops[i].name == "fsdp.copy_out.gather_fwd.l3") last = i;
  }
  const std::vector<size_t> inl = inline_ops(g, ops);
  const Simulator::Seq& s = sim.run(g, inl);
  const size_t k = static_cast<size_t>(std::find(inl.begin(), inl.end(), last) - inl.begin());
  REQUIRE(k > 0);
  REQUIRE(k < inl.size());
  const double after = s.time_s - s.end[k - 1];
  CHECK(gathers > 50 * after);  // gather-bound indeed
  CHECK(t.inline_s == Approx(gathers + after).epsilon(1e-12));
  // The waits and the ops slowed beside the gathers (test_contention.cpp) are the
  // inline part less the ops' own time; the pass ends with its inline ops
  // (nothing left on the comm stream).
  CHECK(t.gather_wait_s + t.contention_s == Approx(t.inline_s - s.time_s).epsilon(1e-12));
  CHECK(t.contention_s > 0);
  CHECK(t.end_s == t.inline_s);
  // Were the gathers free to run ahead (no waits), the forward would be its ops'
  // time alone, as the model had it before prefetching was modelled.
  CHECK(s.time_s < 0.02 * t.inline_s);
}

TEST_CASE("zero=3 gathers: the systemc iteration waits for them as the analytic schedule does",
          "[parallel][fsdp][prefetch][systemc]") {
  // Without contention the two engines agree (1 ps resolution of systemc aside);
  // the waits make FSDP2's iteration 10 % longer than a model in which gathers
  // never delay compute would have it (4.976 ms): a 1024-wide model's 25 MB
  // gathers take about as long as its layers' compute. 5.503 ms with the waits,
  // 5.571 ms once the compute beside each collective runs on the SMs NCCL leaves
  // (test_contention.cpp).
  auto hw = load_hardware("dgx-h100", {});
  const std::string spec =
      "gpt:layers=4,hidden=1024,heads=16,seq=1024,batch=16,train=1,dp=8,microbatch=1,zero=3,ddp=fsdp";
  const double analytic = simulate_parallel(build_workload(spec), *hw, "analytic").time_s;
  const double systemc = simulate_parallel(build_workload(spec), *hw, "systemc").time_s;
  CHECK(systemc == Approx(analytic).epsilon(1e-7));
  CHECK(analytic == Approx(5.5707e-3).epsilon(1e-4));
}
