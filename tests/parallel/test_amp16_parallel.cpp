// amp=fp16 (loss scaling) on parallel workloads: the kernels each rank launches
// around its optimizer, the all-reduces that combine GradScaler's found_inf across
// ranks whose gradients differ (grad_scaler=megatron|fsdp|torch), what each costs,
// and what is refused.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/hardware.h"
#include "models/interconnect/collective.h"
#include "sim/engines/parallel.h"
#include "tests/parallel/collectives.h"
#include "tests/support/cli_run.h"
#include "tests/support/workload_errors.h"
#include "workloads/workloads.h"

using namespace tessera;
using tessera::testing::collectives;

namespace {

const Op& find_op(const Graph& g, const std::string& name, int64_t stage = 0) {
  for (const auto& op : g.ops)
    if (op.name == name && op.get("stage", 0) == stage) return op;
  FAIL("no op " << name << " in chunk " << stage);
  throw std::logic_error("unreachable");
}

// The optimizer pass (pass 2) of chunk `stage`, op names in order.
std::vector<std::string> optimizer_ops(const Graph& g, int64_t stage) {
  std::vector<std::string> out;
  for (const auto& op : g.ops)
    if (op.get("pass", 0) == 2 && op.get("stage", 0) == stage) out.push_back(op.name);
  return out;
}

using testing::workload_error;

const std::string k_gpt = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000";

}  // namespace

