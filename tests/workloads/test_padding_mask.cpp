// BERT's attention_mask as Hugging Face handles it (workloads/models/transformers.cpp,
// hf_encoder_mask): the kernels that build the mask, the attention that reads it,
// the backend it sends SDPA to, compare's records and the refusals.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "compiler/compile.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "sim/tools/compare_train.h"
#include "tests/support/graph_ops.h"
#include "tests/support/workload_errors.h"
#include "workloads/workloads.h"

using namespace tessera;
using testing::find_op;

namespace {

std::vector<std::string> mask_ops(const Graph& g) {
  std::vector<std::string> out;
  for (const Op& op : g.ops)
    if (op.name.rfind("attention_mask.", 0) == 0) out.push_back(op.name);
  return out;
}

bool depends_on(const Graph& g, const Op& op, const std::string& name) {
  return std::any_of(op.deps.begin(), op.deps.end(),
                     [&](int d) { return g.ops[static_cast<size_t>(d)].name == name; });
}

// Kernels are named op#index.
const Kernel& kernel_named(const Program& p, const std::string& name) {
  for (const Kernel& k : p.kernels)
    if (k.name.rfind(name + "#", 0) == 0) return k;
  FAIL("no kernel named " << name);
  return p.kernels.front();
}

}  // namespace

TEST_CASE("bert's attention_mask: none launches nothing, ones the check, padded the 4-D mask",
          "[workloads][bert][mask]") {
  // none is the default: the same graph as leaving it out, no mask op, no bias.
  const Graph none = build_workload("bert-base:batch=8,seq=512,layers=2,attention_mask=none");
  CHECK(none.ops.size() == build_workload("bert-base:batch=8,seq=512,layers=2").ops.size());
  CHECK(mask_ops(none).empty());
  CHECK(find_op(none, "l0.attn.sdpa").get("bias", 0) == 0);

  // ones: attention_mask.to(torch.bool) over the [8, 512] token mask, then
  // padding_mask.all() read by a Python `if` (a host sync); no mask reaches SDPA.
  const Graph ones = build_workload("bert-base:batch=8,seq=512,layers=2,attention_mask=ones");
  CHECK(mask_ops(ones) == std::vector<std::string>{"attention_mask.to_bool", "attention_mask.all"});
  const Op& all = find_op(ones, "attention_mask.all");
  CHECK(all.kind == OpKind::reduce);
  CHECK(all.at("rows") == 8 * 512);
  CHECK(all.get("host_sync", 0) == 1);
  CHECK(find_op(ones, "l0.attn.sdpa").get("bias", 0) == 0);
  // Built after the embeddings (BertModel.forward's order).
  CHECK(depends_on(ones, find_op(ones, "attention_mask.to_bool"), "embeddings.layernorm"));

  // padded: sdpa_mask's 13 launches, the last writing the [8, 1, 512, 512] bool mask.
  const Graph pad = build_workload("bert-base:batch=8,seq=512,layers=2,attention_mask=padded");
  CHECK(mask_ops(pad) == std::vector<std::string>{"attention_mask.to_bool", "attention_mask.all",
                                                  "attention_mask.arange_batch", "attention_mask.arange_head",
                                                  "attention_mask.arange_q", "attention_mask.q_offset",
                                                  "attention_mask.arange_kv", "attention_mask.kv_offset",
                                                  "attention_mask.new_ones", "attention_mask.bidirectional",
                                                  "attention_mask.and_bidirectional",
                                                  "attention_mask.padding", "attention_mask.and_padding"});
  const Op& m = find_op(pad, "attention_mask.and_padding");
  CHECK(m.out_dtype == DType::uint8);
  CHECK(m.at("rows") * m.at("cols") == 8 * 512 * 512);  // 2 MiB of bool
  for (const char* layer : {"l0.attn.sdpa", "l1.attn.sdpa"}) {
    const Op& a = find_op(pad, layer);
    CHECK(a.get("bias", 0) == 1);
    CHECK(a.get("bias_head_shared", 0) == 1);
    CHECK(a.get("bias_bool", 0) == 1);
    CHECK(a.get("bias_shared", 0) == 0);
    CHECK(depends_on(pad, a, "attention_mask.and_padding"));
    // One copy for the 12 heads: 8 x 512 x 512 elements, not 8 x 12 x 512 x 512.
    CHECK(attention_bias_elems(a) == 8.0 * 512 * 512);
  }

  // attn=eager: eager_mask turns the bool mask into 0 / finfo.min in bf16, and the
  // scores' add reads it.
  const Graph eager = build_workload("bert-base:batch=8,seq=512,layers=1,attention_mask=padded,attn=eager");
  const Op& where = find_op(eager, "attention_mask.where");
  CHECK(where.dtype == DType::uint8);
  CHECK(where.out_dtype == DType::bf16);
  CHECK(depends_on(eager, find_op(eager, "l0.attn.sdpa.bias"), "attention_mask.where"));
  CHECK(
      mask_ops(build_workload("bert-base:batch=8,seq=512,layers=1,attention_mask=ones,attn=eager")).size() ==
      2);
}

