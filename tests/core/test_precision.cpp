#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/cli/cli.h"
#include "models/hardware.h"
#include "sim/precision.h"
#include "sim/propagate.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"
#include "tests/support/cli_run.h"

using namespace tessera;

namespace {

nlohmann::json run_json(std::vector<std::string> args) {
  args.push_back("--format");
  args.push_back("json");
  const auto o = testing::run_cli(std::move(args));
  INFO(o.err);
  REQUIRE(o.code == 0);
  return nlohmann::json::parse(o.out);
}

}  // namespace

TEST_CASE("int8 products on an int32 accumulator are exact", "[precision]") {
  auto hw = load_hardware("tpu-v1", {});
  const Graph g = build_workload("gemm:m=256,n=256,k=4096,dtype=int8");
  const auto p = precision_report(g, *hw, {64, 7, "normal"});
  const auto& op = p["ops"][0];
  CHECK(op["preset"] == "pe_int8_acc_int32");
  CHECK(op["k"] == 4096);
  CHECK(op["normwise_rel_err"].get<double>() == 0.0);
  CHECK(op["samples"] == 64);
}

TEST_CASE("a narrower accumulator costs precision in the same run", "[precision]") {
  // bf16 operands, K = 4096, N(0,1): the bf16 output rounding alone gives a
  // relative error of about 2^-9 / sqrt(3) = 1.1e-3 per element; an fp16
  // accumulator (10 fraction bits) adds rounding at every one of the 4096 steps,
  // a bf16 accumulator (7 bits) eight times more. 64 x 64 outputs hold the 128
  // sampled ones; a larger M x N adds nothing but the end-to-end emulation's time.
  const std::string w = "gemm:m=64,n=64,k=4096,dtype=bf16";
  auto err = [&](const char* acc) {
    const auto j = run_json({"run", "--hw", "tpu-v1", "--workload", w, "--precision", "--samples", "128",
                             "--set", "compute.formats=any", "--set", std::string("compute.acc_dtype=") + acc});
    return j["precision"]["ops"][0]["normwise_rel_err"].get<double>();
  };
  const double e32 = err("fp32"), e16 = err("fp16"), eb16 = err("bf16");
  CHECK(e32 > 5e-4);
  CHECK(e32 < 3e-3);
  CHECK(e16 > 2 * e32);
  CHECK(eb16 > 4 * e16);
}

TEST_CASE("an operand-format sweep changes energy and precision together", "[precision]") {
  const std::string w = "gemm:m=64,n=64,k=1024,dtype=bf16";
  // compute.formats=any: tpu-v1's own PEs run int8 only.
  const auto a = run_json({"run", "--hw", "tpu-v1", "--workload", w, "--precision", "--set", "compute.formats=any",
                           "--set", "compute.operand_dtype=bf16", "--set", "compute.acc_dtype=fp32"});
  const auto b = run_json({"run", "--hw", "tpu-v1", "--workload", w, "--precision", "--set", "compute.formats=any",
                           "--set", "compute.operand_dtype=fp8_e4m3", "--set", "compute.acc_dtype=fp32"});
  // Horowitz 2014: a 16-bit float multiply-add costs more than an 8-bit one.
  CHECK(a["stats"]["power"]["dynamic_energy"]["value"].get<double>() >
        b["stats"]["power"]["dynamic_energy"]["value"].get<double>());
  CHECK(b["precision"]["ops"][0]["preset"] == "pe_fp8_e4m3_acc_fp32");
}

TEST_CASE("fp8 fast accumulation selects its own accumulation model", "[precision]") {
  const auto hw = load_hardware("h100-sxm", {});
  CHECK(accumulation_preset_for(*hw, DType::fp8_e4m3) == "h100_fp8");
  CHECK(accumulation_preset_for(*hw, DType::fp8_e4m3, true) == "h100_fp8_fastacc");
  // bf16 has no fast-accumulation variant.
  CHECK(accumulation_preset_for(*hw, DType::bf16, true) == "h100_bf16");
  const auto normal = run_json({"run", "--hw", "h100-sxm", "--workload",
                                "gemm:m=64,n=64,k=16384,dtype=fp8_e4m3", "--precision"});
  const auto fast = run_json({"run", "--hw", "h100-sxm", "--workload",
                              "gemm:m=64,n=64,k=16384,dtype=fp8_e4m3,fast_accum=1", "--precision"});
  CHECK(normal["precision"]["ops"][0]["preset"] == "h100_fp8");
  CHECK(fast["precision"]["ops"][0]["preset"] == "h100_fp8_fastacc");
  // Without promotion the 13-bit accumulator loses more at K = 16384 (the shared
  // H100 precision records, fp32 output, normal inputs: 2.1e-3 fastacc against
  // 1.3e-4 with promotion; here the bf16 output rounding adds to both).
  CHECK(fast["precision"]["ops"][0]["normwise_rel_err"].get<double>() >
        normal["precision"]["ops"][0]["normwise_rel_err"].get<double>());
}

