#pragma once
// Helpers of the robustness suite: run the CLI in-process, write scratch files.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/cli_run.h"

namespace tessera::testing {

inline CliOutcome cli(std::vector<std::string> args) { return run_cli(std::move(args)); }

// A file with `content` in a per-test scratch directory; returns its path.
inline std::string scratch_file(const std::string& name, const std::string& content) {
  const auto dir = std::filesystem::temp_directory_path() / "tessera_robustness";
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

// Exit code 2 and a message on stderr that contains every one of `parts`.
inline void check_refused(const CliOutcome& o, const std::vector<std::string>& parts) {
  INFO("stderr: " << o.err << "\nstdout: " << o.out.substr(0, 400));
  CHECK(o.code == 2);
  CHECK(o.out.empty());
  for (const auto& p : parts) CHECK(o.err.find(p) != std::string::npos);
}

// Exit code 0 and a JSON report whose every time, energy and power is finite and
// positive (times and energies of ops finite and >= 0).
inline void check_finite_report(const CliOutcome& o) {
  INFO("stderr: " << o.err);
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(o.out);
  for (const char* key : {"time_s", "energy_j", "avg_power_w"}) {
    const double v = j[key].get<double>();
    CHECK(std::isfinite(v));
    CHECK(v > 0);
  }
  for (const auto& op : j["ops"])
    for (const char* key : {"time_s", "energy_j", "flops", "bytes"}) {
      const double v = op[key].get<double>();
      CHECK(std::isfinite(v));
      CHECK(v >= 0);
    }
}

}  // namespace tessera::testing
