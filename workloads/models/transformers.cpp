// Transformer models, one op per kernel that PyTorch eager launches for the
// reference implementation in inference (no autograd, dropout is identity; with
// train=1 and dropout=p > 0, the training-mode dropout: a native_dropout kernel
// per nn.Dropout, and dropout_p in the attention):
//   bert-*        Hugging Face BertModel (no head): bert.cpp
//   gpt2-*, gpt3  Hugging Face GPT2Model (no LM head); GPT-3 uses GPT-2's code
//                 with the 175B shape
//   llama-*       Hugging Face LlamaModel (no LM head)
//   transformer-base  torch.nn.Transformer (Vaswani et al. 2017 base shape) with
//                 token embeddings and the output projection
//   moe           a Mixtral-style decoder layer (HF MixtralDecoderLayer)
// Every nn.Linear is one matmul op (addmm/mm; its bias is fused) on the
// flattened tokens (m = batch*seq, b_shared = 1). With attn=sdpa attention is
// one fused kernel (F.scaled_dot_product_attention: FlashAttention/cuDNN on a
// GPU); with attn=eager it is the unfused math path (Q.K^T, scale, mask add,
// softmax, P.V as separate kernels). nn.LayerNorm, F.gelu and F.silu are one
// kernel each; HF's Python-level compositions (LlamaRMSNorm, GPT-2's NewGELU,
// LLaMA's rotary cos/sin tables) launch one kernel per PyTorch operation in eager
// mode, which is what `kernels=eager` (the default) builds; `kernels=fused`
// builds one kernel per norm/activation instead (fused implementations such as
// torch.compile's or Liger's).
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
// Decoder-only language models (GPT-2 family, GPT-3, LLaMA).

enum class DecoderStyle { gpt2, llama };

struct DecoderConfig {
  const char* name;
  DecoderStyle style;
  int64_t layers, d, heads, kv_heads, ffn, vocab;
  int64_t max_positions;  // learned position table size (GPT-2); 0 = rotary
  bool lm_head = false;   // the output projection to the vocabulary (gpt)
};

constexpr DecoderConfig kDecoders[] = {
    {"gpt2-small", DecoderStyle::gpt2, 12, 768, 12, 12, 3072, 50257, 1024},
    {"gpt2-medium", DecoderStyle::gpt2, 24, 1024, 16, 16, 4096, 50257, 1024},
    {"gpt2-large", DecoderStyle::gpt2, 36, 1280, 20, 20, 5120, 50257, 1024},
    {"gpt2-xl", DecoderStyle::gpt2, 48, 1600, 25, 25, 6400, 50257, 1024},
    {"gpt3-175b", DecoderStyle::gpt2, 96, 12288, 96, 96, 49152, 50257, 2048},
    {"llama-7b", DecoderStyle::llama, 32, 4096, 32, 32, 11008, 32000, 0},
    {"llama-70b", DecoderStyle::llama, 80, 8192, 64, 8, 28672, 32000, 0},
    // Meta-Llama-3-8B / -70B config.json (Hugging Face): hidden_size,
    // num_hidden_layers, num_attention_heads, num_key_value_heads,
    // intermediate_size, vocab_size 128256 (Llama 3.1 the same shapes).
    {"llama3-8b", DecoderStyle::llama, 32, 4096, 32, 8, 14336, 128256, 0},
    {"llama3-70b", DecoderStyle::llama, 80, 8192, 64, 8, 28672, 128256, 0},
};

// Weights of one decoder layer.
double decoder_layer_params(const DecoderConfig& c) {
  const double d = c.d, kvd = static_cast<double>(c.kv_heads) * (c.d / c.heads), f = c.ffn;
  if (c.style == DecoderStyle::gpt2)  // c_attn, c_proj, c_fc, c_proj with biases; ln_1, ln_2
    return (d * (d + 2 * kvd) + d + 2 * kvd) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
  // q, k, v, o without bias; gate, up, down; two RMSNorm weights
  return d * (d + 2 * kvd) + d * d + 3 * d * f + 2 * d;
}

