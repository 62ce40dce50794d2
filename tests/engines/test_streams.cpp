// The systemc engine with several streams: kernels in flight at once, sharing
// the compute units (processor sharing by ComputeModel::compute_share) and
// queueing on each memory level.
#include <catch2/catch.hpp>

#include "models/memory/hbm.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

#include "sim/cli/cli.h"
#include "sim/engines/engine.h"
#include "core/error.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"
#include "tests/support/cli_run.h"

using namespace tessera;

namespace {

// Two 4x4 weight-stationary arrays (cores: 2) at 1 GHz (one cycle = 1 ns) behind
// a DRAM whose every transfer costs `latency` (its bandwidth is so high that the
// bytes add < 1 fs, below SystemC's 1 ps resolution).
std::unique_ptr<Hardware> tiny2(const std::string& latency) {
  YAML::Node t = YAML::Load(R"(
name: tiny2
compute: {impl: systolic, rows: 4, cols: 4, dataflow: ws, clock: 1GHz, cores: 2}
memory: {dram: {impl: dram, bandwidth: 1000PB/s, capacity: 1GiB}}
power: {impl: board, static_power: 1W}
)");
  t["memory"]["dram"]["latency"] = latency;
  return build_hardware(t, "tiny2.yaml", {});
}

Op matmul(const std::string& name, int64_t batch, int64_t m, int64_t n, int64_t k, DType a, DType out,
          std::vector<int> deps = {}) {
  Op op;
  op.name = name;
  op.kind = OpKind::matmul;
  op.dtype = a;
  op.out_dtype = out;
  op.attrs = {{"batch", batch}, {"m", m}, {"n", n}, {"k", k}, {"b_shared", 1}};
  op.deps = std::move(deps);
  return op;
}

// On tiny2 (ws: K on the array's rows, N on its columns): batch 4 of 8x4x4 is
// one fold per product (K = 4 rows, N = 4 columns), on one of the two arrays
// (mma count 1: share 1/2); 8x8x4 is two column folds, one per array (count 2:
// share 1). Either way a product is one fold of 2R + C + M - 2 = 8 + 4 + 8 - 2 =
// 18 cycles = 18 ns, so each op is 4 stages of 18 ns.
Op narrow(const std::string& name, std::vector<int> deps = {}) {
  return matmul(name, 4, 8, 4, 4, DType::int8, DType::int32, std::move(deps));
}
Op wide(const std::string& name, std::vector<int> deps = {}) {
  return matmul(name, 4, 8, 8, 4, DType::int8, DType::int32, std::move(deps));
}

Graph graph_of(const std::string& name, std::vector<Op> ops) {
  Graph g;
  g.name = name;
  for (auto& op : ops) g.add(std::move(op));
  return g;
}

double end_of(const OpResult& o) {
  return o.start_s + o.time_s;
}

std::string json_of(const RunResult& r) {
  return report_json(r).dump();
}

using Outcome = testing::CliOutcome;

Outcome tessera_cli(std::vector<std::string> args) { return testing::run_cli(std::move(args)); }

}  // namespace

TEST_CASE("compute shares: SMs of the thread blocks, arrays of the folds", "[streams]") {
  auto tiny = tiny2("0ns");
  const Program p = compile(graph_of("shares", {narrow("a"), wide("b")}), *tiny);
  CHECK(tiny->compute().compute_share(p.kernels[0]) == 0.5);  // 1 of 2 arrays
  CHECK(tiny->compute().compute_share(p.kernels[1]) == 1.0);  // both arrays

  auto h100 = load_hardware("h100-sxm", {});
  // fp64 256x512x8192: 128x256 tiles x split-k 16 = 64 thread blocks of 132 SMs.
  const Program g = compile(graph_of("g", {matmul("g", 1, 256, 512, 8192, DType::fp64, DType::fp64)}), *h100);
  REQUIRE(g.kernels[0].info.thread_blocks.value_or(0) == 64);
  CHECK(h100->compute().compute_share(g.kernels[0]) == 64.0 / 132.0);
  // A memory-bound kernel large enough to spread over every SM.
  const Program v = compile(build_workload("gelu:rows=4096,cols=4096"), *h100);
  CHECK(h100->compute().compute_share(v.kernels[0]) == 1.0);
}

