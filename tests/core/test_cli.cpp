#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "sim/cli/cli.h"
#include "tests/support/cli_run.h"

using namespace tessera;

namespace {

using Outcome = testing::CliOutcome;

Outcome tessera_cli(std::vector<std::string> args) { return testing::run_cli(std::move(args)); }

}  // namespace

TEST_CASE("run prints a JSON report with the documented schema", "[cli]") {
  const auto o = tessera_cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=1024,n=1024,k=1024,dtype=int8",
                              "--format", "json"});
  REQUIRE(o.code == 0);
  CHECK(o.err.empty());
  const auto j = nlohmann::json::parse(o.out);
  for (const char* key : {"hardware", "workload", "engine", "time_s", "cycles", "energy_j", "avg_power_w",
                          "ops", "stats"})
    CHECK(j.contains(key));
  CHECK(j["hardware"] == "tpu-v1");
  CHECK(j["engine"] == "analytic");
  REQUIRE(j["ops"].size() == 1);
  for (const char* key : {"name", "kind", "start_s", "time_s", "energy_j", "flops", "bytes", "bound"})
    CHECK(j["ops"][0].contains(key));
  CHECK(j["ops"][0]["flops"] == 2.0 * 1024 * 1024 * 1024);
  // cycles are time x the nominal 700 MHz clock.
  CHECK(j["cycles"].get<double>() == Approx(j["time_s"].get<double>() * 700e6));
}

TEST_CASE("run is deterministic byte for byte", "[cli]") {
  const std::vector<std::string> args = {"run", "--hw", "tpu-v1", "--workload",
                                         "gemm:m=300,n=200,k=100,batch=3,dtype=int8", "--format", "json"};
  CHECK(tessera_cli(args).out == tessera_cli(args).out);
}

TEST_CASE("csv and text formats", "[cli]") {
  const auto csv = tessera_cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n=64,k=64,dtype=int8",
                                "--format", "csv"});
  REQUIRE(csv.code == 0);
  CHECK(csv.out.rfind("name,kind,start_s,time_s,", 0) == 0);
  const auto text = tessera_cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n=64,k=64,dtype=int8"});
  REQUIRE(text.code == 0);
  CHECK(text.out.find("Tessera report") != std::string::npos);
  CHECK(text.out.find("bound") != std::string::npos);
}

TEST_CASE("a hardware key overridden with --set", "[cli]") {
  auto time_of = [](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", "--hw", "tpu-v1", "--workload", "gemm:m=256,n=256,k=256,dtype=int8",
                                     "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto o = tessera_cli(args);
    REQUIRE(o.code == 0);
    return nlohmann::json::parse(o.out)["time_s"].get<double>();
  };
  // Doubling the clock halves the compute time of this compute-bound product.
  const double base = time_of({"--set", "memory.dram.bandwidth=34TB/s"});
  const double fast = time_of({"--set", "memory.dram.bandwidth=34TB/s", "--set", "compute.clock=1.4GHz"});
  CHECK(fast == Approx(base / 2).epsilon(0.01));
}

