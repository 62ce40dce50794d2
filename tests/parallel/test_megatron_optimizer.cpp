// Megatron-LM's optimizer wrapper on the parallel workloads (workloads/training/
// optimizers.cpp, workloads/models/parallel.cpp): a 16-bit model steps fp32 main
// parameters (gradients copied in, parameters copied back), the gradient norm for
// clipping runs on every device and is all-reduced over the grad-stats group, and
// the host waits for each statistic's .item().
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "workloads/training.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

const Op* find(const Graph& g, const std::string& name) {
  for (const auto& op : g.ops)
    if (op.name == name && op.get("stage", 0) == 0) return &op;
  return nullptr;
}

std::vector<std::string> optimizer_ops(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& op : g.ops)
    if (op.get("pass", 0) == 2 && op.get("stage", 0) == 0) out.push_back(op.name);
  return out;
}

const std::string k_opt_gpt = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000";

}  // namespace

TEST_CASE("a bf16 model under Megatron-LM steps fp32 main parameters", "[parallel][optimizer]") {
  const Graph g = build_workload(k_opt_gpt + ",tp=2,train=1,optimizer=adamw_fused");
  // Float16OptimizerWithFloat16Params.step(): the bf16 gradients cast to fp32 main
  // gradients, the norm (overflow buffer, multi_tensor_l2norm, its square) and its
  // tp all-reduce, the fused AdamW on the fp32 main parameters, the copy back.
  CHECK(optimizer_ops(g) == std::vector<std::string>{"megatron.main_grad_copy", "megatron.grad_norm.overflow_buf",
                                                     "megatron.grad_norm.l2norm", "megatron.grad_norm.pow",
                                                     "optimizer.grad_norm.tp", "adamw_fused.step_count",
                                                     "adamw_fused.update", "megatron.main_param_copy"});
  const double params = g.info.at("chunk0.params");
  const Op& update = *find(g, "adamw_fused.update");
  CHECK(update.dtype == DType::fp32);
  CHECK(update.at("elems") == static_cast<int64_t>(params));
  // 29 parameter tensors per rank: wte, wpe, 12 per layer (two layer norms, c_attn,
  // c_proj, c_fc, mlp.c_proj: weight and bias each) x 2, ln_f's two, lm_head.
  CHECK(update.at("tensors") == 29);
  // `main_param.grad = model_param.main_grad.float()` per parameter: a cast kernel
  // and a host call each, bf16 read, fp32 written.
  const Op& in = *find(g, "megatron.main_grad_copy");
  CHECK(in.kind == OpKind::copy);
  CHECK((in.dtype == DType::bf16 && in.out_dtype == DType::fp32));
  CHECK(in.at("rows") * in.at("cols") == static_cast<int64_t>(params));
  CHECK(in.at("launches") == 29);
  CHECK(in.at("host_calls") == 29);
  // bf16 has no multi_tensor_scale path in Megatron-LM: `that_.copy_(this_)` per
  // parameter, fp32 read, bf16 written.
  const Op& out = *find(g, "megatron.main_param_copy");
  CHECK((out.dtype == DType::fp32 && out.out_dtype == DType::bf16));
  CHECK(out.at("launches") == 29);
  CHECK(out.at("host_calls") == 29);
  // The l2norm over the fp32 main gradients: 29 tensors of at most 65536-element
  // chunks fit one launch (110 tensors, 320 blocks: c_fc's 131,328 elements per
  // rank are 3 chunks, 1,054,208 elements in all well under 320 x 65536), plus
  // the zeros of the partial sums and the cleanup kernel: 3.
  const Op& l2 = *find(g, "megatron.grad_norm.l2norm");
  CHECK(l2.dtype == DType::fp32);
  CHECK(l2.at("launches") == 3);
  // total_norm.item() after the all-reduce: the host waits there, not on the square.
  CHECK(find(g, "optimizer.grad_norm.tp")->get("host_sync", 0) == 1);
  CHECK(find(g, "megatron.grad_norm.pow")->get("host_sync", 0) == 0);
  // The footprint counts what the kernels keep: fp32 main parameters, exp_avg and
  // exp_avg_sq, 12 B per parameter.
  CHECK(g.info.at("device0.optimizer_bytes") == Approx(12 * params).epsilon(1e-12));
}