TEST_CASE("compile records each kernel's producers", "[streams]") {
  auto tiny = tiny2("0ns");
  const Program p = compile(graph_of("deps", {narrow("a"), narrow("b"), narrow("c", {1, 0, 1})}), *tiny);
  CHECK(p.kernels[0].deps.empty());
  CHECK(p.kernels[1].deps.empty());
  CHECK(p.kernels[2].deps == std::vector<int>{0, 1});  // sorted, duplicates dropped
  // A dependency on a later op is an error, not a deadlock.
  CHECK_THROWS_WITH(compile(graph_of("bad", {narrow("a", {1}), narrow("b")}), *tiny),
                    "bad: op 0 'a' depends on op 1, which is not an earlier op");
}

TEST_CASE("streams=1 is the sequential engine: equal to analytic, same report as systemc", "[streams]") {
  struct Case {
    const char* hw;
    const char* workload;
  };
  const Case cases[] = {{"h100-sxm", "gemm:m=2048,n=2048,k=2048,dtype=bf16"},
                        {"h100-sxm", "llama-7b:phase=prefill,seq=64,layers=2"},
                        {"h100-sxm", "bert-base:batch=1,seq=64"},
                        {"tpu-v1", "resnet50:batch=1,image=64,dtype=int8"},
                        {"tpu-v4", "llama-7b:phase=decode,ctx=256,layers=2,embed=0"}};
  for (const auto& c : cases) {
    INFO(c.hw << " " << c.workload);
    auto hw = load_hardware(c.hw, {});
    const Program p = compile(build_workload(c.workload), *hw);
    const RunResult a = run_program(p, *hw, "analytic");
    const RunResult s1 = run_program(p, *hw, "systemc:streams=1");
    CHECK(s1.engine == "systemc");
    CHECK(json_of(s1) == json_of(run_program(p, *hw, "systemc")));
    // Without overlap the engines differ only by SystemC's 1 ps resolution.
    CHECK(s1.time_s == Approx(a.time_s).epsilon(1e-6));
    CHECK(s1.energy_j == Approx(a.energy_j).epsilon(1e-6));
    REQUIRE(s1.ops.size() == a.ops.size());
    // Op by op too; SystemC rounds every transfer and compute phase to 1 ps, which
    // adds up to a few ps over kernels of a few ns.
    for (size_t i = 0; i < a.ops.size(); ++i)
      CHECK(s1.ops[i].start_s == Approx(a.ops[i].start_s).epsilon(1e-6).margin(1e-10));
  }
}

TEST_CASE("processor sharing on two arrays: exact times", "[streams]") {
  auto hw = tiny2("0ns");
  // Loads cost 0 ns, so each op is 4 stages of 18 ns compute = 72 ns alone.
  SECTION("two ops on one array each: shares 1/2 + 1/2 fit, both at full speed") {
    const Graph g = graph_of("nn", {narrow("a"), narrow("b")});
    CHECK(simulate(g, *hw, "systemc").time_s == Approx(144e-9).epsilon(1e-9));  // 72 + 72
    const RunResult r = simulate(g, *hw, "systemc:streams=2");
    CHECK(r.engine == "systemc:streams=2");
    CHECK(r.time_s == Approx(72e-9).epsilon(1e-9));  // side by side
    CHECK(r.ops[0].start_s == 0);
    CHECK(r.ops[1].start_s == 0);
    // Both arrays busy for the same 72 ns: the compute units were busy 72 ns.
    CHECK(r.stats.get("compute.busy_s") == Approx(72e-9).epsilon(1e-9));
  }
  SECTION("two ops on both arrays: shares 1 + 1, each at rate 1/2") {
    // Each fold takes 18 / (1/2) = 36 ns; 4 folds: both end at 144 ns, the
    // sequential time.
    const RunResult r = simulate(graph_of("ww", {wide("a"), wide("b")}), *hw, "systemc:streams=2");
    CHECK(r.time_s == Approx(144e-9).epsilon(1e-9));
    CHECK(end_of(r.ops[0]) == Approx(144e-9).epsilon(1e-9));
    CHECK(end_of(r.ops[1]) == Approx(144e-9).epsilon(1e-9));
  }
  SECTION("shares 1/2 + 1: each at rate 1 / 1.5") {
    // Each fold takes 18 x 1.5 = 27 ns; 4 folds: both end at 108 ns.
    const RunResult r = simulate(graph_of("nw", {narrow("a"), wide("b")}), *hw, "systemc:streams=2");
    CHECK(end_of(r.ops[0]) == Approx(108e-9).epsilon(1e-9));
    CHECK(end_of(r.ops[1]) == Approx(108e-9).epsilon(1e-9));
  }
  SECTION("the rate changes in the middle of a fold when a kernel leaves") {
    // a: 4 folds of 18 ns on both arrays (share 1); b: one fold of 17 streamed
    // rows, 8 + 4 + 17 - 2 = 27 ns, on one array (share 1/2); c waits for a.
    // From 0 both run at rate 1 / 1.5: a's first fold (18 ns of work) ends at 27;
    // b has 27 - 18 = 9 ns of work left, done at 27 + 9 x 1.5 = 40.5. a's second
    // fold did 9 of its 18 by then and finishes alone at 40.5 + 9 = 49.5; its last
    // two folds end at 49.5 + 36 = 85.5. c starts then and takes 72: 157.5 ns.
    const Graph g =
        graph_of("mid", {wide("a"), matmul("b", 1, 17, 4, 4, DType::int8, DType::int32), narrow("c", {0})});
    const RunResult r = simulate(g, *hw, "systemc:streams=2");
    CHECK(end_of(r.ops[1]) == Approx(40.5e-9).epsilon(1e-9));
    CHECK(end_of(r.ops[0]) == Approx(85.5e-9).epsilon(1e-9));
    CHECK(r.ops[2].start_s == Approx(85.5e-9).epsilon(1e-9));
    CHECK(r.time_s == Approx(157.5e-9).epsilon(1e-9));
  }
}

