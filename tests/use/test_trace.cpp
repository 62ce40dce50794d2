// `run --trace FILE.json`: the run as a Chrome / Perfetto trace-event file. The
// checker below states the format's rules (Trace Event Format, "JSON Object
// Format"): required fields per phase, X slices on one thread nest (a slice
// that starts inside another ends inside it) with ts never decreasing, counters
// per (process, name) in time order, async b/e pairs matched by (cat, id), and
// every pid/tid named by metadata.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "models/hardware.h"
#include "sim/simulate.h"
#include "sim/trace_export.h"
#include "tests/support/cli_run.h"
#include "workloads/workloads.h"

using namespace tessera;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Problems with `t` as a trace-event file; empty when it follows the rules.
std::vector<std::string> trace_problems(const json& t) {
  std::vector<std::string> bad;
  if (!t.is_object() || !t.contains("traceEvents") || !t["traceEvents"].is_array())
    return {"no traceEvents array"};
  if (t.value("displayTimeUnit", "") != "ns") bad.push_back("displayTimeUnit is not \"ns\"");
  std::set<int> named_pids;
  std::set<std::pair<int, int>> named_tids, used_tids;
  std::set<int> used_pids;
  std::map<std::pair<int, int>, std::vector<std::pair<int64_t, int64_t>>> open;   // stack of (ts, end) in ns
  std::map<std::pair<int, int>, int64_t> last_x;
  std::map<std::pair<int, std::string>, double> last_c;
  std::map<std::pair<std::string, std::string>, double> async_open;
  for (const json& e : t["traceEvents"]) {
    const std::string ph = e.value("ph", "");
    const std::string where = e.dump().substr(0, 120);
    for (const char* f : {"name", "ph", "pid"})
      if (!e.contains(f)) bad.push_back(std::string("missing ") + f + ": " + where);
    const int pid = e.value("pid", -1);
    if (ph == "M") {
      const std::string n = e.value("name", "");
      if (!e.contains("args")) bad.push_back("metadata without args: " + where);
      if (n == "process_name") named_pids.insert(pid);
      if (n == "thread_name") named_tids.insert({pid, e.value("tid", -1)});
      continue;
    }
    if (!e.contains("ts") || !e["ts"].is_number() || e["ts"].get<double>() < 0)
      bad.push_back("missing or negative ts: " + where);
    const double ts = e.value("ts", 0.0);
    used_pids.insert(pid);
    if (ph == "X") {
      const std::pair<int, int> track{pid, e.value("tid", -1)};
      used_tids.insert(track);
      if (!e.contains("tid")) bad.push_back("X without tid: " + where);
      if (!e.contains("dur") || e["dur"].get<double>() < 0) bad.push_back("X without dur >= 0: " + where);
      // In whole nanoseconds, as the exporter writes them (ts and dur in us with
      // three decimals), so that float rounding of ts + dur plays no part.
      const int64_t t0 = std::llround(ts * 1e3), t1 = t0 + std::llround(e.value("dur", 0.0) * 1e3);
      if (last_x.count(track) && t0 < last_x[track]) bad.push_back("ts decreases on its thread: " + where);
      last_x[track] = t0;
      auto& st = open[track];
      while (!st.empty() && st.back().second <= t0) st.pop_back();
      if (!st.empty() && t1 > st.back().second) bad.push_back("slice overlaps its parent's end: " + where);
      st.emplace_back(t0, t1);
    } else if (ph == "C") {
      if (!e.contains("args") || !e["args"].is_object() || e["args"].empty())
        bad.push_back("counter without values: " + where);
      for (const auto& [k, v] : e["args"].items())
        if (!v.is_number()) bad.push_back("counter value not a number: " + where);
      const auto key = std::make_pair(pid, e.value("name", ""));
      if (last_c.count(key) && ts < last_c[key]) bad.push_back("counter ts decreases: " + where);
      last_c[key] = ts;
    } else if (ph == "b" || ph == "e") {
      used_tids.insert({pid, e.value("tid", -1)});
      if (!e.contains("id") || !e.contains("cat")) bad.push_back("async event without id or cat: " + where);
      const auto key = std::make_pair(e.value("cat", ""), e.value("id", ""));
      if (ph == "b") {
        if (async_open.count(key)) bad.push_back("async id begun twice: " + where);
        async_open[key] = ts;
      } else {
        if (!async_open.count(key)) bad.push_back("async end without begin: " + where);
        else if (ts < async_open[key]) bad.push_back("async end before its begin: " + where);
        async_open.erase(key);
      }
    } else {
      bad.push_back("unexpected phase '" + ph + "': " + where);
    }
  }
  if (!async_open.empty()) bad.push_back("async slices never ended");
  for (int p : used_pids)
    if (!named_pids.count(p)) bad.push_back("process " + std::to_string(p) + " has no process_name");
  for (const auto& tr : used_tids)
    if (!named_tids.count(tr)) bad.push_back("thread " + std::to_string(tr.second) + " has no thread_name");
  return bad;
}

