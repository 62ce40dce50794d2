// Compute and memory model vs SCALE-Sim v2.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/systolic/systolic.h"
#include "core/error.h"

using namespace tessera::systolic;

namespace {

const std::filesystem::path kScaleSim = std::filesystem::path(TESSERA_SHARED_DIR) /
                                        "peer-data" / "scale-sim";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

ArrayConfig scalesim_array(std::int64_t rows, std::int64_t cols, Dataflow df) {
  ArrayConfig a;
  a.rows = rows;
  a.cols = cols;
  a.dataflow = df;
  return a;
}

// Closed form written independently of the library from SCALE-Sim's demand
// matrices: per fold the ofmap demand matrix has
//   os: (T-1) prefix + R tile rows, skewed over C columns -> T + R + C - 2 rows
//   ws/is: (2R-1) prefix + T rows, skewed over C columns -> 2R + C + T - 2 rows
// and Total Cycles is the index of the last row: folds * rows_per_fold - 1.
std::int64_t scalesim_total_cycles(std::int64_t R, std::int64_t C, Dataflow df, const Layer& l) {
  const std::int64_t oh = (l.ifmap_h - l.filter_h + l.stride_h + l.stride_h - 1) / l.stride_h;
  const std::int64_t ow = (l.ifmap_w - l.filter_w + l.stride_w + l.stride_w - 1) / l.stride_w;
  const std::int64_t P = oh * ow, K = l.filter_h * l.filter_w * l.channels, N = l.num_filters;
  const auto cdiv = [](std::int64_t a, std::int64_t b) { return (a + b - 1) / b; };
  switch (df) {
    case Dataflow::os: return cdiv(P, R) * cdiv(N, C) * ((K - 1) + R + C - 1) - 1;
    case Dataflow::ws: return cdiv(K, R) * cdiv(N, C) * ((2 * R - 1) + P + C - 1) - 1;
    case Dataflow::is: return cdiv(K, R) * cdiv(P, C) * ((2 * R - 1) + N + C - 1) - 1;
  }
  return -1;
}

}  // namespace

TEST_CASE("ws fold arithmetic on a hand-sized layer", "[systolic][compute]") {
  // GEMM M=10, N=5, K=6 on a 4x4 weight-stationary array:
  //   Sr = K = 6 -> 2 row folds, Sc = N = 5 -> 2 column folds, T = M = 10.
  //   fold = weight load 4 + stream 10 + drain (4-1) + skew (4-1) = 2*4+4+10-2 = 20 lines
  //   total = 4 folds * 20 - 1 = 79 cycles
  const Layer l = Layer::from_gemm("g", 10, 5, 6);
  const LayerResult r = simulate_layer(scalesim_array(4, 4, Dataflow::ws), l);
  CHECK(r.compute_cycles == 79);
  CHECK(r.total_cycles == 79);
  CHECK(r.macs == 10 * 5 * 6);
  // Mapping: folds use 4x4, 4x1, 2x4, 2x1 PEs -> (16 + 4 + 8 + 2) / 4 / 16 = 46.875 %
  CHECK(r.mapping_efficiency == Approx(46.875).epsilon(1e-12));
  // Compute util: used * T / (16 * (2*4 + 2*4 + 10 - 3 = 23)) averaged:
  //   30 * 10 / (4 * 16 * 23) = 20.380434... %
  CHECK(r.compute_utilization == Approx(300.0 / (4 * 16 * 23) * 100).epsilon(1e-12));
  // Overall: 300 MACs / (79 cycles * 16 PEs) = 23.734... %
  CHECK(r.overall_utilization == Approx(300.0 / (79 * 16) * 100).epsilon(1e-12));
  // SRAM: ifmap read once per column fold (2 * 10 * 6), filter once (6 * 5),
  // partial sums written once per row fold (2 * 10 * 5).
  CHECK(r.ifmap_sram_reads == 120);
  CHECK(r.filter_sram_reads == 30);
  CHECK(r.ofmap_sram_writes == 100);
}

TEST_CASE("os and is fold arithmetic", "[systolic][compute]") {
  const Layer l = Layer::from_gemm("g", 10, 5, 6);
  // os: Sr = M = 10 -> 3 row folds, Sc = N = 5 -> 2 col folds, T = K = 6;
  //     fold = 6 + 4 + 4 - 2 = 12 lines; total = 6 * 12 - 1 = 71
  CHECK(simulate_layer(scalesim_array(4, 4, Dataflow::os), l).compute_cycles == 71);
  // is: Sr = K = 6 -> 2 row folds, Sc = M = 10 -> 3 col folds, T = N = 5;
  //     fold = 2*4 + 4 + 5 - 2 = 15 lines; total = 6 * 15 - 1 = 89
  CHECK(simulate_layer(scalesim_array(4, 4, Dataflow::is), l).compute_cycles == 89);
  // rtl_cycles: the same folds; os adds its final copy-out cycle.
  CHECK(rtl_cycles(4, 4, Dataflow::os, 10, 5, 6) == 6 * 12 + 1);
  CHECK(rtl_cycles(4, 4, Dataflow::ws, 10, 5, 6) == 4 * 20);
  CHECK(rtl_cycles(4, 4, Dataflow::is, 10, 5, 6) == 6 * 15);
}

