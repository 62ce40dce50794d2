// A multi-device run's timeline (RunResult::parallel_timeline) and its --trace
// file: the schedule's passes per pipeline position (analytic) or per device
// (systemc), pipeline sends, gradient buckets and the optimizer.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "sim/trace_export.h"
#include "tests/support/cli_run.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

std::vector<const ParallelSpan*> on(const ParallelTimeline& tl, size_t row, const std::string& track) {
  std::vector<const ParallelSpan*> out;
  for (const ParallelSpan& s : tl.spans.at(row))
    if (s.track == track) out.push_back(&s);
  return out;
}

}  // namespace

TEST_CASE("a multi-device run's timeline: 1f1b passes, sends, buckets and the optimizer per position",
          "[parallel][trace]") {
  // pp 2 x dp 2, m = 8 / (1 x 2) = 4 microbatches, 1f1b: position 0 runs one
  // warm-up forward (p - d - 1 = 1), then one forward and one backward in turn,
  // then the cool-down backwards; position 1 (the last) alternates from the start.
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=4"});
  const RunResult r = simulate_parallel(
      build_workload("gpt:layers=4,hidden=512,heads=8,seq=256,pp=2,dp=2,global_batch=8,train=1"), *hw,
      "analytic");
  const ParallelTimeline& tl = r.parallel_timeline;
  REQUIRE(tl.rows.size() == 2);
  CHECK(tl.rows[0] == "pipeline position 0: 2 device(s), tp 1 x dp 2");
  const auto& roles = r.extra["parallel"]["roles"];
  const std::vector<std::string> order0 = {"F mb 0", "F mb 1", "B mb 0", "F mb 2",   "B mb 1",
                                           "F mb 3", "B mb 2", "B mb 3", "optimizer"};
  const std::vector<std::string> order1 = {"F mb 0", "B mb 0", "F mb 1", "B mb 1",   "F mb 2",
                                           "B mb 2", "F mb 3", "B mb 3", "optimizer"};
  for (size_t d = 0; d < 2; ++d) {
    INFO("position " << d);
    const auto compute = on(tl, d, "compute");
    std::vector<std::string> names;
    double busy = 0;
    for (size_t i = 0; i < compute.size(); ++i) {
      names.push_back(compute[i]->name);
      if (i > 0) CHECK(compute[i]->start_s >= compute[i - 1]->end_s);  // one pass at a time
      if (compute[i]->cat != "optimizer") busy += compute[i]->end_s - compute[i]->start_s;
    }
    CHECK(names == (d == 0 ? order0 : order1));
    // The passes add up to the report's busy time less the optimizer, and the
    // optimizer ends where the position does.
    CHECK(busy ==
          Approx(roles[d]["busy_s"].get<double>() - roles[d]["optimizer_s"].get<double>()).epsilon(1e-12));
    CHECK(compute.back()->end_s == roles[d]["end_s"].get<double>());
    // One DDP bucket per chunk here (ddp=megatron: only chunk 0 is bucketed,
    // and its 2 layers fit one bucket), reduced after the last backward began.
    const auto dp = on(tl, d, "dp reduction");
    REQUIRE(dp.size() == 1);
    CHECK(dp[0]->name == "gradient bucket 0");
    CHECK(dp[0]->end_s - dp[0]->start_s == Approx(roles[d]["dp_comm_s"].get<double>()).epsilon(1e-12));
  }
  // Position 0 starts at 0; each forward it sends leaves when the forward ends,
  // and position 1's forward of that microbatch cannot start before it arrives.
  const auto c0 = on(tl, 0, "compute"), c1 = on(tl, 1, "compute");
  CHECK(c0[0]->start_s == 0);
  const auto sends = on(tl, 0, "p2p");
  REQUIRE(sends.size() == 4);
  for (const ParallelSpan* s : sends) {
    INFO(s->name);
    CHECK(s->name == fmt::format("send F mb {} to chunk 1", s->mb));
    const auto fwd0 =
        std::find_if(c0.begin(), c0.end(), [&](auto* x) { return x->name == fmt::format("F mb {}", s->mb); });
    const auto fwd1 =
        std::find_if(c1.begin(), c1.end(), [&](auto* x) { return x->name == fmt::format("F mb {}", s->mb); });
    CHECK(s->start_s == (*fwd0)->end_s);
    CHECK((*fwd1)->start_s >= s->end_s);
  }
  // Microbatch 0 meets an idle position 1: its forward starts on arrival.
  CHECK(c1[0]->start_s == sends[0]->end_s);
  // Position 1 sends each backward's gradient to chunk 0.
  CHECK(on(tl, 1, "p2p").size() == 4);
}