TEST_CASE("concurrent kernels queue on a memory level: exact times", "[streams]") {
  // Every load costs 30 ns of the single DRAM. One op alone: 30 (first load) +
  // 3 x 30 (each later fold waits for its load) + 18 (last fold) = 138 ns.
  auto hw = tiny2("30ns");
  const Graph g = graph_of("nn", {narrow("a"), narrow("b")});
  CHECK(simulate(g, *hw, "systemc").time_s == Approx(276e-9).epsilon(1e-9));  // 138 + 138
  // streams=2: the DRAM serves the 8 loads back to back, alternating a, b:
  // a [0,30] b [30,60] a [60,90] b [90,120] a [120,150] b [150,180] a [180,210]
  // b [210,240]; each op's folds (18 ns, one array each) hide behind its next
  // load, so a ends 210 + 18 = 228 and b 240 + 18 = 258 ns.
  const RunResult r = simulate(g, *hw, "systemc:streams=2");
  CHECK(r.time_s == Approx(258e-9).epsilon(1e-9));
  const double first = std::min(end_of(r.ops[0]), end_of(r.ops[1]));
  CHECK(first == Approx(228e-9).epsilon(1e-9));
  // The busy time sums the model's transfer times (not rounded to 1 ps): the
  // bytes add ~1e-9 relative to the 8 x 30 ns.
  CHECK(r.stats.get("memory.dram.busy_s") == Approx(240e-9).epsilon(1e-8));
  CHECK(r.stats.get("memory.dram.utilization") == Approx(240.0 / 258.0).epsilon(1e-8));
}