bool eager_kernels(const Params& p) { return wl_choice(p, "kernels", {"eager", "fused"}) == "eager"; }

// HF LlamaRMSNorm.forward (transformers/models/llama/modeling_llama.py) in eager mode:
//   h = x.to(float32); variance = h.pow(2).mean(-1, keepdim=True)
//   h = h * torch.rsqrt(variance + eps); return weight * h.to(input_dtype)
// one kernel per operation: cast up, pow, mean (a row reduction), add eps and rsqrt
// on the rows x 1 statistics, the broadcast multiply, cast down, weight multiply.
int hf_rmsnorm(GraphBuilder& b, const std::string& name, const std::vector<int>& deps, int64_t rows,
               int64_t cols) {
  const DType act = product_out_dtype(b.dtype()), f32 = DType::fp32;
  std::vector<int> in = deps;
  if (act != f32) in = {b.vec_typed(OpKind::copy, name + ".to_fp32", deps, rows, cols, act, f32)};
  const int sq = b.vec_typed(OpKind::mul, name + ".pow", in, rows, cols, f32, f32, 1);
  // mean(-1): `reduce` sums a rows x cols tensor over its rows, so the row
  // reduction of the rows x cols activations is a reduce of cols x rows.
  const int mean = b.vec_typed(OpKind::reduce, name + ".mean", {sq}, cols, rows, f32, f32);
  const int eps = b.vec_typed(OpKind::add, name + ".add_eps", {mean}, rows, 1, f32, f32, 1);
  const int rs = b.vec_typed(OpKind::mul, name + ".rsqrt", {eps}, rows, 1, f32, f32, 1);
  std::vector<int> mdeps = in;
  mdeps.push_back(rs);
  int h = b.vec_typed(OpKind::mul, name + ".mul_rsqrt", mdeps, rows, cols, f32, f32, 1);
  if (act != f32) h = b.vec_typed(OpKind::copy, name + ".to_input_dtype", {h}, rows, cols, f32, act);
  const int w = b.vec_typed(OpKind::mul, name + ".mul_weight", {h}, rows, cols, act, act, 1);
  b.graph().ops[static_cast<size_t>(w)].attrs["param"] = 1;   // the norm's weight (cols elements)
  return w;
}

// HF NewGELUActivation (GPT-2's "gelu_new", transformers/activations.py) in eager mode:
//   0.5 * x * (1.0 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3.0))))
// eight element-wise kernels in evaluation order.
int hf_gelu_new(GraphBuilder& b, const std::string& name, int x, int64_t rows, int64_t cols) {
  const int half = b.vec(OpKind::mul, name + ".mul_half", {x}, rows, cols, 1);
  const int cube = b.vec(OpKind::mul, name + ".pow3", {x}, rows, cols, 1);
  b.graph().ops[static_cast<size_t>(cube)].attrs["exponent"] = 3;   // torch.pow: its own backward and autocast rule
  const int c1 = b.vec(OpKind::mul, name + ".mul_coef", {cube}, rows, cols, 1);
  const int inner = b.vec(OpKind::add, name + ".add_x", {x, c1}, rows, cols, 2);
  const int c2 = b.vec(OpKind::mul, name + ".mul_sqrt_2_pi", {inner}, rows, cols, 1);
  const int t = b.vec(OpKind::tanh, name + ".tanh", {c2}, rows, cols);
  const int one = b.vec(OpKind::add, name + ".add_one", {t}, rows, cols, 1);
  return b.vec(OpKind::mul, name + ".mul", {half, one}, rows, cols, 2);
}

