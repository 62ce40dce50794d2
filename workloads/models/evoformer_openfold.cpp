// OpenFold's EvoformerBlock (openfold/model/evoformer.py and the modules it calls)
// in inference, kernel for kernel as PyTorch eager launches it on a CUDA GPU, on
// its default path: EvoformerBlock(m, z, msa_mask, pair_mask) with no chunking,
// inplace_safe=False, _mask_trans=True, and none of the fused-attention switches
// (use_deepspeed_evo_attention, use_lma, use_flash), so every attention runs
// primitives.py's stock `_attention`. Batch dims are 1; s = n_seq, r = n_res.
//
// Attention (primitives.py Attention with gating), for q_x = kv_x = x:
//   linear_q, linear_k, linear_v (no bias) -> views [*, H, Q, C] of [*, Q, H*C]
//   q /= sqrt(C)                        in place on the view: one kernel
//   a = matmul(q, k^T)                  q and k^T are not viewable as [*H, Q, C] /
//                                       [*H, C, K] (their memory is [*, Q, H, C]):
//                                       at::matmul's reshape copies each, then bmm
//   a = a + b for each bias             the mask bias [*, 1, 1, K] (contiguous rows)
//                                       and the pair / triangle bias, a permuted
//                                       projection [*, H, Q, K] whose last dim has
//                                       stride H; each add reads its bias broadcast
//   softmax_no_cast(a)                  softmax in the activations' format
//   matmul(a, v)                        v copied like k, then bmm
//   o.transpose(-2, -3); g = sigmoid(linear_g(q_x)); o * g  (the product keeps
//                                       o's [*, H, Q, C] memory order: TensorIterator
//                                       follows its first operand)
//   flatten_final_dims(o, 2)            a copy (the memory order is [*, H, Q, C])
//   linear_o (bias)
// Each attention module first builds its mask bias, inf * (mask - 1): two small
// kernels over the mask (n_seq x n_res or n_res x n_res elements).
//
// Per block, in launch order:
//   MSARowAttentionWithPairBias  mask bias, LN(z), linear_z (no bias), LN(m),
//                                attention with [mask bias, pair bias], residual add
//   MSAColumnAttention           mask bias, LN of the transposed m (LayerNorm's CUDA
//                                kernel copies a non-contiguous input first),
//                                attention with [mask bias], residual add
//   MSATransition                LN, linear_1, relu, linear_2, x mask, residual add
//   OuterProductMean             LN, linear_1 x mask, linear_2 x mask, einsum
//                                "...bac,...dae->...bdce" (one bmm over s: a and b
//                                are transposed views cuBLAS takes as they are),
//                                reshape of the permuted result (a copy),
//                                linear_out, einsum of the masks (the normaliser,
//                                a bmm over s), + eps, division, residual add
//   TriangleMultiplication x2    LN, linear_a_g, sigmoid, x mask, linear_a_p, x;
//   (outgoing, incoming)         the same for b; the permuted a, b have unit stride
//                                only in the batch dim (c), so CUDA's bmm copies
//                                both; bmm over c; LN of the permuted product
//                                (copy, LN), linear_z, linear_g, sigmoid, x,
//                                residual add
//   TriangleAttention (start)    mask bias, LN, linear (triangle bias, no bias),
//                                attention with [mask bias, triangle bias], add
//   TriangleAttention (end)      the same on the transposed z (LN copies it first)
//   PairTransition               LN, linear_1, relu, linear_2, x mask, residual add
// Dropout is the identity in eval mode (no kernel). attn=fused replaces each stock
// attention (scale, copies, the two bmm, the bias adds, the softmax, the flatten
// copy) by one fused kernel with the biases, as OpenFold's
// use_deepspeed_evo_attention (DeepSpeed's DS4Sci_EvoformerAttention) runs it.
// Releases differ in details this leaves out: the newest compute the row
// attention's LayerNorm(z) and linear_z in chunks of 256 rows joined by a cat, and
// some take a.std() and b.std() (two reductions) before the triangle product.
#include <fmt/format.h>

#include "workloads/builder.h"
#include "workloads/models/evoformer.h"

