// BERT: Hugging Face BertModel (no head) with attn_implementation "sdpa", one op
// per kernel PyTorch eager launches (see transformers.cpp for the conventions).
#include <fmt/format.h>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"
#include "workloads/models/parallel.h"
#include "workloads/models/transformer_parts.h"

namespace tessera {

namespace {

using Params = std::map<std::string, std::string>;

struct BertConfig {
  int64_t layers, d, heads, ffn;
};

Graph build_bert(const char* name, const BertConfig& c, const Params& p) {
  Graph g;
  g.name = name;
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  const bool fused = fused_attention(p);
  // Training-mode dropout (BertConfig hidden_dropout_prob, attention_probs_dropout_prob).
  const bool dropout = wl_dropout(p);
  const int64_t batch = wl_int(p, "batch"), seq = wl_int(p, "seq");
  if (seq > 512)
    throw InputError(fmt::format("workload parameter 'seq': {} exceeds BERT's 512 positions", seq));
  const int64_t layers = layer_count(p, c.layers);
  const int64_t t = batch * seq, d = c.d, hd = c.d / c.heads;
  const int64_t vocab = 30522;
  // BertEmbeddings: word + token_type (add), += position (add), LayerNorm.
  const int word = b.embedding("embeddings.word", {}, t, d, vocab);
  const int type = b.embedding("embeddings.token_type", {}, t, d, 2);
  int x = b.vec(OpKind::add, "embeddings.add_type", {word, type}, t, d, 2);
  const int pos = b.embedding("embeddings.position", {}, seq, d, 512);
  x = b.vec(OpKind::add, "embeddings.add_position", {x, pos}, t, d, 2);
  x = b.vec(OpKind::layernorm, "embeddings.layernorm", {x}, t, d);
  if (dropout) x = b.vec(OpKind::dropout, "embeddings.dropout", {x}, t, d);
  // BertModel.forward builds the mask after the embeddings.
  const int mask = hf_attention_mask(b, wl_choice(p, "attention_mask", {"none", "ones", "padded"}), batch,
                                     seq, seq, fused, false, true, {x});
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("l{}.", l);
    const int q = b.linear(pre + "attn.query", {x}, t, d, d);
    const int k = b.linear(pre + "attn.key", {x}, t, d, d);
    const int v = b.linear(pre + "attn.value", {x}, t, d, d);
    AttnShape a;
    a.batch = batch;
    a.heads = a.kv_heads = c.heads;
    a.sq = a.skv = seq;
    a.d = hd;
    a.dropout = dropout;
    std::vector<int> att_deps = {q, k, v};
    if (mask >= 0) {
      // [batch, 1, seq, seq]: one copy read by every head; SDPA converts the bool
      // one to an additive mask, eager attention adds the float one.
      a.bias = a.bias_head_shared = true;
      a.bias_bool = fused;
      att_deps.push_back(mask);
    }
    const int att = b.attention(pre + "attn.sdpa", att_deps, a, fused);
    int o = b.linear(pre + "attn.output.dense", {att}, t, d, d);
    if (dropout) o = b.vec(OpKind::dropout, pre + "attn.output.dropout", {o}, t, d);
    int h = b.vec(OpKind::add, pre + "attn.output.add", {o, x}, t, d, 2);
    h = b.vec(OpKind::layernorm, pre + "attn.output.layernorm", {h}, t, d);
    const int i = b.linear(pre + "intermediate.dense", {h}, t, c.ffn, d);
    const int act = b.vec(OpKind::gelu, pre + "intermediate.gelu", {i}, t, c.ffn);
    int out = b.linear(pre + "output.dense", {act}, t, d, c.ffn);
    if (dropout) out = b.vec(OpKind::dropout, pre + "output.dropout", {out}, t, d);
    x = b.vec(OpKind::add, pre + "output.add", {out, h}, t, d, 2);
    x = b.vec(OpKind::layernorm, pre + "output.layernorm", {x}, t, d);
  }
  // last_hidden_state is the output a training step starts from (the pooler's
  // output is not used, so the pooler gets no gradient).
  g.ops[static_cast<size_t>(x)].attrs["output"] = 1;
  // BertPooler: first token of each sequence (a view), dense, tanh.
  const int pool = b.linear("pooler.dense", {x}, batch, d, d);
  b.vec(OpKind::tanh, "pooler.tanh", {pool}, batch, d);

  const double dd = static_cast<double>(d), f = static_cast<double>(c.ffn);
  const double layer_params = 4 * (dd * dd + dd) + (dd * f + f) + (f * dd + dd) + 4 * dd;
  g.info["params"] = (vocab + 512 + 2) * dd + 2 * dd + layer_params * layers + dd * dd + dd;
  g.info["params_per_layer"] = layer_params;
  g.info["layers"] = static_cast<double>(layers);
  g.info["tokens"] = static_cast<double>(t);
  return g;
}

Graph build_bert_base(const Params& p) {
  return build_bert("bert-base", {12, 768, 12, 3072}, p);
}
Graph build_bert_large(const Params& p) {
  return build_bert("bert-large", {24, 1024, 16, 4096}, p);
}

std::vector<WorkloadParam> bert_params() {
  return {
      {"batch", "1", "sequences"},
      {"seq", "128", "tokens per sequence (<= 512)"},
      {"layers", "auto", "encoder layers to build (auto: all)", ParamType::integer, {"auto"}},
      attn_param(),
      attention_mask_param(),
      dropout_param("with train=1: p of every dropout the model has in training mode (hidden_dropout_prob "
                    "and attention_probs_dropout_prob, HF default 0.1); 0 (the default): no dropout kernel"),
      {"dtype", "bf16", "operand format", ParamType::dtype}};
}

}  // namespace

void add_bert_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"bert-base", "HF BertModel base (12 layers, d=768, 12 heads), no head",
                 with_parallel(bert_params()), build_sharded<build_bert_base, k_shard_bert_base>});
  out.push_back({"bert-large", "HF BertModel large (24 layers, d=1024, 16 heads), no head",
                 with_parallel(bert_params()), build_sharded<build_bert_large, k_shard_bert_large>});
}

}  // namespace tessera
