// What the transformer builders share (transformer_parts.h): the attn parameter,
// rotary embeddings, the parallel parameters, and Hugging Face's attention masks
// (transformers' masking_utils) as the kernels they launch.
#include "workloads/models/transformer_parts.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/math.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"
#include "workloads/models/parallel.h"

namespace tessera {

bool fused_attention(const std::map<std::string, std::string>& p) {
  return wl_choice(p, "attn", {"sdpa", "eager", "megatron"}) == "sdpa";
}

bool megatron_attention(const std::map<std::string, std::string>& p) {
  return wl_choice(p, "attn", {"sdpa", "eager", "megatron"}) == "megatron";
}

WorkloadParam attn_param(bool megatron) {
  if (megatron)
    return {
        "attn",
        "sdpa",
        "sdpa (fused kernel), eager (unfused math path) or megatron (Megatron-LM's unfused core attention: "
        "baddbmm, FusedScaleMaskSoftmax, dropout, bmm)",
        ParamType::choice,
        {"sdpa", "eager", "megatron"}};
  return {"attn",
          "sdpa",
          "sdpa (fused kernel) or eager (unfused math path)",
          ParamType::choice,
          {"sdpa", "eager"}};
}

// Rotary position embedding of one projection (HF apply_rotary_pos_emb):
// x*cos, rotate_half(x) = cat(-x2, x1) (neg on half, cat), *sin, add.
int rope(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t cols) {
  const int c = b.vec(OpKind::mul, pre + ".mul_cos", {x}, rows, cols, 2);
  const int n = b.vec(OpKind::mul, pre + ".neg", {x}, rows, cols / 2, 1);
  const int cat = b.vec(OpKind::copy, pre + ".cat", {n, x}, rows, cols);
  const int s = b.vec(OpKind::mul, pre + ".mul_sin", {cat}, rows, cols, 2);
  return b.vec(OpKind::add, pre + ".add", {c, s}, rows, cols, 2);
}

std::vector<WorkloadParam> with_parallel(std::vector<WorkloadParam> own) {
  for (auto& p : parallel_params()) own.push_back(p);
  return own;
}

// The attention mask Hugging Face builds from a tokenizer's attention_mask
// (transformers' masking_utils: create_causal_mask for decoders,
// create_bidirectional_mask for encoders, each _preprocess_mask_arguments then
// sdpa_mask or eager_mask without vmap), for q_len new tokens against kv_len keys
// (prefill: both seq; a decode step: 1 against the cache and the new token). Returns
// the op of the 4-D mask the attention takes, or -1 when it gets none:
//   mode none    model(input_ids): no token mask.
//   mode ones    a mask without padding; mode padded: one with padding. Either is
//                first attention_mask.to(torch.bool), [batch, kv_len].
//   may_skip     where the mask may be left out (SDPA's is_causal or an encoder's
//                full attention: sdpa_mask's allow_is_causal_skip with a dynamic
//                cache, allow_is_bidirectional_skip; not eager_mask for a decoder
//                nor a static cache), padding_mask.all() is read by a Python `if`
//                (a reduction and a host sync); with ones it skips, so nothing more.
//   The mask: four torch.arange (batch, head, q, kv) and their "+ q_offset" /
//   "+ kv_offset" (a kernel each, also for 0); with a token mask and_masks'
//   new_ones first; the mask function on the broadcast indices: causal_mask_function's
//   kv_idx <= q_idx ([1, 1, q_len, kv_len]) or bidirectional_mask_function's
//   q_idx >= 0 ([1, 1, q_len, 1]); with a token mask its `&` with new_ones,
//   padding_mask_function's padding_mask[batch_idx, kv_idx] (a [batch, 1, 1, kv_len]
//   gather) and the final `&`, which writes the [batch, 1, q_len, kv_len] bool mask
//   (expand: a view). eager_mask then adds torch.tensor(0.0, device) (a one-element
//   host-to-device copy) and torch.where(mask, 0, finfo.min) in the model's format.
// Integer tensors are int32 in Tessera's formats (PyTorch's int64 token mask and
// indices move twice these bytes: a few KiB), bool ones uint8.
int hf_attention_mask(GraphBuilder& b, const std::string& mode, int64_t batch, int64_t q_len, int64_t kv_len,
                      bool sdpa, bool causal, bool may_skip, std::vector<int> after) {
  const bool tokens = mode != "none";
  if (!tokens && (sdpa || !causal)) return -1;
  constexpr DType i32 = DType::int32, b8 = DType::uint8;
  const int64_t bkv = checked_mul(batch, kv_len, "attention_mask: batch x kv");
  const int64_t bq = checked_mul(batch, q_len, "attention_mask: batch x q");
  checked_mul(bq, kv_len, "attention_mask: batch x q x kv");
  int to_bool = -1;
  if (tokens) {
    to_bool = b.vec_typed(OpKind::copy, "attention_mask.to_bool", after, batch, kv_len, i32, b8);
    after = {to_bool};
    if (may_skip) {
      const int all = b.vec_typed(OpKind::reduce, "attention_mask.all", {to_bool}, bkv, 1, b8, b8);
      b.graph().ops[static_cast<size_t>(all)].attrs["host_sync"] = 1;
      if (mode == "ones") return -1;
      after = {all};
    }
  }
  const int batch_idx = b.vec_typed(OpKind::copy, "attention_mask.arange_batch", after, 1, batch, i32, i32);
  b.vec_typed(OpKind::copy, "attention_mask.arange_head", after, 1, 1, i32, i32);
  int q_idx = b.vec_typed(OpKind::copy, "attention_mask.arange_q", after, 1, q_len, i32, i32);
  q_idx = b.vec_typed(OpKind::add, "attention_mask.q_offset", {q_idx}, 1, q_len, i32, i32, 1);
  int kv_idx = b.vec_typed(OpKind::copy, "attention_mask.arange_kv", after, 1, kv_len, i32, i32);
  kv_idx = b.vec_typed(OpKind::add, "attention_mask.kv_offset", {kv_idx}, 1, kv_len, i32, i32, 1);
  // [1, 1, q_len, kv_len] or [1, 1, q_len, 1]
  const int64_t rows = causal ? q_len : 1, cols = causal ? kv_len : q_len;
  // and_masks makes its new_ones before calling the mask functions.
  const int ones = tokens ? b.vec_typed(OpKind::copy, "attention_mask.new_ones", after, 1, 1, b8, b8) : -1;
  int mask = causal ? b.vec_typed(OpKind::copy, "attention_mask.causal", {q_idx, kv_idx}, rows, cols, i32, b8)
                    : b.vec_typed(OpKind::copy, "attention_mask.bidirectional", {q_idx}, rows, cols, i32, b8);
  if (tokens) {
    mask = b.vec_typed(OpKind::mul, causal ? "attention_mask.and_causal" : "attention_mask.and_bidirectional",
                       {ones, mask}, rows, cols, b8, b8, 2);
    const int pad = b.vec_typed(OpKind::copy, "attention_mask.padding", {to_bool, batch_idx, kv_idx}, batch,
                                kv_len, b8, b8);
    // [1, 1, q_len, kv_len or 1] & [batch, 1, 1, kv_len]: broadcast operands,
    // counted as one read and one write of the mask.
    mask = b.vec_typed(OpKind::copy, "attention_mask.and_padding", {mask, pad}, bq, kv_len, b8, b8);
  }
  if (!sdpa) {
    const int zero = b.vec_typed(OpKind::copy, "attention_mask.zero", {}, 1, 1, b.dtype(), b.dtype());
    mask = b.vec_typed(OpKind::copy, "attention_mask.where", {mask, zero}, bq, kv_len, b8, b.dtype());
  }
  return mask;
}

std::vector<int> hf_masked_attention_inputs(GraphBuilder& b, const std::string& pre, AttnShape& a,
                                            std::vector<int> in, int mask, bool packed, bool sdpa) {
  // The [batch, 1, q, kv] mask carries the causality: SDPA's is_causal is False
  // and a fused kernel skips no block. Producers {q, k, v, mask} by position
  // (autograd's order), then the cache ops.
  a.causal = false;
  a.bias = a.bias_head_shared = true;
  a.bias_bool = sdpa;
  if (packed) in.insert(in.begin() + 1, {in[0], in[0]});
  if (mask >= 0) in.insert(in.begin() + 3, mask);
  // HF's sdpa_attention_forward passes enable_gqa only without a mask
  // (use_gqa_in_sdpa); with one, repeat_kv first copies the cached K and V to
  // every head, and SDPA runs on heads x heads (the eager path repeats in
  // GraphBuilder::attention).
  if (sdpa && a.kv_heads != a.heads) {
    const auto cache = in.begin() + (mask >= 0 ? 4 : 3);
    std::vector<int> kd = {in[1]}, vd = {in[2]};
    kd.insert(kd.end(), cache, in.end());
    vd.insert(vd.end(), cache, in.end());
    in[1] = b.repeat_kv(pre + "repeat_k", kd, a, b.dtype());
    in[2] = b.repeat_kv(pre + "repeat_v", vd, a, b.dtype());
    in.erase(cache, in.end());
    a.kv_heads = a.heads;
  }
  return in;
}

WorkloadParam attention_mask_param() {
  return {
      "attention_mask",
      "none",
      "the tokenizer's attention_mask passed to the model: none (model(input_ids)); ones (no padding: HF "
      "checks it, a reduction and a host sync, and SDPA runs without a mask); padded (HF builds a batch x "
      "1 x seq x seq bool mask that every head's attention reads: FlashAttention takes none, so SDPA runs "
      "cuDNN or the memory-efficient kernel, and a decoder's causal attention skips no blocks)",
      ParamType::choice,
      {"none", "ones", "padded"}};
}

// The decoders' parameters (transformers.cpp: gpt2-*, gpt3-175b, llama-*, gpt).
std::vector<WorkloadParam> decoder_params(int64_t default_seq) {
  return {
      {"phase",
       "prefill",
       "prefill (seq new tokens, causal) or decode (one new token per "
       "sequence against a cache of ctx tokens)",
       ParamType::choice,
       {"prefill", "decode"}},
      {"batch", "1", "sequences"},
      {"seq", std::to_string(default_seq), "prefill tokens per sequence"},
      {"ctx", std::to_string(default_seq), "decode: tokens already in the KV cache"},
      {"layers", "auto", "decoder layers to build (auto: all)", ParamType::integer, {"auto"}},
      {"embed", "1", "0: omit embeddings and the final norm (decoder layers only)", ParamType::boolean},
      {"kv_cache",
       "auto",
       "KV cache: static (preallocated, index_copy_ of the new positions), dynamic "
       "(HF DynamicCache: torch.cat in decode, no kernel in prefill) or auto (static in "
       "decode, dynamic in prefill)",
       ParamType::choice,
       {"auto", "static", "dynamic"}},
      {"cache_len",
       "auto",
       "the static cache's preallocated length (HF StaticCache max_cache_len, in generate the prompt plus "
       "max_new_tokens), all of which SDPA and the mask span; auto: ctx + the new tokens",
       ParamType::integer,
       {"auto"}},
      {"fused_qkv", "0", "1: one q|k|v projection (serving engines, decode_static.py) instead of three",
       ParamType::boolean},
      {"fused_gate_up", "0", "1: one gate|up projection of the SwiGLU MLP instead of two",
       ParamType::boolean},
      {"rope", "1",
       "rotary position embedding on q and k (LLaMA-style decoders; its cos/sin table comes from an fp32 "
       "product whatever dtype is, as Hugging Face computes it, which PEs without fp32 cannot run; 0: none, "
       "as decode_static.py)",
       ParamType::boolean},
      attn_param(true),
      attention_mask_param(),
      dropout_param("with train=1: p of every dropout the model has in training mode (GPT-2: embd_pdrop, "
                    "resid_pdrop, attn_pdrop, HF default 0.1; LLaMA: attention_dropout, default 0.0); 0 "
                    "(the default): no dropout kernel"),
      {"kernels",
       "eager",
       "eager: HF's Python-level norms/activations/rotary tables, one kernel "
       "per operation; fused: one kernel per norm/activation",
       ParamType::choice,
       {"eager", "fused"}},
      {"dtype", "bf16", "operand format", ParamType::dtype}};
}

int64_t layer_count(const std::map<std::string, std::string>& p, int64_t all) {
  const int64_t n = wl_int_or(p, "layers", all);
  if (n > all)
    throw InputError(fmt::format("workload parameter 'layers': {} exceeds the model's {} layers", n, all));
  return n;
}

}  // namespace tessera