// HF LlamaRotaryEmbedding.forward, once per model forward (before the layers):
// inv_freq.float() (the buffer follows model.to(dtype)), position_ids.float(), the
// [batch, hd/2, 1] x [batch, 1, seq] fp32 product, cat((freqs, freqs)), cos and sin
// each times attention_scaling, and both cast to the activation type.
int hf_rotary_tables(GraphBuilder& b, int64_t batch, int64_t seq, int64_t hd) {
  const DType act = product_out_dtype(b.dtype()), f32 = DType::fp32;
  const int inv = b.vec_typed(OpKind::copy, "rotary.inv_freq_float", {}, 1, hd / 2, act, f32);
  const int pos = b.vec_typed(OpKind::copy, "rotary.position_ids_float", {}, batch, seq, DType::int32, f32);
  Op mm;
  mm.name = "rotary.freqs";
  mm.kind = OpKind::matmul;
  mm.dtype = mm.out_dtype = f32;
  mm.attrs = {{"batch", batch}, {"m", hd / 2}, {"n", seq}, {"k", 1}};
  mm.deps = {inv, pos};
  const int freqs = b.graph().add(mm);
  const int emb = b.vec_typed(OpKind::copy, "rotary.cat", {freqs}, batch * seq, hd, f32, f32);
  int last = emb;
  for (const char* f : {"cos", "sin"}) {
    const int t = b.vec_typed(OpKind::mul, fmt::format("rotary.{}", f), {emb}, batch * seq, hd, f32, f32, 1);
    const int s = b.vec_typed(OpKind::mul, fmt::format("rotary.{}_scaling", f), {t}, batch * seq, hd, f32, f32, 1);
    last = b.vec_typed(OpKind::copy, fmt::format("rotary.{}_to_dtype", f), {s}, batch * seq, hd, f32, act);
  }
  return last;
}