TEST_CASE("a padded mask sends bert's SDPA off FlashAttention and costs its reads",
          "[workloads][bert][mask][gpu]") {
  const std::string spec = "bert-base:batch=8,seq=512,layers=1";
  // A100 (sm80, cuDNN not preferred): FlashAttention-2 without a mask; with one,
  // flash is refused and the memory-efficient kernel runs.
  const auto a100 = load_hardware("a100-80gb", {});
  CHECK(kernel_named(compile(build_workload(spec), *a100), "l0.attn.sdpa")
            .mapping.rfind("flash2 attention", 0) == 0);
  const std::string eff =
      kernel_named(compile(build_workload(spec + ",attention_mask=padded"), *a100), "l0.attn.sdpa").mapping;
  CHECK(eff.rfind("efficient attention (SDPA backend efficient: flash takes no attn_mask)", 0) == 0);
  // H100 (cuDNN 9.19 preferred): cuDNN either way, reading the mask.
  const auto h100 = load_hardware("h100-sxm", {});
  const Program p = compile(build_workload(spec + ",attention_mask=padded"), *h100);
  const Kernel& k = kernel_named(p, "l0.attn.sdpa");
  CHECK(k.mapping.rfind("flash3 attention", 0) == 0);
  // [8, 1, 512, 512] converted to bf16: 4 MiB from DRAM, 12 heads x 4 MiB through the L2.
  CHECK(k.mapping.find(
            "attn_mask bool broadcast over the heads (4194304 B from DRAM, 50331648 B through the L2)") !=
        std::string::npos);
  // convert_boolean_attn_mask's kernel beside cuDNN's.
  CHECK(k.info.launches.value_or(1) == 2);
  // The mask costs time on both GPUs (the host sync, 13 more launches, the reads).
  for (const auto* hw : {a100.get(), h100.get()})
    CHECK(simulate(build_workload(spec + ",attention_mask=padded"), *hw).time_s >
          simulate(build_workload(spec), *hw).time_s * 1.02);
}

