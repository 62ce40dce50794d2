// AlphaFold-2 Evoformer blocks (Jumper et al. 2021, supplementary Algorithms
// 6-15) in inference. variant=sdpa (the default) is the block of
// shared/reference/models/evoformer_sdpa.py, built in evoformer_sdpa.cpp;
// variant=openfold is one op per kernel of OpenFold's modules (no masks, no
// chunking), below:
//   MSA representation m: n_seq x n_res x c_m;  pair representation z: n_res x n_res x c_z.
// Per block (Algorithm 6):
//   m += MSARowAttentionWithPairBias(m, z)     Alg. 7
//   m += MSAColumnAttention(m)                  Alg. 8
//   m += MSATransition(m)                       Alg. 9
//   z += OuterProductMean(m)                    Alg. 10
//   z += TriangleMultiplicationOutgoing(z)      Alg. 11
//   z += TriangleMultiplicationIncoming(z)      Alg. 12
//   z += TriangleAttentionStartingNode(z)       Alg. 13
//   z += TriangleAttentionEndingNode(z)         Alg. 14
//   z += PairTransition(z)                      Alg. 15
// Each module starts with a LayerNorm of its input. Projections are linears on
// the flattened positions; contractions are matmul ops named after the
// algorithm (batch = the independent channel/row dimension):
//   outer product:  O[(i,c),(j,e)] = sum_s a[s,i,c] b[s,j,e]
//                   matmul m = n_res*c_opm, n = n_res*c_opm, k = n_seq
//   triangle mult:  Z[c,i,j] = sum_k A[c,i,k] B[c,j,k]  (outgoing; incoming
//                   contracts the first index), matmul batch = c_tri, m = n = k = n_res
// Gated attention: attention output * sigmoid(linear_g(x)) before the output
// projection. attn=fused: one attention op (with the pair bias as an additive
// bias shared across the batch); attn=eager: Q.K^T, scale, bias add, softmax, P.V.
#include <fmt/format.h>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"
#include "workloads/models/evoformer.h"