TEST_CASE(
    "amp=fp16 with tp, pp and ZeRO-1 (Megatron-LM): found_inf all-reduced once per step per group, 4 bytes",
    "[parallel][amp]") {
  // 8 devices, 4 layers in 2 x 2 interleaved chunks: a device holds chunks d and
  // d + 2. Megatron-LM's _unscale_main_grads_and_check_for_nan all-reduces
  // found_inf over the grad-stats group: tp x pp, and with the distributed
  // optimizer (zero=1) dp too: one 4-byte fp32 all-reduce per dimension, once per
  // device (in its first chunk, 0 or 1), right after the unscale.
  const Graph g = build_workload(
      "gpt:layers=4,hidden=256,heads=4,seq=64,vocab=1000,tp=2,pp=2,dp=2,zero=1,"
      "schedule=interleaved,virtual_stages=2,global_batch=4,train=1,amp=fp16,"
      "optimizer=adamw_fused");
  REQUIRE(g.info.at("virtual_stages") == 2);
  for (int64_t chunk = 0; chunk < 4; ++chunk) {
    std::map<std::string, int> seen;
    for (const auto& op : g.ops) {
      if (op.get("stage", 0) != chunk || op.name.rfind("grad_scaler.found_inf.", 0) != 0) continue;
      ++seen[op.name];
      CHECK(op.kind == OpKind::allreduce);
      CHECK(op.at("bytes") == 4);
      CHECK(op.dtype == DType::fp32);
      CHECK(op.at("ranks") == 2);
      CHECK(op.get("pass", 0) == 2);
    }
    if (chunk < 2) {
      CHECK(seen == std::map<std::string, int>{{"grad_scaler.found_inf.tp", 1},
                                               {"grad_scaler.found_inf.pp", 1},
                                               {"grad_scaler.found_inf.dp", 1}});
    } else {
      CHECK(seen.empty());  // the device's second chunk: its found_inf is already combined
    }
  }
  // Megatron-LM's rank order: tp neighbours, dp 2 apart, pp tp x dp = 4 apart.
  CHECK(find_op(g, "grad_scaler.found_inf.tp").at("stride") == 1);
  CHECK(find_op(g, "grad_scaler.found_inf.dp").at("stride") == 2);
  CHECK(find_op(g, "grad_scaler.found_inf.pp").at("stride") == 4);
  // The optimizer pass of chunk 0 in MixedPrecisionOptimizer.step()'s order:
  // Megatron-LM's unscale (found_inf.fill_, inv_scale =
  // scale.double().reciprocal().float(), the foreach unscale), the found_inf
  // all-reduces (the last one followed by found_inf.item()), clipping's norm
  // (overflow buffer, l2norm, its square) and its all-reduces over the same
  // grad-stats group, then the fused AdamW told nothing of the scale: no replicator
  // copies, no found_inf_sum / grad_scale, no step-count correction, and no
  // scale-update kernel (DynamicGradScaler.update runs on the host); ZeRO-1's
  // parameter gather last.
  CHECK(optimizer_ops(g, 0) ==
        std::vector<std::string>{"grad_scaler.found_inf", "grad_scaler.scale_double", "grad_scaler.reciprocal",
                                 "grad_scaler.inv_scale", "grad_scaler.unscale", "grad_scaler.found_inf.tp",
                                 "grad_scaler.found_inf.pp", "grad_scaler.found_inf.dp",
                                 "megatron.grad_norm.overflow_buf", "megatron.grad_norm.l2norm",
                                 "megatron.grad_norm.pow", "optimizer.grad_norm.tp", "optimizer.grad_norm.pp",
                                 "optimizer.grad_norm.dp", "adamw_fused.step_count", "adamw_fused.update",
                                 "zero1.gather_params"});
  // The host waits on the last all-reduce of each statistic (.item()), not on the
  // kernels before it.
  CHECK(find_op(g, "grad_scaler.found_inf.dp").get("host_sync", 0) == 1);
  CHECK(find_op(g, "optimizer.grad_norm.dp").get("host_sync", 0) == 1);
  CHECK(find_op(g, "grad_scaler.unscale").get("host_sync", 0) == 0);
  CHECK(find_op(g, "megatron.grad_norm.pow").get("host_sync", 0) == 0);
  CHECK(find_op(g, "grad_scaler.found_inf.pp").get("host_sync", 0) == 0);
  CHECK(find_op(g, "adamw_fused.update").at("flops") == 12);  // as without a scaler
  // The distributed optimizer unscales its shard of the main gradients: 1/dp of
  // the chunk's parameters, rounded up, as its AdamW.
  CHECK(find_op(g, "grad_scaler.unscale").at("elems") == find_op(g, "adamw_fused.update").at("elems"));
  CHECK(find_op(g, "grad_scaler.unscale").at("elems") ==
        (static_cast<int64_t>(g.info.at("chunk0.params")) + 1) / 2);
  // Per group and iteration: 2 devices' first chunks x 4 B (the dp bytes also hold
  // the ZeRO parameter gathers, so tp and pp only).
  const auto c = collectives(g);
  CHECK(c.at("allreduce/tp/2").n == 2 + 2);  // grad_norm.tp and found_inf.tp, chunks 0 and 1
  CHECK(c.at("allreduce/tp/2").bytes == 4 * 4);
  CHECK(c.at("allreduce/pp/2").n == 2 + 2);  // grad_norm.pp and found_inf.pp, chunks 0 and 1
  CHECK(c.at("allreduce/pp/2").bytes == 4 * 4);
}

TEST_CASE("amp=fp16 with tp=2: each rank unscales its own shard, half the sharded weights' bytes",
          "[parallel][amp]") {
  // _amp_foreach_non_finite_check_and_unscale_ reads and writes each fp32 gradient
  // element: 8 B per local element. GPT h=256, 2 layers, vocab 1000, 64 positions:
  // 2,108,416 parameters on one device (wte 256,000, wpe 16,384, per layer ln 2 x
  // 512, c_attn 197,376, c_proj 65,792, c_fc 263,168, mlp.c_proj 262,400; ln_f 512;
  // lm_head 256,000). tp=2 halves what Megatron-LM shards (the vocabulary of wte
  // and lm_head, the column-parallel weights and biases, the row-parallel
  // weights) and keeps the rest: wpe 16,384 + 5 layer norms x 512 + 4 row-parallel
  // biases x 256 = 19,968 replicated. Per rank (2,108,416 - 19,968) / 2 + 19,968 =
  // 1,064,192 elements, 8,513,536 B against 16,867,328 B on one device.
  const Graph one = build_workload(k_gpt + ",train=1,amp=fp16");
  const Graph tp2 = build_workload(k_gpt + ",tp=2,train=1,amp=fp16");
  const Op& u1 = find_op(one, "grad_scaler.unscale");
  const Op& u2 = find_op(tp2, "grad_scaler.unscale");
  CHECK(u1.at("elems") == 2108416);
  CHECK(op_min_bytes(u1) == 16867328.0);
  CHECK(u2.at("elems") == (2108416 - 19968) / 2 + 19968);
  CHECK(op_min_bytes(u2) == 8513536.0);
  // tp alone: the model-parallel group is the 2 tp ranks.
  const auto c = collectives(tp2);
  CHECK(find_op(tp2, "grad_scaler.found_inf.tp").at("bytes") == 4);
  CHECK(c.count("allreduce/dp/2") == 0);
  CHECK(c.count("allreduce/pp/2") == 0);
}

