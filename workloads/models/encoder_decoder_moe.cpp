// Transformer models beside the decoders and BERT (transformers.cpp), one op per
// kernel that PyTorch eager launches, as there:
//   transformer-base  torch.nn.Transformer (Vaswani et al. 2017 base shape) with
//                 token embeddings and the output projection
//   moe           a Mixtral-style decoder layer (HF MixtralDecoderLayer)
#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/math.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"
#include "workloads/models/parallel.h"
#include "workloads/models/transformer_parts.h"

namespace tessera {
namespace {

using Params = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------
// transformer-base: torch.nn.Transformer(d_model=512, nhead=8, 6 + 6 layers,
// dim_feedforward=2048, ReLU, post-norm) between token embeddings (scaled by
// sqrt(d), plus sinusoidal positions) and the output projection to a 37000-token
// shared vocabulary. nn.MultiheadAttention packs the self-attention Q, K, V
// projections into one linear (in_proj) and, for cross-attention, Q into one
// and K, V (of the encoder output) into another. nn.Transformer is sequence-first
// (batch_first=False), so PyTorch 2.x runs every attention through
// F.multi_head_attention_forward (torch/nn/functional.py; the fast paths need
// batch_first): _in_projection_packed's .contiguous() copies the packed projection's
// heads (q|k|v, or the cross-attention's k|v), and the SDPA output is permuted and
// copied by .contiguous() before out_proj.
Graph build_transformer_base(const Params& p) {
  Graph g;
  g.name = "transformer-base";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  const bool fused = fused_attention(p);
  // Training-mode dropout (nn.Transformer's dropout, 0.1 by default in PyTorch;
  // the paper's P_drop): nn.TransformerEncoderLayer / DecoderLayer drop each
  // sub-layer's output (dropout1..3), the FFN's hidden activation (dropout) and,
  // through nn.MultiheadAttention's dropout, the attention weights (SDPA's
  // dropout_p); the embeddings' sum with the positions is dropped too (the paper,
  // and PyTorch's PositionalEncoding in its tutorials).
  const bool dropout = wl_dropout(p);
  const int64_t batch = wl_int(p, "batch"), src = wl_int(p, "src"), tgt = wl_int(p, "tgt");
  const int64_t d = 512, heads = 8, ffn = 2048, vocab = 37000, layers = 6;
  const int64_t ts = batch * src, tt = batch * tgt;
  const auto drop = [&](const std::string& name, int x, int64_t rows, int64_t cols) {
    return dropout ? b.vec(OpKind::dropout, name, {x}, rows, cols) : x;
  };

  auto embed = [&](const std::string& pre, int64_t tokens) {
    int e = b.embedding(pre + ".embed", {}, tokens, d, vocab);
    g.ops[static_cast<size_t>(e)].attrs["tied"] = 1;   // one shared embedding matrix (below)
    e = b.vec(OpKind::mul, pre + ".embed.scale", {e}, tokens, d, 1);
    e = b.vec(OpKind::add, pre + ".embed.position", {e}, tokens, d, 2);
    return drop(pre + ".embed.dropout", e, tokens, d);
  };
  auto ffn_block = [&](const std::string& pre, int x, int64_t tokens, const char* out_dropout) {
    const int l1 = b.linear(pre + "linear1", {x}, tokens, ffn, d);
    int r = b.vec(OpKind::relu, pre + "relu", {l1}, tokens, ffn);
    r = drop(pre + "dropout", r, tokens, ffn);
    int l2 = b.linear(pre + "linear2", {r}, tokens, d, ffn);
    l2 = drop(pre + out_dropout, l2, tokens, d);
    const int a = b.vec(OpKind::add, pre + "add", {l2, x}, tokens, d, 2);
    return b.vec(OpKind::layernorm, pre + "norm", {a}, tokens, d);
  };
  auto attn_shape = [&](int64_t sq, int64_t skv, bool causal) {
    AttnShape a;
    a.batch = batch;
    a.heads = a.kv_heads = heads;
    a.sq = sq;
    a.skv = skv;
    a.d = d / heads;
    a.causal = causal;
    a.dropout = dropout;
    return a;
  };

  int x = embed("enc", ts);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("enc.l{}.", l);
    const int qkv = b.linear(pre + "self_attn.in_proj", {x}, ts, 3 * d, d);
    const int heads_c = b.vec(OpKind::copy, pre + "self_attn.in_proj.contiguous", {qkv}, ts, 3 * d);
    const int att = b.attention(pre + "self_attn.sdpa", {heads_c}, attn_shape(src, src, false), fused);
    const int oc = b.vec(OpKind::copy, pre + "self_attn.out.contiguous", {att}, ts, d);
    const int o =
        drop(pre + "self_attn.dropout1", b.linear(pre + "self_attn.out_proj", {oc}, ts, d, d), ts, d);
    int h = b.vec(OpKind::add, pre + "self_attn.add", {o, x}, ts, d, 2);
    h = b.vec(OpKind::layernorm, pre + "self_attn.norm", {h}, ts, d);
    x = ffn_block(pre + "ffn.", h, ts, "dropout2");
  }
  const int memory = b.vec(OpKind::layernorm, "enc.norm", {x}, ts, d);