Graph build_decoder(DecoderConfig c, const Params& p) {
  // lm_head=1 (the LLaMA family): LlamaForCausalLM's untied output projection.
  if (p.count("lm_head") && wl_bool(p, "lm_head")) c.lm_head = true;
  Graph g;
  g.name = c.name;
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(c.style == DecoderStyle::gpt2);   // GPT-2's Conv1D layers have biases, LLaMA's none
  const bool decode = wl_choice(p, "phase", {"prefill", "decode"}) == "decode";
  // KV cache (kv_cache): auto = static in decode, dynamic (no cache kernel) in
  // prefill, as an HF forward without a preallocated cache runs it.
  const std::string kv_cache = wl_choice(p, "kv_cache", {"auto", "static", "dynamic"});
  const bool dynamic_cache = kv_cache == "dynamic" || (kv_cache == "auto" && !decode);
  const bool fused_qkv = wl_bool(p, "fused_qkv"), fused_gate_up = wl_bool(p, "fused_gate_up");
  const bool rotary = wl_bool(p, "rope");
  const bool fused = fused_attention(p);
  const bool embed = wl_bool(p, "embed");
  // Training-mode dropout (GPT2Config embd_pdrop, resid_pdrop, attn_pdrop;
  // LlamaConfig attention_dropout: LLaMA has no other dropout).
  const bool dropout = wl_dropout(p);
  const ParallelConfig par = parse_parallel(p, wl_int(p, "batch"));
  // A parallel workload builds one microbatch of one device's shard.
  const int64_t batch = par.active ? par.microbatch : wl_int(p, "batch");
  const int64_t seq = decode ? 1 : wl_int(p, "seq");  // new tokens per sequence
  const int64_t ctx = decode ? wl_int(p, "ctx") : 0;  // tokens already in the KV cache
  // Positions SDPA attends over: the cache and the new tokens, or the whole
  // preallocated static cache (HF StaticCache's max_cache_len) behind a mask.
  const int64_t span = wl_int_or(p, "cache_len", ctx + seq);
  const int64_t layers = layer_count(p, c.layers);
  const int64_t tokens = batch * seq;
  const int64_t d = c.d, hd = c.d / c.heads;
  const int64_t tp = par.tp;
  if (par.ep != 1)
    throw InputError(fmt::format("workload parameter 'ep': {} applies to moe only", par.ep));
  if (c.heads % tp != 0 || c.kv_heads % tp != 0 || c.ffn % tp != 0)
    throw InputError(fmt::format("workload parameter 'tp': {} must divide heads={}, kv_heads={} and ffn={}", tp,
                                 c.heads, c.kv_heads, c.ffn));
  if (layers % par.chunks() != 0)
    throw InputError(fmt::format("workload parameter 'pp': {} layers are not a multiple of pp x virtual_stages = "
                                 "{} x {}", layers, par.pp, par.virtual_stages));
  if (par.sequence_parallel && tokens % tp != 0)
    throw InputError(fmt::format("workload parameter 'sequence_parallel': microbatch x seq = {} tokens are not a "
                                 "multiple of tp = {}", tokens, tp));
  const int64_t heads = c.heads / tp, kv_heads = c.kv_heads / tp, ffn = c.ffn / tp;
  const int64_t kvd = kv_heads * hd, qd = heads * hd;
  // Norms, residual additions and dropout: replicated over the tensor-parallel
  // ranks, or split over the sequence with sequence parallelism.
  const int64_t rows = par.sequence_parallel ? tokens / tp : tokens;
  const int64_t act_bytes = checked_bytes(checked_mul(tokens, d, "activations (batch x seq x d)"),
                                          product_out_dtype(b.dtype()), "activations");
  const int64_t chunk_layers = layers / par.chunks();
  size_t tagged = 0;
  // Tags the ops added since the last call with their pipeline chunk and layer.
  auto tag = [&](int64_t chunk, int64_t layer) {
    if (!par.active) return;
    for (; tagged < g.ops.size(); ++tagged) {
      g.ops[tagged].attrs["stage"] = chunk;
      if (layer >= 0) g.ops[tagged].attrs["layer"] = layer + 1;
    }
  };
  auto mark = [&](int op, const char* key, int64_t bytes) {
    if (par.active) g.ops[static_cast<size_t>(op)].attrs[key] = bytes;
  };
  if (c.max_positions > 0 && ctx + seq > c.max_positions)
    throw InputError(fmt::format("{} has {} learned positions; {} + {} tokens do not fit",
                                 c.name, c.max_positions, ctx, seq));
  const bool gpt2 = c.style == DecoderStyle::gpt2;
  if (gpt2 && fused_gate_up)
    throw InputError(fmt::format("workload parameter 'fused_gate_up': {} has no gated MLP (gate and up "
                                 "projections exist in SwiGLU decoders only)", c.name));
  const OpKind norm = gpt2 ? OpKind::layernorm : OpKind::rmsnorm;
  const bool eager = eager_kernels(p);
  // One norm: nn.LayerNorm is one kernel; LlamaRMSNorm is HF's composition.
  const auto norm_op = [&](const std::string& name, std::vector<int> in) {
    return !gpt2 && eager ? hf_rmsnorm(b, name, in, rows, d) : b.vec(norm, name, std::move(in), rows, d);
  };

  int x = -1;
  auto deps = [](int i) { return i < 0 ? std::vector<int>{} : std::vector<int>{i}; };
  if (embed) {
    // Vocabulary-parallel embedding (Megatron-LM): each rank holds vocab/tp rows.
    const int64_t vocab = (c.vocab + tp - 1) / tp;
    if (gpt2) {
      const int wte = b.embedding("wte", {}, tokens, d, vocab);
      mark(wte, "tp_out", act_bytes);
      const int wpe = b.embedding("wpe", {}, rows, d, c.max_positions);
      x = b.vec(OpKind::add, "embed.add", {wte, wpe}, rows, d, 2);
      if (dropout) x = b.vec(OpKind::dropout, "embed.drop", {x}, rows, d);
    } else {
      x = b.embedding("embed_tokens", {}, tokens, d, vocab);
      mark(x, "tp_out", act_bytes);
    }
  }
  // The attention mask, built once per forward after the embeddings (GPT2Model /
  // LlamaModel call create_causal_mask): in prefill over seq x seq; in a decode step
  // over the new token and the ctx cached ones (the token mask HF's generate extends
  // by one each step); with a static cache of cache_len, over all of its positions. With embed=0, the decoder
  // layers alone, it comes from outside: the attention reads it, nothing builds it. The check that may skip
  // it runs for SDPA with a dynamic cache (sdpa_mask's allow_is_causal_skip is off for a static, compileable
  // cache, and eager_mask never skips). Megatron-style sharded runs take none.
  const std::string mask_mode = wl_choice(p, "attention_mask", {"none", "ones", "padded"});
  if (mask_mode != "none" && par.active)
    throw InputError(
        fmt::format("workload parameter 'attention_mask': '{}' is Hugging Face's single-device "
                    "masking; not with tp, pp or dp",
                    mask_mode));
  if (p.at("cache_len") != "auto") {
    const std::string why =
        dynamic_cache ? "is the length of a static cache (kv_cache=static, the default in decode)"
        : span < ctx + seq
            ? fmt::format("must hold the {} positions of the step (ctx + new tokens)", ctx + seq)
        : span > ctx + seq && mask_mode == "none"
            ? "needs attention_mask=ones or padded: HF attends over the whole static cache behind the mask "
              "that hides its unwritten positions"
            : "";
    if (!why.empty()) throw InputError(fmt::format("workload parameter 'cache_len': {} {}", span, why));
  }
  // attn=megatron: Megatron-LM's causal softmax kernel masks by position; its
  // data loader's mask is made once, outside the step.
  const bool megatron = megatron_attention(p);
  if (megatron && mask_mode != "none")
    throw InputError(
        fmt::format("workload parameter 'attention_mask': '{}' is Hugging Face's masking; "
                    "attn=megatron takes none",
                    mask_mode));
  const bool may_skip = fused && dynamic_cache;
  const bool layers_take_mask =
      !par.active && !megatron &&
      (mask_mode == "padded" || (mask_mode == "ones" && !may_skip) || (!decode && !fused));
  const int mask = par.active || megatron || !embed || (decode && mask_mode == "none")
                       ? -1
                       : hf_attention_mask(b, mask_mode, batch, seq, span, fused, true, may_skip, deps(x));
  if (!gpt2 && eager && rotary) hf_rotary_tables(b, batch, seq, hd);
  tag(0, -1);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("l{}.", l);
    const int resid = x;
    const int ln1 = norm_op(pre + (gpt2 ? "ln_1" : "input_norm"), deps(x));
    mark(ln1, "tp_in", act_bytes);
    std::vector<int> attn_in;
    int k_op = -1, v_op = -1;
    if (gpt2) {
      // q | k | v in one projection; grouped-query `gpt` (kv_heads < heads) projects
      // kv_heads heads of K and V (Megatron-LM's linear_qkv with query groups).
      const int qkv = b.linear(pre + "attn.c_attn", {ln1}, tokens, qd + 2 * kvd, d);
      attn_in = {qkv};
      k_op = v_op = qkv;
    } else {
      // fused_qkv: one projection to q|k|v (decode_static.py's wqkv); the three
      // are views of its output.
      const int qkv = fused_qkv ? b.linear(pre + "attn.qkv_proj", {ln1}, tokens, qd + 2 * kvd, d) : -1;
      const int q = fused_qkv ? qkv : b.linear(pre + "attn.q_proj", {ln1}, tokens, qd, d);
      const int k = fused_qkv ? qkv : b.linear(pre + "attn.k_proj", {ln1}, tokens, kvd, d);
      v_op = fused_qkv ? qkv : b.linear(pre + "attn.v_proj", {ln1}, tokens, kvd, d);
      const int qr = rotary ? rope(b, pre + "attn.rope_q", q, tokens, qd) : q;
      k_op = rotary ? rope(b, pre + "attn.rope_k", k, tokens, kvd) : k;
      attn_in = {qr, k_op, v_op};
    }
    // KV cache. dynamic (HF DynamicCache): prefill stores the new tensors
    // without a kernel; decode concatenates cache and new token (torch.cat,
    // one kv_read with append=1 standing for the K and V cats).
    // static (HF StaticCache / serving engines): index_copy_ of the new
    // positions into the preallocated cache (kv_write), one kernel for K and one
    // for V (launches=2).
    if (dynamic_cache && decode) {
      attn_in.push_back(b.kv(OpKind::kv_read, pre + "attn.kv_cat", {k_op, v_op}, batch,
                             kv_heads, ctx, hd, seq));
    } else if (!dynamic_cache) {
      const int w = b.kv(OpKind::kv_write, pre + "attn.kv_write", {k_op, v_op}, batch, kv_heads, seq, hd);
      g.ops[static_cast<size_t>(w)].attrs["launches"] = 2;
      attn_in.push_back(w);
    }
    AttnShape a;
    a.batch = batch;
    a.heads = heads;
    a.kv_heads = kv_heads;
    a.sq = seq;
    a.skv = span;
    a.d = hd;
    a.causal = seq > 1;  // prefill is causal; one decode query sees the whole cache
    a.dropout = dropout;
    a.fused_softmax = megatron;
    if (layers_take_mask)
      attn_in = hf_masked_attention_inputs(b, pre + "attn.", a, attn_in, mask, gpt2, fused);
    const int att = b.attention(pre + "attn.sdpa", attn_in, a, fused);
    int o = b.linear(pre + (gpt2 ? "attn.c_proj" : "attn.o_proj"), {att}, tokens, d, qd);
    mark(o, "tp_out", act_bytes);
    if (gpt2 && dropout) o = b.vec(OpKind::dropout, pre + "attn.resid_dropout", {o}, rows, d);
    std::vector<int> add1_deps = {o};
    if (resid >= 0) add1_deps.push_back(resid);
    const int h = b.vec(OpKind::add, pre + "attn.add", add1_deps, rows, d, 2);
    const int ln2 = norm_op(pre + (gpt2 ? "ln_2" : "post_attention_norm"), {h});
    mark(ln2, "tp_in", act_bytes);
    int mlp;
    if (gpt2) {
      const int fc = b.linear(pre + "mlp.c_fc", {ln2}, tokens, ffn, d);
      const int act = eager ? hf_gelu_new(b, pre + "mlp.gelu_new", fc, tokens, ffn)
                            : b.vec(OpKind::gelu, pre + "mlp.gelu", {fc}, tokens, ffn);
      mlp = b.linear(pre + "mlp.c_proj", {act}, tokens, d, ffn);
      mark(mlp, "tp_out", act_bytes);
      if (dropout) mlp = b.vec(OpKind::dropout, pre + "mlp.dropout", {mlp}, rows, d);
    } else {
      // fused_gate_up: one projection to gate|up (decode_static.py's w13), chunked.
      const int gu = fused_gate_up ? b.linear(pre + "mlp.gate_up_proj", {ln2}, tokens, 2 * ffn, d) : -1;
      const int gate = fused_gate_up ? gu : b.linear(pre + "mlp.gate_proj", {ln2}, tokens, ffn, d);
      const int act = b.vec(OpKind::silu, pre + "mlp.silu", {gate}, tokens, ffn);
      const int up = fused_gate_up ? gu : b.linear(pre + "mlp.up_proj", {ln2}, tokens, ffn, d);
      const int mul = b.vec(OpKind::mul, pre + "mlp.mul", {act, up}, tokens, ffn, 2);
      mlp = b.linear(pre + "mlp.down_proj", {mul}, tokens, d, ffn);
      mark(mlp, "tp_out", act_bytes);
    }
    x = b.vec(OpKind::add, pre + "mlp.add", {mlp, h}, rows, d, 2);
    tag(l / chunk_layers, l);
  }
  if (embed) {
    x = norm_op(gpt2 ? "ln_f" : "norm", deps(x));
    if (c.lm_head) {
      // Column-parallel output projection over vocab/tp (Megatron-LM's parallel
      // LM head; its cross-entropy's small reductions are not modelled).
      mark(x, "tp_in", act_bytes);
      x = b.linear("lm_head", {x}, tokens, (c.vocab + tp - 1) / tp, d, false);
    }
    tag(par.chunks() - 1, layers);   // its own group after the last layer (zero=3 gathers)
  }

  const double layer_params = decoder_layer_params(c);
  double params = layer_params * static_cast<double>(layers);
  if (embed) {
    params += static_cast<double>(c.vocab) * d + static_cast<double>(c.max_positions) * d;
    params += gpt2 ? 2.0 * d : static_cast<double>(d);
  }
  g.info["params"] = params;
  g.info["params_per_layer"] = layer_params;
  g.info["layers"] = static_cast<double>(layers);
  g.info["tokens"] = static_cast<double>(tokens);
  g.info["context"] = static_cast<double>(span);
  // A decode step over a static (preallocated) cache is what serving engines
  // capture once and replay as a CUDA graph: no host time per kernel
  // (models/compute/host.h), no host launch between a multi-kernel op's kernels
  // (compiler/compile.cpp reads both keys).
  if (decode && !dynamic_cache) {
    g.info["host_hidden"] = 1;
    g.info["graph"] = 1;
  }
  if (c.lm_head && embed) g.info["params"] += static_cast<double>(c.vocab) * d;
  if (par.active) {
    g.info["seq"] = static_cast<double>(seq);
    g.info["hidden"] = static_cast<double>(d);
    g.info["heads"] = static_cast<double>(c.heads);
    g.info["kv_heads"] = static_cast<double>(c.kv_heads);
    g.info["head_dim"] = static_cast<double>(hd);
    g.info["ffn"] = static_cast<double>(c.ffn);
    g.info["mlp_gated"] = gpt2 ? 0 : 1;
    g.info["vocab"] = static_cast<double>(c.vocab);
    g.info["attn_fused"] = fused ? 1 : 0;
    // Pipeline transfers: one microbatch's activations (split over the tp ranks
    // with sequence parallelism: Megatron-LM's scatter/gather optimisation).
    g.info["p2p_bytes"] = static_cast<double>(par.sequence_parallel ? act_bytes / tp : act_bytes);
    set_parallel_info(g, par);
  }
  return g;
}