TEST_CASE("bert's attention_mask: training, compare's records and refusals", "[workloads][bert][mask]") {
  // The mask has no gradient: the attention's backward reads it, nothing reduces it.
  const Graph t = build_workload("bert-base:batch=2,seq=64,layers=1,attention_mask=padded,train=1,amp=bf16");
  CHECK(std::none_of(t.ops.begin(), t.ops.end(), [](const Op& op) {
    return op.name.find("grad_bias") != std::string::npos && op.name.find("attn.sdpa") != std::string::npos;
  }));
  CHECK(find_op(t, "l0.attn.sdpa.grad").get("bias_head_shared", 0) == 1);
  // Autocast leaves the bool mask alone (no cast in front of the attention's 4th input).
  CHECK(std::none_of(t.ops.begin(), t.ops.end(),
                     [](const Op& op) { return op.name == "l0.attn.sdpa.autocast_in3"; }));

  CHECK(testing::workload_error("bert-base:attention_mask=left") ==
        "--workload 'bert-base:attention_mask=left': workload parameter 'attention_mask': 'left' is not "
        "accepted; accepted: none, ones, padded");

  // compare: an e2eg record's attention_mask field (measure_gpu.py) picks the variant.
  std::string skip;
  nlohmann::json r = {{"section", "e2eg"}, {"model", "bert-base"}, {"dtype", "bf16"},
                      {"batch", 8},        {"seq", 512},           {"attention_mask", "padded"}};
  const auto spec = model_record_spec("e2eg", r, skip);
  REQUIRE(spec);
  CHECK(spec->spec == "bert-base:batch=8,seq=512,dtype=bf16,attention_mask=padded");
  r["attention_mask"] = "none";
  CHECK(model_record_spec("e2eg", r, skip)->spec == "bert-base:batch=8,seq=512,dtype=bf16");
  r["model"] = "gpt2-small";
  r["attention_mask"] = "padded";
  CHECK_FALSE(model_record_spec("e2eg", r, skip));
  CHECK(skip == "e2eg attention_mask 'padded' is not modelled (bert-base takes ones and padded)");
}