namespace tessera {
namespace {

std::vector<int> deps_of(int op) {
  return op < 0 ? std::vector<int>{} : std::vector<int>{op};
}

// inf * (mask - 1) over a mask of `elems` elements: the sub and the mul.
int mask_bias(GraphBuilder& b, const std::string& pre, int64_t elems) {
  const int sub = b.vec(OpKind::add, pre + "mask_bias.sub", {}, 1, elems, 1);
  return b.vec(OpKind::mul, pre + "mask_bias.mul", {sub}, 1, elems, 1);
}

struct Bias {
  int op;          // the op producing it
  int64_t stride;  // its last dim's stride in elements (1: contiguous rows)
};

// primitives.py Attention over `batch` independent sequences of `len` positions
// with `channels` input channels; `x` is the LayerNorm'd input. Returns linear_o.
int attention(GraphBuilder& b, const std::string& pre, int x, const EvoformerShape& e, int64_t batch,
              int64_t len, int64_t channels, int64_t heads, const std::vector<Bias>& biases, bool fused) {
  const int64_t rows = batch * len, hc = heads * e.c_h, bh = batch * heads;
  const int q = b.linear(pre + "linear_q", {x}, rows, hc, channels, false);
  const int k = b.linear(pre + "linear_k", {x}, rows, hc, channels, false);
  const int v = b.linear(pre + "linear_v", {x}, rows, hc, channels, false);
  int o = -1;
  if (fused) {
    AttnShape a;
    a.batch = batch;
    a.heads = a.kv_heads = heads;
    a.sq = a.skv = len;
    a.d = e.c_h;
    a.bias = a.bias_shared = !biases.empty();
    std::vector<int> deps = {q, k, v};
    for (const Bias& bias : biases) deps.push_back(bias.op);
    o = b.attention(pre + "attention", deps, a, true);
  } else {
    const int qs = b.vec(OpKind::mul, pre + "q_scale", {q}, rows, hc, 1);
    const int qc = b.vec(OpKind::copy, pre + "q_reshape", {qs}, bh * len, e.c_h);
    const int kc = b.vec(OpKind::copy, pre + "k_reshape", {k}, bh * len, e.c_h);
    int a = b.bmm(pre + "qk", {qc, kc}, bh, len, len, e.c_h);
    for (size_t i = 0; i < biases.size(); ++i) {
      a = b.vec(OpKind::add, pre + (i == 0 ? "mask_bias_add" : "bias_add"), {a, biases[i].op}, bh * len, len,
                2);
      b.broadcast_input(a, b.dtype(), biases[i].stride);
    }
    const int sm = b.vec(OpKind::softmax, pre + "softmax", {a}, bh * len, len);
    const int vc = b.vec(OpKind::copy, pre + "v_reshape", {v}, bh * len, e.c_h);
    o = b.bmm(pre + "pv", {sm, vc}, bh, len, e.c_h, len);
  }
  const int g = b.linear(pre + "linear_g", {x}, rows, hc, channels, true);
  const int sig = b.vec(OpKind::sigmoid, pre + "gate.sigmoid", {g}, rows, hc);
  int gated = b.vec(OpKind::mul, pre + "gate.mul", {o, sig}, rows, hc, 2);
  // The fused kernel writes [*, Q, H, C]: the flatten is a view.
  if (!fused) gated = b.vec(OpKind::copy, pre + "flatten", {gated}, rows, hc);
  return b.linear(pre + "linear_o", {gated}, rows, channels, hc, true);
}

int residual(GraphBuilder& b, const std::string& pre, int update, int x, int64_t rows, int64_t cols) {
  std::vector<int> deps = {update};
  if (x >= 0) deps.push_back(x);
  return b.vec(OpKind::add, pre + "residual", deps, rows, cols, 2);
}

// MSATransition / PairTransition: LN, linear_1, relu, linear_2 * mask.
int openfold_transition(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t c, int64_t n) {
  const int ln = b.vec(OpKind::layernorm, pre + "layer_norm", deps_of(x), rows, c);
  const int l1 = b.linear(pre + "linear_1", {ln}, rows, n * c, c, true);
  const int r = b.vec(OpKind::relu, pre + "relu", {l1}, rows, n * c);
  const int l2 = b.linear(pre + "linear_2", {r}, rows, c, n * c, true);
  const int masked = b.vec(OpKind::mul, pre + "mask.mul", {l2}, rows, c, 1);
  return residual(b, pre, masked, x, rows, c);
}

}  // namespace

void build_evoformer_openfold_block(GraphBuilder& b, const std::string& pre, const EvoformerShape& e,
                                    bool fused, int& m, int& z) {
  const int64_t s = e.s, r = e.r, sr = s * r, rr = r * r;
  // MSA row attention with pair bias (Alg. 7).
  {
    const std::string p = pre + "msa_row_attn.";
    const int mb = mask_bias(b, p, sr);
    const int lnz = b.vec(OpKind::layernorm, p + "layer_norm_z", deps_of(z), rr, e.c_z);
    const int pair = b.linear(p + "linear_z", {lnz}, rr, e.h_m, e.c_z, false);
    const int ln = b.vec(OpKind::layernorm, p + "layer_norm_m", deps_of(m), sr, e.c_m);
    const int o = attention(b, p, ln, e, s, r, e.c_m, e.h_m, {{mb, 1}, {pair, e.h_m}}, fused);
    m = residual(b, p, o, m, sr, e.c_m);
  }
  // MSA column attention (Alg. 8), on the transposed m.
  {
    const std::string p = pre + "msa_col_attn.";
    const int mb = mask_bias(b, p, sr);
    const int mt = b.vec(OpKind::copy, p + "layer_norm_m.contiguous", {m}, sr, e.c_m);
    const int ln = b.vec(OpKind::layernorm, p + "layer_norm_m", {mt}, sr, e.c_m);
    const int o = attention(b, p, ln, e, r, s, e.c_m, e.h_m, {{mb, 1}}, fused);
    m = residual(b, p, o, m, sr, e.c_m);
  }
  m = openfold_transition(b, pre + "msa_transition.", m, sr, e.c_m, e.transition);
  // Outer product mean (Alg. 10).
  {
    const std::string p = pre + "outer_product_mean.";
    const int ln = b.vec(OpKind::layernorm, p + "layer_norm", {m}, sr, e.c_m);
    const int a = b.vec(OpKind::mul, p + "a.mask.mul",
                        {b.linear(p + "linear_1", {ln}, sr, e.c_opm, e.c_m, true)}, sr, e.c_opm, 1);
    const int bb = b.vec(OpKind::mul, p + "b.mask.mul",
                         {b.linear(p + "linear_2", {ln}, sr, e.c_opm, e.c_m, true)}, sr, e.c_opm, 1);
    const int outer = b.bmm(p + "outer", {a, bb}, 1, r * e.c_opm, r * e.c_opm, s);
    const int flat = b.vec(OpKind::copy, p + "reshape", {outer}, rr, e.c_opm * e.c_opm);
    const int lo = b.linear(p + "linear_out", {flat}, rr, e.c_z, e.c_opm * e.c_opm, true);
    // norm = einsum("...abc,...adc->...bdc", mask, mask) + eps; outer / norm.
    const int norm = b.bmm(p + "norm", {}, 1, r, r, s);
    const int eps = b.vec(OpKind::add, p + "norm.eps", {norm}, r, r, 1);
    const int mean = b.vec(OpKind::mul, p + "mean", {lo, eps}, rr, e.c_z, 1);
    z = residual(b, p, mean, z, rr, e.c_z);
  }
  // Triangle multiplicative updates, outgoing then incoming (Alg. 11, 12).
  for (const char* dir : {"tri_mul_out.", "tri_mul_in."}) {
    const std::string p = pre + dir;
    const int ln = b.vec(OpKind::layernorm, p + "layer_norm_in", deps_of(z), rr, e.c_z);
    int ab[2];
    for (int side = 0; side < 2; ++side) {
      const std::string n = side == 0 ? "a" : "b";
      const int gate = b.linear(p + "linear_" + n + "_g", {ln}, rr, e.c_tri, e.c_z, true);
      const int sig = b.vec(OpKind::sigmoid, p + n + "_g.sigmoid", {gate}, rr, e.c_tri);
      const int masked = b.vec(OpKind::mul, p + n + ".mask.mul", {sig}, rr, e.c_tri, 1);
      const int proj = b.linear(p + "linear_" + n + "_p", {ln}, rr, e.c_tri, e.c_z, true);
      ab[side] = b.vec(OpKind::mul, p + n + ".mul", {masked, proj}, rr, e.c_tri, 2);
    }
    const int ca = b.vec(OpKind::copy, p + "triangle_product.copy_a", {ab[0]}, rr, e.c_tri);
    const int cb = b.vec(OpKind::copy, p + "triangle_product.copy_b", {ab[1]}, rr, e.c_tri);
    const int prod = b.bmm(p + "triangle_product", {ca, cb}, e.c_tri, r, r, r);
    const int pc = b.vec(OpKind::copy, p + "layer_norm_out.contiguous", {prod}, rr, e.c_tri);
    const int lo = b.vec(OpKind::layernorm, p + "layer_norm_out", {pc}, rr, e.c_tri);
    const int lz = b.linear(p + "linear_z", {lo}, rr, e.c_z, e.c_tri, true);
    const int g = b.linear(p + "linear_g", {ln}, rr, e.c_z, e.c_z, true);
    const int gs = b.vec(OpKind::sigmoid, p + "g.sigmoid", {g}, rr, e.c_z);
    const int gated = b.vec(OpKind::mul, p + "gate.mul", {lz, gs}, rr, e.c_z, 2);
    z = residual(b, p, gated, z, rr, e.c_z);
  }
  // Triangle attention around the starting node, then the ending node (Alg. 13,
  // 14; the ending node works on the transposed z).
  for (int end = 0; end < 2; ++end) {
    const std::string p = pre + (end ? "tri_att_end." : "tri_att_start.");
    const int mb = mask_bias(b, p, rr);
    int in = z;
    if (end) in = b.vec(OpKind::copy, p + "layer_norm.contiguous", deps_of(z), rr, e.c_z);
    const int ln = b.vec(OpKind::layernorm, p + "layer_norm", deps_of(in), rr, e.c_z);
    const int tri = b.linear(p + "linear", {ln}, rr, e.h_z, e.c_z, false);
    const int o = attention(b, p, ln, e, r, r, e.c_z, e.h_z, {{mb, 1}, {tri, e.h_z}}, fused);
    z = residual(b, p, o, z, rr, e.c_z);
  }
  z = openfold_transition(b, pre + "pair_transition.", z, rr, e.c_z, e.transition);
}

}  // namespace tessera