TEST_CASE("golden: alexnet_part Conv1, scale.cfg with ws, CALC", "[systolic][golden]") {
  ScaleSimConfig cfg = parse_scalesim_cfg(kScaleSim / "configs" / "scale.cfg");
  cfg.array.dataflow = Dataflow::ws;
  cfg.array.dram_model = DramModel::scalesim_replay;
  const std::vector<Layer> layers =
      parse_scalesim_topology(kScaleSim / "topologies" / "conv_nets" / "alexnet_part.csv");
  REQUIRE(layers.size() == 1);
  const LayerResult r = simulate_layer(cfg.array, layers[0]);
  // 224x224 ifmap, 11x11x3 filter, stride 4 -> ofmap ceil(217/4) = 55 -> P = 3025;
  // K = 363 -> 12 row folds, N = 96 -> 3 col folds; fold = 64 + 32 + 3025 - 2 = 3119;
  // total = 36 * 3119 - 1 = 112283.
  CHECK(r.total_cycles == 112283);
  CHECK(r.stall_cycles == 0);
  CHECK(r.ifmap_dram_reads == 1805023);
  CHECK(r.filter_dram_reads == 34848);
  CHECK(r.ofmap_dram_writes == 3484831);

  const auto dir = std::filesystem::temp_directory_path() / "tessera_systolic_golden";
  std::filesystem::remove_all(dir);
  write_scalesim_reports(dir, layers, {r});
  for (const char* f : {"COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"}) {
    INFO(f);
    CHECK(slurp(dir / f) == slurp(kScaleSim / "golden-v2" / f));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("reference runs of SCALE-Sim v2, all report fields", "[systolic][scalesim]") {
  std::ifstream in(std::filesystem::path(SYSTOLIC_TEST_DATA) / "scalesim_reference.csv");
  REQUIRE(in);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto v = split_csv(line);
    REQUIRE(v.size() == 31);
    std::filesystem::path topo = v[0].rfind("tests/", 0) == 0
                                     ? std::filesystem::path(TESSERA_SOURCE_DIR) / v[0]
                                     : kScaleSim / "topologies" / v[0];
    const Layer layer = parse_scalesim_topology(topo).at(std::stoul(v[1]));
    ArrayConfig a = scalesim_array(std::stoll(v[3]), std::stoll(v[4]),
                                   v[2] == "os" ? Dataflow::os
                                   : v[2] == "ws" ? Dataflow::ws
                                                  : Dataflow::is);
    a.ifmap_sram_bytes = 1024 * std::stoll(v[5]);
    a.filter_sram_bytes = 1024 * std::stoll(v[6]);
    a.ofmap_sram_bytes = 1024 * std::stoll(v[7]);
    a.dram_model = DramModel::scalesim_replay;
    const LayerResult r = simulate_layer(a, layer);
    INFO(line);
    CHECK(r.total_cycles == std::stoll(v[8]));
    CHECK(r.compute_cycles == scalesim_total_cycles(a.rows, a.cols, a.dataflow, layer));
    CHECK(r.stall_cycles == std::stoll(v[9]));
    CHECK(r.overall_utilization == Approx(std::stod(v[10])).epsilon(1e-12));
    CHECK(r.mapping_efficiency == Approx(std::stod(v[11])).epsilon(1e-12));
    CHECK(r.compute_utilization == Approx(std::stod(v[12])).epsilon(1e-12));
    const double got[] = {r.ifmap_sram_start,  r.ifmap_sram_stop,
                          double(r.ifmap_sram_reads),
                          r.filter_sram_start, r.filter_sram_stop,
                          double(r.filter_sram_reads),
                          r.ofmap_sram_start,  r.ofmap_sram_stop,
                          double(r.ofmap_sram_writes),
                          r.ifmap_dram_start,  r.ifmap_dram_stop,
                          double(r.ifmap_dram_reads),
                          r.filter_dram_start, r.filter_dram_stop,
                          double(r.filter_dram_reads),
                          r.ofmap_dram_start,  r.ofmap_dram_stop,
                          double(r.ofmap_dram_writes)};
    for (int i = 0; i < 18; ++i) {
      INFO("detailed-report column " << i + 1);
      CHECK(got[i] == std::stod(v[13 + static_cast<std::size_t>(i)]));
    }
    ++checked;
  }
  CHECK(checked == 168);
}

TEST_CASE("every accepted shipped topology: Total Cycles for 4 shapes x 3 dataflows",
          "[systolic][scalesim]") {
  // Topology files SCALE-Sim v2 itself loads (checked with its own
  // topology_utils); the rejected ones are covered in test_scalesim_io.cpp.
  struct Accepted {
    const char* path;
    std::size_t layers;
  };
  const Accepted accepted[] = {
#include "data/accepted_topologies.inc"
  };
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{32, 32}, {8, 8}, {128, 128}, {16, 64}};
  int runs = 0;
  for (const auto& [rel, count] : accepted) {
    const std::vector<Layer> layers = parse_scalesim_topology(kScaleSim / "topologies" / rel);
    REQUIRE(layers.size() == count);
    for (const Layer& l : layers)
      for (auto [rows, cols] : shapes)
        for (Dataflow df : {Dataflow::os, Dataflow::ws, Dataflow::is}) {
          const LayerResult r = simulate_layer(scalesim_array(rows, cols, df), l);
          INFO(rel << " " << l.name << " " << rows << "x" << cols << " " << dataflow_name(df));
          REQUIRE(r.compute_cycles == scalesim_total_cycles(rows, cols, df, l));
          REQUIRE(r.total_cycles == r.compute_cycles);  // CALC mode never stalls
          ++runs;
        }
  }
  CHECK(runs > 10000);
}

