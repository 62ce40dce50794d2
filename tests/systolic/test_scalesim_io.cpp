// SCALE-Sim .cfg and topology parsing, and rejection of malformed input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include "models/systolic/systolic.h"
#include "core/error.h"

using namespace tessera::systolic;

namespace {

const std::filesystem::path kScaleSimIo =
    std::filesystem::path(TESSERA_SHARED_DIR) / "peer-data" / "scale-sim";

std::filesystem::path write_tmp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("tessera_systolic_" + name);
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tessera::InputError& e) {
    return e.what();
  }
  return "<no InputError>";
}

const char* const kScaleCfgHead =
    "[general]\nrun_name = t\n\n[architecture_presets]\nArrayHeight: 8\nArrayWidth: 4\n"
    "IfmapSramSzkB: 2\nFilterSramSzkB: 3\nOfmapSramSzkB: 1\nIfmapOffset: 0\n"
    "FilterOffset: 10000000\nOfmapOffset: 20000000\n";

}  // namespace

TEST_CASE("shipped SCALE-Sim configs", "[systolic][io]") {
  const ScaleSimConfig s = parse_scalesim_cfg(kScaleSimIo / "configs" / "scale.cfg");
  CHECK(s.run_name == "scale_example_run_32x32_os");
  CHECK(s.array.rows == 32);
  CHECK(s.array.cols == 32);
  CHECK(s.array.ifmap_sram_bytes == 64 * 1024);
  CHECK(s.array.filter_sram_bytes == 64 * 1024);
  CHECK(s.array.ofmap_sram_bytes == 64 * 1024);
  CHECK(s.array.dataflow == Dataflow::os);
  CHECK(s.array.bandwidth_mode == BandwidthMode::calc);
  CHECK(s.filter_offset == 10000000);
  CHECK(s.ofmap_offset == 20000000);
  const ScaleSimConfig g = parse_scalesim_cfg(kScaleSimIo / "configs" / "google.cfg");
  CHECK(g.array.rows == 256);
  CHECK(g.array.ifmap_sram_bytes == 6144 * 1024);
  CHECK(g.array.ofmap_sram_bytes == 2048 * 1024);
  CHECK(g.array.dataflow == Dataflow::ws);
  const ScaleSimConfig e = parse_scalesim_cfg(kScaleSimIo / "configs" / "eyeriss.cfg");
  CHECK(e.array.rows == 12);
  CHECK(e.array.cols == 14);
  CHECK(e.array.ifmap_sram_bytes == 36 * 1024);
}

TEST_CASE("USER mode config reads Bandwidth per bank", "[systolic][io]") {
  const auto p = write_tmp("user.cfg", std::string(kScaleCfgHead) +
                                           "Dataflow : is\nBandwidth : 16\nMemoryBanks: 1\n"
                                           "[run_presets]\nInterfaceBandwidth: USER\n");
  const ScaleSimConfig c = parse_scalesim_cfg(p);
  CHECK(c.array.bandwidth_mode == BandwidthMode::user);
  CHECK(c.array.dram_words_per_cycle == 16);
  CHECK(c.array.dataflow == Dataflow::is);
  CHECK(c.array.ifmap_sram_bytes == 2048);
  CHECK(c.array.filter_sram_bytes == 3072);
}

TEST_CASE("malformed configs name file, line, key, value and what is accepted", "[systolic][io]") {
  const std::string run = "[run_presets]\nInterfaceBandwidth: CALC\n";
  auto p = write_tmp("df.cfg", std::string(kScaleCfgHead) + "Dataflow : xs\n" + run);
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() + ":13: key 'Dataflow' has value 'xs' (expected os, ws or is)");
  p = write_tmp("mode.cfg", std::string(kScaleCfgHead) +
                                "Dataflow : ws\n[run_presets]\nInterfaceBandwidth: FAST\n");
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() + ":15: key 'InterfaceBandwidth' has value 'FAST' (expected USER or CALC)");
  p = write_tmp("rows.cfg", "[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: 0\n" + run);
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() + ":4: key 'ArrayHeight' has value '0' (expected an integer 1..2^40)");
  p = write_tmp("missing.cfg", "[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: 4\n" + run);
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() + ": section [architecture_presets] lacks required key 'ArrayWidth'");
  p = write_tmp("user_nobw.cfg", std::string(kScaleCfgHead) +
                                     "Dataflow : ws\n[run_presets]\nInterfaceBandwidth: USER\n");
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() +
            ": section [architecture_presets] lacks key 'Bandwidth' (required when "
            "InterfaceBandwidth is USER)");
  p = write_tmp("nokv.cfg", "[general]\nrun_name\n");
  CHECK(error_of([&] { parse_scalesim_cfg(p); }) ==
        p.string() + ":2: line 'run_name' is not 'key = value' or 'key : value'");
}

