// Tensor and pipeline parallelism of the serial transformer built-ins
// (bert-*, transformer-base): shard_serial_transformer (see parallel.h).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "workloads/models/parallel.h"

namespace tessera {

namespace {
const std::vector<std::string> k_bert_column = {"attn.query", "attn.key", "attn.value", "intermediate.dense"};
const std::vector<std::string> k_bert_row = {"attn.output.dense", "output.dense"};
}  // namespace

// HF BertModel: the self-attention's query/key/value and the intermediate dense
// are column-parallel, attention.output.dense and output.dense row-parallel (the
// layout of Megatron-LM's BERT); the word embedding is vocabulary-parallel.
const ShardRules k_shard_bert_base{"bert-base", 768, 12, 3072, {"l"}, k_bert_column, k_bert_row,
                                   {"embeddings.word"}, ""};
const ShardRules k_shard_bert_large{"bert-large", 1024, 16, 4096, {"l"}, k_bert_column, k_bert_row,
                                    {"embeddings.word"}, ""};
// torch.nn.Transformer: in_proj, cross-attention q/kv, linear1 and the generator
// (vocabulary) column-parallel; out_proj and linear2 row-parallel; the shared
// embedding vocabulary-parallel. Every decoder layer's cross-attention reads the
// encoder's output, which a pipeline of consecutive chunks does not carry.
const ShardRules k_shard_transformer_base{
    "transformer-base", 512, 8, 2048, {"enc.l", "dec.l"},
    {"self_attn.in_proj", "cross_attn.q_proj", "cross_attn.kv_proj", "ffn.linear1", "generator"},
    {"self_attn.out_proj", "cross_attn.out_proj", "ffn.linear2"}, {"enc.embed", "dec.embed"},
    "every decoder layer's cross-attention reads the encoder's output, which a pipeline passing activations "
    "from one chunk to the next does not carry; use tp and dp"};

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool matches_any(const std::string& s, const std::vector<std::string>& suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(), [&](const std::string& x) { return ends_with(s, x); });
}

// The layer index of an op named `<prefix><L>.`, continuing across prefixes; -1 if none.
int64_t layer_of(const std::string& name, const ShardRules& r, const std::vector<int64_t>& offsets) {
  for (size_t i = 0; i < r.layer_prefixes.size(); ++i) {
    const std::string& pre = r.layer_prefixes[i];
    if (name.rfind(pre, 0) != 0) continue;
    size_t at = pre.size(), end = at;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
    if (end == at || end >= name.size() || name[end] != '.') continue;
    return offsets[i] + std::stoll(name.substr(at, end - at));
  }
  return -1;
}

}  // namespace

