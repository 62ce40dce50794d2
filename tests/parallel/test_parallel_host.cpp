// PyTorch's host time on many devices: each device's passes wait on its own host
// timeline as on one device (sim/engines/parallel_parts.h, Simulator), by default
// (compute.host_mode=eager); none with host_mode=graph. The systemc engine charges
// the same (tests/parallel/test_systemc_host.cpp).
#include <catch2/catch.hpp>
#include <string>

#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

double iteration(const std::string& spec, const std::string& host_mode,
                 const std::string& engine = "analytic") {
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=2", "compute.host_mode=" + host_mode});
  return simulate_parallel(build_workload(spec), *hw, engine).time_s;
}

}  // namespace

TEST_CASE("parallel host time: a small tp=2 step is host-bound, a large one is not", "[parallel][host]") {
  // GPT h=256, 2 layers, 64 tokens on 2 H100s: ~190 kernels of 2-15 us each, while
  // PyTorch spends 7-25 us of host time per op (docs/gpu-model.md, Host time): the
  // GPU waits for the host, and the iteration takes 1.867 ms against 784 us without
  // host time (a CUDA-graph replay). Bound: more than twice.
  const std::string small = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1";
  const double eager = iteration(small, "eager"), graph = iteration(small, "graph");
  CHECK(eager > 2 * graph);
  // The default is eager, as on one device.
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=2"});
  CHECK(simulate_parallel(build_workload(small), *hw, "analytic").time_s == eager);
  // h=2048, 2048 tokens: kernels of hundreds of us hide the host's per-op time;
  // the iteration changes by less than 3 % (8.960 vs 8.752 ms: the first launch
  // and the last op's host time of each pass, and the further launches of the
  // multi-kernel ops, ~80 x 2.6 us on the critical path, which a graph starts at
  // the queued gap instead of the host's pace).
  const std::string large = "gpt:layers=2,hidden=2048,heads=16,seq=2048,vocab=50304,tp=2,train=1";
  const double le = iteration(large, "eager"), lg = iteration(large, "graph");
  CHECK(le >= lg);
  CHECK(le < 1.03 * lg);
  // The systemc engine charges the same: each rank of its multi-rank passes has
  // its own host (rounding of its 1 ps time resolution aside).
  CHECK(iteration(small, "eager", "systemc") == Approx(eager).epsilon(1e-7));
}

TEST_CASE("parallel host time: decode over a static KV cache is a CUDA-graph replay on every device",
          "[parallel][host]") {
  // llama-7b decode, 2 layers, tp=2: with the static cache (the default) the step
  // is replayed as a CUDA graph (graph info host_hidden), so eager equals graph
  // (444.6 us); Hugging Face's DynamicCache is eager PyTorch, host-bound here
  // (957 us against 440.9 us).
  const std::string spec = "llama-7b:phase=decode,ctx=512,batch=1,layers=2,tp=2";
  CHECK(iteration(spec, "eager") == iteration(spec, "graph"));
  CHECK(iteration(spec + ",kv_cache=dynamic", "eager") > 2 * iteration(spec + ",kv_cache=dynamic", "graph"));
}
