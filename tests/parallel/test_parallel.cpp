// Multi-device workloads and the multi-device engine: footprint arithmetic,
// pipeline bubbles, the collectives of tp / sp / dp / ZeRO, the device-count
// check and role deduplication.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "sim/simulate.h"
#include "tests/parallel/collectives.h"
#include "tests/support/cli_run.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;
using tessera::testing::collectives;

namespace {

// dgx-a100 nodes holding `devices` devices (up to 8 in one node, else nodes of 8).
std::unique_ptr<Hardware> system_of(int devices) {
  if (devices <= 8) return load_hardware("dgx-a100", {fmt::format("system.devices_per_node={}", devices)});
  return load_hardware("dgx-a100", {fmt::format("system.nodes={}", devices / 8)});
}


}  // namespace

TEST_CASE("memory footprint per device: weights, gradients, optimizer state, activations", "[parallel]") {
  // gpt h=1024, 16 heads, ffn 4096, seq 512, vocab 1024, 4 layers; tp=2, pp=2, dp=2,
  // global batch 8 of microbatch 1: m = 8 / (1 x 2) = 4 microbatches.
  const Graph g = build_workload(
      "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,tp=2,pp=2,dp=2,global_batch=8,train=1");
  // Per layer and tp rank: ln_1 2h = 2048; c_attn h x 3h/2 + 3h/2 = 1572864 + 1536;
  // c_proj h/2 x h + h = 524288 + 1024; ln_2 2048; c_fc h x 4h/2 + 2048 = 2097152 + 2048;
  // mlp c_proj 4h/2 x h + h = 2097152 + 1024: 6301184.
  const double layer = 2048 + 1574400 + 525312 + 2048 + 2099200 + 2098176;
  // Chunk 0: wte vocab/2 x h = 524288, wpe 512 x h = 524288, layers 0-1.
  // Chunk 1: layers 2-3, ln_f 2048, lm_head h x vocab/2 = 524288.
  const double c0 = 524288 + 524288 + 2 * layer, c1 = 2 * layer + 2048 + 524288;
  CHECK(g.info.at("chunk0.params") == c0);
  CHECK(g.info.at("chunk1.params") == c1);
  // bf16: 2 bytes of weights and of gradients, 12 of AdamW state (fp32 master,
  // exp_avg, exp_avg_sq) per parameter.
  CHECK(g.info.at("device0.weights_bytes") == 2 * c0);
  CHECK(g.info.at("device0.grads_bytes") == 2 * c0);
  CHECK(g.info.at("device0.optimizer_bytes") == 12 * c0);
  CHECK(g.info.at("device1.optimizer_bytes") == 12 * c1);
  // Activations per layer (Korthikanti et al. 2022 without the two dropout masks
  // (no dropout); fused attention keeps no s^2 term): sbh (8 + 24/t) = 512 x 1024 x
  // (8 + 12) = 10485760 bytes; 2 layers per chunk; 1f1b keeps min(m, p - d)
  // microbatches: 2 on device 0, 1 on device 1.
  CHECK(g.info.at("device0.activations_bytes") == 10485760.0 * 2 * 2);
  CHECK(g.info.at("device1.activations_bytes") == 10485760.0 * 2 * 1);
  // With dropout their count: sbh (10 + 24/t) = 11534336 bytes per layer.
  const Graph gd = build_workload(
      "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,tp=2,pp=2,dp=2,global_batch=8,train=1,dropout=0."
      "1");
  CHECK(gd.info.at("device0.activations_bytes") == 11534336.0 * 2 * 2);
  CHECK(g.info.at("device0.kv_cache_bytes") == 0);
  // A LLaMA layer (SwiGLU: gate and up outputs, SiLU's output and the product,
  // 4 x ffn/h; grouped-query K and V at kv_heads/heads of Q). llama-7b (32 heads
  // and kv heads, ffn 11008), tp=2: sbh (8 + (2 + 2 + 4 x 11008/4096) x 2/2) =
  // 22.75 x 512 x 4096 = 47710208 bytes per layer; 2 microbatches in flight on
  // device 0. The GPT formula (2 x ffn/h, which this replaced) gave 17.375 sbh.
  const Graph ll = build_workload("llama-7b:layers=4,seq=512,tp=2,pp=2,dp=2,global_batch=4,train=1");
  CHECK(ll.info.at("device0.activations_bytes") == 47710208.0 * 2 * 2);
  // llama-70b (64 heads, 8 kv heads, ffn 28672), tp=8: sbh (8 + (2 + 2 x 8/64 +
  // 4 x 28672/8192) x 2/8) = 12.0625 x 512 x 8192 = 50593792 bytes per layer.
  const Graph l70 = build_workload("llama-70b:layers=4,seq=512,tp=8,pp=2,dp=1,global_batch=2,train=1");
  CHECK(l70.info.at("device0.activations_bytes") == 50593792.0 * 2 * 2);

  // ZeRO-3 with sequence parallelism and full recomputation: everything / dp,
  // activations 2sbh/t per layer = 524288 bytes.
  const Graph z = build_workload(
      "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,tp=2,pp=2,dp=2,global_batch=8,train=1,zero=3,"
      "sequence_parallel=1,recompute=full");
  // Plus what is gathered in flight: two units' parameters (the largest unit of
  // chunk 0 is a layer, 6301184 elements per tp rank; the embeddings' unit has
  // 1048576), and one unit's unsharded gradients and its reduce-scatter input, all
  // 2 B (bf16).
  CHECK(z.info.at("device0.weights_bytes") == 2 * c0 / 2 + 2 * 2 * layer);
  CHECK(z.info.at("device0.grads_bytes") == 2 * c0 / 2 + (2 + 2) * layer);
  CHECK(z.info.at("device0.optimizer_bytes") == 12 * c0 / 2);
  CHECK(z.info.at("device0.activations_bytes") == 524288.0 * 2 * 2);

  // Inference: the KV cache, 2 (K, V) x 2 layers x 16/2 heads x 64 x 512 positions
  // x (8 / 2) sequences x 2 bytes = 16 MiB on each device.
  const Graph inf = build_workload("gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,tp=2,pp=2,dp=2,global_batch=8");
  CHECK(inf.info.at("device0.kv_cache_bytes") == 2.0 * 2 * 8 * 64 * 512 * 4 * 2);
  CHECK(inf.info.at("device0.optimizer_bytes") == 0);
}

TEST_CASE("a footprint above the device's memory, when allowed, is flagged in the report", "[parallel]") {
  // GPT-3 175B on 8 GPUs with tp=8 only: 175e9 / 8 x 16 bytes is far above 80 GB
  // (an error unless allowed: test_capacity.cpp).
  auto hw = system_of(8);
  const RunResult r = simulate_parallel(
      build_workload("gpt3-175b:seq=2048,tp=8,train=1"), *hw, "analytic", true);
  CHECK_FALSE(r.extra["parallel"]["memory_fits"].get<bool>());
  std::ostringstream os;
  write_text_report(os, r);
  CHECK(os.str().find("warning: the memory footprint of some devices exceeds their capacity") != std::string::npos);
}