TEST_CASE("decoders' attention_mask: the causal mask HF builds, and SDPA without is_causal",
          "[workloads][decoder][mask]") {
  // gpt2-small, sdpa, padded: the 13 launches with causal_mask_function's
  // kv_idx <= q_idx ([1, 1, 128, 128]) in place of the encoder's q_idx >= 0.
  const Graph pad = build_workload("gpt2-small:batch=4,seq=128,layers=1,attention_mask=padded");
  CHECK(mask_ops(pad) == std::vector<std::string>{"attention_mask.to_bool", "attention_mask.all",
                                                  "attention_mask.arange_batch", "attention_mask.arange_head",
                                                  "attention_mask.arange_q", "attention_mask.q_offset",
                                                  "attention_mask.arange_kv", "attention_mask.kv_offset",
                                                  "attention_mask.new_ones", "attention_mask.causal",
                                                  "attention_mask.and_causal", "attention_mask.padding",
                                                  "attention_mask.and_padding"});
  CHECK(find_op(pad, "attention_mask.causal").at("rows") * find_op(pad, "attention_mask.causal").at("cols") ==
        128 * 128);
  const Op& a = find_op(pad, "l0.attn.sdpa");
  // The mask carries the causality: is_causal=False, so the fused kernel computes
  // every block: 4 x 4 x 12 x 128 x 128 x 64 = 201,326,592 FLOP, twice the causal
  // attention's.
  CHECK(a.get("causal", 1) == 0);
  CHECK(a.get("bias_head_shared", 0) == 1);
  CHECK(a.get("bias_bool", 0) == 1);
  CHECK(op_flops(a) == 201326592.0);
  const Graph none = build_workload("gpt2-small:batch=4,seq=128,layers=1");
  CHECK(op_flops(find_op(none, "l0.attn.sdpa")) == 100663296.0);
  CHECK(mask_ops(none).empty());
  // Producers by position: q, k, v (the one c_attn output) and the mask.
  std::vector<std::string> deps;
  for (int d : a.deps) deps.push_back(pad.ops[static_cast<size_t>(d)].name);
  CHECK(deps == std::vector<std::string>{"l0.attn.c_attn", "l0.attn.c_attn", "l0.attn.c_attn",
                                         "attention_mask.and_padding"});

  // ones with sdpa: the check skips the mask, and SDPA runs is_causal.
  const Graph ones = build_workload("gpt2-small:batch=4,seq=128,layers=1,attention_mask=ones");
  CHECK(mask_ops(ones).size() == 2);
  CHECK(find_op(ones, "l0.attn.sdpa").get("causal", 0) == 1);
  CHECK(find_op(ones, "l0.attn.sdpa").get("bias", 0) == 0);

  // attn=eager: eager_mask builds the causal mask even without a token mask (no
  // check, nothing to skip), and the scores' add reads it.
  const Graph eager = build_workload("llama-7b:batch=1,seq=64,layers=1,attn=eager");
  CHECK(mask_ops(eager) == std::vector<std::string>{"attention_mask.arange_batch",
                                                    "attention_mask.arange_head", "attention_mask.arange_q",
                                                    "attention_mask.q_offset", "attention_mask.arange_kv",
                                                    "attention_mask.kv_offset", "attention_mask.causal",
                                                    "attention_mask.zero", "attention_mask.where"});
  CHECK(depends_on(eager, find_op(eager, "l0.attn.sdpa.bias"), "attention_mask.where"));
  // With a padded token mask, no all() check (eager_mask may not skip a causal
  // mask): to_bool, the 6 index kernels, new_ones, causal, its &, the gather, the
  // final &, zero and where: 14.
  const Graph eager_pad = build_workload("llama-7b:batch=1,seq=64,layers=1,attn=eager,attention_mask=padded");
  CHECK(mask_ops(eager_pad).size() == 14);
  CHECK(std::none_of(eager_pad.ops.begin(), eager_pad.ops.end(),
                     [](const Op& op) { return op.name == "attention_mask.all"; }));

  // embed=0 (the decoder layers alone): the model builds the mask, the layers only
  // read it, so no mask kernel, but the attention still takes it.
  const Graph layers = build_workload("llama-7b:batch=2,seq=64,layers=1,embed=0,attention_mask=padded");
  CHECK(mask_ops(layers).empty());
  CHECK(find_op(layers, "l0.attn.sdpa").get("bias_head_shared", 0) == 1);
  CHECK(find_op(layers, "l0.attn.sdpa").get("causal", 1) == 0);
  CHECK(mask_ops(build_workload("llama-7b:batch=2,seq=64,layers=1,embed=0,attn=eager")).empty());

  // A decode step (generate's token mask, one longer each step): the new token
  // against ctx 2048 cached ones, [8, 1, 1, 2049]. With the static cache (the
  // default) sdpa_mask may not skip it (allow_is_causal_skip is off for a
  // compileable cache): no all() check, the mask is built even for ones.
  const Graph dec = build_workload("llama-7b:phase=decode,batch=8,ctx=2048,layers=1,attention_mask=ones");
  CHECK(mask_ops(dec).size() == 12);
  const Op& dm = find_op(dec, "attention_mask.and_padding");
  CHECK(dm.at("rows") * dm.at("cols") == 8 * 2049);
  CHECK(find_op(dec, "attention_mask.causal").at("cols") == 2049);
  CHECK(attention_bias_elems(find_op(dec, "l0.attn.sdpa")) == 8.0 * 2049);
  // With HF's DynamicCache the check runs and skips an all-ones mask.
  const Graph dyn = build_workload(
      "llama-7b:phase=decode,batch=8,ctx=2048,layers=1,attention_mask=ones,"
      "kv_cache=dynamic");
  CHECK(mask_ops(dyn) == std::vector<std::string>{"attention_mask.to_bool", "attention_mask.all"});
  CHECK(find_op(dyn, "l0.attn.sdpa").get("bias", 0) == 0);
  CHECK(mask_ops(build_workload("llama-7b:phase=decode,batch=8,ctx=2048,layers=1,kv_cache=dynamic,"
                                "attention_mask=padded"))
            .size() == 13);

  // Refused: sharded (Megatron-style) runs.
  CHECK(testing::workload_error("gpt:layers=2,hidden=256,heads=4,seq=64,tp=2,attention_mask=ones") ==
        "--workload 'gpt:layers=2,hidden=256,heads=4,seq=64,tp=2,attention_mask=ones': workload parameter "
        "'attention_mask': 'ones' is Hugging Face's single-device masking; not with tp, pp or dp");
}

