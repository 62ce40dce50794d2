// Sizes the spec or trace format accepts but the models cannot represent: exit 2
// naming the op and the limit (the product of an op's dimensions <= 2^56,
// core/math.h k_max_op_volume), quickly; sizes within it finish with finite,
// positive figures.
#include "tests/robustness/helpers.h"

using namespace tessera::testing;

namespace {

std::string trace_matmul(int64_t s) {
  return R"({"ops":[{"name":"mm","kind":"matmul","attrs":{"batch":1,"m":)" + std::to_string(s) + R"(,"n":)" +
         std::to_string(s) + R"(,"k":)" + std::to_string(s) + "}}]}";
}

}  // namespace

TEST_CASE("a GEMM whose batch*m*n*k exceeds 2^56 is refused naming the op", "[robustness][sizes]") {
  // Was 0 s total, -2.0 Ms per op, -283 MJ (int64 overflow).
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload",
                     "gemm:m=2147483647,n=2147483647,k=64,batch=2147483647"}),
                {"op 'gemm'", "the product of its dimensions", "2^56"});
  // Was a signed overflow in the GEMM planner (all sizes within the 2^31 limit).
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=31666466,n=16664662,k=80651,train=1"}),
                {"the product of its dimensions", "2^56"});
  // Was 59 s (2^28) and 7 s (2^24) on tpu-v1: 2^84 and 2^72 > 2^56.
  for (const char* w : {"gemm:m=268435456,n=268435456,k=268435456", "gemm:m=16777216,n=16777216,k=16777216"})
    check_refused(cli({"run", "--hw", "tpu-v1", "--workload", w}), {"the product of its dimensions"});
}

TEST_CASE("trace matmuls of 2^28 .. 2^47 are refused, either engine", "[robustness][sizes]") {
  // Was SIGFPE / minutes without output.
  for (int64_t s : {int64_t{1} << 28, int64_t{1} << 40, int64_t{1} << 47}) {
    const std::string f = scratch_file("mm" + std::to_string(s) + ".json", trace_matmul(s));
    for (const char* engine : {"analytic", "systemc"})
      check_refused(cli({"run", "--hw", "h100-sxm", "--engine", engine, "--workload", f}),
                    {f, "op 'mm'", "the product of its dimensions"});
  }
}

TEST_CASE("a padding that enlarges a window's output beyond 2^56 is refused naming it",
          "[robustness][sizes]") {
  // A 1x1 conv on a 1x1 input with pad 2^48 on both axes: 2^49 + 1 rows and columns,
  // 3.2e29 outputs (activations were reported as 2048 TiB, a wrapped product). The
  // width's own padding (pad_w) counts the same; a 2^49-wide output row alone is
  // within the bound and runs (1 x 562949953421313 outputs).
  const std::string f =
      scratch_file("pad48.json",
                   R"({"ops":[{"name":"c","kind":"conv2d","attrs":{"n":1,"cin":1,"cout":1,"h":1,"w":1,"r":1,)"
                   R"("s":1,"stride":1,"pad":281474976710656}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", f}),
                {f, "op 'c'", "3.17e+29 output elements (1x562949953421313x562949953421313", "2^56",
                 "pad 281474976710656, pad_w 281474976710656"});
  const std::string g = scratch_file(
      "padw.json", R"({"ops":[{"name":"c","kind":"maxpool","attrs":{"n":1,"c":1024,"h":1,"w":1,"r":1,)"
                   R"("s":1,"stride":1,"pad":0,"pad_w":281474976710656}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", g}),
                {g, "op 'c'", "pad 0, pad_w 281474976710656"});
}

TEST_CASE("a SCALE-Sim CSV row of 2^31-sized dimensions is refused", "[robustness][sizes]") {
  // Was 0 s total and -1.2e7 s for the op.
  const std::string f = scratch_file(
      "big.csv",
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "big, 2147483647, 2147483647, 1, 1, 2147483647, 2147483647, 1,\n");
  check_refused(cli({"run", "--hw", "tpu-v1", "--workload", f}), {"the product of its dimensions"});
}

TEST_CASE("large valid GEMMs finish with finite, positive figures", "[robustness][sizes]") {
  // 2^18 cubed = 2^54 <= 2^56: timed in closed form (block repeats, fold runs).
  for (const char* hw : {"h100-sxm", "tpu-v1"})
    for (const char* engine : {"analytic", "systemc"}) {
      INFO(hw << " " << engine);
      // int8: tpu-v1's PEs run int8 only (compute.formats). 3 x 64 GiB of operands
      // exceed any device's memory: allowed, to time the sizes.
      check_finite_report(cli({"run", "--hw", hw, "--engine", engine, "--workload",
                               "gemm:m=262144,n=262144,k=262144,dtype=int8", "--format", "json", "--set",
                               "engine.allow_over_capacity=1"}));
    }
  // The largest GEMM-vector product (m = 1): 2^56 MACs, 2^40 folds on tpu-v1's
  // 256 x 256 array, summed in closed form.
  check_finite_report(
      cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=1,n=268435456,k=268435456,dtype=int8", "--format", "json",
           "--set", "engine.allow_over_capacity=1"}));
}

