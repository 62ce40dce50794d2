// Device memory capacity (sim/engines/capacity.h): the footprint of what a run
// keeps resident, and the error (or, when allowed, the warning) above capacity.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/capacity.h"
#include "sim/engines/parallel.h"
#include "workloads/workloads.h"

using namespace tessera;

TEST_CASE("footprint: weights, gradients, optimizer state, activations, KV cache", "[capacity]") {
  // A GEMM kernel: no parameters; its working set is A + B + C = 3 x 1024^2 bf16.
  const Footprint gemm = graph_footprint(build_workload("gemm:m=1024,n=1024,k=1024"));
  CHECK(gemm.weights == 0);
  CHECK(gemm.activations == 3.0 * 1024 * 1024 * 2);
  CHECK(gemm.kv_cache == 0);
  // GPT-2 small training with torch.optim.AdamW in bf16: weights and gradients 2 B
  // per parameter, optimizer state exp_avg + exp_avg_sq in the parameters' bf16,
  // 2 + 2 B per parameter (no master copy in torch.optim).
  const Graph g = build_workload("gpt2-small:batch=1,seq=128,train=1");
  const double params = g.info.at("params_trained");
  const Footprint t = graph_footprint(g);
  CHECK(t.weights == 2 * params);
  CHECK(t.gradients == 2 * params);
  CHECK(t.optimizer == 4 * params);
  CHECK(t.activations > 0);
  // In fp32: 4 + 4 B per parameter; SGD with momentum: one buffer, 4 B.
  const Graph g32 = build_workload("gpt2-small:batch=1,seq=128,train=1,dtype=fp32");
  CHECK(graph_footprint(g32).optimizer == 8 * params);
  const Graph m32 = build_workload("gpt2-small:batch=1,seq=128,train=1,dtype=fp32,optimizer=sgd_momentum");
  CHECK(graph_footprint(m32).optimizer == 4 * params);
  // Inference keeps no gradients or optimizer state, and far fewer activations.
  const Footprint inf = graph_footprint(build_workload("gpt2-small:batch=1,seq=128"));
  CHECK(inf.weights == t.weights);
  CHECK(inf.gradients + inf.optimizer == 0);
  CHECK(inf.activations < t.activations / 10);
  // A Llama-7B decode step with a dynamic cache of 2048 tokens: K and V of 32
  // layers x 32 KV heads x (2048 + 1) positions x 128 x 2 B = 1.0005 GiB.
  const Footprint dec = graph_footprint(build_workload("llama-7b:phase=decode,batch=1,ctx=2048"));
  CHECK(dec.kv_cache == 2.0 * 32 * 32 * 2049 * 128 * 2);
}

TEST_CASE("over capacity: an error naming the device, breakdown and capacity, unless allowed", "[capacity]") {
  const auto hw = load_hardware("h100-sxm", {});
  // Llama 70B in bf16: 128 GiB of weights on an H100 SXM, whose CUDA-visible 85,017,493,504 B are 79.18 GiB.
  const Footprint f = graph_footprint(build_workload("llama-70b:batch=1,seq=16"));
  CHECK(f.weights > hw->outermost_memory().capacity_bytes());
  REQUIRE_THROWS_AS(check_capacity(f, *hw, "device 'h100-sxm'", false), InputError);
  REQUIRE_THROWS_WITH(check_capacity(f, *hw, "device 'h100-sxm'", false),
                      Catch::Contains("device 'h100-sxm'") && Catch::Contains("weights 128 GiB") &&
                          Catch::Contains("KV cache") && Catch::Contains("79.18 GiB") &&
                          Catch::Contains("engine.allow_over_capacity=1"));
  CHECK_NOTHROW(check_capacity(f, *hw, "device 'h100-sxm'", true));
  CHECK_FALSE(footprint_json(f, *hw)["fits"].get<bool>());
  // A model that fits passes.
  CHECK_NOTHROW(check_capacity(graph_footprint(build_workload("gpt2-small:batch=1,seq=128")), *hw, "x", false));
}

TEST_CASE("parallel runs check every pipeline position", "[capacity][parallel]") {
  const auto hw = load_hardware("dgx-h100", {});
  // GPT-3 175B trained with tp=8 on one DGX: 175e9 x (2 + 2 + 12) B / 8 = 350 GB per GPU.
  const Graph g = build_workload("gpt3-175b:batch=1,seq=2048,layers=96,tp=8,train=1");
  REQUIRE_THROWS_WITH(simulate_parallel(g, *hw, "analytic"),
                      Catch::Contains("pipeline position 0") && Catch::Contains("optimizer state") &&
                          Catch::Contains("79.18 GiB"));
  const RunResult r = simulate_parallel(g, *hw, "analytic", true);
  CHECK_FALSE(r.extra["parallel"]["memory_fits"].get<bool>());
  CHECK(r.extra["parallel"]["roles"][0]["memory"]["optimizer_bytes"].get<double>() ==
        Approx(12 * 175e9 / 8).epsilon(0.01));
}