  x = embed("dec", tt);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("dec.l{}.", l);
    const int qkv = b.linear(pre + "self_attn.in_proj", {x}, tt, 3 * d, d);
    const int heads_c = b.vec(OpKind::copy, pre + "self_attn.in_proj.contiguous", {qkv}, tt, 3 * d);
    const int att = b.attention(pre + "self_attn.sdpa", {heads_c}, attn_shape(tgt, tgt, true), fused);
    const int oc = b.vec(OpKind::copy, pre + "self_attn.out.contiguous", {att}, tt, d);
    const int o =
        drop(pre + "self_attn.dropout1", b.linear(pre + "self_attn.out_proj", {oc}, tt, d, d), tt, d);
    int h = b.vec(OpKind::add, pre + "self_attn.add", {o, x}, tt, d, 2);
    h = b.vec(OpKind::layernorm, pre + "self_attn.norm", {h}, tt, d);
    const int q = b.linear(pre + "cross_attn.q_proj", {h}, tt, d, d);
    const int kv = b.linear(pre + "cross_attn.kv_proj", {memory}, ts, 2 * d, d);
    const int kvc = b.vec(OpKind::copy, pre + "cross_attn.kv_proj.contiguous", {kv}, ts, 2 * d);
    const int ca = b.attention(pre + "cross_attn.sdpa", {q, kvc}, attn_shape(tgt, src, false), fused);
    const int cc = b.vec(OpKind::copy, pre + "cross_attn.out.contiguous", {ca}, tt, d);
    const int co =
        drop(pre + "cross_attn.dropout2", b.linear(pre + "cross_attn.out_proj", {cc}, tt, d, d), tt, d);
    int h2 = b.vec(OpKind::add, pre + "cross_attn.add", {co, h}, tt, d, 2);
    h2 = b.vec(OpKind::layernorm, pre + "cross_attn.norm", {h2}, tt, d);
    x = ffn_block(pre + "ffn.", h2, tt, "dropout3");
  }
  x = b.vec(OpKind::layernorm, "dec.norm", {x}, tt, d);
  const int gen = b.linear("generator", {x}, tt, vocab, d);
  g.ops[static_cast<size_t>(gen)].attrs["tied"] = 1;   // the embedding's weight; its own bias

  const double dd = d, f = ffn;
  const double attn_p = 4 * dd * dd + 4 * dd, ffn_p = 2 * dd * f + f + dd, ln = 2 * dd;
  // The paper shares one embedding matrix between source, target and the
  // pre-softmax projection (counted once; the projection's bias is separate).
  g.info["params"] = vocab * dd + layers * (attn_p + ffn_p + 2 * ln) +
                     layers * (2 * attn_p + ffn_p + 3 * ln) + 2 * ln + vocab;
  g.info["tokens"] = static_cast<double>(ts + tt);
  return g;
}