TEST_CASE("a dependent chain takes exactly the sequential time with streams=4", "[streams]") {
  {
    auto hw = tiny2("30ns");
    const Graph g = graph_of("chain", {narrow("a"), wide("b", {0}), narrow("c", {1}), wide("d", {2})});
    const RunResult s1 = simulate(g, *hw, "systemc");
    const RunResult s4 = simulate(g, *hw, "systemc:streams=4");
    CHECK(s1.time_s == Approx(4 * 138e-9).epsilon(1e-9));  // 138 ns each, one after another
    CHECK(s4.time_s == s1.time_s);
    for (size_t i = 0; i < s1.ops.size(); ++i) {
      CHECK(s4.ops[i].start_s == s1.ops[i].start_s);
      CHECK(s4.ops[i].time_s == s1.ops[i].time_s);
    }
    CHECK(s4.energy_j == s1.energy_j);
  }
  {
    // A GPU chain: gemm -> gelu -> gemm -> add, each consuming the previous.
    auto hw = load_hardware("h100-sxm", {});
    Op gelu;
    gelu.name = "act";
    gelu.kind = OpKind::gelu;
    gelu.dtype = gelu.out_dtype = DType::bf16;
    gelu.attrs = {{"rows", 2048}, {"cols", 4096}};
    gelu.deps = {0};
    Op add = gelu;
    add.name = "residual";
    add.kind = OpKind::add;
    add.deps = {2};
    const Graph g =
        graph_of("gpu_chain", {matmul("fc1", 1, 2048, 4096, 1024, DType::bf16, DType::bf16), gelu,
                               matmul("fc2", 1, 2048, 4096, 4096, DType::bf16, DType::bf16, {1}), add});
    const RunResult s1 = simulate(g, *hw, "systemc");
    const RunResult s4 = simulate(g, *hw, "systemc:streams=4");
    CHECK(s4.time_s == s1.time_s);
    for (size_t i = 0; i < s1.ops.size(); ++i) CHECK(s4.ops[i].start_s == s1.ops[i].start_s);
  }
}

TEST_CASE("two independent 256 MiB copies on h100-sxm are bound by HBM", "[streams]") {
  // Replayed as a CUDA graph: no host time per kernel (eager: tests/gpu/test_host.cpp).
  auto hw = load_hardware("h100-sxm", {"compute.host_mode=graph"});
  Op copy;
  copy.kind = OpKind::copy;
  copy.dtype = copy.out_dtype = DType::bf16;
  copy.attrs = {{"rows", 65536}, {"cols", 2048}};  // 65536 x 2048 x 2 B = 256 MiB
  Op a = copy, b = copy;
  a.name = "copy_a";
  b.name = "copy_b";
  const Graph g = graph_of("two_copies", {a, b});
  const RunResult seq = simulate(g, *hw, "systemc");
  const RunResult r = simulate(g, *hw, "systemc:streams=2");
  // Each copy reads and writes 256 MiB of HBM (dram_bytes = 512 MiB). Its HBM time
  // (ops[].memory_s, the busiest level), with the sustained efficiencies the DRAM
  // cycle model gives HBM3 at 5.23 Gb/s with all-bank refresh (read 0.904981, write
  // 0.907294) and the ramp 512 MiB / (512 MiB + 1.124 MB) = 0.997911:
  // 256 MiB / (3.35 TB/s x 0.904981 x 0.997911) = 88.729 us to read +
  // 256 MiB / (3.35 TB/s x 0.907294 x 0.997911) = 88.503 us to write = 177.23 us.
  const auto& hbm = dynamic_cast<const HbmMemory&>(*hw->memory("dram"));
  REQUIRE(hbm.characterisation().read_efficiency == Approx(0.904981).epsilon(1e-5));
  REQUIRE(hbm.characterisation().write_efficiency == Approx(0.907294).epsilon(1e-5));
  REQUIRE(r.ops[0].bound == "memory:dram");
  const double ma = r.ops[0].memory_s, mb = r.ops[1].memory_s;
  CHECK(ma == Approx(177.23e-6).epsilon(1e-4));
  // Both start at 0; copy_b (queued: kernel_gap 2 us) reaches HBM before copy_a
  // (launch_overhead 4.611 us), and from then on HBM never idles:
  // total = 2 us + 177.23 + 177.23 = 356.46 us, the sum of the transfer times
  // within 1 % (2 / 354.46 = 0.56 %), and never less than it.
  CHECK(r.ops[1].start_s == 0);
  CHECK(r.time_s == Approx(ma + mb).epsilon(0.01));
  CHECK(r.time_s >= ma + mb);
  CHECK(r.time_s == Approx(2e-6 + ma + mb).epsilon(1e-3));
  // One after another it is 4.611 + 177.23 + 2 + 177.23 = 361.07 us.
  CHECK(seq.time_s == Approx(361.07e-6).epsilon(1e-4));
  CHECK(r.time_s < seq.time_s);
  // The report's total is the last kernel's end.
  CHECK(r.time_s == std::max(end_of(r.ops[0]), end_of(r.ops[1])));
  // Energy: the same dynamic energy; static power (140 W) over the shorter run;
  // the ops' energies (static power shared while they overlap) add up to it.
  CHECK(r.stats.get("power.dynamic_energy") == Approx(seq.stats.get("power.dynamic_energy")).epsilon(1e-12));
  CHECK(r.stats.get("power.static_energy") == Approx(140.0 * r.time_s).epsilon(1e-12));
  CHECK(r.energy_j < seq.energy_j);
  CHECK(r.ops[0].energy_j + r.ops[1].energy_j == Approx(r.energy_j).epsilon(1e-12));
  // HBM is busy for the two transfer times, nearly the whole run.
  CHECK(r.stats.get("memory.dram.utilization") == Approx((ma + mb) / r.time_s).epsilon(1e-9));
}