TEST_CASE("systemc: a row per device, equal to the analytic schedule without contention",
          "[parallel][trace]") {
  // pp 4 on one node, tp = dp = 1: no two transfers share a port, so each device's
  // passes start and end where the analytic schedule puts them, to SystemC's 1 ps
  // time resolution (thousands of rounded waits: 1e-9 relative).
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=4"});
  const Graph g =
      build_workload("gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1");
  const RunResult a = simulate_parallel(g, *hw, "analytic");
  const RunResult s = simulate_parallel(g, *hw, "systemc");
  REQUIRE(s.parallel_timeline.rows.size() == 4);
  CHECK(s.parallel_timeline.rows[3] == "device 3: pipeline position 3, tp rank 0, dp rank 0");
  for (size_t d = 0; d < 4; ++d) {
    const auto ca = on(a.parallel_timeline, d, "compute"), cs = on(s.parallel_timeline, d, "compute");
    REQUIRE(ca.size() == cs.size());
    for (size_t i = 0; i < ca.size(); ++i) {
      INFO("position " << d << ", " << ca[i]->name);
      CHECK(cs[i]->name == ca[i]->name);
      CHECK(cs[i]->start_s == Approx(ca[i]->start_s).epsilon(1e-9).margin(1e-12));
      CHECK(cs[i]->end_s == Approx(ca[i]->end_s).epsilon(1e-9));
    }
  }
}

TEST_CASE("a multi-device run's --trace file: one process per position", "[parallel][trace]") {
  const std::string wl = "gpt:layers=2,hidden=1024,heads=16,seq=512,tp=2,pp=2,dp=2,global_batch=8,train=1";
  const std::string trace = (std::filesystem::temp_directory_path() / "tessera_parallel_trace.json").string();
  std::filesystem::remove(trace);
  const auto o =
      testing::run_cli({"run", "--hw", "dgx-h100", "--workload", wl, "--trace", trace, "--format", "json"});
  REQUIRE(o.code == 0);
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(trace));
  std::vector<std::string> processes;
  int forward = 0, backward = 0, optimizer = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["name"] == "process_name") processes.push_back(e["args"]["name"]);
    if (e["ph"] != "X") continue;
    forward += e["cat"] == "forward";
    backward += e["cat"] == "backward";
    optimizer += e["cat"] == "optimizer";
  }
  CHECK(processes == std::vector<std::string>{"pipeline position 0: 4 device(s), tp 2 x dp 2",
                                              "pipeline position 1: 4 device(s), tp 2 x dp 2"});
  // m = 8 / (1 x 2) = 4 microbatches on each of the 2 positions.
  CHECK(forward == 8);
  CHECK(backward == 8);
  CHECK(optimizer == 2);
  // The same bytes again (deterministic).
  std::ifstream a(trace);
  const std::string first((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  REQUIRE(
      testing::run_cli({"run", "--hw", "dgx-h100", "--workload", wl, "--trace", trace, "--format", "json"})
          .code == 0);
  std::ifstream b(trace);
  CHECK(std::string((std::istreambuf_iterator<char>(b)), std::istreambuf_iterator<char>()) == first);
  std::filesystem::remove(trace);
}

TEST_CASE("a multi-device trace: overlapping spans on one track become async slices", "[parallel][trace]") {
  // Two sends of 2 us, the second leaving 1 us after the first: they overlap on
  // the p2p track, so both are b/e pairs (ids 0x1, 0x2); the compute track's
  // passes do not and stay X slices.
  RunResult r;
  r.parallel_timeline.rows = {"pipeline position 0: 1 device(s), tp 1 x dp 1"};
  r.parallel_timeline.spans = {{{"compute", "F mb 0", "forward", 0, 1e-6, 0, 0},
                                {"p2p", "send F mb 0 to chunk 1", "p2p", 1e-6, 3e-6, 0, 0},
                                {"compute", "F mb 1", "forward", 1e-6, 2e-6, 0, 1},
                                {"p2p", "send F mb 1 to chunk 1", "p2p", 2e-6, 4e-6, 0, 1}}};
  const nlohmann::json j = trace_events(r);
  std::vector<std::string> seen;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M") continue;
    seen.push_back(fmt::format("{} {} {} {}", e["ph"].get<std::string>(), e["tid"].get<int>(),
                               e["name"].get<std::string>(), e["ts"].get<double>()));
  }
  // In time order, the longer first at a tie (a slice before those it contains).
  CHECK(seen == std::vector<std::string>{"X 1 F mb 0 0", "b 2 send F mb 0 to chunk 1 1", "X 1 F mb 1 1",
                                         "b 2 send F mb 1 to chunk 1 2", "e 2 send F mb 0 to chunk 1 3",
                                         "e 2 send F mb 1 to chunk 1 4"});
}