TEST_CASE("grouped-query attention with a mask: repeat_kv copies K and V to every head",
          "[workloads][decoder][mask][gqa]") {
  // Without a mask HF passes enable_gqa: SDPA reads llama-70b's 8 kv heads.
  const Graph none = build_workload("llama-70b:batch=1,seq=512,layers=1");
  CHECK(find_op(none, "l0.attn.sdpa").at("kv_heads") == 8);
  CHECK(std::none_of(none.ops.begin(), none.ops.end(),
                     [](const Op& op) { return op.name.find("repeat") != std::string::npos; }));

  // With one (use_gqa_in_sdpa is False), repeat_kv expands K and V to the 64 heads:
  // one copy each of 1 x 64 x 512 rows of 128, every kv head's 512 x 128 slice
  // written 8 times; SDPA then runs on 64 kv heads, reading the copies and the mask.
  const Graph pad = build_workload("llama-70b:batch=1,seq=512,layers=1,attention_mask=padded");
  for (const char* name : {"l0.attn.repeat_k", "l0.attn.repeat_v"}) {
    const Op& r = find_op(pad, name);
    CHECK(r.kind == OpKind::copy);
    CHECK(r.at("rows") == 64 * 512);
    CHECK(r.at("cols") == 128);
    CHECK(r.at("expand") == 8);
    CHECK(r.at("expand_slice") == 512 * 128);
    // 2 B x 64 x 512 x 128 written, an eighth of it read: 8388608 + 1048576 B.
    CHECK(op_min_bytes(r) == 9437184.0);
  }
  CHECK(depends_on(pad, find_op(pad, "l0.attn.repeat_k"), "l0.attn.rope_k.add"));
  CHECK(depends_on(pad, find_op(pad, "l0.attn.repeat_v"), "l0.attn.v_proj"));
  const Op& sdpa = find_op(pad, "l0.attn.sdpa");
  CHECK(sdpa.at("kv_heads") == 64);
  REQUIRE(sdpa.deps.size() == 4);
  CHECK(pad.ops[static_cast<size_t>(sdpa.deps[1])].name == "l0.attn.repeat_k");
  CHECK(pad.ops[static_cast<size_t>(sdpa.deps[2])].name == "l0.attn.repeat_v");
  CHECK(pad.ops[static_cast<size_t>(sdpa.deps[3])].name == "attention_mask.and_padding");

  // A static-cache decode step builds the mask even for ones: the copies read the
  // cache of ctx + 1 = 2049 positions (8 x 64 x 2049 rows), after its write.
  const Graph dec = build_workload("llama-70b:phase=decode,batch=8,ctx=2048,layers=1,attention_mask=ones");
  const Op& rk = find_op(dec, "l0.attn.repeat_k");
  CHECK(rk.at("rows") == 8 * 64 * 2049);
  CHECK(rk.at("expand_slice") == 2049 * 128);
  CHECK(depends_on(dec, rk, "l0.attn.kv_write"));
  // With the dynamic cache an all-ones mask is skipped, and with it the copies.
  const Graph dyn =
      build_workload("llama-70b:phase=decode,batch=8,ctx=2048,layers=1,attention_mask=ones,kv_cache=dynamic");
  CHECK(find_op(dyn, "l0.attn.sdpa").at("kv_heads") == 8);
  // On the H100 the step takes longer than without a mask by the copies and the 8x
  // larger K/V reads: the two copies write 2 x 268 MB that SDPA reads back, against
  // the layer's 1.71 GB of bf16 weights.
  const auto h100 = load_hardware("h100-sxm", {});
  CHECK(simulate(dec, *h100).time_s >
        simulate(build_workload("llama-70b:phase=decode,batch=8,ctx=2048,layers=1"), *h100).time_s * 1.3);

  // Training: ExpandBackward0 sums each copy's gradient over the 8 heads of a group
  // (a reduce of 8 rows of the 8 kv heads' 512 x 128 elements).
  const Graph train = build_workload("llama-70b:batch=1,seq=512,layers=1,attention_mask=padded,train=1");
  const Op& gk = find_op(train, "l0.attn.repeat_k.grad");
  CHECK(gk.kind == OpKind::reduce);
  CHECK(gk.at("rows") == 8);
  CHECK(gk.at("cols") == 8 * 512 * 128);

  // The generic `gpt` with query groups: one c_attn of q | k | v = 1024 + 2 x 256
  // outputs (4 kv heads of 64), and the same copies with a mask.
  const Graph gpt =
      build_workload("gpt:layers=1,seq=256,batch=2,hidden=1024,heads=16,kv_heads=4,attention_mask=padded");
  CHECK(find_op(gpt, "l0.attn.c_attn").at("n") == 1536);
  CHECK(find_op(gpt, "l0.attn.repeat_v").at("expand") == 4);
  CHECK(find_op(gpt, "l0.attn.sdpa").at("kv_heads") == 16);
}