template <int I>
Graph build_decoder_at(const Params& p) {
  return build_decoder(kDecoders[I], p);
}

// The shape a generic decoder (gpt, llama) is given: layers, hidden, heads,
// kv_heads (auto: heads), vocab; refused where heads do not divide.
DecoderConfig generic_shape(const char* name, DecoderStyle style, const Params& p) {
  DecoderConfig c{
      name, style, wl_int(p, "layers"), wl_int(p, "hidden"), wl_int(p, "heads"), 0, 0, wl_int(p, "vocab"), 0};
  c.kv_heads = wl_int_or(p, "kv_heads", c.heads);
  if (c.d % c.heads != 0 || c.heads % c.kv_heads != 0)
    throw InputError(fmt::format("workload parameters: hidden={} must be a multiple of heads={}, and heads a "
                                 "multiple of kv_heads={}", c.d, c.heads, c.kv_heads));
  return c;
}

// Their parameters: the shape's (ffn as given, vocab defaulting to `vocab`), then
// the decoders' but `layers`.
std::vector<WorkloadParam> generic_params(WorkloadParam ffn, const std::string& vocab,
                                          const std::vector<WorkloadParam>& decoder) {
  std::vector<WorkloadParam> own = {
      {"layers", "", "decoder layers"},
      {"hidden", "", "model width"},
      {"heads", "", "attention heads"},
      {"kv_heads", "auto", "key/value heads (auto: = heads)", ParamType::integer, {"auto"}},
      std::move(ffn),
      {"vocab", vocab, "vocabulary size"}};
  for (const auto& q : decoder)
    if (q.name != "layers") own.push_back(q);
  return own;
}

