#pragma once
// What the transformer model builders share (workloads/models/transformers.cpp,
// encoder_decoder_moe.cpp).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/builder.h"
#include "workloads/workloads.h"

namespace tessera {

// attn=sdpa (one fused attention kernel) or eager / megatron (the unfused math path).
bool fused_attention(const std::map<std::string, std::string>& p);
// attn=megatron: Megatron-LM's unfused core attention (before FlashAttention):
// Q.K^T by baddbmm with the scale, FusedScaleMaskSoftmax (scale, causal mask and
// softmax in one kernel), the attention dropout, P.V by bmm.
bool megatron_attention(const std::map<std::string, std::string>& p);
// The `attn` parameter fused_attention reads (with `megatron`: the decoders' choice).
WorkloadParam attn_param(bool megatron = false);
// Rotary position embedding of one projection; returns the output op.
int rope(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t cols);
// The attention mask Hugging Face builds from a tokenizer's attention_mask (mode
// none, ones or padded) for q_len new tokens against kv_len keys, after `after`
// (hf_masks.cpp states the kernels): the op of the [batch, 1, q_len, kv_len] mask the
// attention takes, or -1 when it gets none. sdpa: attn=sdpa (a bool mask) or eager
// (an additive one in the model's format); causal: a decoder's; may_skip: whether
// sdpa_mask may leave it out (its padding_mask.all() check runs).
int hf_attention_mask(GraphBuilder& b, const std::string& mode, int64_t batch, int64_t q_len, int64_t kv_len,
                      bool sdpa, bool causal, bool may_skip, std::vector<int> after);
// The inputs of a decoder's attention `a` when HF's mask reaches it: {q, k, v,
// mask} by position, then the cache ops (`in` holds {q, k, v, cache...}, or {qkv,
// cache...} with `packed`; mask -1: read from outside, no producer). Sets `a` to
// SDPA without is_causal reading the head-broadcast mask; grouped-query K and V
// are first copied to every head (repeat_kv, ops named `pre` + repeat_k/v), and
// `a` then has heads kv heads.
std::vector<int> hf_masked_attention_inputs(GraphBuilder& b, const std::string& pre, AttnShape& a,
                                            std::vector<int> in, int mask, bool packed, bool sdpa);
// The `attention_mask` parameter (none, ones, padded).
WorkloadParam attention_mask_param();
// The decoders' own parameters (prefill seq defaulting to default_seq).
std::vector<WorkloadParam> decoder_params(int64_t default_seq);
// A workload's own parameters followed by the parallelism parameters.
std::vector<WorkloadParam> with_parallel(std::vector<WorkloadParam> own);
// The `layers` parameter: how many of the model's `all` layers to build (auto:
// all); more than `all` is an InputError naming it.
int64_t layer_count(const std::map<std::string, std::string>& p, int64_t all);
// bert-base and bert-large (bert.cpp), registered first.
void add_bert_workloads(std::vector<WorkloadInfo>& out);
// transformer-base and moe, registered after the decoders and BERT.
void add_encoder_decoder_moe_workloads(std::vector<WorkloadInfo>& out);

}  // namespace tessera
