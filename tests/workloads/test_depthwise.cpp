// Depthwise convolutions (compiler/tensorcore/conv_depthwise.cpp) and the
// mobilenet_v2 built-in that uses them.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "workloads/workloads.h"
#include "tests/support/cli_run.h"

using namespace tessera;

TEST_CASE("mobilenet_v2: torchvision's parameters and its 17 depthwise convolutions", "[workloads][depthwise]") {
  const Graph g = build_workload("mobilenet_v2:batch=2,image=224,dtype=bf16");
  // sum(p.numel() for p in torchvision.models.mobilenet_v2().parameters())
  CHECK(g.info.at("params") == 3504872);
  int depthwise = 0, convs = 0;
  for (const auto& op : g.ops) {
    if (op.kind != OpKind::conv2d) continue;
    ++convs;
    depthwise += op.get("groups", 1) == op.at("cin") && op.at("cin") > 1 ? 1 : 0;
  }
  // The stem, 17 blocks (16 with a 1x1 expansion: 3 convs, the first: 2), the 1x1 to 1280.
  CHECK(convs == 1 + 16 * 3 + 2 + 1);
  CHECK(depthwise == 17);
}

TEST_CASE("a depthwise convolution is a memory-bound CUDA-core kernel, every pass", "[gpu][depthwise]") {
  const std::string spec = "conv2d:n=32,cin=96,cout=96,h=112,w=112,r=3,s=3,stride=2,pad=1,groups=96,dtype=bf16";
  const auto o = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", spec, "--format", "json"});
  REQUIRE(o.code == 0);
  const auto op = nlohmann::json::parse(o.out)["ops"][0];
  // Input 32 x 96 x 112 x 112 = 38,535,168, weights 96 x 9 = 864, output
  // 32 x 96 x 56 x 56 = 9,633,792 elements, 2 bytes each: 96,339,648 bytes.
  CHECK(op["bytes"].get<double>() == 96339648.0);
  CHECK(op["bound"] == "memory:dram");
  CHECK(op["mapping"].get<std::string>().rfind("depthwise forward (conv_depthwise2d / cuDNN depthwise)", 0) == 0);
  // 9,633,792 outputs x 9 taps = 86,704,128 fp32 FMAs on 132 SMs x 128 lanes at
  // 1.98 GHz: 2.5917 us (the lane operations are whole per SM and stage: 1e-4),
  // well under the memory time.
  CHECK(op["compute_s"].get<double>() == Approx(86704128.0 / (132.0 * 128 * 1.98e9)).epsilon(1e-4));
  CHECK(op["memory_s"].get<double>() > 10 * op["compute_s"].get<double>());
  // Training: the data and weight gradients take PyTorch's depthwise kernels too.
  const auto t = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", spec + ",train=1", "--format", "json"});
  REQUIRE(t.code == 0);
  const auto ops = nlohmann::json::parse(t.out)["ops"];
  REQUIRE(ops.size() == 3);
  CHECK(ops[1]["mapping"].get<std::string>().rfind("depthwise data gradient", 0) == 0);
  CHECK(ops[2]["mapping"].get<std::string>().rfind("depthwise weight gradient", 0) == 0);
  // A grouped convolution with several channels per group stays a GEMM per group.
  const auto gr = testing::run_cli({"run", "--hw", "h100-sxm", "--workload",
                                    "conv2d:n=8,cin=128,cout=128,h=28,w=28,r=3,s=3,stride=1,pad=1,groups=32,dtype=bf16",
                                    "--format", "json"});
  REQUIRE(gr.code == 0);
  CHECK(nlohmann::json::parse(gr.out)["ops"][0]["mapping"].get<std::string>().find("depthwise") == std::string::npos);
}