TEST_CASE("two independent GEMMs on half the SMs each overlap on h100-sxm", "[streams]") {
  // Replayed as a CUDA graph: no host time per kernel (eager: tests/gpu/test_host.cpp).
  auto hw = load_hardware("h100-sxm", {"compute.host_mode=graph"});
  const Op ga = matmul("gemm_a", 1, 256, 512, 8192, DType::fp64, DType::fp64);
  const Op gb = matmul("gemm_b", 1, 256, 512, 8192, DType::fp64, DType::fp64);
  const Graph g = graph_of("two_gemms", {ga, gb});
  const Program p = compile(g, *hw);
  // 64 thread blocks each (128x256 tiles, split-k 16): 64/132 + 64/132 < 1, so the
  // compute units never slow either down.
  for (const auto& k : p.kernels) REQUIRE(k.info.thread_blocks.value_or(0) * 2 <= 132);
  const RunResult seq = run_program(p, *hw, "systemc");
  const RunResult r = run_program(p, *hw, "systemc:streams=2");
  const double ta = seq.ops[0].time_s, tb = seq.ops[1].time_s;
  // Each is 32 compute-bound stages (fp64 tensor rate) plus a split-k reduction.
  // Alone: a 107.14 us (4.611 us launch + 1.684 us wave start-up + 100.85 us of
  // stages), b 104.53 us (2 us kernel gap instead of the launch).
  CHECK(ta == Approx(107.14e-6).epsilon(1e-3));
  CHECK(tb == Approx(104.53e-6).epsilon(1e-3));
  // Bound: with its compute never slowed, a kernel can only lose the time its
  // transfers wait behind the other's on the memory levels, at most the other's
  // summed transfer time (busy_s of dram and l2 for one GEMM, half of the run's).
  const double other = (seq.stats.get("memory.dram.busy_s") + seq.stats.get("memory.l2.busy_s")) / 2;
  CHECK(r.time_s <= std::max(ta, tb) + other);
  CHECK(r.time_s >= std::max(ta, tb));
  // Close to one GEMM, far from two: 123.42 us measured (b's 16.5 us split-k
  // reduction, 2 MiB through 4 SMs' L2 ports, holds the L2 while a waits) against
  // 211.87 us one after another.
  CHECK(r.time_s < 0.6 * (ta + tb));
  CHECK(r.time_s == Approx(123.42e-6).epsilon(1e-3));
}

TEST_CASE("independent branches of built-in models: streams=2 is faster, never slower", "[streams]") {
  {
    // llama-7b, one layer: q/k/v projections, the two rotary chains and the MLP's
    // gate/up projections are independent. Measured: 2079.66 us with one stream,
    // 1949.11 us with two (the rotary chains overlap v_proj; the projections
    // themselves use every SM and only share the GPU).
    auto hw = load_hardware("h100-sxm", {});
    const Program p = compile(build_workload("llama-7b:layers=1"), *hw);
    const RunResult s1 = run_program(p, *hw, "systemc");
    const RunResult s2 = run_program(p, *hw, "systemc:streams=2");
    CHECK(s2.time_s < 0.95 * s1.time_s);
    // q_proj and k_proj both start when the input norm is done.
    CHECK(s2.ops[19].name == "l0.attn.q_proj#19");
    CHECK(s2.ops[20].start_s == s2.ops[19].start_s);
    CHECK(s2.ops[20].start_s < end_of(s2.ops[19]));
    double last = 0;
    for (const auto& o : s2.ops) last = std::max(last, end_of(o));
    CHECK(s2.time_s == last);
  }
  const char* specs[] = {"llama-7b:phase=prefill,seq=64,layers=2",
                         "llama-7b:phase=decode,ctx=256,layers=2,embed=0",
                         "bert-base:batch=1,seq=64",
                         "gpt2-small:batch=1,seq=64",
                         "resnet50:batch=1,image=64",
                         "moe:seq=64,d=512,heads=8,kv_heads=8,ffn=1024",
                         "evoformer:n_seq=16,n_res=32",
                         "transformer-base:batch=1,src=32,tgt=32"};
  for (const char* hw_name : {"h100-sxm", "tpu-v4"}) {
    auto hw = load_hardware(hw_name, {});
    for (const char* spec : specs) {
      INFO(hw_name << " " << spec);
      const Program p = compile(build_workload(spec), *hw);
      const double t1 = run_program(p, *hw, "systemc").time_s;
      const double t2 = run_program(p, *hw, "systemc:streams=2").time_s;
      CHECK(t2 <= t1);
    }
  }
}