TEST_CASE("the 4-byte found_inf all-reduce is latency-bound, not free", "[parallel][amp]") {
  // dgx-h100 with 2 devices: a ring all-reduce over 2 ranks is 2(n-1) = 2 steps,
  // each paying at least the NVLink latency, 0.5 us (configs/hw/dgx-h100.yaml):
  // >= 1 us whatever its 4 bytes; the kernel pays its launch on top.
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=2"});
  CollectiveRequest req;
  req.kind = CollKind::allreduce;
  req.bytes = 4;
  req.ranks = 2;
  const CollectivePlan plan = plan_collective(*hw, req);
  CHECK(plan.estimate_s >= 2 * 0.5e-6);
  const Graph g = build_workload(k_gpt + ",tp=2,train=1,amp=fp16");
  const RunResult r = simulate_parallel(g, *hw, "analytic");
  int found = 0;
  for (const auto& o : r.ops)
    if (o.name.rfind("c0.grad_scaler.found_inf.tp#", 0) == 0) {
      ++found;
      CHECK(o.time_s > plan.estimate_s);
    }
  CHECK(found == 1);
  // The step reports whose loss scaling it runs and where found_inf goes.
  const auto& ls = r.extra.at("parallel").at("loss_scaling");
  CHECK(ls.at("stack") == "megatron");
  CHECK(ls.at("found_inf_allreduces") == nlohmann::json::array({"tp"}));
}

TEST_CASE("amp=fp16 moe with ep and ZeRO-1: the expert optimizer's found_inf as well", "[parallel][amp]") {
  // dp=4 of which ep=2 expert ranks, zero=1: the dense optimizer's grad-stats group
  // is the 4 dp ranks (distributed optimizer); the expert optimizer's is the ep
  // group plus, distributed, the expert data-parallel ranks: dp / ep = 2, ep = 2
  // devices apart (tp = 1).
  const Graph g = build_workload(
      "moe:seq=64,layers=2,d=256,heads=4,kv_heads=4,ffn=512,dp=4,ep=2,zero=1,train=1,amp=fp16");
  CHECK(find_op(g, "grad_scaler.found_inf.dp").at("ranks") == 4);
  CHECK(find_op(g, "grad_scaler.found_inf_expert.ep").at("ranks") == 2);
  CHECK(find_op(g, "grad_scaler.found_inf_expert.ep").at("group") == static_cast<int64_t>(CommGroup::ep));
  CHECK(find_op(g, "grad_scaler.found_inf_expert.dp").at("ranks") == 2);
  CHECK(find_op(g, "grad_scaler.found_inf_expert.dp").at("stride") == 2);
  int n = 0;
  for (const auto& op : g.ops)
    n += op.name.rfind("grad_scaler.found_inf", 0) == 0 && is_collective_kind(op.kind);
  CHECK(n == 3);
  auto hw = load_hardware("dgx-h100", {"system.devices_per_node=4"});
  const RunResult r = simulate_parallel(g, *hw, "analytic");
  CHECK(r.extra.at("parallel").at("loss_scaling").at("found_inf_allreduces") ==
        nlohmann::json::array({"dp", "expert ep", "expert dp"}));
}