// Two 4x4 weight-stationary arrays at 1 GHz (1 cycle = 1 ns); every DRAM
// transfer costs 30 ns (test_streams.cpp's tiny2).
std::unique_ptr<Hardware> tiny2() {
  YAML::Node t = YAML::Load(R"(
name: tiny2
compute: {impl: systolic, rows: 4, cols: 4, dataflow: ws, clock: 1GHz, cores: 2}
memory: {dram: {impl: dram, bandwidth: 1000PB/s, capacity: 1GiB, latency: 30ns}}
power: {impl: board, static_power: 1W}
)");
  return build_hardware(t, "tiny2.yaml", {});
}

// batch 4 of 8x4x4 int8: four folds of 18 ns on one array (test_streams.cpp).
Op narrow(const std::string& name) {
  Op op;
  op.name = name;
  op.kind = OpKind::matmul;
  op.dtype = DType::int8;
  op.out_dtype = DType::int32;
  op.attrs = {{"batch", 4}, {"m", 8}, {"n", 4}, {"k", 4}, {"b_shared", 1}};
  return op;
}

// Kernel names on a systolic target: k<index>_<op name>.
const std::string KA = "k0_a", KB = "k1_b";

std::vector<json> events_named(const json& t, const std::string& name, const std::string& ph) {
  std::vector<json> out;
  for (const json& e : t["traceEvents"])
    if (e.value("name", "") == name && e.value("ph", "") == ph) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("trace of two kernels on one stream: exact slices", "[trace]") {
  auto hw = tiny2();
  Graph g;
  g.name = "nn";
  g.add(narrow("a"));
  g.add(narrow("b"));
  // Each op: loads [0,30] [30,60] [60,90] [90,120] ns (a load waits for the
  // buffer two stages back), folds [30,48] [60,78] [90,108] [120,138]: the DMA
  // slice spans 0..120 ns, the MMA phase 30..138, the kernel 0..138; b follows at 138.
  for (const char* engine : {"analytic", "systemc"}) {
    INFO(engine);
    const json t = trace_events(simulate(g, *hw, engine));
    CHECK(trace_problems(t) == std::vector<std::string>{});
    const auto kernels = events_named(t, KA, "X");
    REQUIRE(kernels.size() == 1);
    CHECK(kernels[0]["ts"] == 0.0);
    CHECK(kernels[0]["dur"] == 0.138);
    CHECK(kernels[0]["tid"] == 1);
    REQUIRE(events_named(t, KB, "X").size() == 1);
    CHECK(events_named(t, KB, "X")[0]["ts"] == 0.138);
    const auto mma = events_named(t, "MMA", "X");
    REQUIRE(mma.size() == 2);
    CHECK(mma[0]["ts"] == 0.03);
    CHECK(mma[0]["dur"] == 0.108);
    const auto dma = events_named(t, "DMA dram", "X");
    REQUIRE(dma.size() == 2);
    CHECK(dma[0]["ts"] == 0.0);
    CHECK(dma[0]["dur"] == 0.12);
    CHECK(dma[1]["ts"] == 0.138);
    // Counters: the DRAM bandwidth, the clock (1000 MHz) and the power (1 W static
    // plus the dynamic power of each block).
    CHECK(!events_named(t, "dram bandwidth", "C").empty());
    const auto clock = events_named(t, "clock", "C");
    REQUIRE(!clock.empty());
    CHECK(clock[0]["args"]["MHz"] == 1000.0);
    const auto power = events_named(t, "power", "C");
    REQUIRE(!power.empty());
    CHECK(power[0]["ts"] == 0.0);
    CHECK(power[0]["args"]["W"].get<double>() >= 1.0);
    CHECK(power.back()["args"]["W"] == 1.0);   // idle after the last kernel: static only
  }
}

TEST_CASE("trace with two streams: one track per stream, overlapping DMA as async events", "[trace]") {
  auto hw = tiny2();
  Graph g;
  g.name = "nn";
  g.add(narrow("a"));
  g.add(narrow("b"));
  // streams=2: both kernels start at 0 on streams 0 and 1; the DRAM serves their
  // loads alternately (a [0,30], b [30,60], ...), so their DMA spans overlap.
  const json t = trace_events(simulate(g, *hw, "systemc:streams=2"));
  CHECK(trace_problems(t) == std::vector<std::string>{});
  REQUIRE(events_named(t, KA, "X").size() == 1);
  REQUIRE(events_named(t, KB, "X").size() == 1);
  CHECK(events_named(t, KA, "X")[0]["tid"] != events_named(t, KB, "X")[0]["tid"]);
  CHECK(events_named(t, KB, "X")[0]["ts"] == 0.0);
  CHECK(events_named(t, "DMA dram", "X").empty());
  CHECK(events_named(t, "DMA dram", "b").size() == 2);
  CHECK(events_named(t, "DMA dram", "e").size() == 2);
  std::set<std::string> threads;
  for (const auto& e : events_named(t, "thread_name", "M")) threads.insert(e["args"]["name"]);
  CHECK(threads == std::set<std::string>{"stream 0", "stream 1", "DMA dram"});
}

TEST_CASE("trace of real workloads follows the format's rules, on both engines", "[trace]") {
  struct Case {
    const char* hw;
    const char* workload;
    const char* engine;
  };
  const Case cases[] = {{"h100-sxm", "llama-7b:phase=prefill,seq=256,layers=1", "analytic"},
                        {"h100-sxm", "llama-7b:phase=prefill,seq=256,layers=1", "systemc:streams=4"},
                        {"h100-sxm", "gpt2-small:batch=2,seq=128,layers=1,train=1", "systemc:streams=2"},
                        {"tpu-v1", "resnet50:batch=1,image=64,dtype=int8", "analytic"}};
  for (const auto& c : cases) {
    INFO(c.hw << " " << c.workload << " " << c.engine);
    auto hw = load_hardware(c.hw, {});
    const RunResult r = simulate(build_workload(c.workload), *hw, c.engine);
    const json t = trace_events(r);
    const auto problems = trace_problems(t);
    std::string listed;
    for (size_t i = 0; i < problems.size() && i < 5; ++i) listed += problems[i] + "\n";
    INFO(listed);
    CHECK(problems.empty());
    // One kernel slice per op, in the report's order of names.
    size_t kernels = 0;
    for (const json& e : t["traceEvents"])
      if (e.value("cat", "") == "kernel") ++kernels;
    CHECK(kernels == r.ops.size());
    CHECK(!events_named(t, "power", "C").empty());
    CHECK(!events_named(t, "clock", "C").empty());
    if (std::string(c.hw) == "h100-sxm") {
      CHECK(!events_named(t, "dram bandwidth", "C").empty());
      CHECK(!events_named(t, "l2 hit rate", "C").empty());
      CHECK(!events_named(t, "MMA", "X").empty());
      CHECK(!events_named(t, "VEC", "X").empty());
    }
  }
}

TEST_CASE("run --trace writes the file atomically and deterministically", "[trace]") {
  const fs::path dir = fs::temp_directory_path() / "tessera_test_trace";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string a = (dir / "a.json").string(), b = (dir / "b.json").string();
  const std::vector<std::string> base = {"run", "--hw", "h100-sxm", "--workload", "gemm:m=1024,n=1024,k=1024"};
  auto args = base;
  args.insert(args.end(), {"--trace", a});
  const auto r1 = testing::run_cli(args);
  REQUIRE(r1.code == 0);
  args.back() = b;
  REQUIRE(testing::run_cli(args).code == 0);
  const auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  CHECK(slurp(a) == slurp(b));
  CHECK(trace_problems(json::parse(slurp(a))) == std::vector<std::string>{});
  // The report still goes to stdout.
  CHECK(r1.out.find("gemm") != std::string::npos);
  // Unwritable path: exit 2, the option and path named, nothing left behind.
  const std::string bad = (dir / "missing" / "t.json").string();
  args.back() = bad;
  const auto r3 = testing::run_cli(args);
  CHECK(r3.code == 2);
  CHECK(r3.err.find("--trace: cannot write '" + bad + "'") != std::string::npos);
  CHECK(!fs::exists(bad));
  // Bad input elsewhere: no trace file either.
  auto bad_hw = args;
  bad_hw[2] = "no-such-hw";
  bad_hw.back() = (dir / "c.json").string();
  CHECK(testing::run_cli(bad_hw).code == 2);
  CHECK(!fs::exists(dir / "c.json"));
  fs::remove_all(dir);
}