// ---------------------------------------------------------------------------
// moe: decoder layers in the shape of Mixtral-8x7B (HF MixtralDecoderLayer):
// LLaMA-style attention (GQA, rotary), then a sparse MoE block: router linear,
// softmax over experts, and for every expert the tokens routed to it gathered
// (index), w1 / silu / w3 / mul / w2 (the SwiGLU expert), scaled by the routing
// weight and scattered back (index_add_). Routing is taken as balanced: each
// expert receives ceil(tokens * top_k / experts) tokens. The top-k selection
// and one-hot bookkeeping kernels touch tokens x experts elements and are not
// listed.
Graph build_moe(const Params& p) {
  Graph g;
  g.name = "moe";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  const bool fused = fused_attention(p);
  // Training-mode dropout: MixtralConfig's attention_dropout (the model has no other).
  const bool dropout = wl_dropout(p);
  const ParallelConfig par = parse_parallel(p, wl_int(p, "batch"));
  const int64_t batch = par.active ? par.microbatch : wl_int(p, "batch"), seq = wl_int(p, "seq"), d = wl_int(p, "d");
  const int64_t all_heads = wl_int(p, "heads"), all_kv_heads = wl_int_or(p, "kv_heads", all_heads);
  const int64_t all_ffn = wl_int(p, "ffn"), experts = wl_int(p, "experts"), top_k = wl_int(p, "top_k");
  const int64_t layers = wl_int(p, "layers");
  const int64_t tp = par.tp, ep = par.ep;
  if (all_heads % tp != 0 || all_kv_heads % tp != 0 || all_ffn % tp != 0)
    throw InputError(fmt::format("workload parameter 'tp': {} must divide heads={}, kv_heads={} and ffn={}", tp,
                                 all_heads, all_kv_heads, all_ffn));
  if (experts % ep != 0)
    throw InputError(fmt::format("workload parameter 'ep': {} must divide experts={}", ep, experts));
  if (layers % par.chunks() != 0)
    throw InputError(fmt::format("workload parameter 'pp': {} layers are not a multiple of pp x virtual_stages = "
                                 "{} x {}", layers, par.pp, par.virtual_stages));
  if (par.sequence_parallel && (batch * seq) % tp != 0)
    throw InputError(fmt::format("workload parameter 'sequence_parallel': microbatch x seq = {} tokens are not a "
                                 "multiple of tp = {}", batch * seq, tp));
  // Tensor parallelism splits the attention heads and each expert's hidden width;
  // expert parallelism places experts/ep experts on each rank, which computes the
  // tokens routed to them from all ep ranks.
  const int64_t heads = all_heads / tp, kv_heads = all_kv_heads / tp, ffn = all_ffn / tp;
  const int64_t local_experts = experts / ep;
  if (d % heads != 0 || heads % kv_heads != 0)
    throw InputError(fmt::format("workload parameters: d={} must be a multiple of heads={}, "
                                 "and heads a multiple of kv_heads={}", d, heads, kv_heads));
  if (top_k > experts)
    throw InputError(fmt::format("workload parameter 'top_k': {} exceeds experts={}", top_k,
                                 experts));
  const int64_t t = batch * seq, hd = d / all_heads, kvd = kv_heads * hd, qd = heads * hd;
  const int64_t per_expert = ceil_div(checked_product({t, ep, top_k}, "routed tokens (batch x seq x ep x top_k)"), experts);
  const int64_t rows = par.sequence_parallel ? t / tp : t;
  const int64_t act_bytes = checked_bytes(checked_mul(t, d, "activations (batch x seq x d)"),
                                          product_out_dtype(b.dtype()), "activations");
  const int64_t routed_bytes = checked_bytes(checked_product({t, top_k, d}, "routed tokens (batch x seq x top_k x d)"),
                                             b.dtype(), "routed tokens");
  size_t tagged = 0;
  auto tag = [&](int64_t l) {
    if (!par.active) return;
    for (; tagged < g.ops.size(); ++tagged) {
      g.ops[tagged].attrs["stage"] = l / (layers / par.chunks());
      g.ops[tagged].attrs["layer"] = l + 1;
    }
  };
  auto mark = [&](int op, const char* key, int64_t bytes) {
    if (par.active) g.ops[static_cast<size_t>(op)].attrs[key] = bytes;
  };
  int x = -1;
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("l{}.", l);
    const std::vector<int> in = x < 0 ? std::vector<int>{} : std::vector<int>{x};
    const int ln1 = b.vec(OpKind::rmsnorm, pre + "input_norm", in, rows, d);
    mark(ln1, "tp_in", act_bytes);
    const int q = b.linear(pre + "attn.q_proj", {ln1}, t, qd, d);
    const int k = b.linear(pre + "attn.k_proj", {ln1}, t, kvd, d);
    const int v = b.linear(pre + "attn.v_proj", {ln1}, t, kvd, d);
    const int qr = rope(b, pre + "attn.rope_q", q, t, qd);
    const int kr = rope(b, pre + "attn.rope_k", k, t, kvd);
    AttnShape a;
    a.batch = batch;
    a.heads = heads;
    a.kv_heads = kv_heads;
    a.sq = a.skv = seq;
    a.d = hd;
    a.causal = seq > 1;
    a.dropout = dropout;
    const int att = b.attention(pre + "attn.sdpa", {qr, kr, v}, a, fused);
    const int o = b.linear(pre + "attn.o_proj", {att}, t, d, qd);
    mark(o, "tp_out", act_bytes);
    std::vector<int> add_deps = {o};
    add_deps.insert(add_deps.end(), in.begin(), in.end());
    const int h = b.vec(OpKind::add, pre + "attn.add", add_deps, rows, d, 2);
    const int ln2 = b.vec(OpKind::rmsnorm, pre + "post_attention_norm", {h}, rows, d);
    mark(ln2, "tp_in", act_bytes);
    const int router = b.linear(pre + "moe.router", {ln2}, t, experts, d);
    const int probs = b.vec(OpKind::softmax, pre + "moe.router.softmax", {router}, t, experts);
    // Expert parallelism: the routed token copies (t x top_k rows of d) go to the
    // ranks holding their experts, and come back after them (all-to-all each way).
    mark(probs, "ep_a2a", routed_bytes);
    std::vector<int> outs;
    for (int64_t e = 0; e < local_experts; ++e) {
      const std::string ep = fmt::format("{}moe.e{}.", pre, e);
      const int gather = b.vec(OpKind::copy, ep + "gather", {ln2, probs}, per_expert, d);
      const int w1 = b.linear(ep + "w1", {gather}, per_expert, ffn, d);
      const int act = b.vec(OpKind::silu, ep + "silu", {w1}, per_expert, ffn);
      const int w3 = b.linear(ep + "w3", {gather}, per_expert, ffn, d);
      const int mul = b.vec(OpKind::mul, ep + "mul", {act, w3}, per_expert, ffn, 2);
      const int w2 = b.linear(ep + "w2", {mul}, per_expert, d, ffn);
      // Expert weights: their gradients reduce over the expert data-parallel ranks.
      for (const int w : {w1, w3, w2}) mark(w, "expert", 1);
      const int scale = b.vec(OpKind::mul, ep + "route_scale", {w2, probs}, per_expert, d, 1);
      if (e + 1 == local_experts) mark(scale, "ep_a2a", routed_bytes);
      std::vector<int> acc_deps = {scale};
      if (!outs.empty()) acc_deps.push_back(outs.back());
      outs.push_back(b.vec(OpKind::add, ep + "index_add", acc_deps, per_expert, d, 2));
    }
    mark(outs.back(), "tp_out", act_bytes);
    x = b.vec(OpKind::add, pre + "moe.add", {outs.back(), h}, rows, d, 2);
    tag(l);
  }
  const double dd = d, f = ffn;
  const double attn_p = dd * (dd + 2 * kvd) + dd * dd, norms = 2 * dd, router_p = dd * experts;
  const double expert_p = 3 * dd * f;
  g.info["params_total"] = layers * (attn_p + norms + router_p + experts * expert_p);
  g.info["params_active"] = layers * (attn_p + norms + router_p + top_k * expert_p);
  g.info["params"] = g.info["params_total"];
  g.info["experts"] = static_cast<double>(experts);
  g.info["top_k"] = static_cast<double>(top_k);
  g.info["tokens_per_expert"] = static_cast<double>(per_expert);
  g.info["tokens"] = static_cast<double>(t);
  if (par.active) {
    g.info["seq"] = static_cast<double>(seq);
    g.info["hidden"] = static_cast<double>(d);
    g.info["heads"] = static_cast<double>(all_heads);
    g.info["kv_heads"] = static_cast<double>(all_kv_heads);
    g.info["head_dim"] = static_cast<double>(hd);
    // Activations: the formula's gated-MLP term with the top_k experts each token
    // passes through.
    g.info["ffn"] = static_cast<double>(all_ffn * top_k);
    g.info["mlp_gated"] = 1;
    g.info["attn_fused"] = fused ? 1 : 0;
    g.info["context"] = static_cast<double>(seq);
    g.info["layers"] = static_cast<double>(layers);
    g.info["p2p_bytes"] = static_cast<double>(par.sequence_parallel ? act_bytes / tp : act_bytes);
    set_parallel_info(g, par);
  }
  return g;
}
}  // namespace