TEST_CASE("amp=fp16 with ZeRO-2 and grad_scaler=fsdp: ShardedGradScaler's unscale_ and one dp all-reduce",
          "[parallel][amp]") {
  // FSDP's ShardedGradScaler.unscale_: GradScaler's unscale_() kernels (inv_scale
  // in fp64, found_inf, the replicator copies, the unscale of the local shard),
  // then dist.all_reduce(found_inf) over the data-parallel process group; the
  // optimizer; torch._amp_update_scale_. The step is FSDP's, not Megatron-LM's
  // optimizer wrapper: no gradient norm (FSDP's clip_grad_norm_ is the training
  // loop's own call, not modelled). found_inf.item() follows the all-reduce.
  const Graph g = build_workload(k_gpt + ",dp=2,zero=2,train=1,amp=fp16,grad_scaler=fsdp");
  CHECK(find_op(g, "grad_scaler.found_inf.dp").get("host_sync", 0) == 1);
  CHECK(find_op(g, "grad_scaler.unscale").get("host_sync", 0) == 0);
  CHECK(optimizer_ops(g, 0) ==
        std::vector<std::string>{"grad_scaler.scale_double",
                                 "grad_scaler.reciprocal", "grad_scaler.inv_scale", "grad_scaler.found_inf",
                                 "grad_scaler.found_inf_to_device", "grad_scaler.inv_scale_to_device",
                                 "grad_scaler.unscale", "grad_scaler.found_inf.dp", "adamw.weight_decay",
                                 "adamw.exp_avg", "adamw.exp_avg_sq_decay", "adamw.exp_avg_sq", "adamw.sqrt",
                                 "adamw.bias_correction2", "adamw.eps", "adamw.update",
                                 "grad_scaler.update_scale", "zero2.gather_params"});
  // ZeRO-2 shards the gradients: each rank unscales half of 2,108,416.
  CHECK(find_op(g, "grad_scaler.unscale").at("elems") == 1054208);
  CHECK(find_op(g, "grad_scaler.found_inf.dp").at("bytes") == 4);
  CHECK(find_op(g, "grad_scaler.found_inf.dp").at("ranks") == 2);
}

TEST_CASE("amp=fp16 parallel: what is not modelled or cannot agree is refused with exit 2",
          "[parallel][amp][errors]") {
  CHECK(workload_error(k_gpt + ",tp=2,train=1,amp=fp16,grad_scaler=fsdp") ==
        "--workload '" + k_gpt +
            ",tp=2,train=1,amp=fp16,grad_scaler=fsdp': parameter 'grad_scaler': fsdp "
            "(ShardedGradScaler) all-reduces found_inf over its data-parallel process group only, so "
            "tensor-, pipeline- "
            "and expert-parallel ranks would step on different flags; accepted with tp, pp or ep > 1: "
            "megatron");
  CHECK(
      workload_error(k_gpt + ",dp=2,zero=2,train=1,amp=fp16,grad_scaler=fsdp,optimizer=adamw_fused")
          .find(
              "parameter 'grad_scaler': fsdp with optimizer=adamw_fused is not modelled: ShardedGradScaler "
              "all-reduces found_inf in unscale_(), which scaler.step() skips for an optimizer that unscales "
              "inside its kernel (fused AdamW)") != std::string::npos);
  CHECK(workload_error(k_gpt + ",dp=2,zero=1,train=1,amp=fp16,grad_scaler=torch")
            .find("parameter 'grad_scaler': torch (torch.amp.GradScaler) checks only the gradients a rank "
                  "holds and "
                  "combines nothing across ranks, but with tp, pp, ep or zero each rank holds part of them "
                  "and the "
                  "ranks would step on different found_inf flags; accepted here: megatron, fsdp") !=
        std::string::npos);
  CHECK(workload_error(k_gpt + ",pp=2,train=1,amp=fp16,grad_scaler=torch")
            .ends_with("accepted here: megatron"));
  CHECK(workload_error(k_gpt + ",dp=2,train=1,amp=bf16,grad_scaler=fsdp") ==
        "--workload '" + k_gpt +
            ",dp=2,train=1,amp=bf16,grad_scaler=fsdp': parameter 'grad_scaler': fsdp applies "
            "to an amp=fp16 training step only (train=1,amp=fp16)");
  CHECK(workload_error(k_gpt + ",dp=2,grad_scaler=torch")
            .find("torch applies to an amp=fp16 training step only") != std::string::npos);
  CHECK(workload_error(k_gpt + ",dp=2,train=1,amp=fp16,grad_scaler=apex")
            .find("parameter 'grad_scaler': 'apex' is not accepted") != std::string::npos);
  const auto o = testing::run_cli({"run", "--hw", "dgx-h100", "--set", "system.devices_per_node=2",
                                   "--workload", k_gpt + ",tp=2,train=1,amp=fp16,grad_scaler=fsdp"});
  CHECK(o.code == 2);
  CHECK(o.err.find("accepted with tp, pp or ep > 1: megatron") != std::string::npos);
  CHECK(o.out.empty());
}

