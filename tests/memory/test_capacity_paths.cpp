// Capacity on every path that runs a workload (sim/engines/capacity.h): `run
// --program` (the footprint `compile` writes as a `.resident` line), `sweep`
// points (status = error with the message, the sweep goes on) and `compare`
// records (skipped with the reason).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/cli_run.h"

using tessera::testing::run_cli;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("tessera_captest_" + name);
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto p = temp_path(name);
  std::ofstream(p) << text;
  return p;
}

// A bf16 GEMM of 131072^3: A, B and C are 3 x 131072^2 x 2 B = 96 GiB, more than
// the 79.18 GiB (85,017,493,504 B, CUDA's totalGlobalMem) of an H100 SXM; 1024^3 takes 6 MiB.
const std::string k_big = "gemm:m=131072,n=131072,k=131072";
const std::string k_small = "gemm:m=1024,n=1024,k=1024";
const std::string k_over = "96 GiB must stay resident (weights 0 B, gradients 0 B, optimizer state 0 B, activations "
                           "96 GiB, KV cache 0 B) but the device's memory (dram) holds 79.18 GiB";

}  // namespace

TEST_CASE("run --program checks what the compiled workload keeps resident", "[capacity][program]") {
  const auto big = temp_path("big.tsa"), small = temp_path("small.tsa");
  REQUIRE(run_cli({"compile", "--hw", "h100-sxm", "--workload", k_big, "--out", big.string()}).code == 0);
  REQUIRE(run_cli({"compile", "--hw", "h100-sxm", "--workload", k_small, "--out", small.string()}).code == 0);
  std::ifstream f(small);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // A + B + C = 3 x 1024^2 x 2 B = 6291456 B of activations.
  CHECK_THAT(text, Catch::Contains(".resident weights=0 gradients=0 optimizer=0 activations=6291456 kv_cache=0\n"));

  const auto e = run_cli({"run", "--hw", "h100-sxm", "--program", big.string()});
  CHECK(e.code == 2);
  CHECK_THAT(e.err, Catch::Contains("--program '" + big.string() + "' (workload '" + k_big + "') on 'h100-sxm': " +
                                    k_over));
  CHECK(e.out.empty());
  const auto allowed = run_cli({"run", "--hw", "h100-sxm", "--program", big.string(), "--set",
                                "engine.allow_over_capacity=1", "--format", "json"});
  CHECK(allowed.code == 0);
  CHECK_THAT(allowed.out, Catch::Contains("\"fits\": false"));
  const auto ok = run_cli({"run", "--hw", "h100-sxm", "--program", small.string(), "--format", "json"});
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("\"activations_bytes\": 6291456.0"));

  // A bad .resident line is refused with its line and field.
  const auto bad = write_temp("bad.tsa", ".program target=\"tensorcore\" hardware=\"h100-sxm\" workload=\"x\"\n"
                                         ".resident weights=-1\n");
  const auto b = run_cli({"run", "--hw", "h100-sxm", "--program", bad.string()});
  CHECK(b.code == 2);
  CHECK_THAT(b.err, Catch::Contains("weights = -1 must be a finite number of bytes >= 0"));
}

TEST_CASE("sweep: an over-capacity point is an error with the message, the others run", "[capacity][sweep]") {
  const auto spec = write_temp("sweep.yaml", "hw: h100-sxm\nworkload: [\"" + k_small + "\", \"" + k_big +
                                                 "\"]\nengine: analytic\nmetrics: [time_s]\n");
  const auto db = temp_path("sweep.db");
  std::filesystem::remove(db);
  const auto r = run_cli({"sweep", spec.string(), "--out", db.string(), "--jobs", "1"});
  CHECK(r.code == 0);
  const auto rep = run_cli({"sweep", "report", db.string(), "--format", "json"});
  REQUIRE(rep.code == 0);
  CHECK_THAT(rep.out, Catch::Contains("\"status\": \"error\""));
  CHECK_THAT(rep.out, Catch::Contains("workload '" + k_big + "' on 'h100-sxm': " + k_over));
  CHECK_THAT(rep.out, Catch::Contains("\"status\": \"ok\""));
}

TEST_CASE("compare: a record whose workload cannot fit is skipped with the reason", "[capacity][compare]") {
  // index_select from a 1 TiB bf16 table: more than an H100 holds.
  const auto rec = write_temp(
      "records.jsonl",
      "{\"section\": \"hbmpat\", \"op\": \"gather\", \"pattern\": \"random\", \"row_bytes\": 256, "
      "\"rows_gathered\": 1000, \"table_bytes\": 1099511627776, \"median_ms\": 0.01}\n"
      "{\"section\": \"hbmpat\", \"op\": \"gather\", \"pattern\": \"random\", \"row_bytes\": 256, "
      "\"rows_gathered\": 1000, \"table_bytes\": 1048576, \"median_ms\": 0.01}\n");
  const auto r = run_cli({"compare", "--hw", "h100-sxm", "--measured", rec.string(), "--format", "json"});
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("\"skipped\": \"workload 'gather:table_bytes=1099511627776,row_bytes=256,"
                                    "rows=1000,pattern=random': 1 TiB must stay resident"));
  CHECK_THAT(r.out, Catch::Contains("holds 79.18 GiB"));
  CHECK_THAT(r.out, Catch::Contains("\"predicted_value\""));  // the record that fits is predicted
}
