// The Evoformer block of shared/reference/models/evoformer_sdpa.py (torch.nn and
// F.scaled_dot_product_attention, inference), kernel for kernel as PyTorch eager
// launches it on a CUDA GPU. Per block, in launch order (s = n_seq, r = n_res):
//   MSA row attention   LN(z), z->h_m pair bias (mm, no bias), LN(m), fused
//                       q|k|v|g projection (mm, no bias), SDPA over r keys for s*1
//                       rows with the float pair-bias attn_mask [1,h,r,r] expanded
//                       over the s rows (bias_shared), sigmoid(g), o*sigmoid(g),
//                       out projection (addmm), residual add
//   MSA column attn     copy (LayerNorm's CUDA kernel makes its transposed input
//                       contiguous: layer_norm_cuda, input.expect_contiguous()),
//                       LN, q|k|v|g mm, SDPA over s keys for r rows (no mask),
//                       sigmoid, mul, addmm, residual add of the transposed result
//   MSA transition      LN, addmm, relu, addmm, add
//   outer product mean  LN, addmm (a|b), einsum "sic,sjd->ijcd": two copies (the
//                       chunked a and b are not viewable as [(i c), s] and
//                       [s, (j d)]), one bmm (m = n = r*c_opm, k = s), the division by
//                       s, a copy (reshape of the permuted [i,j,c,d] result),
//                       addmm, add
//   triangle mult x2    LN, addmm (a|ga|b|gb), sigmoid, mul, sigmoid, mul; einsum
//                       "ikc,jkc->ijc" / "kic,kjc->ijc": a bmm over c_tri batches
//                       whose operands, permuted to [c, i, k] and [c, k, j], have no
//                       unit stride in their matrix dims, so CUDA's bmm copies both
//                       (prepare_batch_matrix_for_cublas in aten/src/ATen/native/
//                       cuda/Blas.cpp); addmm g, sigmoid, copy (LayerNorm of the
//                       permuted einsum result), LN, addmm, mul, add
//   triangle attention  LN, z->h_z bias mm, q|k|v|g mm, SDPA over r keys for r rows
//   (start)             with the float bias [1,h,r,r] (bias_shared), sigmoid, mul,
//                       addmm, add
//   triangle attention  copy (LN of the transposed z), LN, bias mm, q|k|v|g mm, SDPA,
//   (end)               sigmoid, mul, addmm, add of the transposed result
//   pair transition     LN, addmm, relu, addmm, add
// The copies CUDA adds (LayerNorm on non-contiguous input, bmm operands) happen
// inside an operator, so a trace on the CPU (scripts/trace_pytorch.py) does not
// list them; every other kernel above matches the trace
// (tests/workloads/test_reference_trace.py). The SDPA backend is the hardware's
// choice (compiler/tensorcore/sdpa_select.h). The pair bias, a permuted
// projection, has a last dim of stride h, which every fused backend refuses on a
// GPU (check_last_dim_stride_equals_1_dense, sdp_utils_cpp.h): the three biased
// attentions run the math path (fp32 scores; bf16 inputs upcast). The column
// attention has no mask: cuDNN for bf16 on Hopper, the memory-efficient kernel
// for fp32.
#include <fmt/format.h>

#include "workloads/builder.h"
#include "workloads/builtin.h"
#include "workloads/models/evoformer.h"