TEST_CASE("HF's static cache: SDPA and the mask span cache_len positions", "[workloads][decoder][mask]") {
  // generate with a StaticCache of max_cache_len 2048 at ctx 512: the step's
  // [8, 1, 1, 2048] mask hides the unwritten positions, and SDPA reads all 2048.
  const Graph dec =
      build_workload("llama-7b:phase=decode,batch=8,ctx=512,layers=1,attention_mask=ones,cache_len=2048");
  const Op& m = find_op(dec, "attention_mask.and_padding");
  CHECK(m.at("rows") * m.at("cols") == 8 * 2048);
  CHECK(find_op(dec, "l0.attn.sdpa").at("skv") == 2048);
  CHECK(find_op(dec, "l0.attn.sdpa").at("sq") == 1);
  CHECK(dec.info.at("context") == 2048);  // the preallocated cache the footprint counts
  // auto: ctx + 1.
  CHECK(find_op(build_workload("llama-7b:phase=decode,batch=8,ctx=512,layers=1,attention_mask=ones"),
                "l0.attn.sdpa")
            .at("skv") == 513);
  // Prefill into a static cache: allow_is_causal_skip is off for it there too, so an
  // all-ones mask is built (no all() check: 12 kernels) over seq x cache_len; with
  // the dynamic cache (the prefill default) the check skips it.
  const Graph pre =
      build_workload("llama-7b:batch=2,seq=64,layers=1,attention_mask=ones,kv_cache=static,cache_len=256");
  CHECK(mask_ops(pre).size() == 12);
  CHECK(find_op(pre, "l0.attn.sdpa").at("skv") == 256);
  CHECK(find_op(pre, "l0.attn.sdpa").at("sq") == 64);
  CHECK(mask_ops(build_workload("llama-7b:batch=2,seq=64,layers=1,attention_mask=ones")).size() == 2);
  // Longer than the step's positions it costs time: 2048 x 8 x 32 x 128 x 2 B of K
  // and V per layer read where 513 were.
  const auto h100 = load_hardware("h100-sxm", {});
  CHECK(simulate(dec, *h100).time_s >
        simulate(build_workload("llama-7b:phase=decode,batch=8,ctx=512,layers=1,attention_mask=ones"), *h100)
            .time_s);

  // Refused.
  const std::string base = "llama-7b:phase=decode,batch=8,ctx=512,";
  CHECK(testing::workload_error(base + "cache_len=2048") ==
        "--workload '" + base +
            "cache_len=2048': workload parameter 'cache_len': 2048 needs attention_mask=ones or padded: HF "
            "attends over the whole static cache behind the mask that hides its unwritten positions");
  CHECK(testing::workload_error(base + "attention_mask=ones,cache_len=100") ==
        "--workload '" + base +
            "attention_mask=ones,cache_len=100': workload parameter 'cache_len': 100 must hold the 513 "
            "positions "
            "of the step (ctx + new tokens)");
  CHECK(
      testing::workload_error(base + "attention_mask=ones,kv_cache=dynamic,cache_len=2048") ==
      "--workload '" + base +
          "attention_mask=ones,kv_cache=dynamic,cache_len=2048': workload parameter 'cache_len': 2048 is the "
          "length of a static cache (kv_cache=static, the default in decode)");
}