TEST_CASE("amp=fp16 parallel: the text report names the loss scaling and its all-reduces",
          "[parallel][amp]") {
  const auto o = testing::run_cli(
      {"run", "--hw", "dgx-h100", "--workload", k_gpt + ",tp=2,pp=2,dp=2,zero=1,train=1,amp=fp16"});
  REQUIRE(o.code == 0);
  CHECK(o.out.find("  amp fp16   loss scaling as Megatron-LM's MixedPrecisionOptimizer (DynamicGradScaler); "
                   "found_inf all-reduced (4 B) per step over: tp, pp, dp\n") != std::string::npos);
  // bf16 has no loss scaling: no such line.
  const auto b = testing::run_cli(
      {"run", "--hw", "dgx-h100", "--workload", k_gpt + ",tp=2,pp=2,dp=2,zero=1,train=1,amp=bf16"});
  REQUIRE(b.code == 0);
  CHECK(b.out.find("amp fp16") == std::string::npos);
}

TEST_CASE("amp=fp16 parallel: the step costs amp=bf16's plus the scaler's kernels and all-reduces",
          "[parallel][amp]") {
  // Same model, forward and backward under autocast in both (H100: the same fp16
  // and bf16 rates); with foreach AdamW the optimizer kernels are identical, so
  // each pipeline position's optimizer time differs by exactly the grad_scaler.*
  // ops of its chunk (found_inf.fill_, inv_scale's 3 kernels, the unscale, the
  // tp, pp and dp found_inf all-reduces). compute.host_mode=graph: the ops run
  // back to back, their times add.
  auto hw = load_hardware("dgx-h100", {"compute.host_mode=graph"});
  const std::string base = k_gpt + ",tp=2,pp=2,dp=2,zero=1,train=1,optimizer=adamw";
  const RunResult b = simulate_parallel(build_workload(base + ",amp=bf16"), *hw, "analytic");
  const RunResult f = simulate_parallel(build_workload(base + ",amp=fp16"), *hw, "analytic");
  for (int d = 0; d < 2; ++d) {
    double scaler = 0;
    int n = 0;
    for (const auto& o : f.ops)
      if (o.name.rfind(fmt::format("c{}.grad_scaler.", d), 0) == 0) {
        scaler += o.time_s;
        ++n;
      }
    CHECK(n == 5 + 3);
    // bf16's pass starts with the gradient norm's overflow-buffer fill, which then
    // pays the whole launch (an isolated kernel); fp16's starts with found_inf.fill_,
    // and the fill behind it pays only the back-to-back gap.
    const auto first = [&](const RunResult& r) {
      for (const auto& o : r.ops)
        if (o.name.rfind(fmt::format("c{}.megatron.grad_norm.overflow_buf", d), 0) == 0) return o.time_s;
      return -1.0;
    };
    CHECK(first(b) > first(f));
    CHECK(f.extra.at("parallel").at("roles")[d].at("optimizer_s").get<double>() ==
          Approx(b.extra.at("parallel").at("roles")[d].at("optimizer_s").get<double>() + scaler + first(f) -
                 first(b))
              .epsilon(1e-12));
  }
  CHECK(f.time_s > b.time_s);
  // Collective bytes: 4 B more per device for each of tp, pp and dp (8 devices).
  const auto& fb = f.extra.at("parallel").at("bytes_by_group");
  const auto& bb = b.extra.at("parallel").at("bytes_by_group");
  for (const char* grp : {"tp", "pp", "dp"})
    CHECK(fb.at(grp).get<double>() == bb.at(grp).get<double>() + 8 * 4);
}