namespace tessera {
namespace {

std::vector<int> dep(int op) { return op < 0 ? std::vector<int>{} : std::vector<int>{op}; }

// _gated_attn plus its output projection and the residual add. `x_ln` is the
// LayerNorm'd input (rows = batch*len positions), `bias` the op producing the
// pair bias (-1: none), `residual` the tensor added to.
int gated_attn(GraphBuilder& b, const std::string& pre, int x_ln, int bias, int residual,
               const EvoformerShape& e, int64_t batch, int64_t len, int64_t channels, int64_t heads) {
  const int64_t rows = batch * len, hc = heads * e.c_h;
  const int qkvg = b.linear(pre + "qkvg", {x_ln}, rows, 4 * hc, channels, false);
  AttnShape a;
  a.batch = batch;
  a.heads = a.kv_heads = heads;
  a.sq = a.skv = len;
  a.d = e.c_h;
  // q, k, v (and g) are qkvg(x).view(B, S, 4, h, c).permute(2, 0, 3, 1, 4): head
  // views of one projection, read back with o.transpose(1, 2).reshape(B, S, h*c).
  a.qkv_packed = true;
  std::vector<int> deps = {qkvg};
  if (bias >= 0) {
    // The module's bias is linear(z).permute(2, 0, 1).unsqueeze(0): the heads are
    // the projection's innermost dim, so the mask's last dim has stride h
    // (bias_strided) and no fused GPU backend takes it (sdpa_select.h).
    deps = {qkvg, qkvg, qkvg, bias};
    a.bias = a.bias_shared = a.bias_strided = true;
  }
  const int o = b.attention(pre + "sdpa", deps, a, true);
  const int sig = b.vec(OpKind::sigmoid, pre + "gate.sigmoid", {qkvg}, rows, hc);
  const int gated = b.vec(OpKind::mul, pre + "gate.mul", {o, sig}, rows, hc, 2);
  const int out = b.linear(pre + "o", {gated}, rows, channels, hc, true);
  std::vector<int> add_deps = {out};
  if (residual >= 0) add_deps.push_back(residual);
  return b.vec(OpKind::add, pre + "residual", add_deps, rows, channels, 2);
}

int transition(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t c, int64_t n) {
  const int ln = b.vec(OpKind::layernorm, pre + "ln", dep(x), rows, c);
  const int l1 = b.linear(pre + "1", {ln}, rows, n * c, c, true);
  const int r = b.vec(OpKind::relu, pre + "relu", {l1}, rows, n * c);
  const int l2 = b.linear(pre + "2", {r}, rows, c, n * c, true);
  std::vector<int> add_deps = {l2};
  if (x >= 0) add_deps.push_back(x);
  return b.vec(OpKind::add, pre + "residual", add_deps, rows, c, 2);
}

}  // namespace

void build_evoformer_sdpa_block(GraphBuilder& b, const std::string& pre, const EvoformerShape& e, int& m,
                                int& z) {
  const int64_t s = e.s, r = e.r, sr = s * r, rr = r * r;
  // MSA row-wise gated self-attention with pair bias.
  const int lnz = b.vec(OpKind::layernorm, pre + "row.ln_z", dep(z), rr, e.c_z);
  const int row_b = b.linear(pre + "row.b", {lnz}, rr, e.h_m, e.c_z, false);
  const int ln_m = b.vec(OpKind::layernorm, pre + "row.ln", dep(m), sr, e.c_m);
  m = gated_attn(b, pre + "row.", ln_m, row_b, m, e, s, r, e.c_m, e.h_m);
  // MSA column-wise gated self-attention (on the transposed m).
  const int mt = b.vec(OpKind::copy, pre + "col.contiguous", {m}, sr, e.c_m);
  const int ln_c = b.vec(OpKind::layernorm, pre + "col.ln", {mt}, sr, e.c_m);
  m = gated_attn(b, pre + "col.", ln_c, -1, m, e, r, s, e.c_m, e.h_m);
  m = transition(b, pre + "msa_transition.", m, sr, e.c_m, e.transition);
  // Outer product mean.
  const int ln_o = b.vec(OpKind::layernorm, pre + "opm.ln", {m}, sr, e.c_m);
  const int ab = b.linear(pre + "opm.ab", {ln_o}, sr, 2 * e.c_opm, e.c_m, true);
  const int ca = b.vec(OpKind::copy, pre + "opm.einsum.copy_a", {ab}, sr, e.c_opm);
  const int cb = b.vec(OpKind::copy, pre + "opm.einsum.copy_b", {ab}, sr, e.c_opm);
  const int outer = b.bmm(pre + "opm.einsum.bmm", {ca, cb}, 1, r * e.c_opm, r * e.c_opm, s);
  const int div = b.vec(OpKind::mul, pre + "opm.div", {outer}, rr, e.c_opm * e.c_opm, 1);
  const int flat = b.vec(OpKind::copy, pre + "opm.reshape", {div}, rr, e.c_opm * e.c_opm);
  const int opm_o = b.linear(pre + "opm.o", {flat}, rr, e.c_z, e.c_opm * e.c_opm, true);
  std::vector<int> zdeps = {opm_o};
  if (z >= 0) zdeps.push_back(z);
  z = b.vec(OpKind::add, pre + "opm.residual", zdeps, rr, e.c_z, 2);
  // Triangle multiplicative updates, outgoing then incoming.
  for (const char* dir : {"tri_out.", "tri_in."}) {
    const std::string p = pre + dir;
    const int zn = b.vec(OpKind::layernorm, p + "ln", {z}, rr, e.c_z);
    const int proj = b.linear(p + "ab", {zn}, rr, 4 * e.c_tri, e.c_z, true);
    const int sa = b.vec(OpKind::sigmoid, p + "a.sigmoid", {proj}, rr, e.c_tri);
    const int pa = b.vec(OpKind::mul, p + "a.mul", {proj, sa}, rr, e.c_tri, 2);
    const int sb = b.vec(OpKind::sigmoid, p + "b.sigmoid", {proj}, rr, e.c_tri);
    const int pb = b.vec(OpKind::mul, p + "b.mul", {proj, sb}, rr, e.c_tri, 2);
    const int ca2 = b.vec(OpKind::copy, p + "einsum.copy_a", {pa}, rr, e.c_tri);
    const int cb2 = b.vec(OpKind::copy, p + "einsum.copy_b", {pb}, rr, e.c_tri);
    const int x = b.bmm(p + "einsum.bmm", {ca2, cb2}, e.c_tri, r, r, r);
    const int g = b.linear(p + "g", {zn}, rr, e.c_z, e.c_z, true);
    const int gs = b.vec(OpKind::sigmoid, p + "g.sigmoid", {g}, rr, e.c_z);
    const int xc = b.vec(OpKind::copy, p + "ln_out.contiguous", {x}, rr, e.c_tri);
    const int lo = b.vec(OpKind::layernorm, p + "ln_out", {xc}, rr, e.c_tri);
    const int o = b.linear(p + "o", {lo}, rr, e.c_z, e.c_tri, true);
    const int gm = b.vec(OpKind::mul, p + "gate.mul", {gs, o}, rr, e.c_z, 2);
    z = b.vec(OpKind::add, p + "residual", {z, gm}, rr, e.c_z, 2);
  }
  // Triangle self-attention around the starting node, then the ending node (on
  // the transposed z).
  for (int end = 0; end < 2; ++end) {
    const std::string p = pre + (end ? "tri_att_end." : "tri_att_start.");
    int in = z;
    if (end) in = b.vec(OpKind::copy, p + "contiguous", {z}, rr, e.c_z);
    const int zn = b.vec(OpKind::layernorm, p + "ln", {in}, rr, e.c_z);
    const int bias = b.linear(p + "b", {zn}, rr, e.h_z, e.c_z, false);
    z = gated_attn(b, p, zn, bias, z, e, r, r, e.c_z, e.h_z);
  }
  z = transition(b, pre + "pair_transition.", z, rr, e.c_z, e.transition);
}

}  // namespace tessera
