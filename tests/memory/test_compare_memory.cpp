// compare on memory records: the shared H100 membw records within their bounds
// (from the DRAM cycle model's characterisation, nothing fitted for the HBM
// efficiency), and the hbmpat / l2sweep sections on records written here (no such
// measurements are in shared/).
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "models/hardware.h"
#include "models/memory/hbm.h"
#include "sim/tools/compare.h"

using namespace tessera;
using nlohmann::json;

namespace {

const std::filesystem::path k_ref = std::filesystem::path(TESSERA_SHARED_DIR) / "reference/h100/microbench.jsonl";

CompareRow row(const json& r, const Hardware& hw) { return compare_record(r, hw); }

}  // namespace

TEST_CASE("H100 membw: copies >= 64 MiB within 5 %, reads >= 1 GiB within 10 %", "[memory][compare]") {
  // Tolerances: the accuracy targets. read_sum at 64-256 MiB is not held to
  // 10 %: torch's reduction adds ~11 us that is not memory time (docs/memory.md).
  REQUIRE(std::filesystem::exists(k_ref));
  const auto hw = load_hardware("h100-sxm", {});
  double copy_abs = 0;
  int copies = 0, reads = 0;
  for (const json& r : read_jsonl(k_ref.string())) {
    if (r.value("section", "") != "membw" || r.value("l2", "cold") != "cold") continue;
    const double bytes = r.value("bytes_moved", 0.0);
    const CompareRow c = row(r, *hw);
    REQUIRE_FALSE(c.skipped);
    INFO(r.dump());
    if (r["op"] == "copy" && bytes >= 64.0 * 1024 * 1024) {
      copy_abs += std::abs(c.error());
      ++copies;
      CHECK(std::abs(c.error()) < 0.05);
    }
    if (r["op"] == "read_sum_fp32" && bytes >= 1024.0 * 1024 * 1024) {
      ++reads;
      CHECK(std::abs(c.error()) < 0.10);
    }
  }
  CHECK(copies == 6);
  CHECK(reads == 2);
  CHECK(copy_abs / copies < 0.02);  // MAPE 1.1 % measured
}

TEST_CASE("a wrong refresh mode or residual breaks the membw accuracy", "[memory][compare]") {
  // The one modelling choice (all-bank refresh) and the residual matter: per-bank
  // refresh predicts 99.5 % streaming and the 8 GiB copy ~9 % too fast.
  REQUIRE(std::filesystem::exists(k_ref));
  json copy8;
  for (const json& r : read_jsonl(k_ref.string()))
    if (r.value("section", "") == "membw" && r.value("op", "") == "copy" && r.value("l2", "") == "cold" &&
        r.value("bytes_moved", 0.0) > 8e9)
      copy8 = r;
  REQUIRE(!copy8.is_null());
  const auto good = load_hardware("h100-sxm", {});
  const auto pb = load_hardware("h100-sxm", {"memory.dram.refresh=per-bank"});
  const auto res = load_hardware("h100-sxm", {"memory.dram.read_residual=0.9"});
  CHECK(std::abs(row(copy8, *good).error()) < 0.02);
  CHECK(row(copy8, *pb).error() < -0.07);
  CHECK(row(copy8, *res).error() > 0.04);
}

TEST_CASE("hbmpat gather: small random rows cost more per byte than large ones", "[memory][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  auto gather = [&](double row_bytes, const char* pattern) {
    const double rows = (256.0 * 1024 * 1024) / row_bytes;  // 256 MiB gathered from a 4 GiB table
    const json r = {{"section", "hbmpat"}, {"op", "gather"}, {"pattern", pattern}, {"row_bytes", row_bytes},
                    {"rows_gathered", rows}, {"table_bytes", 4.0 * 1024 * 1024 * 1024},
                    {"bytes_moved", 2 * rows * row_bytes}, {"median_ms", 1.0}};
    const CompareRow c = row(r, *hw);
    REQUIRE_FALSE(c.skipped);
    return c.record["predicted_value"].get<double>();
  };
  const double r32 = gather(32, "random"), r4k = gather(4096, "random"), s32 = gather(32, "sequential");
  // Random 32 B rows: one activate per sector, bound by nFAW (~34 % of streaming);
  // 4 KiB rows read four 1 KiB DRAM rows whole (mapping RoBaSiBgChPcCo: ~76 %).
  CHECK(r32 > 1.6 * r4k);  // 0.346 vs 0.198 ms: the streamed output write narrows the read ratio
  CHECK(s32 < r4k);
  CHECK(s32 > 0.6 * r4k);
  CHECK(gather(64, "random") < r32);
}

TEST_CASE("hbmpat strided reads: one 32 B sector per element beyond a sector of stride", "[memory][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  auto strided = [&](double stride) {
    const double elems = 16.0 * 1024 * 1024;
    const json r = {{"section", "hbmpat"}, {"op", "strided_read_sum_fp32"}, {"stride_elems", stride},
                    {"elems", elems}, {"median_ms", 1.0}};
    return row(r, *hw).record["predicted_value"].get<double>();
  };
  // Stride 1 and 8 read 64 MiB and 512 MiB of contiguous data; stride 8 (32 B) and
  // 64 both move one sector per element, but stride 64 opens a DRAM row every few
  // sectors.
  // (stride 1: 4.5 us launch + 4.5 us memset launch + 64 MiB at ~3 TB/s ~ 31.6 us;
  // stride 8: ~186 us.)
  CHECK(strided(8) > 5.5 * strided(1));
  CHECK(strided(64) > strided(8));
}

TEST_CASE("l2sweep: the 20 sums fall off a cliff when the working set leaves the L2", "[memory][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  auto sweep = [&](double ws) {
    const json r = {{"section", "l2sweep"}, {"op", "read_sum_fp32_x20"}, {"working_set_bytes", ws}, {"median_ms", 1.0}};
    const CompareRow c = row(r, *hw);
    REQUIRE_FALSE(c.skipped);
    return c.record["predicted_value"].get<double>() / ws;
  };
  const double mib = 1024.0 * 1024;
  // 50 MiB L2 in two partitions: 24 MiB stays near; 48 MiB stays resident but half
  // of it comes over the partition crossbar; 52 MiB does not stay (every sum from HBM).
  CHECK(sweep(48 * mib) > 1.2 * sweep(24 * mib));  // 4.9 vs 3.9 ps/B: fixed kernel costs weigh more at 24 MiB
  CHECK(sweep(52 * mib) > 1.2 * sweep(48 * mib));
  CHECK(sweep(200 * mib) == Approx(sweep(400 * mib)).epsilon(0.15));
  const json bad = {{"section", "l2sweep"}, {"op", "write_x20"}, {"working_set_bytes", 1e6}, {"median_ms", 1.0}};
  const CompareRow c = row(bad, *hw);
  CHECK(c.skipped);
  CHECK(c.reason == "l2sweep op 'write_x20' is not modelled");
}