TEST_CASE("a 100000 x 100000 array from a SCALE-Sim cfg runs alexnet quickly", "[robustness][sizes]") {
  const std::string cfg = scratch_file("huge_array.cfg",
                                       "[general]\nrun_name = huge\n[architecture_presets]\nArrayHeight: 100000\n"
                                       "ArrayWidth: 100000\nIfmapSramSzkB: 64\nFilterSramSzkB: 64\n"
                                       "OfmapSramSzkB: 64\nIfmapOffset: 0\nFilterOffset: 10000000\n"
                                       "OfmapOffset: 20000000\nDataflow: ws\n[run_presets]\n"
                                       "InterfaceBandwidth: CALC\n");
  check_finite_report(cli({"run", "--hw", cfg, "--workload",
                           std::string(TESSERA_SHARED_DIR) + "/peer-data/scale-sim/topologies/conv_nets/alexnet_part.csv",
                           "--format", "json"}));
}

TEST_CASE("products of workload sizes in the model builders are checked, never wrapped", "[robustness][sizes]") {
  // batch x heads x sq = (2^31 - 1)^3 > 2^63: was a signed overflow (undefined
  // behaviour) in the eager attention's row count before validation saw the op.
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload",
                     "attention:batch=2147483647,heads=2147483647,sq=2147483647,skv=2,d=2,fused=0"}),
                {"attention: batch x heads x sq: the product 4611686014132420609 x 2147483647 exceeds 2^63 - 1"});
  // batch x seq = 4611686014132420609 tokens, x d = 4096: the activation bytes.
  for (const char* w : {"llama-7b:batch=2147483647,seq=2147483647", "moe:batch=2147483647,seq=2147483647"})
    check_refused(cli({"run", "--hw", "h100-sxm", "--workload", w}),
                  {"activations (batch x seq x d): the product 4611686014132420609 x 4096 exceeds 2^63 - 1"});
}

TEST_CASE("GPT-3-scale training FLOPs are finite and positive (double, no integer product)", "[robustness][sizes]") {
  // Two of GPT-3's layers on 8 x 2048 tokens: 3.6e14 FLOPs, far beyond 2^31 (FLOPs are doubles).
  // Their 99.58 GiB footprint exceeds one H100's 80 GB, so the capacity check is
  // made a warning: the subject here is the arithmetic, not the fit.
  check_finite_report(cli({"run", "--hw", "h100-sxm", "--workload", "gpt3-175b:batch=8,seq=2048,layers=2,train=1",
                           "--set", "engine.allow_over_capacity=1", "--format", "json"}));
}

TEST_CASE("run --precision: emulation is bounded by engine.emulation_budget", "[robustness][sizes]") {
  // Was minutes without output: 256 sampled outputs x 2^26 products emulated bit
  // by bit. Estimate: 256 x 67,108,864 x 5 ns (the H100 bf16 path) = 85.9 s.
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=16,n=16,k=67108864,dtype=bf16", "--precision"}),
                {"--precision", "an estimated 85.9 s", "engine.emulation_budget = 1 s", "--samples"});
  // bert-base, 8 tokens, on tpu-v4 with a bf16 accumulator took 106 s end to end;
  // now the report says it is left out (6.81e8 products x 150 ns = 102 s).
  const auto r = cli({"run", "--hw", "tpu-v4", "--workload", "bert-base:batch=1,seq=8", "--precision", "--set",
                      "compute.acc_dtype=bf16"});
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("end to end: not emulated (6.81e+08 multiply-accumulates, an estimated 102 s"));
  // A budget must be a positive time.
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=16,n=16,k=16", "--precision", "--set",
                     "engine.emulation_budget=0s"}),
                {"engine.emulation_budget"});
}

TEST_CASE("an LSTM over the graph's op limit is refused before it is built", "[robustness][sizes]") {
  // 2 ops per time step and layer: 2 x (1 + 2 x 600000) = 2,400,002 > 2^20. It
  // took seconds to build a million ops first (fuzz_workload_spec's slow units).
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "lstm:seq=600000"}),
                {"lstm: layers x seq = 2 x 600000 gives 2.4e+06 ops, more than the 1048576 a run takes"});
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "lstm:seq=2147483647,layers=2147483647"}),
                {"more than the 1048576 a run takes"});
}

TEST_CASE("a DRAM bandwidth beyond the timing model is refused", "[robustness][sizes]") {
  // Found by fuzz_hw_set (tests/fuzz/regressions/hw_set): 9.3e123 TB/s made the
  // command clock round to 0 ps and overflowed the scaled cycle counts (UB).
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=64,n=64,k=64", "--set",
                     "memory.dram.bandwidth=9e120TB/s"}),
                {"gives a command clock under 1 ps", "accepted: up to 4e+06 MT/s"});
}