TEST_CASE("precision reports are deterministic for a seed", "[precision]") {
  auto hw = load_hardware("tpu-v1", {"compute.formats=any", "compute.acc_dtype=fp16"});
  const Graph g = build_workload("gemm:m=64,n=64,k=2048,dtype=fp16");
  const auto a = precision_report(g, *hw, {32, 3, "normal"});
  const auto b = precision_report(g, *hw, {32, 3, "normal"});
  const auto c = precision_report(g, *hw, {32, 4, "normal"});
  CHECK(a.dump() == b.dump());
  CHECK(a.dump() != c.dump());
}

TEST_CASE("SCALE-Sim inputs run directly and write SCALE-Sim's reports", "[precision][scalesim]") {
  // The shipped golden: alexnet_part Conv1 on configs/scale.cfg switched to ws.
  const std::filesystem::path shared = TESSERA_SHARED_DIR "/peer-data/scale-sim";
  const auto tmp = std::filesystem::temp_directory_path() / "tessera_scalesim_cli";
  std::filesystem::create_directories(tmp);
  const auto cfg = tmp / "scale_ws.cfg";
  {
    std::ifstream in(shared / "configs/scale.cfg");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    text.replace(text.find("Dataflow : os"), 13, "Dataflow : ws");
    std::ofstream(cfg) << text;
  }
  const auto out_dir = tmp / "reports";
  REQUIRE(testing::run_cli({"run", "--hw", cfg.string(), "--workload",
                            (shared / "topologies/conv_nets/alexnet_part.csv").string(), "--format", "scalesim",
                            "--out", out_dir.string()})
              .code == 0);
  std::ifstream rep(out_dir / "COMPUTE_REPORT.csv");
  std::string header, row;
  std::getline(rep, header);
  std::getline(rep, row);
  CHECK(header == "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,");
  CHECK(row.rfind("0, 112283, 0, ", 0) == 0);   // golden-v2/COMPUTE_REPORT.csv
}

TEST_CASE("errors propagate end to end through a small network", "[precision][propagate]") {
  // A small GPT (2 layers, width 128, 8 tokens, a 512-word head) on a systolic
  // chip whose PEs accumulate in fp32, fp16 or bf16: the network output's error
  // grows as the accumulator narrows, and the same seed gives the same figures.
  const Graph g = build_workload("gpt:layers=2,hidden=128,heads=2,seq=8,vocab=512,dtype=bf16");
  auto out_err = [&](const char* acc) {
    auto hw = load_hardware("tpu-v4", {std::string("compute.acc_dtype=") + acc});
    // 2 x 8 x 12 x 128^2 + 8 x 128 x 512 + attention = 3.7e6 products at 150 ns
    // each (one 128-bit step per product): about 0.56 s, inside the 1 s budget.
    REQUIRE(propagate_seconds(g, *hw) < 1.0);
    const auto p = propagate_error(g, *hw, {16, 5, "normal"});
    REQUIRE(p["ops"].size() == g.ops.size());
    CHECK(p["output"]["nan"] == 0);
    return p["output"]["normwise_rel_err"].get<double>();
  };
  const double e32 = out_err("fp32"), e16 = out_err("fp16"), eb16 = out_err("bf16");
  // bf16 operands: every op's output is rounded to bf16 (2^-9 relative), so even
  // the fp32 accumulator leaves an error of order 1e-3 after 2 layers.
  CHECK(e32 > 1e-4);
  CHECK(e32 < 2e-2);
  CHECK(e16 > e32);
  CHECK(eb16 > 2 * e16);
  CHECK(out_err("fp32") == e32);
}

TEST_CASE("end-to-end emulation refuses networks beyond its budget", "[precision][propagate]") {
  const Graph g = build_workload("llama-7b:phase=prefill,seq=2048,layers=1");
  auto hw = load_hardware("h100-sxm", {});
  CHECK_THROWS_WITH(propagate_error(g, *hw, {}), Catch::Contains("over engine.emulation_budget = 1 s"));
  // The estimate: products x the path's cost. 64 x 64 x 4096 = 16,777,216 products
  // on tpu-v1's PEs with a bf16 accumulator (one 128-bit step each, 150 ns) is
  // 2.516 s: refused under the default 1 s, accepted under 3 s.
  const Graph small = build_workload("gemm:m=64,n=64,k=4096,dtype=bf16");
  auto tpu = load_hardware("tpu-v1", {"compute.formats=any", "compute.acc_dtype=bf16"});
  CHECK(propagate_seconds(small, *tpu) == Approx(16777216 * 150e-9).epsilon(1e-12));
  CHECK_THROWS_WITH(propagate_error(small, *tpu, {}), Catch::Contains("an estimated 2.52 s of emulation"));
  // The per-op report samples 256 outputs: 256 x 4096 products = 0.157 s.
  CHECK(precision_report_seconds(small, *tpu, {}) == Approx(256 * 4096 * 150e-9).epsilon(1e-12));
  // H100 bf16 takes the int64 fast path (5 ns per product).
  CHECK(propagate_seconds(small, *load_hardware("h100-sxm", {})) == Approx(16777216 * 5e-9).epsilon(1e-12));
}