TEST_CASE("pipeline bubble: (p-1)/(m+p-1) for gpipe and 1f1b with uniform stages", "[parallel]") {
  // embed=0: four identical chunks of one layer. The closed form is the schedule
  // with free transfers (pipeline_without_p2p_s; a sendrecv kernel still has its
  // launch overhead).
  auto hw = system_of(4);
  for (const char* sched : {"gpipe", "1f1b"}) {
    INFO(sched);
    const RunResult r = simulate_parallel(
        build_workload(fmt::format("gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1,"
                                   "schedule={}", sched)),
        *hw, "analytic");
    const auto& p = r.extra["parallel"];
    const double f = p["roles"][0]["forward_s"].get<double>(), b = p["roles"][0]["backward_s"].get<double>();
    CHECK(p["roles"][3]["forward_s"].get<double>() == f);
    // m = 8, p = 4: (m + p - 1)(F + B) and a bubble of 3/11.
    const double t = p["pipeline_without_p2p_s"].get<double>();
    CHECK(t == Approx(11 * (f + b)).epsilon(1e-12));
    CHECK((t - 8 * (f + b)) / t == Approx(3.0 / 11).epsilon(1e-12));
    // With the transfers the bubble only grows.
    CHECK(p["bubble_fraction"].get<double>() > 3.0 / 11);
  }
  // Interleaved with v = 2 chunks per device of half the layers: Narayanan et
  // al. 2021 §2.2.2, bubble (p-1)/(v m + p - 1) = 3/19.
  const RunResult r = simulate_parallel(
      build_workload("gpt:layers=8,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1,"
                     "schedule=interleaved,virtual_stages=2"),
      *hw, "analytic");
  const auto& pi = r.extra["parallel"];
  const double t = pi["pipeline_without_p2p_s"].get<double>();
  const double busy = 8 * (pi["roles"][0]["forward_s"].get<double>() + pi["roles"][0]["backward_s"].get<double>());
  CHECK((t - 2 * busy) / t == Approx(3.0 / 19).epsilon(1e-12));
}

TEST_CASE("p2p_overlap=0: blocking pipeline exchanges between steps", "[parallel]") {
  // Four identical chunks (embed=0), m = 8 microbatches. Each pipeline transfer
  // takes c (a sendrecv of the same bytes both ways); with blocking exchanges a
  // transfer starts once both ends have posted it and both wait for it.
  auto hw = system_of(4);
  const std::string base = "gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1,";
  for (const char* sched : {"gpipe", "1f1b"}) {
    INFO(sched);
    const auto over = simulate_parallel(build_workload(base + "schedule=" + sched), *hw, "analytic");
    const auto blk =
        simulate_parallel(build_workload(base + "schedule=" + sched + ",p2p_overlap=0"), *hw, "analytic");
    const auto& p = blk.extra["parallel"];
    CHECK_FALSE(p["p2p_overlap"].get<bool>());
    const double f = p["roles"][0]["forward_s"].get<double>(), b = p["roles"][0]["backward_s"].get<double>();
    // Free transfers: the closed form of the schedule, as without blocking.
    CHECK(p["pipeline_without_p2p_s"].get<double>() == Approx(11 * (f + b)).epsilon(1e-12));
    // Chunk 0 sends 8 activations; chunk 1 sends 8 and 8 gradients: c each.
    const double c = p["roles"][0]["p2p_s"].get<double>() / 8;
    CHECK(p["roles"][1]["p2p_s"].get<double>() == Approx(16 * c).epsilon(1e-12));
    CHECK(p["pipeline_s"].get<double>() > over.extra["parallel"]["pipeline_s"].get<double>());
    if (std::string(sched) == "gpipe") {
      // Each device runs its forwards one exchange apart, F + c: the last device's
      // last forward ends at (m + p - 1) F + (m + p - 2) c, and the backwards
      // likewise: (m + p - 1)(F + B) + 2 (m + p - 2) c = 11 (F + B) + 20 c.
      CHECK(p["pipeline_s"].get<double>() == Approx(11 * (f + b) + 20 * c).epsilon(1e-9));
    }
  }
  // The whole-iteration SystemC engine runs the same exchanges: without
  // contention (tp 2 x pp 4, one device per pipeline link) the same iteration, to
  // the SystemC kernel's rounding of times (picoseconds).
  const std::string w =
      "gpt:layers=8,hidden=1024,heads=16,seq=512,vocab=1000,tp=2,pp=4,global_batch=8,train=1,"
      "p2p_overlap=0";
  const auto node = load_hardware("dgx-a100", {});
  CHECK(simulate_parallel(build_workload(w), *node, "systemc").time_s ==
        Approx(simulate_parallel(build_workload(w), *node, "analytic").time_s).epsilon(1e-8));
  // With scatter/gather too (the sender does not wait for the receiver's all-gather).
  const std::string sg = w + ",p2p_scatter_gather=1";
  CHECK(simulate_parallel(build_workload(sg), *node, "systemc").time_s ==
        Approx(simulate_parallel(build_workload(sg), *node, "analytic").time_s).epsilon(1e-8));
}

TEST_CASE("p2p_scatter_gather=1: 1/tp of each pipeline transfer, all-gathered over tp", "[parallel]") {
  // tp 2 x pp 2, seq 64 x hidden 256 bf16: an activation of 32768 B; each rank
  // sends 16384 B and the receiver all-gathers 32768 B over tp, in each direction.
  const std::string base = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,pp=2,train=1";
  const Graph g = build_workload(base + ",p2p_scatter_gather=1");
  const Op& send = testing::find_op(g, "pp.send_activation.c0");
  CHECK(send.kind == OpKind::sendrecv);
  CHECK(send.at("bytes") == 16384);
  const Op& gather = testing::find_op(g, "pp.send_activation.c0.gather");
  CHECK(gather.kind == OpKind::allgather);
  CHECK(gather.at("bytes") == 32768);
  CHECK(gather.at("ranks") == 2);
  CHECK(gather.get("p2p", 0) == 1);
  CHECK(testing::find_op(g, "pp.send_gradient.c1").at("bytes") == 16384);
  CHECK(testing::find_op(build_workload(base), "pp.send_activation.c0").at("bytes") == 32768);
  // The report counts the sends as pp bytes and the all-gathers as tp bytes: half
  // the pp bytes of the plain transfers.
  auto hw = system_of(4);
  const auto plain = simulate_parallel(build_workload(base), *hw, "analytic");
  const auto split = simulate_parallel(g, *hw, "analytic");
  const auto& bp = plain.extra["parallel"]["bytes_by_group"];
  const auto& bs = split.extra["parallel"]["bytes_by_group"];
  // (Both also hold the gradient norm's 4-byte all-reduce over pp: 4 devices x 4 B.)
  CHECK((bs["pp"].get<double>() - 16) * 2 == bp["pp"].get<double>() - 16);
  CHECK(bs["tp"].get<double>() > bp["tp"].get<double>());
  CHECK_THROWS_WITH(
      build_workload(base + ",sequence_parallel=1,p2p_scatter_gather=1"),
      "--workload '" + base +
          ",sequence_parallel=1,p2p_scatter_gather=1': workload parameter "
          "'p2p_scatter_gather': 1 needs sequence_parallel=0 (with sequence parallelism each rank's "
          "pipeline transfer is already its 1/tp of the sequence)");
}

