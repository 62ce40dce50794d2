// `tessera compare`: a warning when the records were measured on another device
// than --hw, exit 2 on an empty or unreadable file, a summary line per section first.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "sim/tools/compare.h"
#include "tests/support/cli_run.h"

using namespace tessera;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST_CASE("compare warns when the records' device is not --hw", "[compare]") {
  const std::vector<json> h100 = {json{{"section", "info"}, {"name", "NVIDIA H100 80GB HBM3"}}};
  CHECK(device_warnings(h100, "h100-sxm").empty());
  CHECK(device_warnings(h100, "tpu-v1") ==
        std::vector<std::string>{"the records were measured on 'NVIDIA H100 80GB HBM3' but --hw is 'tpu-v1': the "
                                 "errors compare different devices"});
  // A record's own `device` field; the models are compared (a100 vs h200).
  const std::vector<json> a100 = {json{{"section", "gemm"}, {"device", "A100 80GB SXM"}}};
  CHECK(device_warnings(a100, "a100-80gb").empty());
  CHECK(device_warnings(a100, "h200") ==
        std::vector<std::string>{"the records were measured on 'A100 80GB SXM' but --hw is 'h200' (a100 vs h200): "
                                 "the errors compare different devices"});
  // No device named: nothing to compare, no warning.
  CHECK(device_warnings({json{{"section", "gemm"}}}, "tpu-v1").empty());

  // a100-80gb: tpu-v1 would refuse the H100's bf16/fp8 records (its PEs run int8).
  const auto r = testing::run_cli({"compare", "--hw", "a100-80gb", "--measured",
                                   std::string(TESSERA_SHARED_DIR) + "/reference/h100/microbench.jsonl"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\nwarning: the records were measured on 'NVIDIA H100 80GB HBM3' but --hw is 'a100-80gb' (h100 vs a100)") !=
        std::string::npos);
}

TEST_CASE("compare prints one summary line per section before the records", "[compare]") {
  const std::string file = std::string(TESSERA_SOURCE_DIR) + "/tests/gpu/data/h100_attention_fwd_fa3_paper.jsonl";
  const auto r = testing::run_cli({"compare", "--hw", "h100-sxm", "--measured", file});
  REQUIRE(r.code == 0);
  const auto j = testing::run_cli({"compare", "--hw", "h100-sxm", "--measured", file, "--format", "json"});
  const json s = json::parse(j.out)["sections"]["attn"];
  const std::string line = "\nattn       " + std::to_string(s["count"].get<int>()) + " records, MAPE ";
  const size_t summary = r.out.find(line);
  REQUIRE(summary != std::string::npos);
  CHECK(summary < r.out.find("  attn "));   // before the first record line
  CHECK(r.out.find("warning") == std::string::npos);   // no device named in these records
}

TEST_CASE("compare fails with exit 2 on an empty or unreadable file", "[compare]") {
  const fs::path dir = fs::temp_directory_path() / "tessera_test_compare";
  fs::create_directories(dir);
  const std::string empty = (dir / "empty.jsonl").string();
  std::ofstream(empty) << "\n  \n";
  auto r = testing::run_cli({"compare", "--hw", "h100-sxm", "--measured", empty});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("--measured '" + empty + "': no records (the file is empty)") != std::string::npos);
  r = testing::run_cli({"compare", "--hw", "h100-sxm", "--measured", (dir / "missing.jsonl").string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("missing.jsonl': cannot open the file") != std::string::npos);
  r = testing::run_cli({"compare", "--hw", "h100-sxm", "--measured", dir.string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("is a directory") != std::string::npos);
  fs::remove_all(dir);
}