TEST_CASE("bad input exits 2 with a clear message and no output file", "[cli]") {
  const std::string out_file = (std::filesystem::temp_directory_path() / "tessera_cli_bad.json").string();
  std::filesystem::remove(out_file);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string gemm = "gemm:m=64,n=64,k=64,dtype=int8";
  const Case cases[] = {
      {{"run", "--hw", "tpu-v9", "--workload", gemm}, "unknown hardware preset 'tpu-v9'; accepted: "},
      {{"run", "--hw", "tpu-v1", "--workload", "gemn:m=1"}, "unknown workload 'gemn'; accepted: "},
      {{"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n"}, "malformed parameter 'n'; expected key=value"},
      {{"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n=64"}, "missing required parameter 'k'"},
      {{"run", "--hw", "tpu-v1", "--workload", "gemm:m=-64,n=64,k=64"}, "'m': -64 must be a positive integer"},
      {{"run", "--hw", "tpu-v1", "--workload", "gemm:m=64,n=64,k=64,dtype=fp7"}, "unknown dtype 'fp7'; accepted: fp64"},
      {{"run", "--hw", "tpu-v1", "--workload", gemm, "--set", "compute.speed=2"},
       "--set 'compute.speed=2': unknown key 'speed' for compute (systolic); accepted keys: rows"},
      {{"run", "--hw", "tpu-v1", "--workload", gemm, "--set", "compute.clock=fast"},
       "--set 'compute.clock=fast': invalid value 'fast' for compute.clock (systolic)"},
      {{"run", "--hw", "tpu-v1", "--workload", gemm, "--engine", "gem5"}, "unknown engine 'gem5'; accepted: analytic, systemc"},
      {{"run", "--hw", "tpu-v1", "--workload", gemm, "--format", "xml"}, "unknown format 'xml'; accepted: text, json, csv, scalesim"},
      {{"run", "--hw", "tpu-v1"}, "give exactly one of --workload and --program"},
      {{"run", "--workload", gemm}, "--hw is required"},
      {{"run", "--hw", "tpu-v1", "--workload", gemm, "--bogus"}, "unrecognised option '--bogus'"},
      {{"list", "gpus"}, "unknown list 'gpus'; accepted: hw, workloads, components, formats, engines"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.push_back("--out");
    args.push_back(out_file);
    if (args[0] == "list" || args[0] == "frobnicate") args.resize(c.args.size());
    const auto o = tessera_cli(args);
    INFO(o.err);
    CHECK(o.code == 2);
    CHECK(o.err.find(c.message) != std::string::npos);
    CHECK(o.err.rfind("tessera: error: ", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(out_file));
  }
}

TEST_CASE("list prints every registered parameter with unit and default", "[cli]") {
  const auto o = tessera_cli({"list", "components"});
  REQUIRE(o.code == 0);
  CHECK(o.out.find("impl: systolic") != std::string::npos);
  CHECK(o.out.find("bandwidth") != std::string::npos);
  CHECK(o.out.find("B/s") != std::string::npos);
  const auto f = tessera_cli({"list", "formats"});
  CHECK(f.out.find("fp8_e4m3") != std::string::npos);
  const auto w = tessera_cli({"list", "workloads"});
  CHECK(w.out.find("gemm") != std::string::npos);
  const auto h = tessera_cli({"list", "hw"});
  CHECK(h.out.find("tpu-v1") != std::string::npos);
}

TEST_CASE("a compiled program run from its text gives the workload's report", "[cli][isa]") {
  const auto asm_file = (std::filesystem::temp_directory_path() / "tessera_prog.asm").string();
  struct Case { const char* hw; const char* workload; };
  const Case cases[] = {
      {"tpu-v1", "gemm:m=512,n=300,k=700,batch=2,dtype=int8"},
      {"tpu-v1", "attention:sq=256,heads=4,d=64,dtype=int8"},
      {"h100-sxm", "attention:sq=1024,causal=1"},
      {"h100-sxm", "bert-base:batch=2,seq=128"},
  };
  for (const auto& c : cases) {
    INFO(c.hw << " " << c.workload);
    const auto compiled = tessera_cli({"compile", "--hw", c.hw, "--workload", c.workload, "--out", asm_file});
    REQUIRE(compiled.code == 0);
    const auto from_text = tessera_cli({"run", "--hw", c.hw, "--program", asm_file, "--format", "json"});
    const auto direct = tessera_cli({"run", "--hw", c.hw, "--workload", c.workload, "--format", "json"});
    REQUIRE(from_text.code == 0);
    // A program file carries the footprint `compile` wrote (its .resident line), so
    // the report is the same, memory footprint included (sim/engines/capacity.h).
    const nlohmann::json d = nlohmann::json::parse(direct.out);
    REQUIRE(d.contains("memory_footprint"));
    CHECK(nlohmann::json::parse(from_text.out) == d);
  }
}