TEST_CASE("tensor-parallel collectives per step: allreduce, or reducescatter + allgather with sp", "[parallel]") {
  // 2 layers, tp=2: per layer 2 forward allreduces (attention and MLP outputs) and
  // 2 backward (the QKV and MLP-up input gradients), plus the embedding's forward
  // and the LM head's backward one; each tokens x h x 2 bytes = 64 x 256 x 2.
  // Training adds the vocabulary-parallel cross-entropy's three fp32 allreduces
  // of one value per token (64 x 4 bytes) in the forward, and the gradient norm's
  // one fp32 allreduce (4 bytes) in the optimizer pass.
  const double bytes = 64 * 256 * 2;
  auto c = collectives(build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1"));
  CHECK(c["allreduce/tp/0"].n == 5 + 3);
  CHECK(c["allreduce/tp/0"].bytes == 5 * bytes + 3 * 64 * 4);
  CHECK(c["allreduce/tp/1"].n == 5);
  CHECK(c["allreduce/tp/1"].bytes == 5 * bytes);
  CHECK(c["allreduce/tp/2"].n == 1);
  CHECK(c["allreduce/tp/2"].bytes == 4);
  CHECK(c.size() == 3);
  // Sequence parallelism: each allreduce becomes a reducescatter, and each
  // column-parallel input an allgather, in both passes.
  c = collectives(build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1,sequence_parallel=1"));
  CHECK(c["reducescatter/tp/0"].n == 5);
  CHECK(c["allgather/tp/0"].n == 5);
  CHECK(c["reducescatter/tp/1"].n == 5);
  CHECK(c["allgather/tp/1"].n == 5);
  CHECK(c["allgather/tp/1"].bytes == 5 * bytes);
  CHECK(c["allreduce/tp/0"].n == 3);   // the cross-entropy's only
  // Full recomputation repeats the layers' forward collectives in the backward
  // pass (2 per layer), not the embedding's: only the transformer layers are
  // checkpointed (Megatron-core transformer_block.py, _checkpointed_forward).
  const Graph full =
      build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1,recompute=full");
  c = collectives(full);
  CHECK(c["allreduce/tp/1"].n == 5 + 2 * 2);
  // The layers' ops are rerun; the embeddings, the final norm, the LM head and the
  // loss keep their activations.
  CHECK(testing::has_op(full, "l1.mlp.c_fc.recompute"));
  CHECK(testing::has_op(full, "l0.ln_1.recompute"));
  for (const Op& op : full.ops)
    if (op.get("recompute", 0)) CHECK((op.name.size() > 1 && op.name[0] == 'l' && std::isdigit(op.name[1])));
  CHECK_FALSE(testing::has_op(full, "lm_head.recompute"));
  // Inference: the forward's only.
  c = collectives(build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2"));
  CHECK(c["allreduce/tp/0"].n == 5);
  CHECK(c.size() == 1);
}

TEST_CASE("recompute=op: torchtitan's per-op checkpointing reruns all but the SDPA and every other matmul",
          "[parallel]") {
  // Per layer the parameter matmuls in forward order are q, k, v, o, gate, up,
  // down: the policy keeps the odd ones (q, v, gate, down) and recomputes k, o and
  // up; the SDPA output is kept; norms, rotary, SiLU, the product and the adds are
  // recomputed. Outside the layers nothing is.
  const Graph g = build_workload("llama-7b:layers=2,seq=64,train=1,dp=2,recompute=op,lm_head=1");
  std::vector<std::string> mms;
  for (const Op& op : g.ops)
    if (op.get("recompute", 0) && op.kind == OpKind::matmul) mms.push_back(op.name);
  CHECK(mms == std::vector<std::string>{"l0.attn.k_proj.recompute", "l0.attn.o_proj.recompute",
                                        "l0.mlp.up_proj.recompute", "l1.attn.k_proj.recompute",
                                        "l1.attn.o_proj.recompute", "l1.mlp.up_proj.recompute"});
  CHECK_FALSE(testing::has_op(g, "l0.attn.sdpa.recompute"));
  CHECK(testing::has_op(g, "l0.input_norm.pow.recompute"));
  CHECK(testing::has_op(g, "l1.mlp.silu.recompute"));
  CHECK_FALSE(testing::has_op(g, "lm_head.recompute"));
  CHECK_FALSE(testing::has_op(g, "norm.pow.recompute"));
  // Activations kept per layer (bf16; s = 64, b = 1, h = 4096: sbh = 262144): the
  // layer's input, q, v (32 KV heads: as wide as q), the down projection's and the
  // SDPA's outputs, 2 sbh bytes each, and the gate projection's 64 x 11008 x 2 =
  // 1409024: 4030464 bytes; 2 layers, one microbatch in flight.
  CHECK(g.info.at("device0.activations_bytes") == 2 * (5 * 2 * 262144.0 + 1409024.0));
}

TEST_CASE("recompute=op: the recomputed forward costs less than full recomputation, more than none",
          "[parallel]") {
  auto hw = load_hardware("dgx-h100", {});
  auto time = [&](const std::string& r) {
    return simulate_parallel(build_workload("llama-7b:layers=2,seq=2048,dp=8,train=1,recompute=" + r), *hw,
                             "analytic")
        .time_s;
  };
  const double none = time("none"), op = time("op"), full = time("full");
  CHECK(none < op);
  CHECK(op < full);
  // The report names it.
  const RunResult r = simulate_parallel(build_workload("llama-7b:layers=2,seq=64,dp=8,train=1,recompute=op"),
                                        *hw, "analytic");
  CHECK(r.extra["parallel"]["recompute"] == "op");
}

TEST_CASE("data-parallel collectives per step: DDP buckets and ZeRO stages", "[parallel]") {
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,train=1";
  const Graph g = build_workload(base);
  const double params = g.info.at("chunk0.params"), grad_bytes = 2 * params;   // bf16 gradients
  // Gradients in the order the backward produces them, MB (bf16): lm_head 2.048,
  // ln_f 0.004, then per layer (1, then 0) mlp.c_proj 8.391, c_fc 8.397, ln_2 0.004,
  // attn.c_proj 2.099, c_attn 6.298, ln_1 0.004; last wte 2.048 and wpe 0.131.
  // 54.6 MB in all.
  CHECK(grad_bytes == 2.0 * (2 * 12596224 + 1024000 + 65536 + 2048 + 1024000));
  // DDP by default (Megatron-core's bucket_size, max(40M, 1M x dp) elements): the
  // 27.3M gradients are one bucket.
  auto c = collectives(g);
  CHECK(c["allreduce/dp/1"].bytes == grad_bytes);
  CHECK(c["allreduce/dp/1"].n == 1);
  CHECK(c.size() == 1);
  // bucket=25: a bucket is sent once it holds >= 25 MB: 27.24 (through layer 1's
  // c_attn), 25.19 (through layer 0's c_attn), the rest 2.18: 3 allreduces.
  c = collectives(build_workload(base + ",bucket=25"));
  CHECK(c["allreduce/dp/1"].bytes == grad_bytes);
  CHECK(c["allreduce/dp/1"].n == 3);
  // 5 MB buckets: 10.44 (to layer 1's mlp.c_proj), 8.40, 8.40 (ln_2, attn.c_proj,
  // c_attn), 8.40 (ln_1 and layer 0's mlp.c_proj), 8.40, 8.40, 2.18: 7.
  c = collectives(build_workload(base + ",bucket=5"));
  CHECK(c["allreduce/dp/1"].n == 7);
  CHECK(c["allreduce/dp/1"].bytes == grad_bytes);
  // ZeRO-1, Megatron-core's distributed optimizer: each bucket reduce-scattered
  // once, in the last microbatch, then the updated parameters gathered. With
  // ddp=torch (ZeroRedundancyOptimizer) DDP's all-reduce stays.
  c = collectives(build_workload(base + ",zero=1"));
  CHECK(c["reducescatter/dp/1"].bytes == grad_bytes);
  CHECK(c["reducescatter/dp/1"].n == 1);
  CHECK(c.count("allreduce/dp/1") == 0);
  CHECK(c["allgather/dp/2"].n == 1);
  CHECK(collectives(build_workload(base + ",zero=1,ddp=torch"))["allreduce/dp/1"].bytes == grad_bytes);
  CHECK(c["allgather/dp/2"].bytes == 2 * params);
  // ZeRO-2: reduce-scatter instead of allreduce.
  c = collectives(build_workload(base + ",zero=2"));
  CHECK(c["reducescatter/dp/1"].bytes == grad_bytes);
  CHECK(c["allgather/dp/2"].bytes == 2 * params);
  CHECK(c.count("allreduce/dp/1") == 0);
  // ZeRO-3: each group's parameters (embeddings, layer 0, layer 1, head) gathered
  // before its forward and again before its backward; nothing after the optimizer.
  c = collectives(build_workload(base + ",zero=3"));
  CHECK(c["allgather/dp/0"].n == 4);
  CHECK(c["allgather/dp/0"].bytes == 2 * params);
  CHECK(c["allgather/dp/1"].n == 4);
  CHECK(c["reducescatter/dp/1"].bytes == grad_bytes);
  CHECK(c.count("allgather/dp/2") == 0);
  // The optimizer works on 1/dp of the parameters.
  double opt_elems = 0, opt_elems_zero = 0;
  for (const auto& op : g.ops)
    if (op.kind == OpKind::optimizer) opt_elems += static_cast<double>(op.at("elems"));
  for (const auto& op : build_workload(base + ",zero=1").ops)
    if (op.kind == OpKind::optimizer) opt_elems_zero += static_cast<double>(op.at("elems"));
  CHECK(opt_elems_zero == Approx(opt_elems / 2).epsilon(1e-4));
}

TEST_CASE("ddp=megatron's default buckets: Megatron-core's size, and only the first chunk bucketed",
          "[parallel]") {
  // 8 layers of 12,596,224 parameters (per layer, in the backward's order:
  // mlp.c_proj 4,195,328, c_fc 4,198,400, ln_2 2,048, attn.c_proj 1,049,600, c_attn
  // 3,148,800, ln_1 2,048); lm_head 1,024,000 and ln_f 2,048 first, wte 1,024,000
  // and wpe 65,536 last: 102,885,376 in all.
  const std::string base = "gpt:layers=8,hidden=1024,heads=16,seq=64,vocab=1000,train=1,microbatch=1";
  // The elements (bf16: 2 B) of each gradient bucket of pipeline chunk `chunk`.
  const auto bucket_elems = [](const Graph& g, int64_t chunk) {
    std::vector<double> out;
    for (const auto& op : g.ops)
      if (op.name.rfind("dp.grad_bucket", 0) == 0 && op.get("stage", 0) == chunk)
        out.push_back(static_cast<double>(op.at("bytes")) / 2);
    return out;
  };
  // dp = 2: buckets of 40,000,000 elements, each sent once it holds at least that:
  // 1,026,048 + layers 7, 6, 5 + layer 4's mlp.c_proj = 43,010,048; layer 4's rest
  // 8,400,896 + layers 3, 2 + layer 1's mlp.c_proj and c_fc = 41,987,072; the rest
  // 17,888,256.
  CHECK(bucket_elems(build_workload(base + ",dp=2"), 0) == std::vector<double>{43010048, 41987072, 17888256});
  // dp = 64: 1,000,000 x 64 = 64,000,000 elements: 1,026,048 + layers 7..4 + layer
  // 3 through c_attn = 64,005,120 (its ln_1 opens the next); the rest 38,880,256.
  CHECK(bucket_elems(build_workload(base + ",dp=64"), 0) == std::vector<double>{64005120, 38880256});
  // pp = 2: the first stage (layers 0-3, wte, wpe: 51,474,432) is bucketed, layers
  // 3, 2, 1 and layer 0's mlp.c_proj = 41,984,000, then 9,490,432; the second stage
  // (layers 4-7, ln_f, lm_head: 51,410,944) reduces its whole buffer as one bucket,
  // with any bucket size.
  for (const std::string size : {"auto", "25"}) {
    const Graph pp = build_workload(base + ",dp=2,pp=2,bucket=" + size);
    CHECK(bucket_elems(pp, 1) == std::vector<double>{51410944});
    if (size == "auto") CHECK(bucket_elems(pp, 0) == std::vector<double>{41984000, 9490432});
  }
  // The interleaved schedule: model chunks after the first (chunks 2, 3 with pp = 2) are
  // one bucket each, stage 0's first chunk (layers 0, 1, wte, wpe) is bucketed.
  const Graph il =
      build_workload(base + ",dp=2,pp=2,global_batch=4,schedule=interleaved,virtual_stages=2,bucket=5");
  CHECK(bucket_elems(il, 2) == std::vector<double>{2 * 12596224.0});
  CHECK(bucket_elems(il, 3) == std::vector<double>{2 * 12596224.0 + 1026048});
  CHECK(bucket_elems(il, 0).size() > 1);
}

TEST_CASE("a fully exposed gradient reduction reports 0 s overlapped, not a rounding residue", "[parallel]") {
  // README's 32-GPU llama-7b: the second stage's one bucket (above) is reduced
  // after its last backward and overlaps nothing; total less exposed left
  // -6.939e-18 s in the report's "overlapped" column.
  const auto hw = load_hardware("dgx-h100", {"system.nodes=4"});
  const RunResult r = simulate_parallel(
      build_workload(
          "llama-7b:seq=4096,tp=4,pp=2,dp=4,global_batch=64,train=1,kernels=fused,sequence_parallel=1"),
      *hw, "analytic");
  const auto& roles = r.extra["parallel"]["roles"];
  CHECK(roles[1]["dp_comm_exposed_s"].get<double>() ==
        Approx(roles[1]["dp_comm_s"].get<double>()).epsilon(1e-12));
  CHECK(roles[1]["overlapped_comm_s"].get<double>() == 0.0);
  for (const auto& role : roles) CHECK(role["overlapped_comm_s"].get<double>() >= 0.0);
}

TEST_CASE("overlap_grad_reduce=0: the gradients reduced after the last backward, before the step",
          "[parallel]") {
  // The DDP case above without overlap: no buckets in the backward; in the
  // optimizer pass the whole bf16 gradient buffer (2 x params bytes) is scaled by
  // 1/dp in place (read and written: 4 B per parameter) and all-reduced once.
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,train=1";
  const Graph g = build_workload(base + ",overlap_grad_reduce=0");
  const double params = g.info.at("chunk0.params");
  auto c = collectives(g);
  CHECK(c.count("allreduce/dp/1") == 0);
  CHECK(c["allreduce/dp/2"].n == 1);
  CHECK(c["allreduce/dp/2"].bytes == 2 * params);
  const Op& scale = testing::find_op(g, "dp.grad_buffer.scale");
  CHECK(scale.get("pass", -1) == 2);
  CHECK(scale.at("elems") == params);
  CHECK(op_min_bytes(scale) == 4 * params);
  const Op& reduce = testing::find_op(g, "dp.grad_buffer");
  CHECK(reduce.get("after_backward", 0) == 1);
  CHECK(reduce.get("overlap", 0) == 0);
  // fp32 main gradients: 4 B per parameter moved, 8 B read and written by the scale.
  const Graph g32 = build_workload(base + ",overlap_grad_reduce=0,grad_reduce=fp32");
  CHECK(collectives(g32)["allreduce/dp/2"].bytes == 4 * params);
  CHECK(op_min_bytes(testing::find_op(g32, "dp.grad_buffer.scale")) == 8 * params);
  // On a DGX A100 (tp 4 x dp 2): the reduction is all exposed, and the iteration
  // is longer than with the buckets overlapping the backward.
  const auto hw = load_hardware("dgx-a100", {});
  const std::string big = "gpt:layers=4,hidden=2048,heads=16,seq=512,vocab=1000,tp=4,dp=2,train=1";
  const RunResult over = simulate_parallel(build_workload(big), *hw, "analytic");
  const RunResult after = simulate_parallel(build_workload(big + ",overlap_grad_reduce=0"), *hw, "analytic");
  const auto& ro = over.extra.at("parallel").at("roles")[0];
  const auto& ra = after.extra.at("parallel").at("roles")[0];
  CHECK(ra.at("dp_comm_s").get<double>() > 0);
  CHECK(ra.at("dp_comm_exposed_s").get<double>() == ra.at("dp_comm_s").get<double>());
  CHECK(ro.at("dp_comm_exposed_s").get<double>() < ro.at("dp_comm_s").get<double>());
  CHECK(after.time_s > over.time_s);
  // The whole-iteration engine runs it on the same path (no contention here; to the
  // SystemC kernel's rounding of times).
  CHECK(simulate_parallel(build_workload(big + ",overlap_grad_reduce=0"), *hw, "systemc").time_s ==
        Approx(after.time_s).epsilon(1e-8));
  // ZeRO-2 reduce-scatters as the backward goes: refused.
  CHECK_THROWS_WITH(
      build_workload(base + ",zero=2,overlap_grad_reduce=0"),
      "--workload '" + base +
          ",zero=2,overlap_grad_reduce=0': workload parameter "
          "'overlap_grad_reduce': 0 needs zero 0 or 1 (zero = 2 reduce-scatters each microbatch's "
          "gradients as the backward produces them)");
}

TEST_CASE("ddp=torch: AccumulateGrad from the second microbatch, the reducer's copies in the last",
          "[parallel]") {
  // The DDP case above, 3 microbatches (global batch 6 = 3 x microbatch 1 x dp 2).
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,train=1,microbatch=1";
  const Graph g = build_workload(base + ",dp=2,global_batch=6,ddp=torch");
  const double params = g.info.at("chunk0.params");
  // l0.mlp.c_fc: weight 1024 x 4096 and bias 4096 = 4198400 elements, 2 tensors.
  const Op& acc = testing::find_op(g, "l0.mlp.c_fc.accumulate_grad");
  CHECK(acc.get("pass", -1) == 1);
  CHECK(acc.get("in_microbatch", 0) == 1);  // not in the first microbatch
  CHECK(acc.at("elems") == 4198400);
  CHECK(acc.at("launches") == 2);
  CHECK(op_min_bytes(acc) == 3 * 2 * 4198400.0);  // bf16 .grad and new gradient read, .grad written
  const Op& copy = testing::find_op(g, "l0.mlp.c_fc.ddp_bucket_copy");
  CHECK(copy.get("in_microbatch", 0) == 2);        // the last microbatch only
  CHECK(op_min_bytes(copy) == 2 * 2 * 4198400.0);  // .grad read, bucket written
  // After the backward: every bucket copied back into .grad, a kernel per tensor.
  const Op& back = testing::find_op(g, "dp.copy_bucket_to_grad");
  CHECK(back.get("pass", -1) == 2);
  CHECK(back.at("elems") == params);
  int64_t tensors = 0;
  double copied = 0;
  for (const auto& op : g.ops)
    if (op.name.ends_with(".ddp_bucket_copy")) {
      tensors += op.at("launches");
      copied += static_cast<double>(op.at("elems"));
    }
  CHECK(copied == params);
  CHECK(back.at("launches") == tensors);
  // 2 layers x 6 tensors x 2 (weight, bias) + wte, wpe, ln_f (2), lm_head: 29.
  CHECK(tensors == 29);
  // The buckets are a second copy of the bf16 gradients: 4 B per parameter.
  CHECK(g.info.at("device0.grads_bytes") == 4 * params);
  // One microbatch: nothing to accumulate. One replica: no reducer.
  const Graph one = build_workload(base + ",dp=2,ddp=torch");
  // PyTorch's buckets (bf16 gradients in backward order, as in the DDP case above):
  // the first capped at 1 MiB holds lm_head's 2048000 B; then 25 MiB = 26214400 B:
  // ln_f 4096, layer 1's 8390656 + 8396800 + 4096 + 2099200 + 6297600 + 4096
  // (25196544 in all) and layer 0's mlp.c_proj 8390656, 33587200 B; the rest,
  // 18980864 B, at the end: 3 all-reduces of 54616064 B.
  auto bucket_bytes = [&](const char* name) { return testing::find_op(one, name).at("bytes"); };
  CHECK(bucket_bytes("dp.grad_bucket0") == 2048000);
  CHECK(bucket_bytes("dp.grad_bucket1") == 33587200);
  CHECK(bucket_bytes("dp.grad_bucket2") == 18980864);
  CHECK(collectives(one)["allreduce/dp/1"].n == 3);
  CHECK(testing::find_op(one, "l0.mlp.c_fc.ddp_bucket_copy").get("in_microbatch", 0) == 2);
  for (const auto& op : one.ops) CHECK_FALSE(op.name.ends_with(".accumulate_grad"));
  const Graph single = build_workload(base + ",global_batch=3,ddp=torch");
  CHECK(testing::find_op(single, "l0.mlp.c_fc.accumulate_grad").get("in_microbatch", 0) == 1);
  for (const auto& op : single.ops) CHECK_FALSE(op.name.ends_with("copy_bucket_to_grad"));
  CHECK(single.info.at("device0.grads_bytes") == 2 * params);

  // Timing on dgx-a100 devices (dp devices in one node). D(dp, m): what ddp=torch
  // adds to a device's busy time outside the optimizer pass, against
  // ddp=megatron (whose weight-gradient GEMMs add into its main-grad buffer).
  // With one replica it is (m - 1) AccumulateGrad passes A: D(1, 3) = 2 D(1, 2)
  // (an accumulation in the first microbatch too would make it 3/2).
  auto role = [&](int64_t dp, int64_t m, const std::string& ddp) {
    const auto hw = system_of(static_cast<int>(dp));
    const RunResult r = simulate_parallel(
        build_workload(fmt::format("{},dp={},global_batch={},ddp={}", base, dp, dp * m, ddp)), *hw,
        "analytic");
    return r.extra.at("parallel").at("roles")[0];
  };
  auto D = [&](int64_t dp, int64_t m) {
    const auto t = role(dp, m, "torch"), mg = role(dp, m, "megatron");
    return (t.at("busy_s").get<double>() - t.at("optimizer_s").get<double>()) -
           (mg.at("busy_s").get<double>() - mg.at("optimizer_s").get<double>());
  };
  const double a = D(1, 2);
  CHECK(a > 0);
  CHECK(D(1, 3) == Approx(2 * a).epsilon(1e-9));
  CHECK(role(1, 3, "torch").at("optimizer_s").get<double>() ==
        role(1, 3, "megatron").at("optimizer_s").get<double>());
  // With 2 replicas the last microbatch also copies into the buckets, once: a
  // third microbatch adds one accumulation and no copy, D(2, 3) - D(2, 2) = A (a
  // copy in every microbatch would add C = D(2, 1), 153 us, more), and the copy
  // back lengthens the optimizer pass.
  const double c1 = D(2, 1);
  CHECK(c1 > 0.5 * a);
  CHECK(D(2, 3) - D(2, 2) == Approx(a).epsilon(1e-9));
  CHECK(role(2, 1, "torch").at("optimizer_s").get<double>() >
        role(2, 1, "megatron").at("optimizer_s").get<double>());
  // The whole-iteration engine runs each microbatch's form of the backward.
  {
    const auto hw = system_of(2);
    const Graph g3 = build_workload(base + ",dp=2,global_batch=6,ddp=torch");
    CHECK(simulate_parallel(g3, *hw, "systemc").time_s ==
          Approx(simulate_parallel(g3, *hw, "analytic").time_s).epsilon(1e-8));
  }
  // What DDP does not do is refused, naming it.
  CHECK_THROWS_WITH(
      build_workload(base + ",dp=2,ddp=torch,grad_reduce=fp32"),
      "--workload '" + base +
          ",dp=2,ddp=torch,grad_reduce=fp32': workload parameter 'ddp': torch does not run with "
          "grad_reduce=fp32 (DDP reduces each gradient in its own type; fp32 reduction is Megatron-LM's "
          "main-grad buffer); accepted with it: grad_reduce=auto, grad_accum_fusion=1, "
          "overlap_grad_reduce=1, zero 0 or 1, ep=1, or ddp=megatron");
  CHECK_THROWS_WITH(
      build_workload(base + ",dp=2,ddp=torch,zero=2"),
      Catch::Contains("torch does not run with zero=2|3 (gradient sharding is FSDP's or DeepSpeed's"));
}

TEST_CASE("expert-parallel all-to-all per step (moe)", "[parallel]") {
  // 2 layers, ep=2 (of dp=2), top_k 2: per layer a dispatch and a combine all-to-all
  // of the routed token copies, t x top_k x d x 2 bytes = 64 x 2 x 256 x 2, in the
  // forward and again in the backward; each rank holds 8/2 experts.
  const Graph g = build_workload("moe:seq=64,layers=2,d=256,heads=4,kv_heads=4,ffn=512,dp=2,ep=2,train=1");
  auto c = collectives(g);
  CHECK(c["alltoall/ep/0"].n == 4);
  CHECK(c["alltoall/ep/0"].bytes == 4 * 65536.0);
  CHECK(c["alltoall/ep/1"].n == 4);
  int w1 = 0;
  for (const auto& op : g.ops) w1 += op.get("pass", -1) == 0 && op.name.find(".w1") != std::string::npos;
  CHECK(w1 == 2 * 4);
  CHECK(g.info.at("device0.activations_bytes") > 0);
}

TEST_CASE("tp x pp x dp must match the system's device count", "[parallel]") {
  auto one = load_hardware("h100-sxm", {});
  const Graph g = build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,tp=2,pp=2");
  CHECK_THROWS_WITH(simulate_parallel(g, *one, "analytic"),
                    "--workload 'gpt:layers=2,hidden=256,heads=4,seq=64,tp=2,pp=2': tp x pp x dp = 2 x 2 x 1 = 4 "
                    "devices, but hardware 'h100-sxm' has 1 device; change tp, pp or dp or use a system "
                    "description (e.g. several nodes)");
  const auto out = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", "gpt:layers=2,hidden=256,heads=4,seq=64,dp=2"});
  CHECK(out.code == 2);
  CHECK(out.err.find("tp x pp x dp = 1 x 1 x 2 = 2 devices, but hardware 'h100-sxm' has 1 device") != std::string::npos);
  CHECK(out.out.empty());
  // Parameters that do not divide the model.
  CHECK_THROWS_WITH(build_workload("gpt:layers=3,hidden=256,heads=4,seq=64,pp=2"),
                    Catch::Contains("3 layers are not a multiple of pp x virtual_stages = 2 x 1"));
  CHECK_THROWS_WITH(build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,tp=3"),
                    Catch::Contains("'tp': 3 must divide heads=4"));
  CHECK_THROWS_WITH(build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,dp=2,global_batch=3"),
                    Catch::Contains("'global_batch': 3 is not a multiple of microbatch x dp = 1 x 2"));
}

TEST_CASE("role deduplication: identical chunks are one simulation and match an explicit run", "[parallel]") {
  auto hw = system_of(4);
  const Graph g = build_workload("gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,global_batch=8,train=1");
  const RunResult r = simulate_parallel(g, *hw, "analytic");
  const auto& p = r.extra["parallel"];
  // Chunk 0..3 are one layer each: forward, backward, optimizer and the p2p
  // transfer (one size both ways) are four distinct simulations, whatever pp.
  CHECK(p["distinct_simulations"].get<int>() == 4);
  // The explicit run: chunk 2's forward ops (dependencies inside the chunk) on
  // the single-device engine.
  Graph f;
  std::map<int, int> local;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    if (op.get("stage", -1) != 2 || op.get("pass", -1) != 0 || op.get("p2p", 0)) continue;
    Op o = op;
    o.deps.clear();
    for (int d : op.deps)
      if (local.count(d)) o.deps.push_back(local[d]);
    local[static_cast<int>(i)] = f.add(o);
  }
  // Each device's host timeline as on one device (models/compute/host.h): the
  // pass is the single-device run, host included.
  CHECK(p["roles"][2]["forward_s"].get<double>() == simulate(f, *hw).time_s);
  // Data-parallel replicas are the same role: with dp=4 every device of a
  // pipeline position computes the same forward and backward.
  auto hw16 = system_of(16);
  const RunResult r4 = simulate_parallel(
      build_workload("gpt:layers=4,hidden=512,heads=8,seq=256,embed=0,pp=4,dp=4,global_batch=32,train=1"), *hw16,
      "analytic");
  for (int d = 0; d < 4; ++d) {
    CHECK(r4.extra["parallel"]["roles"][d]["forward_s"] == p["roles"][d]["forward_s"]);
    CHECK(r4.extra["parallel"]["roles"][d]["backward_s"] == p["roles"][d]["backward_s"]);
    CHECK(r4.extra["parallel"]["roles"][d]["devices"] == 4);
  }
  CHECK(r4.extra["parallel"]["pipeline_without_p2p_s"] == p["pipeline_without_p2p_s"]);
}

TEST_CASE("bert and transformer-base take tp, pp and dp (Megatron-LM splits of their linears)", "[parallel]") {
  // bert-base, 2 layers, tp = 2, seq 64: per layer 2 forward allreduces (attention
  // output and output dense, row-parallel) plus the vocabulary-parallel word
  // embedding's; backward 2 per layer (the gradients of the inputs of Q/K/V and of
  // the intermediate dense, column-parallel). Each 64 tokens x 768 x 2 bytes.
  const Graph g = build_workload("bert-base:layers=2,seq=64,tp=2,train=1");
  auto c = collectives(g);
  const double bytes = 64 * 768 * 2;
  CHECK(c["allreduce/tp/0"].n == 5);
  CHECK(c["allreduce/tp/0"].bytes == 5 * bytes);
  CHECK(c["allreduce/tp/1"].n == 4);
  CHECK(c["allreduce/tp/2"].n == 1);   // the gradient norm
  CHECK(c.size() == 3);
  // The shard's shapes: Q 768 -> 384 outputs, intermediate 3072 -> 1536 and its
  // GELU, output dense 1536 inputs, 6 of 12 heads, vocab 30522 -> 15261.
  std::map<std::string, const Op*> by;
  for (const auto& op : g.ops)
    if (op.get("pass", 0) == 0) by[op.name] = &op;
  CHECK(by.at("l0.attn.query")->at("n") == 384);
  CHECK(by.at("l0.intermediate.dense")->at("n") == 1536);
  CHECK(by.at("l0.intermediate.gelu")->at("cols") == 1536);
  CHECK(by.at("l1.output.dense")->at("k") == 1536);
  CHECK(by.at("l1.attn.sdpa")->at("heads") == 6);
  CHECK(by.at("embeddings.word")->at("vocab") == 15261);
  CHECK(by.at("pooler.dense")->at("n") == 768);   // replicated
  // pp = 2: layers 0-5 and the embeddings in chunk 0, layers 6-11 and the pooler in 1.
  const Graph p = build_workload("bert-base:tp=2,pp=2,dp=2,global_batch=4,train=1");
  for (const auto& op : p.ops) {
    if (op.get("pass", 0) != 0 || is_collective_kind(op.kind)) continue;
    INFO(op.name);
    const bool late = op.name.rfind("pooler", 0) == 0 || (op.name[0] == 'l' && std::stoi(op.name.substr(1)) >= 6);
    CHECK(op.get("stage", 0) == (late ? 1 : 0));
  }
  auto hw = system_of(8);
  const RunResult r = simulate_parallel(p, *hw, "analytic");
  CHECK(r.extra["parallel"]["roles"].size() == 2);
  CHECK(r.time_s > 0);
  // transformer-base: tp and dp; a pipeline cannot carry the encoder output to
  // every decoder layer, so pp is refused (exit 2 naming why).
  CHECK(collectives(build_workload("transformer-base:tp=2,dp=4,train=1"))["allreduce/tp/0"].n > 0);
  const auto o = testing::run_cli({"run", "--hw", "dgx-a100", "--workload", "transformer-base:tp=2,pp=2,dp=2"});
  CHECK(o.code == 2);
  CHECK(o.err.find("'pp': transformer-base takes no pipeline parallelism: every decoder layer's cross-attention "
                   "reads the encoder's output") != std::string::npos);
  // Errors name the parameter: tp not dividing the heads, eager attention split.
  CHECK_THROWS_WITH(build_workload("bert-base:tp=5"), Catch::Contains("'tp': 5 must divide bert-base's heads=12"));
  CHECK_THROWS_WITH(build_workload("bert-base:tp=2,attn=eager"), Catch::Contains("use attn=sdpa"));
  CHECK_THROWS_WITH(build_workload("bert-base:tp=2,sequence_parallel=1"),
                    Catch::Contains("'sequence_parallel': not modelled for bert-base"));
  // Without parallel parameters the serial model is unchanged.
  CHECK(build_workload("bert-base:layers=2").info.count("parallel") == 0);
}

TEST_CASE("attn=megatron: Megatron-LM's unfused core attention, scale and mask inside the softmax",
          "[parallel][attention]") {
  // Per layer: baddbmm (Q.K^T, scaled by alpha), FusedScaleMaskSoftmax (one kernel),
  // the attention dropout, bmm (P.V); the eager path adds a scale and a mask add,
  // each a pass over the batch x heads/tp x seq x seq scores.
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=512,vocab=1000,tp=8,train=1,dropout=0.1,";
  auto names = [](const Graph& g) {
    std::vector<std::string> out;
    for (const Op& op : g.ops)
      if (op.name.rfind("l0.attn.sdpa", 0) == 0 && op.name.find(".grad") == std::string::npos)
        out.push_back(op.name);
    return out;
  };
  const Graph mega = build_workload(base + "attn=megatron");
  // ... and the context's permute(2, 0, 1, 3).contiguous(): a copy whose backward is a view.
  CHECK(names(mega) == std::vector<std::string>{"l0.attn.sdpa.qk", "l0.attn.sdpa.softmax",
                                                "l0.attn.sdpa.dropout", "l0.attn.sdpa.pv",
                                                "l0.attn.sdpa.context_contiguous"});
  CHECK(testing::find_op(mega, "l0.attn.sdpa.context_contiguous").at("rows") *
            testing::find_op(mega, "l0.attn.sdpa.context_contiguous").at("cols") ==
        2 * 512 * 64);  // 2 heads per rank x 512 queries x head dim 64
  for (const Op& op : mega.ops) CHECK(op.name != "l0.attn.sdpa.context_contiguous.grad");
  CHECK(names(build_workload(base + "attn=eager")) ==
        std::vector<std::string>{"l0.attn.sdpa.qk", "l0.attn.sdpa.scale", "l0.attn.sdpa.bias",
                                 "l0.attn.sdpa.softmax", "l0.attn.sdpa.dropout", "l0.attn.sdpa.pv"});
  bool softmax_grad = false;
  for (const Op& op : mega.ops) softmax_grad = softmax_grad || op.name == "l0.attn.sdpa.softmax.grad";
  CHECK(softmax_grad);
  // 16 / 8 = 2 heads per rank: the softmax over 2 x 512 rows of 512 scores.
  for (const Op& op : mega.ops)
    if (op.name == "l0.attn.sdpa.softmax") CHECK(op.at("rows") * op.at("cols") == 2 * 512 * 512);
  // Its kernel when is_kernel_available (fp16/bf16, 16 < sk <= 4096, sq, sk and
  // batch x heads multiples of 4): here batch x heads per rank = 1 x 2, so
  // forward_torch_softmax, PyTorch's kernel. At tp = 2 (8 heads per rank)
  // scaled_upper_triang_masked_softmax, which reads only row i's first i + 1 scores:
  // 8 x 512 x 512 x 513 / 1024 = 1050624 bf16 read (2101248 B), 2097152 written
  // (4194304 B). Its backward reads the gradient and the output alike.
  CHECK(testing::find_op(mega, "l0.attn.sdpa.softmax").get("fused_scale_mask", 0) == 0);
  const Graph mega2 = build_workload(
      "gpt:layers=2,hidden=1024,heads=16,seq=512,vocab=1000,tp=2,train=1,dropout=0.1,attn=megatron");
  const Op& sm = testing::find_op(mega2, "l0.attn.sdpa.softmax");
  CHECK(sm.get("fused_scale_mask", 0) == 2);
  CHECK(op_min_bytes(sm) == 2101248.0 + 4194304.0);
  const Op& smg = testing::find_op(mega2, "l0.attn.sdpa.softmax.grad");
  CHECK(smg.get("fused_scale_mask", 0) == 2);
  CHECK(op_traffic(smg).read == 2 * 2101248.0);
  CHECK(op_traffic(smg).written == 4194304.0);
  // On a GPU: one warp per row, one memory round trip (PyTorch's kernel for rows of
  // up to 2048 bf16 takes the same warp path; at 4096 keys it is a 1024-thread
  // block per row).
  {
    const auto h100 = load_hardware("h100-sxm", {});
    const Graph g1 = build_workload("gpt:layers=1,hidden=2048,heads=16,seq=4096,vocab=1000,attn=megatron");
    const Graph g2 = build_workload("gpt:layers=1,hidden=2048,heads=16,seq=4096,vocab=1000,attn=eager");
    const Program p1 = compile(g1, *h100), p2 = compile(g2, *h100);
    auto kernel_of = [](const Program& p, const Graph& g, const std::string& name) -> const Kernel& {
      for (const Kernel& k : p.kernels)
        if (g.ops[static_cast<size_t>(k.op_index)].name == name) return k;
      FAIL("no kernel " << name);
      return p.kernels.front();
    };
    const Kernel& fused = kernel_of(p1, g1, "l0.attn.sdpa.softmax");
    const Kernel& torch = kernel_of(p2, g2, "l0.attn.sdpa.softmax");
    CHECK(fused.mapping.find("32 threads per row") != std::string::npos);
    CHECK(torch.mapping.find("1024 threads per row") != std::string::npos);
    // 16 x 4096 rows of 4096 bf16 (536,870,912 B): 268,500,992 B read (4097 / 8192
    // of the scores), 536,870,912 B written.
    CHECK(fused.bytes == 268500992.0 + 536870912.0);
  }
  // fp32, or keys beyond 4096: its forward_torch_softmax, PyTorch's kernel.
  CHECK(testing::find_op(build_workload("gpt:layers=1,hidden=1024,heads=16,seq=512,vocab=1000,attn=megatron,"
                                        "dtype=fp32"),
                         "l0.attn.sdpa.softmax")
            .get("fused_scale_mask", 0) == 0);
  CHECK(testing::find_op(build_workload("gpt:layers=1,hidden=256,heads=4,seq=8192,vocab=1000,attn=megatron"),
                         "l0.attn.sdpa.softmax")
            .get("fused_scale_mask", 0) == 0);
  // The scores are kept for the backward (the footprint's 5as/h term applies).
  CHECK(mega.info.at("attn_fused") == 0);
  // Two passes fewer per layer in each direction: faster than eager, slower than
  // FlashAttention on an A100 node.
  const auto hw = load_hardware("dgx-a100", {});
  const double t_mega = simulate_parallel(mega, *hw, "analytic").time_s;
  CHECK(t_mega < simulate_parallel(build_workload(base + "attn=eager"), *hw, "analytic").time_s);
  CHECK(t_mega > simulate_parallel(build_workload(base + "attn=sdpa"), *hw, "analytic").time_s);
  // Its causal softmax kernel masks by position; HF token masks are refused.
  CHECK_THROWS_WITH(
      build_workload("gpt:layers=1,hidden=256,heads=4,seq=64,attn=megatron,attention_mask=ones"),
      "--workload 'gpt:layers=1,hidden=256,heads=4,seq=64,attn=megatron,attention_mask=ones': workload "
      "parameter 'attention_mask': 'ones' is Hugging Face's masking; attn=megatron takes none");
}

TEST_CASE("grad_accum_fusion=0: Megatron-LM's DDP hook adds each microbatch's weight gradients",
          "[parallel]") {
  // main_grad.add_(grad) per parameter after its weight gradient, in every
  // microbatch's backward: c_attn at tp=8 holds 1024 x 3072/8 + 3072/8 = 393600
  // parameters, 2 tensors (weight, bias): 2 B gradient + 2 B main gradient read and
  // 2 B written per element in bf16, 2 + 4 read and 4 written with grad_reduce=fp32.
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,tp=8,global_batch=4,train=1";
  const auto find = [](const Graph& g, const std::string& name) -> const Op* {
    for (const Op& op : g.ops)
      if (op.name == name) return &op;
    return nullptr;
  };
  const Graph fused = build_workload(base);
  CHECK(find(fused, "l0.attn.c_attn.main_grad_add") == nullptr);  // fused: none
  const Graph g = build_workload(base + ",grad_accum_fusion=0");
  const Op* acc = find(g, "l0.attn.c_attn.main_grad_add");
  REQUIRE(acc != nullptr);
  CHECK(acc->kind == OpKind::optimizer);
  CHECK(acc->at("elems") == 393600);
  CHECK(acc->at("launches") == 2);
  CHECK(op_min_bytes(*acc) == 393600.0 * 6);
  CHECK(acc->get("pass", -1) == 1);  // the backward pass: every microbatch
  const Graph g32 = build_workload(base + ",grad_accum_fusion=0,grad_reduce=fp32");
  const Op* acc32 = find(g32, "l0.attn.c_attn.main_grad_add");
  REQUIRE(acc32 != nullptr);
  CHECK(op_min_bytes(*acc32) == 393600.0 * 10);
  // It costs time in each of the 4 microbatches.
  const auto hw = load_hardware("dgx-a100", {});
  CHECK(simulate_parallel(g, *hw, "analytic").time_s > simulate_parallel(fused, *hw, "analytic").time_s);
}