TEST_CASE("Megatron-LM's main parameters: fp32 gradient buffers, fp16, the distributed optimizer, autocast",
          "[parallel][optimizer]") {
  SECTION("grad_reduce=fp32: .float() on the fp32 main-grad buffer launches nothing") {
    const Graph g = build_workload(k_opt_gpt + ",tp=2,train=1,grad_reduce=fp32");
    CHECK(find(g, "megatron.main_grad_copy") == nullptr);
    CHECK(find(g, "megatron.main_param_copy") != nullptr);
  }
  SECTION("fp16: apex's multi_tensor_scale copies back in one launch") {
    const Graph g = build_workload(k_opt_gpt + ",tp=2,train=1,dtype=fp16");
    const Op& out = *find(g, "megatron.main_param_copy");
    CHECK(out.kind == OpKind::optimizer);
    CHECK((out.dtype == DType::fp32 && out.out_dtype == DType::fp16));
    // Depth 2: 29 tensors under the 64 of a launch, ~20 blocks under 320.
    CHECK(out.at("launches") == 1);
    CHECK(out.get("host_calls", 0) == 0);
  }
  SECTION("zero=1: the distributed optimizer's shard, copied back piece by piece") {
    const Graph g = build_workload(k_opt_gpt + ",dp=2,zero=1,train=1");
    const double params = g.info.at("chunk0.params");
    const Op& update = *find(g, "adamw.update");
    // The first rank's contiguous half of the flattened parameters, rounded up.
    CHECK(update.at("elems") == (static_cast<int64_t>(params) + 1) / 2);
    CHECK(update.at("tensors") < 29);
    const Op& out = *find(g, "megatron.main_param_copy");
    CHECK(out.at("rows") == update.at("elems"));
    CHECK(out.at("launches") == update.at("tensors"));
    // The norm is all-reduced over every rank of the optimizer instance: dp too.
    CHECK(find(g, "optimizer.grad_norm.dp")->get("host_sync", 0) == 1);
  }
  SECTION("amp=bf16: the parameters are fp32 already, no copies; the norm stays") {
    const Graph g = build_workload(k_opt_gpt + ",tp=2,train=1,amp=bf16");
    CHECK(find(g, "megatron.main_grad_copy") == nullptr);
    CHECK(find(g, "megatron.main_param_copy") == nullptr);
    CHECK(find(g, "megatron.grad_norm.l2norm")->dtype == DType::fp32);
    CHECK(find(g, "adamw.update")->dtype == DType::fp32);
  }
}

TEST_CASE("the gradient norm is all-reduced over the model-parallel group: tp and pp", "[parallel][optimizer]") {
  // Megatron-LM get_grad_stats_parallel_group: tp x pp without the distributed
  // optimizer; once per device, in its first chunk.
  const Graph g = build_workload(k_opt_gpt + ",tp=2,pp=2,train=1");
  int tp = 0, pp = 0, dp = 0;
  for (const auto& op : g.ops) {
    tp += op.name == "optimizer.grad_norm.tp";
    pp += op.name == "optimizer.grad_norm.pp";
    dp += op.name == "optimizer.grad_norm.dp";
  }
  CHECK(tp == 2);
  CHECK(pp == 2);
  CHECK(dp == 0);
}

TEST_CASE("interleaved chunks: one .item() per statistic and device", "[parallel][optimizer]") {
  // pp = 2 x 2 virtual stages: device d holds chunks d and d + 2. Only the first
  // chunk's all-reduce carries the host's wait; chunk 2's norm kernels have none.
  const Graph g = build_workload(
      "gpt:layers=4,hidden=256,heads=4,seq=64,vocab=1000,pp=2,virtual_stages=2,schedule=interleaved,global_batch=4,"
      "train=1");
  int syncs = 0;
  for (const auto& op : g.ops) syncs += op.get("host_sync", 0) != 0;
  CHECK(syncs == 2);   // optimizer.grad_norm.pp of chunks 0 and 1
  for (const auto& op : g.ops)
    if (op.get("host_sync", 0) != 0) CHECK(op.name == "optimizer.grad_norm.pp");
}

TEST_CASE("shard_tensors: the first rank's contiguous range of the flattened tensors", "[parallel][optimizer]") {
  // 10 + 7 + 5 = 22 elements over 3 ranks: ceil(22 / 3) = 8, all in the first tensor.
  CHECK(shard_tensors({10, 7, 5}, 3) == std::vector<int64_t>{8});
  // Over 2: 11 = the first tensor and 1 element of the second.
  CHECK(shard_tensors({10, 7, 5}, 2) == std::vector<int64_t>{10, 1});
  CHECK(shard_tensors({10, 7, 5}, 1) == std::vector<int64_t>{10, 7, 5});
  // More ranks than elements: one element each.
  CHECK(shard_tensors({1, 1}, 5) == std::vector<int64_t>{1});
}