namespace tessera {
namespace {

using Params = std::map<std::string, std::string>;

// Dependencies on `op`, none when the tensor is a model input (op < 0).
std::vector<int> opt(int op) { return op < 0 ? std::vector<int>{} : std::vector<int>{op}; }
std::vector<int> opt(int a, int op) {
  std::vector<int> v = {a};
  if (op >= 0) v.push_back(op);
  return v;
}

struct EvoShape {
  int64_t s, r, c_m, c_z, heads_msa, heads_pair, c_hidden, c_opm, c_tri, transition;
  bool fused;
};

// Gated self-attention over `batch` independent rows of `len` positions with
// `channels` input channels (Algorithms 7, 8, 13, 14). `bias_from` >= 0 adds the
// pair bias: LayerNorm(z) is projected to one scalar per head (linear c_z -> heads)
// and added to the logits of every row. Returns the residual add.
int gated_attention(GraphBuilder& b, const std::string& pre, int x, int z_norm,
                    const EvoShape& e, int64_t batch, int64_t len, int64_t channels,
                    int64_t heads, bool pair_bias) {
  const int64_t rows = batch * len, hc = heads * e.c_hidden;
  const int ln = b.vec(OpKind::layernorm, pre + "layer_norm", opt(x), rows, channels);
  // OpenFold's Attention: linear_q/k/v without bias, linear_g and linear_o with.
  const int q = b.linear(pre + "linear_q", {ln}, rows, hc, channels, false);
  const int k = b.linear(pre + "linear_k", {ln}, rows, hc, channels, false);
  const int v = b.linear(pre + "linear_v", {ln}, rows, hc, channels, false);
  std::vector<int> deps = {q, k, v};
  AttnShape a;
  a.batch = batch;
  a.heads = a.kv_heads = heads;
  a.sq = a.skv = len;
  a.d = e.c_hidden;
  if (pair_bias) {
    // Pair bias b_ij^h = Linear(LayerNorm(z_ij)): r*r positions, c_z -> heads.
    deps.push_back(b.linear(pre + "linear_b", {z_norm}, e.r * e.r, heads, e.c_z, false));
    a.bias = true;
    a.bias_shared = true;
  }
  const int att = b.attention(pre + "attention", deps, a, e.fused);
  const int g = b.linear(pre + "linear_g", {ln}, rows, hc, channels);
  const int sig = b.vec(OpKind::sigmoid, pre + "gate.sigmoid", {g}, rows, hc);
  const int gated = b.vec(OpKind::mul, pre + "gate.mul", {att, sig}, rows, hc, 2);
  const int o = b.linear(pre + "linear_o", {gated}, rows, channels, hc);
  return b.vec(OpKind::add, pre + "residual", opt(o, x), rows, channels, 2);
}

// Transition (Algorithms 9, 15): LayerNorm, linear c -> n*c, relu, linear n*c -> c.
int transition(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t c, int64_t n) {
  const int ln = b.vec(OpKind::layernorm, pre + "layer_norm", {x}, rows, c);
  const int l1 = b.linear(pre + "linear_1", {ln}, rows, n * c, c);
  const int r = b.vec(OpKind::relu, pre + "relu", {l1}, rows, n * c);
  const int l2 = b.linear(pre + "linear_2", {r}, rows, c, n * c);
  return b.vec(OpKind::add, pre + "residual", {l2, x}, rows, c, 2);
}

// Triangle multiplicative update (Algorithms 11, 12). Both directions have the
// same kernels and shapes; they differ in which index is contracted.
int triangle_mult(GraphBuilder& b, const std::string& pre, int z, const EvoShape& e) {
  const int64_t rr = e.r * e.r;
  const int ln = b.vec(OpKind::layernorm, pre + "layer_norm_in", {z}, rr, e.c_z);
  int ab[2];
  for (int side = 0; side < 2; ++side) {
    const std::string n = side == 0 ? "a" : "b";
    const int gate = b.linear(pre + "linear_" + n + "_g", {ln}, rr, e.c_tri, e.c_z);
    const int sig = b.vec(OpKind::sigmoid, pre + n + "_g.sigmoid", {gate}, rr, e.c_tri);
    const int proj = b.linear(pre + "linear_" + n + "_p", {ln}, rr, e.c_tri, e.c_z);
    ab[side] = b.vec(OpKind::mul, pre + n + ".mul", {sig, proj}, rr, e.c_tri, 2);
  }
  const int g = b.linear(pre + "linear_g", {ln}, rr, e.c_z, e.c_z);
  const int gs = b.vec(OpKind::sigmoid, pre + "g.sigmoid", {g}, rr, e.c_z);
  const int prod = b.bmm(pre + "triangle_product", {ab[0], ab[1]}, e.c_tri, e.r, e.r, e.r);
  const int lo = b.vec(OpKind::layernorm, pre + "layer_norm_out", {prod}, rr, e.c_tri);
  const int o = b.linear(pre + "linear_z", {lo}, rr, e.c_z, e.c_tri);
  const int gated = b.vec(OpKind::mul, pre + "gate.mul", {o, gs}, rr, e.c_z, 2);
  return b.vec(OpKind::add, pre + "residual", {gated, z}, rr, e.c_z, 2);
}

// Outer product mean (Algorithm 10): LayerNorm(m), a = Linear(m), b = Linear(m)
// (c_m -> c_opm), o_ij = mean_s a_si (x) b_sj (one matmul over s; the mean is the
// division below), Linear(flatten(o_ij)) c_opm^2 -> c_z, divide by the number of
// sequences, add to z.
int outer_product_mean(GraphBuilder& b, const std::string& pre, int m, int z, const EvoShape& e) {
  const int64_t sr = e.s * e.r, rr = e.r * e.r;
  const int ln = b.vec(OpKind::layernorm, pre + "layer_norm", opt(m), sr, e.c_m);
  const int a = b.linear(pre + "linear_1", {ln}, sr, e.c_opm, e.c_m);
  const int bb = b.linear(pre + "linear_2", {ln}, sr, e.c_opm, e.c_m);
  const int outer = b.bmm(pre + "outer", {a, bb}, 1, e.r * e.c_opm, e.r * e.c_opm, e.s);
  const int o = b.linear(pre + "linear_out", {outer}, rr, e.c_z, e.c_opm * e.c_opm);
  const int mean = b.vec(OpKind::mul, pre + "mean", {o}, rr, e.c_z, 1);
  return b.vec(OpKind::add, pre + "residual", opt(mean, z), rr, e.c_z, 2);
}

Graph build_evoformer(const Params& p) {
  Graph g;
  g.name = "evoformer";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);   // OpenFold's Linear layers have a bias unless noted
  EvoShape e;
  e.s = wl_int(p, "n_seq");
  e.r = wl_int(p, "n_res");
  e.c_m = wl_int(p, "c_m");
  e.c_z = wl_int(p, "c_z");
  e.heads_msa = wl_int(p, "heads_msa");
  e.heads_pair = wl_int(p, "heads_pair");
  e.c_hidden = wl_int(p, "c_hidden");
  e.c_opm = wl_int(p, "c_opm");
  e.c_tri = wl_int(p, "c_tri");
  e.transition = wl_int(p, "transition");
  e.fused = wl_choice(p, "attn", {"fused", "eager"}) == "fused";
  const int64_t blocks = wl_int(p, "blocks");
  const int64_t sr = e.s * e.r, rr = e.r * e.r;