void add_encoder_decoder_moe_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back(
      {"transformer-base",
       "Vaswani et al. 2017 base encoder-decoder (6+6 layers, "
       "d=512, 8 heads, ffn 2048) as torch.nn.Transformer",
       with_parallel(
           {{"batch", "1", "sentence pairs"},
            {"src", "128", "source tokens"},
            {"tgt", "128", "target tokens"},
            attn_param(),
            dropout_param("with train=1: nn.Transformer's dropout (PyTorch's default 0.1): the attention "
                          "weights, each sub-layer's output, the FFN's hidden activation and the embeddings; "
                          "0 (the default here): no dropout kernel"),
            {"dtype", "bf16", "operand format", ParamType::dtype}}),
       build_sharded<build_transformer_base, k_shard_transformer_base>});
  out.push_back(
      {"moe",
       "mixture-of-experts decoder layers (Mixtral-8x7B shape, top-k routing); "
       "info reports active and total parameters",
       with_parallel(
           {{"batch", "1", "sequences"},
            {"seq", "2048", "tokens per sequence"},
            {"layers", "1", "decoder layers"},
            {"d", "4096", "model width"},
            {"heads", "32", "query heads"},
            {"kv_heads", "8", "key/value heads (auto: = heads)"},
            {"ffn", "14336", "expert hidden width"},
            {"experts", "8", "experts per layer"},
            {"top_k", "2", "experts per token"},
            attn_param(),
            dropout_param("with train=1: MixtralConfig's attention_dropout (default 0.0), the attention "
                          "weights' dropout_p (Mixtral has no other dropout); 0: no dropout"),
            {"dtype", "bf16", "operand format", ParamType::dtype}}),
       build_moe});
}

}  // namespace tessera