TEST_CASE("MoE expert gradients reduce over the expert data-parallel ranks, dp / ep", "[parallel][moe]") {
  // Megatron-LM's DDP keeps expert parameters in their own buffers, reduced over
  // the dp / ep ranks that hold the same experts. moe d=256, ffn=512, 8 experts,
  // 2 layers, bf16: per rank, dense weights 2 x (262,144 attention + 512 norms +
  // 2,048 router) = 529,408 elements; each expert 3 x 256 x 512 = 393,216.
  const auto buckets = [](const Graph& g, const std::string& prefix, int64_t& ranks, int64_t& stride) {
    int64_t bytes = 0;
    for (const auto& op : g.ops)
      if (op.name.rfind(prefix, 0) == 0) {
        bytes += op.at("bytes");
        ranks = op.at("ranks");
        stride = op.at("stride");
      }
    return bytes;
  };
  const std::string base = "moe:seq=64,layers=2,d=256,heads=4,kv_heads=4,ffn=512,dp=4,train=1";
  int64_t ranks = 0, stride = 0;
  // ep = 2: 4 experts per rank, 2 x 4 x 393,216 x 2 B = 6,291,456 B over 2 ranks,
  // tp x ep = 2 devices apart; the dense 529,408 x 2 B over all 4.
  const Graph two = build_workload(base + ",ep=2");
  CHECK(buckets(two, "dp.expert_grad_bucket", ranks, stride) == 6291456);
  CHECK(ranks == 2);
  CHECK(stride == 2);
  CHECK(buckets(two, "dp.grad_bucket", ranks, stride) == 1058816);
  CHECK(ranks == 4);
  // ep = dp = 4: every rank holds its own experts: nothing to reduce for them.
  const Graph four = build_workload(base + ",ep=4");
  CHECK(buckets(four, "dp.expert_grad_bucket", ranks, stride) == 0);
  CHECK(buckets(four, "dp.grad_bucket", ranks, stride) == 1058816);
}

TEST_CASE("ZeRO-1 with experts: the expert weights' state and gathers span dp / ep", "[parallel][moe]") {
  // The moe above with dp = 4, ep = 2, zero = 1: dense 529,408 elements sharded over
  // 4 ranks, the rank's 4 experts (1,572,864 per layer x 2 = 3,145,728) over 2.
  const Graph g = build_workload("moe:seq=64,layers=2,d=256,heads=4,kv_heads=4,ffn=512,dp=4,ep=2,zero=1,train=1");
  CHECK(g.info.at("chunk0.expert_params") == 3145728);
  // Optimizer state, bf16 model with AdamW: 12 B per sharded element:
  // (529,408 / 4 + 3,145,728 / 2) x 12 = (132,352 + 1,572,864) x 12 = 20,462,592 B.
  CHECK(g.info.at("device0.optimizer_bytes") == Approx(20462592).epsilon(1e-12));
  // The step runs on the same shard: 132,352 + 1,572,864 = 1,705,216 elements.
  for (const auto& op : g.ops)
    if (op.name == "adamw.update") CHECK(op.at("elems") == 1705216);
  // The updated shards gathered back: dense over 4 ranks, experts over 2 (2 apart).
  int found = 0;
  for (const auto& op : g.ops) {
    if (op.name == "zero1.gather_params") {
      CHECK(op.at("bytes") == 529408 * 2);
      CHECK(op.at("ranks") == 4);
      ++found;
    }
    if (op.name == "zero1.gather_expert_params") {
      CHECK(op.at("bytes") == 3145728 * 2);
      CHECK(op.at("ranks") == 2);
      CHECK(op.at("stride") == 2);
      ++found;
    }
  }
  CHECK(found == 2);
}

TEST_CASE("ZeRO-3 with experts: each layer's expert weights gathered over dp / ep", "[parallel][moe]") {
  // The moe above, dp = 4, ep = 2, zero = 3: per layer, dense 264,704 elements
  // (262,144 attention + 512 norms + 2,048 router) gathered over 4 ranks, the
  // rank's 4 experts (1,572,864) over 2, 2 apart; before the forward and the backward.
  const Graph g = build_workload("moe:seq=64,layers=2,d=256,heads=4,kv_heads=4,ffn=512,dp=4,ep=2,zero=3,train=1");
  int dense = 0, expert = 0;
  for (const auto& op : g.ops) {
    if (op.name == "zero3.gather_fwd.l0" || op.name == "zero3.gather_bwd.l0") {
      CHECK(op.at("bytes") == 264704 * 2);
      CHECK(op.at("ranks") == 4);
      ++dense;
    }
    if (op.name == "zero3.gather_fwd_expert.l0" || op.name == "zero3.gather_bwd_expert.l0") {
      CHECK(op.at("bytes") == 1572864 * 2);
      CHECK(op.at("ranks") == 2);
      CHECK(op.at("stride") == 2);
      ++expert;
    }
  }
  CHECK(dense == 2);
  CHECK(expert == 2);
}