TEST_CASE("the analytic engine stays sequential", "[streams]") {
  auto hw = tiny2("0ns");
  const RunResult r = simulate(graph_of("nn", {narrow("a"), narrow("b")}), *hw, "analytic");
  // 72 + 72 ns (in double precision the loads' bytes add ~1e-9 relative).
  CHECK(r.time_s == Approx(144e-9).epsilon(1e-8));
  CHECK(r.ops[1].start_s == Approx(72e-9).epsilon(1e-8));
}

TEST_CASE("engine options: exact errors", "[streams]") {
  struct Case {
    const char* engine;
    const char* message;
  };
  const Case cases[] = {
      {"systemc:streams=0",
       "--engine systemc: streams=0 is not accepted; accepted: streams=N with N = 1..16"},
      {"systemc:streams=17",
       "--engine systemc: streams=17 is not accepted; accepted: streams=N with N = 1..16"},
      {"systemc:streams=two",
       "--engine systemc: streams=two is not accepted; accepted: streams=N with N = 1..16"},
      {"systemc:streams=", "--engine systemc: streams= is not accepted; accepted: streams=N with N = 1..16"},
      {"systemc:streams=2,streams=3",
       "--engine systemc: streams given twice; accepted: streams=N with N = 1..16"},
      {"systemc:queues=2", "--engine systemc: unknown option 'queues=2'; accepted: streams=N with N = 1..16"},
      {"systemc:", "--engine systemc: empty option list; accepted: streams=N with N = 1..16"},
      {"analytic:streams=2",
       "--engine analytic: takes no options, got 'streams=2'; it runs kernels one after "
       "another (for concurrent kernels: systemc:streams=N with N = 1..16)"},
      {"gem5",
       "--engine: unknown engine 'gem5'; accepted: analytic, systemc, systemc:streams=N with N = 1..16"},
  };
  for (const auto& c : cases) {
    INFO(c.engine);
    CHECK_THROWS_AS(make_engine(c.engine), InputError);
    CHECK_THROWS_WITH(make_engine(c.engine), c.message);
    // Through the CLI: exit 2 with the message.
    const Outcome o = tessera_cli(
        {"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n=64,k=64,dtype=int8", "--engine", c.engine});
    CHECK(o.code == 2);
    CHECK(o.err == std::string("tessera: error: ") + c.message + "\n");
  }
  CHECK(make_engine("systemc:streams=16") != nullptr);
}

TEST_CASE("streams runs are deterministic byte for byte", "[streams]") {
  auto hw = load_hardware("h100-sxm", {});
  const Program p = compile(build_workload("llama-7b:phase=prefill,seq=64,layers=2"), *hw);
  const std::string first = json_of(run_program(p, *hw, "systemc:streams=4"));
  CHECK(json_of(run_program(p, *hw, "systemc:streams=4")) == first);
  const std::vector<std::string> args = {"run",
                                         "--hw",
                                         "h100-sxm",
                                         "--workload",
                                         "bert-base:batch=1,seq=64",
                                         "--engine",
                                         "systemc:streams=3",
                                         "--format",
                                         "json"};
  const Outcome a = tessera_cli(args), b = tessera_cli(args);
  REQUIRE(a.code == 0);
  CHECK(a.out == b.out);
  CHECK(nlohmann::json::parse(a.out)["engine"] == "systemc:streams=3");
}
