// ddp=fsdp: PyTorch's FSDP2 (fully_shard on every layer and on the root module) as
// the multi-device graph runs it.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "tests/support/cli_run.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;
using tessera::testing::find_op;

namespace {

// gpt h = 1024, 16 heads, ffn 4096, seq 512, vocab 1024, 2 layers, dp 4, global
// batch 8 of microbatch 1: 2 microbatches.
const std::string k_spec =
    "gpt:layers=2,hidden=1024,heads=16,seq=512,vocab=1024,dp=4,global_batch=8,train=1,zero=3";

std::vector<std::string> names_with(const Graph& g, const std::string& part) {
  std::vector<std::string> out;
  for (const Op& op : g.ops)
    if (op.name.find(part) != std::string::npos) out.push_back(op.name);
  return out;
}

}  // namespace

TEST_CASE("ddp=fsdp: a gather and a copy-out per unit, a reduce-scatter per unit after its backward",
          "[parallel][fsdp]") {
  const Graph g = build_workload(k_spec + ",ddp=fsdp");
  // A layer: ln_1 2h = 2048; c_attn h x 3h + 3h = 3148800; c_proj h x h + h =
  // 1049600; ln_2 2048; c_fc h x 4h + 4h = 4198400; mlp c_proj 4h x h + h =
  // 4195328: 12596224 elements, 2 B each in bf16. The root (the ops outside the
  // layers): wte vocab x h = 1048576, wpe 512 x h = 524288, ln_f 2048, lm_head
  // h x vocab = 1048576: 2623488.
  const int64_t layer = 12596224, root = 2623488;
  // Forward: the root once, then each layer; backward: each layer again (the root
  // keeps its parameters from the forward: FSDP2 does not reshard the root).
  CHECK(names_with(g, "fsdp.gather_") ==
        std::vector<std::string>{"fsdp.gather_fwd.root", "fsdp.gather_fwd.l0", "fsdp.gather_fwd.l1",
                                 "fsdp.gather_bwd.l1", "fsdp.gather_bwd.l0"});
  CHECK(find_op(g, "fsdp.gather_fwd.root").at("bytes") == 2 * root);
  CHECK(find_op(g, "fsdp.gather_bwd.l0").at("bytes") == 2 * layer);
  // Each gather's copy-out (split_with_sizes_copy) reads and writes the unit on the
  // compute stream: one pass over its elements, inline.
  const Op& out = find_op(g, "fsdp.copy_out.gather_fwd.l1");
  CHECK(out.at("elems") == layer);
  CHECK(out.at("reads") == 1);
  CHECK(out.get("overlap", 0) == 0);
  // Gradients: the unit's copy-in, then its reduce-scatter on the communication
  // stream in every microbatch; the layers as their backward ends (l1 first), the
  // root (its head's gradients came first) last.
  CHECK(names_with(g, "fsdp.reduce_scatter") ==
        std::vector<std::string>{"fsdp.reduce_scatter.l1.copy_in", "fsdp.reduce_scatter.l1",
                                 "fsdp.reduce_scatter.l0.copy_in", "fsdp.reduce_scatter.l0",
                                 "fsdp.reduce_scatter.root.copy_in", "fsdp.reduce_scatter.root"});
  const Op& rs = find_op(g, "fsdp.reduce_scatter.l0");
  CHECK(rs.kind == OpKind::reducescatter);
  CHECK(rs.at("bytes") == 2 * layer);
  CHECK(rs.at("ranks") == 4);
  CHECK(rs.at("overlap") == 1);
  CHECK(rs.at("every_microbatch") == 1);
  CHECK(find_op(g, "fsdp.reduce_scatter.root").at("bytes") == 2 * root);
  // None of DDP's buckets and .grad copies, nor a parameter gather after the step.
  CHECK(names_with(g, "grad_bucket").empty());
  CHECK(names_with(g, "copy_bucket_to_grad").empty());
  CHECK(names_with(g, "accumulate_grad").empty());
  CHECK(names_with(g, "gather_params").empty());
  // grad_reduce=fp32 (MixedPrecisionPolicy reduce_dtype=float32): the copy-in
  // widens, the reduce-scatter moves 4 B per element.
  const Graph g32 = build_workload(k_spec + ",ddp=fsdp,grad_reduce=fp32");
  CHECK(find_op(g32, "fsdp.reduce_scatter.l0").at("bytes") == 4 * layer);
  CHECK(find_op(g32, "fsdp.reduce_scatter.l0.copy_in").out_dtype == DType::fp32);
}