TEST_CASE("cores split column folds and share the off-chip bandwidth", "[systolic][memory]") {
  const Layer l = Layer::from_gemm("g", 64, 256, 64);
  ArrayConfig a = scalesim_array(32, 32, Dataflow::ws);
  const LayerResult one = simulate_layer(a, l);
  a.cores = 4;
  const LayerResult four = simulate_layer(a, l);
  // ws: 2 row folds x 8 col folds, fold = 64 + 32 + 64 - 2 = 158 lines.
  // one core: 16 * 158 - 1 = 2527; four cores: 2 col folds each -> 4 * 158 - 1 = 631
  CHECK(one.compute_cycles == 2527);
  CHECK(four.compute_cycles == 631);
  CHECK(four.overall_utilization ==
        Approx(64.0 * 256 * 64 / (631.0 * 1024 * 4) * 100).epsilon(1e-12));
}

TEST_CASE("USER mode stalls when the next fold cannot be prefetched", "[systolic][memory]") {
  // ws GEMM M=64, N=64, K=64 on 32x32 with SRAMs too small to hold an operand
  // (1 KB each: halves of 512 words < 4096): every fold needs a new filter tile
  // of 32*32 = 1024 words and, when the row fold changes, an ifmap tile of
  // 64*32 = 2048 words. At 8 words/cycle: ifmap 256 cycles, filter 128 cycles;
  // a fold computes 64 + 32 + 64 - 2 = 158 cycles.
  //   fold order (fc, fr): (0,0) (0,1) (1,0) (1,1)
  //   fold 0 is prefetched before cycle 0;
  //   folds 1..3 each fetch a new ifmap tile (fr changes): 256 - 158 = 98 stall each
  //   stall = 3 * 98 = 294
  const Layer l = Layer::from_gemm("g", 64, 64, 64);
  ArrayConfig a = scalesim_array(32, 32, Dataflow::ws);
  a.ifmap_sram_bytes = a.filter_sram_bytes = a.ofmap_sram_bytes = 1024;
  a.bandwidth_mode = BandwidthMode::user;
  a.dram_words_per_cycle = 8;
  const LayerResult r = simulate_layer(a, l);
  CHECK(r.compute_cycles == 4 * 158 - 1);
  CHECK(r.stall_cycles == 294);
  CHECK(r.total_cycles == 4 * 158 - 1 + 294);
  // DRAM words: ifmap 4 tiles * 2048, filter 4 tiles * 1024; psums (64*32 = 2048
  // words) do not fit half of 1 KB -> every fold writes 2048.
  CHECK(r.ifmap_dram_reads == 4 * 2048);
  CHECK(r.filter_dram_reads == 4 * 1024);
  CHECK(r.ofmap_dram_writes == 4 * 2048);
  // Generous bandwidth and SRAM: no stalls, every operand fetched once.
  a.dram_words_per_cycle = 1000;
  a.ifmap_sram_bytes = a.filter_sram_bytes = a.ofmap_sram_bytes = 64 * 1024;
  const LayerResult fast = simulate_layer(a, l);
  CHECK(fast.stall_cycles == 0);
  CHECK(fast.ifmap_dram_reads == 64 * 64);
  CHECK(fast.filter_dram_reads == 64 * 64);
  CHECK(fast.ofmap_dram_writes == 64 * 64);
}
