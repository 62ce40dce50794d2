// `run --format scalesim`: SCALE-Sim v2's own report files, byte for byte, with
// its DRAM columns from the replay of its buffers (compute.dram_model auto); where
// the DRAM figures are Tessera's closed form the headers say so.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/cli_run.h"

namespace fs = std::filesystem;

namespace {

const fs::path kScaleSim = fs::path(TESSERA_SHARED_DIR) / "peer-data" / "scale-sim";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

tessera::testing::CliOutcome run_scalesim(const fs::path& out, std::vector<std::string> sets) {
  std::vector<std::string> args = {"run", "--hw", (kScaleSim / "configs" / "scale.cfg").string(), "--workload",
                                   (kScaleSim / "topologies" / "conv_nets" / "alexnet_part.csv").string(),
                                   "--format", "scalesim", "--out", out.string()};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return tessera::testing::run_cli(args);
}

}  // namespace

TEST_CASE("run with format scalesim reproduces SCALE-Sim v2's reports byte for byte", "[scalesim][use]") {
  const fs::path dir = fs::temp_directory_path() / "tessera_test_scalesim_cli";
  fs::remove_all(dir);
  // golden-v2 is SCALE-Sim v2 on scale.cfg with the weight-stationary dataflow
  // over alexnet_part (DRAM IFMAP Reads 1805023, DRAM IFMAP Start Cycle -3243.0).
  const auto r = run_scalesim(dir / "ws", {"compute.dataflow=ws"});
  REQUIRE(r.code == 0);
  for (const char* f : {"COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"}) {
    INFO(f);
    CHECK(slurp(dir / "ws" / f) == slurp(kScaleSim / "golden-v2" / f));
  }
  // The closed form, selected: other DRAM figures, and every DRAM header says whose they are.
  REQUIRE(run_scalesim(dir / "analytic", {"compute.dataflow=ws", "compute.dram_model=analytic"}).code == 0);
  const std::string detail = slurp(dir / "analytic" / "DETAILED_ACCESS_REPORT.csv");
  CHECK(detail.find("DRAM IFMAP Reads [Tessera analytic]") != std::string::npos);
  CHECK(detail.find(", 1805023,") == std::string::npos);
  CHECK(slurp(dir / "analytic" / "BANDWIDTH_REPORT.csv").find("Avg IFMAP DRAM BW [Tessera analytic]") !=
        std::string::npos);
  // The SRAM and compute columns do not depend on the DRAM model.
  CHECK(slurp(dir / "analytic" / "COMPUTE_REPORT.csv") == slurp(kScaleSim / "golden-v2" / "COMPUTE_REPORT.csv"));
  fs::remove_all(dir);
}