TEST_CASE("ddp=fsdp moves the same gradient bytes as zero=3 and adds its copies", "[parallel][fsdp]") {
  // Megatron-core's zero=3 here reduce-scatters the same gradients in buckets
  // (every microbatch) and gathers the parameters per layer, and the ops outside
  // the layers (embeddings before them, ln_f and the head after) in the forward
  // and again in the backward; FSDP gathers that root once per forward and keeps
  // it. So the dp bytes differ by one gather of the root's 2623488 elements (2 B
  // each) per microbatch (2) and device (4), and FSDP adds its copy kernels,
  // time the GPUs spend.
  auto hw = load_hardware("dgx-a100", {"system.devices_per_node=4"});
  const RunResult m = simulate_parallel(build_workload(k_spec), *hw, "analytic");
  const RunResult f = simulate_parallel(build_workload(k_spec + ",ddp=fsdp"), *hw, "analytic");
  const double dm = m.extra["parallel"]["bytes_by_group"]["dp"].get<double>();
  const double df = f.extra["parallel"]["bytes_by_group"]["dp"].get<double>();
  CHECK(dm - df == Approx(4.0 * 2 * 2 * 2623488).epsilon(1e-12));
  // This small model is gather-bound on A100 NVLink, and FSDP2's forward prefetch
  // (two units ahead against Megatron-core's one; tests/parallel/test_prefetch.cpp)
  // and its root gathered once make it the faster (3.642 vs 3.668 ms). With links
  // 100 times faster the gathers hide and FSDP's copy kernels make it the slower.
  CHECK(f.time_s < m.time_s);
  auto fast = load_hardware("dgx-a100", {"system.devices_per_node=4", "fabric.nvlink.bandwidth=2500GB/s"});
  CHECK(simulate_parallel(build_workload(k_spec + ",ddp=fsdp"), *fast, "analytic").time_s >
        simulate_parallel(build_workload(k_spec), *fast, "analytic").time_s);
}

TEST_CASE("ddp=fsdp: the footprint holds two gathered layers, the root and a layer's unsharded gradients",
          "[parallel][fsdp]") {
  // The model: 2 layers of 12596224 elements and the root's 2623488 (above), its
  // shard 1/4 of each on dp 4. Gathered in flight: two layers (FSDP2's two
  // all-gather outputs) and the root, which stays gathered for the whole step; a
  // layer's unsharded bf16 gradients and its reduce-scatter input.
  const double layer = 12596224, root = 2623488, model = 2 * layer + root;
  const Graph g = build_workload(k_spec + ",ddp=fsdp");
  CHECK(g.info.at("device0.weights_bytes") == 2 * model / 4 + 2 * (2 * layer + root));
  CHECK(g.info.at("device0.grads_bytes") == 2 * model / 4 + (2 + 2) * layer);
  // grad_reduce=fp32: fp32 gradient shards and an fp32 reduce-scatter input.
  const Graph g32 = build_workload(k_spec + ",ddp=fsdp,grad_reduce=fp32");
  CHECK(g32.info.at("device0.grads_bytes") == 4 * model / 4 + (2 + 4) * layer);
}

TEST_CASE("ddp=fsdp: what FSDP does not run is refused", "[parallel][fsdp]") {
  const auto refused = [](const std::string& extra, const std::string& why) {
    INFO(extra);
    const auto o =
        testing::run_cli({"run", "--hw", "dgx-a100", "--set", "system.devices_per_node=4", "--workload",
                          "gpt:layers=2,hidden=1024,heads=16,seq=512,vocab=1024,dp=4,global_batch=8,"
                          "train=1,ddp=fsdp" +
                              extra});
    CHECK(o.code == 2);
    CHECK_THAT(o.err, Catch::Contains("workload parameter 'ddp': fsdp does not run with " + why));
    CHECK_THAT(o.err, Catch::Contains("accepted with it: zero=3"));
  };
  refused("", "a zero other than 3");
  refused(",zero=1", "a zero other than 3");
  refused(",zero=3,bucket=25", "a bucket size");
  refused(",zero=3,grad_accum_fusion=0", "grad_accum_fusion=0");
}