TEST_CASE("topology forms: conv with trailing commas, GEMM, depthwise", "[systolic][io]") {
  auto p = write_tmp("conv.csv",
                     "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                     "Channels, Num Filter, Strides,\r\n\r\nC1, 10, 12, 3, 3, 2, 4, 2,\r\n"
                     "C2,8,8,2,2,1,1,1,2,\r\nDP3, 6, 6, 3, 3, 3, 1, 1,\r\n");
  const auto layers = parse_scalesim_topology(p);
  REQUIRE(layers.size() == 5);
  CHECK(layers[0].name == "C1");
  CHECK(layers[0].stride_w == 2);  // single stride applies to both directions
  CHECK(layers[0].ofmap_h() == 5);  // ceil((10 - 3 + 2) / 2)
  CHECK(layers[1].stride_h == 1);
  CHECK(layers[1].stride_w == 2);
  CHECK(layers[2].name == "DP3Channel_0");
  CHECK(layers[4].name == "DP3Channel_2");
  CHECK(layers[4].channels == 1);
  p = write_tmp("gemm.csv", "Layer, M, N, K,\nQKT, 1024, 1024, 64,\n");
  const auto g = parse_scalesim_topology(p);
  REQUIRE(g.size() == 1);
  // GEMM -> conv: ifmap M x K, filter 1 x K, 1 channel, N filters.
  CHECK(g[0].ifmap_h == 1024);
  CHECK(g[0].ifmap_w == 64);
  CHECK(g[0].filter_w == 64);
  CHECK(g[0].num_filters == 1024);
  CHECK(g[0].ofmap_pixels() == 1024);
  CHECK(g[0].window() == 64);
}

TEST_CASE("malformed topologies: exact messages", "[systolic][io]") {
  const std::string head =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num "
      "Filter, Strides,\n";
  auto p = write_tmp("t1.csv", head + "L, 1, B, 1, 1, H, H, 1,\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ":2: field 3 (IFMAP Width) is 'B' (expected an integer)");
  p = write_tmp("t2.csv", head + "Conv11,270,512,1,1,256,256,1\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() +
            ":2: conv row needs 'name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
            "Channels, Num Filter, Strides,' (8 comma-terminated fields): "
            "'Conv11,270,512,1,1,256,256,1'");
  p = write_tmp("t3.csv", head + "Conv1,224,224,7,7,3,64,2,,,110,110,12100\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ":2: field 9 (Stride Width) is '' (expected an integer)");
  p = write_tmp("t4.csv", head + "L, 4, 4, 5, 1, 1, 1, 1,\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ":2: Filter Height 5 is larger than IFMAP Height 4 (expected filter <= ifmap)");
  p = write_tmp("t5.csv", head + "L, 4, 4, 1, 1, 1, 0, 1,\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ":2: field 7 (Num Filter) is 0 (expected an integer >= 1)");
  p = write_tmp("t6.csv", "Layer, M, N, K,\nG, 4, 4,\n");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ":2: GEMM row needs 'name, M, N, K,' (4 comma-terminated fields): 'G, 4, 4,'");
  p = write_tmp("t7.csv", head);
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ": no layers after the header line (expected at least one row)");
  p = write_tmp("t8.csv", "");
  CHECK(error_of([&] { parse_scalesim_topology(p); }) ==
        p.string() + ": the file is empty (expected a header line, then one layer per line)");
  const auto missing = std::filesystem::temp_directory_path() / "tessera_systolic_nope.csv";
  CHECK(error_of([&] { parse_scalesim_topology(missing); }) ==
        missing.string() + ": cannot open topology file (expected a readable SCALE-Sim topology)");
}

TEST_CASE("shipped topologies SCALE-Sim cannot load are rejected", "[systolic][io]") {
  // Each of these fails in SCALE-Sim v2's topology_utils (ValueError on a
  // non-integer or empty field, IndexError on a short row or a tab-separated file).
  const char* const rejected[] = {
      "CSV/LSTM.csv",                               "CSV/MLPERF.csv",
      "conv_nets/MobileNet_4k_non_dw.csv",          "conv_nets/Resnet50.csv",
      "conv_nets/UNet_maestro.csv",                 "conv_nets/mobilnet_4k.csv",
      "conv_nets/mobilnet_reduce_run.csv",          "mlperf/MLPERF.csv",
      "mlperf/NCF_recommendation.csv",              "mlperf/NCF_recommendation_short.csv",
      "mlperf/Sentimental_seqCNN.csv",              "mlperf/Sentimental_seqLSTM.csv",
      "mlperf/Transformer.csv",                     "mlperf/Transformer_short.csv",
      "mlperf/div256q/AlphaGoZero.csv",             "mlperf/div256q/NCF_recommendation_short.csv",
      "mlperf/div256q/Resnet50.csv",                "mlperf/div256q/Sentimental_seqCNN.csv",
      "mlperf/div256q/Sentimental_seqLSTM_short.csv", "mlperf/div256q/Transformer_short.csv",
      "mlperf/div64q/AlphaGoZero.csv",              "mlperf/div64q/NCF_recommendation_short.csv",
      "mlperf/div64q/Resnet50.csv",                 "mlperf/div64q/Sentimental_seqCNN.csv",
      "mlperf/div64q/Sentimental_seqLSTM_short.csv", "mlperf/div64q/Transformer_short.csv",
      "rnn_eval/LSTM_template.csv",
  };
  for (const char* rel : rejected) {
    INFO(rel);
    CHECK_THROWS_AS(parse_scalesim_topology(kScaleSimIo / "topologies" / rel), tessera::InputError);
  }
  // Every .csv shipped is either accepted (test_compute.cpp) or listed above.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kScaleSimIo / "topologies"))
    if (e.path().extension() == ".csv") ++files;
  CHECK(files == std::size(rejected) + 90);
}