Graph shard_serial_transformer(Graph g, const ParallelConfig& c, const ShardRules& r) {
  const int64_t tp = c.tp;
  if (c.sequence_parallel)
    throw InputError(fmt::format("workload parameter 'sequence_parallel': not modelled for {} (gpt, gpt2-*, "
                                 "gpt3-175b, llama-* and moe have it)", r.model));
  if (c.ep != 1) throw InputError(fmt::format("workload parameter 'ep': {} applies to moe only", c.ep));
  if (c.pp > 1 && *r.no_pipeline)
    throw InputError(fmt::format("workload parameter 'pp': {} takes no pipeline parallelism: {}", r.model,
                                 r.no_pipeline));
  if (r.heads % tp != 0 || r.ffn % tp != 0)
    throw InputError(fmt::format("workload parameter 'tp': {} must divide {}'s heads={} and ffn={}", tp, r.model,
                                 r.heads, r.ffn));
  // Layers per prefix (their largest index + 1), hence each prefix's offset.
  std::vector<int64_t> count(r.layer_prefixes.size(), 0), offsets(r.layer_prefixes.size(), 0);
  for (const Op& op : g.ops)
    for (size_t i = 0; i < r.layer_prefixes.size(); ++i) {
      ShardRules one = r;
      one.layer_prefixes = {r.layer_prefixes[i]};
      const int64_t l = layer_of(op.name, one, {0});
      if (l >= 0) count[i] = std::max(count[i], l + 1);
    }
  int64_t layers = 0;
  for (size_t i = 0; i < count.size(); ++i) {
    offsets[i] = layers;
    layers += count[i];
  }
  if (layers % c.chunks() != 0)
    throw InputError(fmt::format("workload parameter 'pp': {} layers are not a multiple of pp x virtual_stages = "
                                 "{} x {}", layers, c.pp, c.virtual_stages));
  const int64_t per_chunk = layers / c.chunks();
  const auto out_bytes = [](const Op& op, int64_t elems) {
    return static_cast<int64_t>(static_cast<double>(elems) * dtype_info(op.out_dtype).storage_bits / 8.0);
  };
  std::map<int, int64_t> split_cols;   // op -> its unsplit output width, for ops whose output is split over tp
  int64_t seen_layer = -1;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    Op& op = g.ops[i];
    const int64_t l = layer_of(op.name, r, offsets);
    if (l >= 0) seen_layer = std::max(seen_layer, l);
    // Before the first layer: chunk 0; after the last: the last chunk (its own layer group).
    const int64_t chunk = l >= 0 ? l / per_chunk : seen_layer < 0 ? 0 : c.chunks() - 1;
    op.attrs["stage"] = chunk;
    if (l >= 0) op.attrs["layer"] = l + 1;
    else if (seen_layer >= 0) op.attrs["layer"] = layers + 1;
    if (tp == 1) continue;
    const bool linear = op.kind == OpKind::matmul && op.get("param", 0);
    if (linear && matches_any(op.name, r.column)) {
      const int64_t n = op.at("n");
      if (n % tp != 0 && !matches_any(op.name, {"generator"}))
        throw InputError(fmt::format("workload parameter 'tp': {} does not divide {}'s {} outputs of {}", tp, r.model,
                                     n, op.name));
      split_cols[static_cast<int>(i)] = n;
      op.attrs["n"] = (n + tp - 1) / tp;
      for (int d : op.deps) {
        Op& in = g.ops[static_cast<size_t>(d)];
        const int64_t rows = in.get("rows", in.get("tokens", 0)), cols = in.get("cols", in.get("dim", 0));
        if (rows > 0 && cols > 0 && !in.get("tp_in", 0)) in.attrs["tp_in"] = out_bytes(in, rows * cols);
      }
    } else if (linear && matches_any(op.name, r.row)) {
      op.attrs["k"] = op.at("k") / tp;
      op.attrs["tp_out"] = out_bytes(op, op.at("m") * op.at("n"));
    } else if (op.kind == OpKind::embedding && matches_any(op.name, r.vocab)) {
      op.attrs["vocab"] = (op.at("vocab") + tp - 1) / tp;
      op.attrs["tp_out"] = out_bytes(op, op.at("tokens") * op.at("dim"));
    } else if (op.kind == OpKind::attention) {
      op.attrs["heads"] = op.at("heads") / tp;
      op.attrs["kv_heads"] = op.at("kv_heads") / tp;
      // Its output (heads x head size = hidden) is split: a copy of it (nn.Transformer's
      // .contiguous() before out_proj) is split too.
      split_cols[static_cast<int>(i)] = r.hidden;
    } else if ((op.kind == OpKind::matmul && !linear) || op.kind == OpKind::softmax) {
      throw InputError(fmt::format("workload parameter 'tp': {} with attn=eager is not split over tensor-parallel "
                                   "ranks (op {}); use attn=sdpa", r.model, op.name));
    } else if (op.attrs.count("cols")) {
      // Element-wise work on a split output (the MLP activation) is split too.
      for (int d : op.deps)
        if (auto it = split_cols.find(d); it != split_cols.end() && it->second == op.at("cols")) {
          split_cols[static_cast<int>(i)] = it->second;
          op.attrs["cols"] = op.at("cols") / tp;
          break;
        }
    }
  }
  const int64_t microbatch_tokens = static_cast<int64_t>(info_or(g, "tokens", 0));
  const double seq = static_cast<double>(microbatch_tokens) / static_cast<double>(c.microbatch);
  g.info["layers"] = static_cast<double>(layers);
  g.info["seq"] = seq;
  g.info["hidden"] = static_cast<double>(r.hidden);
  g.info["heads"] = static_cast<double>(r.heads);
  g.info["kv_heads"] = static_cast<double>(r.heads);
  g.info["head_dim"] = static_cast<double>(r.hidden / r.heads);
  g.info["ffn"] = static_cast<double>(r.ffn);
  bool fused = true;
  for (const Op& op : g.ops) fused = fused && !(op.kind == OpKind::softmax);
  g.info["attn_fused"] = fused ? 1 : 0;
  g.info["context"] = seq;
  // Pipeline transfers: one microbatch's hidden states.
  g.info["p2p_bytes"] = static_cast<double>(out_bytes(g.ops.front(), microbatch_tokens * r.hidden));
  set_parallel_info(g, c);
  return g;
}

}  // namespace tessera
