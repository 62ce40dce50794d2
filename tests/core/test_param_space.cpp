// One parameter space: hardware, workload and engine parameters by path through
// `--set`, `tessera list params`, and the README's `--set` examples.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/params.h"
#include "models/hardware.h"
#include "sim/param_space.h"
#include "tests/support/cli_run.h"
#include "workloads/workloads.h"

using namespace tessera;
using testing::run_cli;

namespace {

// The first line of stderr without the "tessera: error: " prefix.
std::string error_of(const std::vector<std::string>& args) {
  const auto o = run_cli(args);
  CHECK(o.code == 2);
  CHECK(o.out.empty());
  std::string e = o.err;
  const std::string prefix = "tessera: error: ";
  if (e.rfind(prefix, 0) == 0) e = e.substr(prefix.size());
  if (!e.empty() && e.back() == '\n') e.pop_back();
  return e;
}

std::vector<std::string> run_args(const std::string& workload, std::vector<std::string> extra) {
  std::vector<std::string> a = {"run", "--hw", "h100-sxm", "--workload", workload};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("set errors name the argument, the key and what is accepted", "[params][cli]") {
  const std::string gpt = "gpt2-small:batch=1,seq=16,layers=1";
  CHECK(
      error_of(run_args(gpt, {"--set", "workload.sqe=4"})) ==
      "--set 'workload.sqe=4': unknown key 'sqe' for workload gpt2-small; accepted: phase, batch, seq, ctx, "
      "layers, embed, kv_cache, cache_len, fused_qkv, fused_gate_up, rope, attn, attention_mask, dropout, "
      "kernels, "
      "dtype, tp, pp, dp, "
      "ep, "
      "sequence_parallel, schedule, virtual_stages, "
      "zero, microbatch, global_batch, recompute, bucket, grad_reduce, grad_accum_fusion, "
      "overlap_grad_reduce, p2p_overlap, p2p_scatter_gather, ddp, grad_scaler, "
      "train, optimizer, amp, clip_grad_norm");
  CHECK(error_of(run_args(gpt, {"--set", "workload.seq=long"})) ==
        "--set 'workload.seq=long': invalid value 'long' for workload.seq: not an integer; expected an integer >= 1");
  CHECK(error_of(run_args(gpt, {"--set", "workload.seq=0"})) ==
        "--set 'workload.seq=0': invalid value '0' for workload.seq: out of range; expected an integer >= 1");
  CHECK(error_of(run_args(gpt, {"--set", "workload.dtype=fp7"})).rfind(
            "--set 'workload.dtype=fp7': invalid value 'fp7' for workload.dtype: unknown dtype; expected fp64, ",
            0) == 0);
  CHECK(error_of(run_args(gpt, {"--set", "workload.attn=flash"})) ==
        "--set 'workload.attn=flash': invalid value 'flash' for workload.attn: not one of the choices; "
        "expected sdpa|eager|megatron");
  CHECK(error_of(run_args(gpt, {"--engine", "systemc", "--set", "engine.streams=0"})) ==
        "--set 'engine.streams=0': invalid value '0' for engine.streams: out of range; expected an integer 1..16");
  CHECK(error_of(run_args(gpt, {"--engine", "systemc", "--set", "engine.streams=17"})) ==
        "--set 'engine.streams=17': invalid value '17' for engine.streams: out of range; expected an integer 1..16");
  CHECK(error_of(run_args(gpt, {"--set", "engine.streams=2"})) ==
        "--set 'engine.streams=2': the analytic engine runs kernels one after another; streams applies to "
        "engine.name=systemc (--engine systemc)");
  CHECK(error_of(run_args(gpt, {"--set", "engine.speed=2"})) ==
        "--set 'engine.speed=2': unknown key 'speed' for engine; accepted: name, streams, allow_over_capacity, emulation_budget");
  CHECK(error_of(run_args(gpt, {"--set", "compiler.tile=64"})) ==
        "--set 'compiler.tile=64': unknown namespace 'compiler'; accepted: compute, memory, power, numerics, system, fabric, "
        "name, description (hardware), workload, engine");
  CHECK(error_of(run_args(gpt, {"--set", "workload=4"})) == "--set 'workload=4': expected workload.<key>=value");
  // Hardware keys keep the loader's messages.
  CHECK(error_of(run_args(gpt, {"--set", "compute.clock=1.4GHz"})).rfind(
            "--set 'compute.clock=1.4GHz': unknown key 'clock' for compute (tensorcore)", 0) == 0);
}

TEST_CASE("workload.<key> set on an imported workload is an error but for train, optimizer, amp",
          "[params][cli]") {
  const std::string path = std::string(TESSERA_SOURCE_DIR) + "/tests/workloads/data/example_trace.json";
  const std::string e = error_of({"run", "--hw", "h100-sxm", "--workload", path, "--set", "workload.seq=4"});
  CHECK(
      e.rfind(
          "--set 'workload.seq=4': the workload '" + path +
              "' is an imported file; its shapes are fixed (accepted: workload.train, workload.optimizer, "
              "workload.amp, a training step of it; other workload.<key> apply to built-in workloads: gemm, ",
          0) == 0);
}

TEST_CASE("workload.<key> set gives the report of the key written in the spec", "[params][cli]") {
  for (const std::string engine : {"analytic", "systemc:streams=2"}) {
    const auto a = run_cli(run_args("gpt2-small:batch=1,layers=1,seq=32",
                                    {"--engine", engine, "--format", "json"}));
    const auto b = run_cli(run_args("gpt2-small:batch=1,layers=1",
                                    {"--engine", engine, "--set", "workload.seq=32", "--format", "json"}));
    const auto c = run_cli(run_args("gpt2-small:batch=1,layers=1,seq=8",
                                    {"--engine", engine, "--set", "workload.seq=32", "--format", "json"}));
    REQUIRE(a.code == 0);
    CHECK(b.code == 0);
    CHECK(c.code == 0);
    CHECK(b.out == a.out);
    CHECK(c.out == a.out);
  }
  // engine.streams is systemc:streams=N.
  const auto s1 = run_cli(run_args("gpt2-small:batch=2,seq=32,layers=1", {"--engine", "systemc:streams=2", "--format", "json"}));
  const auto s2 = run_cli(run_args("gpt2-small:batch=2,seq=32,layers=1",
                                   {"--engine", "systemc", "--set", "engine.streams=2", "--format", "json"}));
  const auto s3 = run_cli(run_args("gpt2-small:batch=2,seq=32,layers=1",
                                   {"--set", "engine.name=systemc", "--set", "engine.streams=2", "--format", "json"}));
  REQUIRE(s1.code == 0);
  CHECK(s2.out == s1.out);
  CHECK(s3.out == s1.out);
}

TEST_CASE("list params shows every settable path with its value", "[params][cli]") {
  const auto o = run_cli({"list", "params", "--hw", "h100-sxm", "--workload", "gpt2-small:seq=64", "--engine",
                          "systemc:streams=3"});
  REQUIRE(o.code == 0);
  auto line_of = [&](const std::string& path) {
    std::istringstream is(o.out);
    for (std::string line; std::getline(is, line);)
      if (line.rfind(path + " ", 0) == 0) return line;
    return std::string();
  };
  auto fields = [](const std::string& line) {
    std::istringstream is(line);
    std::vector<std::string> f;
    for (std::string w; is >> w && f.size() < 3;) f.push_back(w);
    return f;
  };
  CHECK(fields(line_of("workload.seq")) == std::vector<std::string>{"workload.seq", "64", "int"});
  CHECK(fields(line_of("workload.batch")) == std::vector<std::string>{"workload.batch", "1", "int"});
  CHECK(fields(line_of("workload.dtype")) == std::vector<std::string>{"workload.dtype", "bf16", "dtype"});
  CHECK(fields(line_of("engine.streams")) == std::vector<std::string>{"engine.streams", "3", "int"});
  CHECK(fields(line_of("engine.name")) == std::vector<std::string>{"engine.name", "systemc", "analytic|systemc"});
  const auto clock = fields(line_of("compute.max_clock"));
  REQUIRE(clock.size() == 3);
  CHECK(clock[2] == "Hz");
  CHECK(!line_of("memory.dram.bandwidth").empty());
  CHECK(!line_of("numerics.family").empty());
  // --set applies before listing; the columns line up.
  const auto s = run_cli({"list", "params", "--hw", "h100-sxm", "--set", "compute.max_clock=1.4GHz"});
  REQUIRE(s.code == 0);
  std::istringstream is(s.out);
  std::string header, line;
  std::getline(is, header);
  const size_t value_col = header.find("value");
  bool found = false;
  while (std::getline(is, line)) {
    CHECK(line.size() > value_col);
    CHECK(line[value_col - 1] == ' ');
    if (line.rfind("compute.max_clock ", 0) == 0) found = line.compare(value_col, 7, "1.4GHz ") == 0;
  }
  CHECK(found);
  CHECK(s.out.find("workload.") == std::string::npos);
}

TEST_CASE("a parameter space copies cheaply and validates set()", "[params]") {
  const auto hw = load_hardware("h100-sxm", {});
  const ParamSpace base = run_param_space(*hw, "gpt2-small:batch=2", EngineOptions{});
  ParamSpace s = base;
  s.set("workload.seq", "256");
  s.set("compute.max_clock", "1.4GHz");
  CHECK(base.value("workload.seq") == "1024");
  CHECK(s.value("workload.seq") == "256");
  CHECK_THROWS_AS(s.set("workload.seq", "x"), InputError);
  CHECK_THROWS_AS(s.set("workload.nope", "1"), InputError);
  const RunSettings r = settings_of(s, RunSettings{"gpt2-small:batch=2", EngineOptions{}, {}});
  CHECK(r.workload == "gpt2-small:batch=2,seq=256");
  CHECK(r.hw_sets == std::vector<std::string>{"compute.max_clock=1.4GHz"});
}

TEST_CASE("every workload default fits its declared type", "[params]") {
  for (const auto& w : builtin_workloads())
    for (const auto& p : w.params)
      if (!p.default_value.empty()) {
        INFO(w.name << "." << p.name << "=" << p.default_value);
        CHECK(param_value_problem(p.spec(), p.default_value).empty());
      }
  for (const auto& p : common_workload_params()) CHECK(param_value_problem(p.spec(), p.default_value).empty());
}

TEST_CASE("every README example with --set runs", "[params][cli][readme]") {
  std::ifstream f(std::string(TESSERA_SOURCE_DIR) + "/README.md");
  REQUIRE(f);
  std::vector<std::string> commands;
  std::string line, pending;
  while (std::getline(f, line)) {
    if (pending.empty()) {
      const size_t at = line.find("build/tessera ");
      if (at == std::string::npos || line.find_first_not_of(' ') != at) continue;
      line = line.substr(at + 14);
    }
    const size_t hash = line.find(" #");
    if (hash != std::string::npos) line = line.substr(0, hash);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    pending += line;
    if (pending.find("--set") != std::string::npos) commands.push_back(pending);
    pending.clear();
  }
  CHECK(commands.size() >= 5);
  for (const auto& c : commands) {
    std::istringstream is(c);
    std::vector<std::string> args;
    for (std::string w; is >> w;) {
      if (w.rfind("../shared/", 0) == 0) w = std::string(TESSERA_SHARED_DIR) + w.substr(9);
      args.push_back(w);
    }
    INFO("build/tessera " << c);
    const auto o = run_cli(args);
    CHECK(o.err.empty());
    CHECK(o.code == 0);
  }
}