  int m = -1, z = -1;
  const std::string variant = wl_choice(p, "variant", {"sdpa", "openfold"});
  if (variant == "sdpa") {
    EvoSdpaShape es;
    es.s = e.s;
    es.r = e.r;
    es.c_m = e.c_m;
    es.c_z = e.c_z;
    es.h_m = e.heads_msa;
    es.h_z = e.heads_pair;
    es.c_h = e.c_hidden;
    es.c_opm = e.c_opm;
    es.c_tri = e.c_tri;
    es.transition = e.transition;
    for (int64_t blk = 0; blk < blocks; ++blk) build_evoformer_sdpa_block(b, fmt::format("b{}.", blk), es, m, z);
  }
  for (int64_t blk = 0; variant == "openfold" && blk < blocks; ++blk) {
    const std::string pre = fmt::format("b{}.", blk);
    // The row attention's pair bias reads LayerNorm(z) (Alg. 7 line 3).
    const int z_norm = b.vec(OpKind::layernorm, pre + "msa_row_attn.layer_norm_z", opt(z), rr, e.c_z);
    m = gated_attention(b, pre + "msa_row_attn.", m, z_norm, e, e.s, e.r, e.c_m, e.heads_msa,
                        true);
    m = gated_attention(b, pre + "msa_col_attn.", m, -1, e, e.r, e.s, e.c_m, e.heads_msa, false);
    m = transition(b, pre + "msa_transition.", m, sr, e.c_m, e.transition);
    z = outer_product_mean(b, pre + "outer_product_mean.", m, z, e);
    z = triangle_mult(b, pre + "tri_mul_out.", z, e);
    z = triangle_mult(b, pre + "tri_mul_in.", z, e);
    z = gated_attention(b, pre + "tri_att_start.", z, -1, e, e.r, e.r, e.c_z, e.heads_pair, false);
    z = gated_attention(b, pre + "tri_att_end.", z, -1, e, e.r, e.r, e.c_z, e.heads_pair, false);
    z = transition(b, pre + "pair_transition.", z, rr, e.c_z, e.transition);
  }
  // EvoformerBlock returns both representations (training seeds both).
  g.ops[static_cast<size_t>(m)].attrs["output"] = 1;
  g.ops[static_cast<size_t>(z)].attrs["output"] = 1;
  g.info["blocks"] = static_cast<double>(blocks);
  g.info["n_seq"] = static_cast<double>(e.s);
  g.info["n_res"] = static_cast<double>(e.r);
  return g;
}

}  // namespace

void add_evoformer_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"evoformer", "AlphaFold-2 Evoformer blocks (supplement Alg. 6-15): MSA row/column "
                 "gated attention, transitions, outer product mean, triangle updates and attention",
                 {{"n_seq", "128", "MSA sequences (N_seq)"},
                  {"n_res", "256", "residues (N_res)"},
                  {"blocks", "1", "Evoformer blocks (48 = the full trunk)"},
                  {"c_m", "256", "MSA channels"},
                  {"c_z", "128", "pair channels"},
                  {"heads_msa", "8", "MSA attention heads"},
                  {"heads_pair", "4", "triangle attention heads"},
                  {"c_hidden", "32", "attention head dimension"},
                  {"c_opm", "32", "outer product mean channels"},
                  {"c_tri", "128", "triangle multiplication channels"},
                  {"transition", "4", "transition widening factor"},
                  {"variant", "sdpa",
                   "sdpa: the torch.nn block with F.scaled_dot_product_attention and a float pair-bias mask "
                   "(shared/reference/models/evoformer_sdpa.py); openfold: OpenFold's modules",
                   ParamType::choice, {"sdpa", "openfold"}},
                  {"attn", "fused", "variant=openfold: fused (one attention kernel with bias) or eager (unfused)", ParamType::choice, {"fused", "eager"}},
                  {"dtype", "bf16", "operand format", ParamType::dtype}},
                 build_evoformer});
}

}  // namespace tessera