// gpt: a generic GPT-style decoder (learned positions, LayerNorm, GELU MLP,
// biases) of any shape, with its LM head (untied) on the last pipeline stage.
Graph build_gpt(const Params& p) {
  DecoderConfig c = generic_shape("gpt", DecoderStyle::gpt2, p);
  c.lm_head = true;
  c.ffn = wl_int_or(p, "ffn", 4 * c.d);
  const bool decode = p.at("phase") == "decode";
  c.max_positions = (decode ? wl_int(p, "ctx") : 0) + (decode ? 1 : wl_int(p, "seq"));
  return build_decoder(c, p);
}

// llama: a generic LLaMA-style decoder (rotary positions, RMSNorm, SwiGLU MLP,
// grouped-query attention, no biases) of any shape, as HF LlamaModel (no LM head,
// as llama-7b): Llama 2/3, Mistral without its sliding window, Qwen2 without its
// q/k/v biases.
Graph build_llama(const Params& p) {
  DecoderConfig c = generic_shape("llama", DecoderStyle::llama, p);
  c.ffn = wl_int(p, "ffn");
  return build_decoder(c, p);
}

// The LLaMA family's parameters: the decoder's and lm_head.
std::vector<WorkloadParam> llama_family_params() {
  std::vector<WorkloadParam> q = decoder_params(2048);
  q.push_back(
      {"lm_head", "0",
       "1: the LM head of LlamaForCausalLM (an untied vocabulary projection after the final norm; with "
       "train=1 its backward starts from the logits' gradient, as every model's without amp: no loss "
       "kernel); 0: LlamaModel's hidden states",
       ParamType::boolean});
  return with_parallel(q);
}

std::vector<WorkloadParam> llama_params() {
  return generic_params({"ffn", "", "SwiGLU hidden width (intermediate_size)"}, "32000",
                        llama_family_params());
}

std::vector<WorkloadParam> gpt_params() {
  return with_parallel(
      generic_params({"ffn", "auto", "MLP hidden width (auto: 4 x hidden)", ParamType::integer, {"auto"}},
                     "50257", decoder_params(2048)));
}

}  // namespace

void add_transformer_workloads(std::vector<WorkloadInfo>& out) {
  add_bert_workloads(out);
  out.push_back({"gpt2-small", "HF GPT2Model 124M (12 layers, d=768), no LM head",
                 with_parallel(decoder_params(1024)), build_decoder_at<0>});
  out.push_back({"gpt2-medium", "HF GPT2Model 355M (24 layers, d=1024), no LM head",
                 with_parallel(decoder_params(1024)), build_decoder_at<1>});
  out.push_back({"gpt2-large", "HF GPT2Model 774M (36 layers, d=1280), no LM head",
                 with_parallel(decoder_params(1024)), build_decoder_at<2>});
  out.push_back({"gpt2-xl", "HF GPT2Model 1.5B (48 layers, d=1600), no LM head",
                 with_parallel(decoder_params(1024)), build_decoder_at<3>});
  out.push_back({"gpt3-175b", "GPT-3 175B (96 layers, d=12288, 96 heads) in GPT2Model form, "
                 "no LM head", with_parallel(decoder_params(2048)), build_decoder_at<4>});
  out.push_back({"llama-7b",
                 "HF LlamaModel 7B (32 layers, d=4096, 32 heads, SwiGLU 11008), "
                 "no LM head (lm_head=1: LlamaForCausalLM's)",
                 llama_family_params(), build_decoder_at<5>});
  out.push_back({"llama-70b",
                 "HF LlamaModel 70B (80 layers, d=8192, 64 heads / 8 KV heads, "
                 "SwiGLU 28672), no LM head (lm_head=1: LlamaForCausalLM's)",
                 llama_family_params(), build_decoder_at<6>});
  out.push_back({"llama3-8b",
                 "HF LlamaModel Llama 3 8B (32 layers, d=4096, 32 heads / 8 KV heads, SwiGLU 14336, "
                 "vocabulary 128256), no LM head (lm_head=1: LlamaForCausalLM's)",
                 llama_family_params(), build_decoder_at<7>});
  out.push_back({"llama3-70b",
                 "HF LlamaModel Llama 3 70B (80 layers, d=8192, 64 heads / 8 KV heads, SwiGLU 28672, "
                 "vocabulary 128256), no LM head (lm_head=1: LlamaForCausalLM's)",
                 llama_family_params(), build_decoder_at<8>});
  out.push_back(
      {"llama",
       "generic LLaMA-style decoder (rotary positions, RMSNorm, SwiGLU, grouped-query "
       "attention), no LM head unless lm_head=1: llama:layers=,hidden=,heads=,ffn=[,kv_heads=,vocab=,seq=]",
       llama_params(), build_llama});
  out.push_back({"gpt", "generic GPT-style decoder (learned positions, LayerNorm, GELU) with its LM head: "
                 "gpt:layers=,hidden=,heads=[,ffn=,vocab=,seq=]", gpt_params(), build_gpt});
  add_encoder_decoder_moe_workloads(out);
}

}  // namespace tessera
