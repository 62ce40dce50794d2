#include "workloads/builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/error.h"
#include "core/math.h"

namespace tessera {

DType product_out_dtype(DType t) {
  switch (t) {
    case DType::int8: case DType::int4: case DType::uint8: case DType::ternary:
      return DType::int32;
    case DType::fp8_e4m3: case DType::fp8_e5m2: case DType::fp6_e3m2: case DType::fp6_e2m3:
    case DType::fp4_e2m1: case DType::mxfp8: case DType::mxfp6: case DType::mxfp4:
    case DType::nvfp4:
      return DType::bf16;
    default:
      return t;
  }
}

int64_t checked_bytes(int64_t elems, DType t, std::string_view what) {
  const double bytes = static_cast<double>(elems) * dtype_info(t).storage_bits / 8;
  if (!(bytes >= 0 && bytes <= 0x1p62))
    throw InputError(fmt::format("{}: {} elements of {} are {:.3g} bytes, more than 2^62", what, elems,
                                 dtype_name(t), bytes));
  return static_cast<int64_t>(bytes);
}

int64_t wl_int_or(const std::map<std::string, std::string>& p, const std::string& key,
                  int64_t fallback) {
  if (p.at(key) == "auto") return fallback;
  return wl_int(p, key);
}

int64_t wl_count(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || out < 0)
    throw InputError(fmt::format("workload parameter '{}': '{}' is not a non-negative integer",
                                 key, v));
  return out;
}

int GraphBuilder::push(Op op) { return m_graph.add(std::move(op)); }

int GraphBuilder::linear(const std::string& name, std::vector<int> deps, int64_t m, int64_t n,
                         int64_t k, std::optional<bool> bias) {
  Op op;
  op.name = name;
  op.kind = OpKind::matmul;
  op.dtype = m_dtype;
  op.out_dtype = product_out_dtype(m_dtype);
  op.attrs = {{"batch", 1}, {"m", m}, {"n", n}, {"k", k}, {"b_shared", 1}, {"param", 1}};
  if (bias.value_or(m_linear_bias)) op.attrs["bias"] = 1;
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::bmm(const std::string& name, std::vector<int> deps, int64_t batch, int64_t m,
                      int64_t n, int64_t k) {
  Op op;
  op.name = name;
  op.kind = OpKind::matmul;
  op.dtype = m_dtype;
  op.out_dtype = product_out_dtype(m_dtype);
  op.attrs = {{"batch", batch}, {"m", m}, {"n", n}, {"k", k}};
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::vec(OpKind kind, const std::string& name, std::vector<int> deps, int64_t rows,
                      int64_t cols, int64_t inputs) {
  Op op;
  op.name = name;
  op.kind = kind;
  // Element-wise work runs on the products' output format.
  op.dtype = product_out_dtype(m_dtype);
  op.out_dtype = op.dtype;
  op.attrs = {{"rows", rows}, {"cols", cols}};
  if (kind == OpKind::add || kind == OpKind::mul) op.attrs["inputs"] = inputs;
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::conv(const std::string& name, std::vector<int> deps, int64_t n, int64_t cin,
                       int64_t cout, int64_t h, int64_t w, int64_t r, int64_t s, int64_t stride,
                       int64_t pad, int64_t dilation, int64_t groups) {
  Op op;
  op.name = name;
  op.kind = OpKind::conv2d;
  op.dtype = m_dtype;
  op.out_dtype = product_out_dtype(m_dtype);
  op.attrs = {{"n", n},   {"cin", cin},       {"cout", cout},       {"h", h},
              {"w", w},   {"r", r},           {"s", s},             {"stride", stride},
              {"pad", pad}, {"dilation", dilation}, {"groups", groups}};
  if (m_conv_bias) op.attrs["bias"] = 1;
  op.deps = std::move(deps);
  return push(std::move(op));
}

void GraphBuilder::set_depth(int op, int64_t d, int64_t t, int64_t stride_d, int64_t pad_d) {
  auto& attrs = m_graph.ops.at(static_cast<size_t>(op)).attrs;
  attrs["d"] = d;
  attrs["t"] = t;
  attrs["stride_d"] = stride_d;
  attrs["pad_d"] = pad_d;
}

int GraphBuilder::pool(OpKind kind, const std::string& name, std::vector<int> deps, int64_t n,
                       int64_t c, int64_t h, int64_t w, int64_t r, int64_t stride, int64_t pad) {
  Op op;
  op.name = name;
  op.kind = kind;
  op.dtype = product_out_dtype(m_dtype);
  op.out_dtype = op.dtype;
  op.attrs = {{"n", n}, {"c", c}, {"h", h}, {"w", w}, {"r", r}, {"s", r},
              {"stride", stride}, {"pad", pad}};
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::embedding(const std::string& name, std::vector<int> deps, int64_t tokens,
                            int64_t dim, int64_t vocab) {
  Op op;
  op.name = name;
  op.kind = OpKind::embedding;
  op.dtype = product_out_dtype(m_dtype);
  op.out_dtype = op.dtype;
  op.attrs = {{"tokens", tokens}, {"dim", dim}, {"vocab", vocab}};
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::kv(OpKind kind, const std::string& name, std::vector<int> deps, int64_t batch,
                     int64_t kv_heads, int64_t tokens, int64_t d, int64_t append) {
  Op op;
  op.name = name;
  op.kind = kind;
  op.dtype = product_out_dtype(m_dtype);
  op.out_dtype = op.dtype;
  op.attrs = {{"batch", batch}, {"kv_heads", kv_heads}, {"tokens", tokens}, {"d", d}};
  if (append > 0) op.attrs["append"] = append;
  op.deps = std::move(deps);
  return push(std::move(op));
}

int GraphBuilder::attention(const std::string& name, std::vector<int> deps, const AttnShape& a,
                            bool fused) {
  if (fused) {
    Op op;
    op.name = name;
    op.kind = OpKind::attention;
    op.dtype = m_dtype;
    op.out_dtype = product_out_dtype(m_dtype);
    op.attrs = {{"batch", a.batch}, {"heads", a.heads}, {"kv_heads", a.kv_heads},
                {"sq", a.sq},       {"skv", a.skv},     {"d", a.d},
                {"causal", a.causal ? 1 : 0}, {"bias", a.bias ? 1 : 0}};
    if (a.bias && a.bias_shared) op.attrs["bias_shared"] = 1;
    if (a.bias && a.bias_head_shared) op.attrs["bias_head_shared"] = 1;
    if (a.bias && a.bias_bool) op.attrs["bias_bool"] = 1;
    if (a.bias && a.bias_strided) op.attrs["bias_strided"] = 1;
    if (a.qkv_packed) op.attrs["qkv_packed"] = 1;
    if (a.dropout) op.attrs["dropout"] = 1;
    op.deps = std::move(deps);
    return push(std::move(op));
  }
  // The eager "math" path: every step is its own kernel. Grouped-query K/V are
  // first expanded to all heads (HF repeat_kv: one copy each for K and V).
  // Products of workload sizes (each up to 2^31) checked: an overflow is an
  // input error, never a wrapped size.
  const int64_t bh = checked_mul(a.batch, a.heads, name + ": batch x heads");
  const int64_t rows_q = checked_mul(bh, a.sq, name + ": batch x heads x sq");
  const auto pick = [&](size_t i) { return deps.empty() ? std::vector<int>{} : std::vector<int>{deps[std::min(i, deps.size() - 1)]}; };
  std::vector<int> q = pick(0), k = pick(1), v = pick(2), bias;
  for (size_t i = 3; i < deps.size(); ++i) bias.push_back(deps[i]);
  if (a.kv_heads != a.heads) {
    k = {repeat_kv(name + ".repeat_k", k, a, m_dtype)};
    v = {repeat_kv(name + ".repeat_v", v, a, m_dtype)};
  }
  std::vector<int> qk_deps = q;
  qk_deps.insert(qk_deps.end(), k.begin(), k.end());
  int last = bmm(name + ".qk", qk_deps, bh, a.sq, a.skv, a.d);
  // Megatron-LM (fused_softmax): baddbmm scales Q.K^T by alpha = 1/sqrt(d), and
  // FusedScaleMaskSoftmax (scaled_upper_triang_masked_softmax) masks and
  // normalises in one kernel.
  if (!a.fused_softmax) last = vec(OpKind::mul, name + ".scale", {last}, rows_q, a.skv, 1);
  if (a.bias || (a.causal && !a.fused_softmax)) {
    std::vector<int> add_deps = {last};
    add_deps.insert(add_deps.end(), bias.begin(), bias.end());
    last = vec(OpKind::add, name + ".bias", add_deps, rows_q, a.skv, 2);
  }
  last = vec(OpKind::softmax, name + ".softmax", {last}, rows_q, a.skv);
  // FusedScaleMaskSoftmax runs its CUDA kernel when is_kernel_available (megatron/
  // core/fusions/fused_softmax.py): a 16-bit input, 16 < sk <= 4096, sq, sk and
  // batch x heads multiples of 4; scaled_upper_triang_masked_softmax for the causal
  // mask (sq = sk), scaled_masked_softmax otherwise (fused_scale_mask 2 or 1).
  // Otherwise its forward_torch_softmax: a PyTorch softmax, as the op is built.
  const bool sixteen = m_dtype == DType::fp16 || m_dtype == DType::bf16;  // input_in_float16
  if (a.fused_softmax && sixteen && a.skv > 16 && a.skv <= 4096 && a.sq % 4 == 0 && a.skv % 4 == 0 &&
      bh % 4 == 0 && (!a.causal || a.sq == a.skv))
    m_graph.ops[static_cast<size_t>(last)].attrs["fused_scale_mask"] = a.causal ? 2 : 1;
  // HF eager_attention_forward: nn.functional.dropout of the weights in training.
  if (a.dropout) last = vec(OpKind::dropout, name + ".dropout", {last}, rows_q, a.skv);
  std::vector<int> pv_deps = {last};
  pv_deps.insert(pv_deps.end(), v.begin(), v.end());
  const int pv = bmm(name + ".pv", pv_deps, bh, a.sq, a.d, a.skv);
  if (!a.fused_softmax) return pv;
  // Megatron-LM's core attention returns context_layer.permute(2, 0, 1, 3).contiguous()
  // ([b, np, sq, hn] -> [sq, b, np, hn]): one copy kernel. Its backward is a view
  // (CloneBackward0 passes the gradient on, PermuteBackward0 permutes the view, and
  // bmm takes that strided gradient as it is).
  const int c = vec(OpKind::copy, name + ".context_contiguous", {pv}, rows_q, a.d);
  m_graph.ops[static_cast<size_t>(c)].attrs["grad_view"] = 1;
  return c;
}

// HF's repeat_kv (x[:, :, None].expand(b, n_kv, rep, s, d).reshape(b, n_kv * rep, s, d))
// and repeat_interleave(rep, dim=1) (unsqueeze, expand, flatten): the reshape of
// the expanded view copies, one kernel writing every head's K (or V) and reading
// each kv head's s x d slice `rep` times in a row.
int GraphBuilder::repeat_kv(const std::string& name, std::vector<int> deps, const AttnShape& a, DType t) {
  const int64_t rows = checked_mul(checked_mul(a.batch, a.heads, name + ": batch x heads"), a.skv,
                                   name + ": batch x heads x skv");
  const int op = vec_typed(OpKind::copy, name, std::move(deps), rows, a.d, t, t);
  m_graph.ops[static_cast<size_t>(op)].attrs["expand"] = a.heads / a.kv_heads;
  m_graph.ops[static_cast<size_t>(op)].attrs["expand_slice"] = checked_mul(a.skv, a.d, name + ": skv x d");
  return op;
}

void GraphBuilder::broadcast_input(int op, DType elem, int64_t stride) {
  Op& o = m_graph.ops[static_cast<size_t>(op)];
  o.attrs["bcast_bytes"] = static_cast<int64_t>(dtype_bytes(elem, 1));
  o.attrs["bcast_stride"] = stride;
}

int GraphBuilder::vec_typed(OpKind kind, const std::string& name, std::vector<int> deps,
                            int64_t rows, int64_t cols, DType in, DType out, int64_t inputs) {
  Op op;
  op.name = name;
  op.kind = kind;
  op.dtype = in;
  op.out_dtype = out;
  op.attrs = {{"rows", rows}, {"cols", cols}};
  if (kind == OpKind::add || kind == OpKind::mul) op.attrs["inputs"] = inputs;
  op.deps = std::move(deps);
  return push(std::move(op));
}

namespace {
// The math backend's working format: fp16/bf16 inputs are upcast to fp32
// (allowFP16BF16ReductionMathSDP is off by default), others kept.
DType math_sdpa_acc(DType in) {
  return (in == DType::bf16 || in == DType::fp16) ? DType::fp32 : in;
}
}  // namespace

// PyTorch's math backend of scaled_dot_product_attention,
// at::_scaled_dot_product_attention_math in aten/src/ATen/native/transformers/attention.cpp:
//   query_acc = query.to(kFloat), key_acc, value_acc likewise (fp16/bf16 inputs only)
//   query = query_acc * sqrt(scale)
//   is_causal: attn_mask = at::ones({L, S}, kBool).tril();
//              attn_mask = convert_boolean_attn_mask(...)  -> at::where(mask, 0, -inf)
//   (enable_gqa: key/value repeat_interleave'd to all heads)
//   attn = at::matmul(query, key.transpose(-2, -1) * sqrt(scale))
//   attn.add_(attn_mask)
//   attn = at::_safe_softmax(attn, -1)   (aten/src/ATen/native/SoftMax.cpp: softmax,
//          self.eq(-inf), all(masked, -1), where(masked_rows, 0, out))
//   return (at::matmul(attn, value).to(origin_dtype), attn.to(origin_dtype))
// _safe_softmax makes its two constants with at::scalar_tensor(-inf / 0, device
// of the scores): on a GPU that is at::empty({}).fill_(s), a one-element fill
// kernel each (on the CPU a host write, no kernel).
// With q, k and v head views of one packed projection (qkv_packed: a [B, S, n, h, d]
// output permuted to [n][B, h, S, d], not dense), q * scale and k^T * scale keep
// the view's stride order, physically [B, S, h, d]: TensorIterator allocates
// outputs in its operands' order, and the fp16/bf16 upcast .to(kFloat) does too
// (_to_copy with MemoryFormat::Preserve gives a non-dense input
// infer_dense_strides(sizes, strides), aten/src/ATen/native/TensorConversions.cpp).
// at::matmul's reshape to [B*h, S, d] cannot view them and copies each, and v
// too, in the working format (a kernel each; repeat_interleave already made
// grouped-query k and v contiguous). The [B, h, S, d] output is then read back as
// rows, o.transpose(1, 2).reshape(B, S, h*d), one more copy (the fused backends
// return [B, S, h, d] rows).
// Dropout is skipped at p = 0. Both returned tensors are computed, so the cast of
// the B x H x L x S weights back to the input format is one of the launches.
// Boolean tensors are uint8. The fill of `ones` and the row reduction of `all` are
// counted as copies (read + write of the tensor): the fill reads nothing and `all`
// writes one flag per row, so each over-counts one byte per element.
int GraphBuilder::attention_sdpa_math(const std::string& name, std::vector<int> deps,
                                      const AttnShape& a) {
  const DType in = m_dtype;
  const DType acc = math_sdpa_acc(in);
  const int64_t bh = checked_mul(a.batch, a.heads, name + ": batch x heads");
  const int64_t bkv = checked_mul(a.batch, a.kv_heads, name + ": batch x kv_heads");
  const int64_t rows_kv = checked_mul(bkv, a.skv, name + ": batch x kv_heads x skv");
  const int64_t rows_hkv = checked_mul(bh, a.skv, name + ": batch x heads x skv");
  const int64_t rows = checked_mul(bh, a.sq, name + ": batch x heads x sq");
  // Producers of Q, K and V ({q, k, v}, {q, kv} or {qkv}; none for graph inputs).
  const auto pick = [&](size_t i) { return deps.empty() ? std::vector<int>{} : std::vector<int>{deps[std::min(i, deps.size() - 1)]}; };
  std::vector<int> q_deps = pick(0), k_in = pick(1), v_in = pick(2);
  if (acc != in) {
    const int q = vec_typed(OpKind::copy, name + ".q_to_fp32", q_deps, rows, a.d, in, acc);
    const int k = vec_typed(OpKind::copy, name + ".k_to_fp32", k_in, rows_kv, a.d, in, acc);
    const int v = vec_typed(OpKind::copy, name + ".v_to_fp32", v_in, rows_kv, a.d, in, acc);
    q_deps = {q};
    k_in = {k};
    v_in = {v};
  }
  const int qs = vec_typed(OpKind::mul, name + ".q_scale", q_deps, rows, a.d, acc, acc, 1);
  int mask = -1;
  if (a.causal) {
    const DType b8 = DType::uint8;
    mask = vec_typed(OpKind::copy, name + ".mask_ones", deps, a.sq, a.skv, b8, b8);
    mask = vec_typed(OpKind::copy, name + ".mask_tril", {mask}, a.sq, a.skv, b8, b8);
    mask = vec_typed(OpKind::copy, name + ".mask_where", {mask}, a.sq, a.skv, b8, acc);
  }
  std::vector<int> k_deps = k_in, v_deps = v_in;
  if (a.kv_heads != a.heads) {
    const int rk = repeat_kv(name + ".repeat_k", k_in, a, acc);
    const int rv = repeat_kv(name + ".repeat_v", v_in, a, acc);
    k_deps = {rk};
    v_deps = {rv};
  }
  int ks = vec_typed(OpKind::mul, name + ".k_scale", k_deps, rows_hkv, a.d, acc, acc, 1);
  int qm = qs;
  const bool rows_layout = a.qkv_packed && a.kv_heads == a.heads;
  if (a.qkv_packed) qm = vec_typed(OpKind::copy, name + ".q_reshape", {qs}, rows, a.d, acc, acc);
  if (rows_layout) ks = vec_typed(OpKind::copy, name + ".k_reshape", {ks}, rows_hkv, a.d, acc, acc);
  Op qk;
  qk.name = name + ".qk";
  qk.kind = OpKind::matmul;
  qk.dtype = qk.out_dtype = acc;
  qk.attrs = {{"batch", bh}, {"m", a.sq}, {"n", a.skv}, {"k", a.d}};
  qk.deps = {qm, ks};
  int last = push(std::move(qk));
  if (a.causal || a.bias) {
    std::vector<int> add_deps = {last};
    if (mask >= 0) add_deps.push_back(mask);
    // The mask is a view broadcast over the (batch, head) slices of the scores
    // it lacks, read again for each: the causal one (L x S) is in the
    // accumulation format; an attn_mask is in the input format and, when it is a
    // permuted projection (bias_strided), has an innermost stride of `heads`.
    last = vec_typed(OpKind::add, name + ".mask_add", add_deps, rows, a.skv, acc, acc, 2);
    broadcast_input(last, a.bias ? in : acc, a.bias && a.bias_strided ? a.heads : 1);
  }
  const int sm = vec_typed(OpKind::softmax, name + ".softmax", {last}, rows, a.skv, acc, acc);
  vec_typed(OpKind::copy, name + ".fill_neg_inf", {}, 1, 1, acc, acc);
  const int eq = vec_typed(OpKind::copy, name + ".isneginf", {last}, rows, a.skv, acc, DType::uint8);
  const int all = vec_typed(OpKind::copy, name + ".all_rows", {eq}, rows, a.skv, DType::uint8,
                            DType::uint8);
  const int zero = vec_typed(OpKind::copy, name + ".fill_zero", {}, 1, 1, acc, acc);
  last = vec_typed(OpKind::mul, name + ".where", {sm, all, zero}, rows, a.skv, acc, acc, 1);
  // dropout_p > 0: at::dropout(attn, p, true), one native_dropout kernel; P.V and
  // the returned weights are the dropped ones.
  if (a.dropout) last = vec_typed(OpKind::dropout, name + ".dropout", {last}, rows, a.skv, acc, acc);
  // v's copy is made by the second matmul's reshape.
  if (rows_layout) v_deps = {vec_typed(OpKind::copy, name + ".v_reshape", v_deps, rows_hkv, a.d, acc, acc)};
  Op pv;
  pv.name = name + ".pv";
  pv.kind = OpKind::matmul;
  pv.dtype = pv.out_dtype = acc;
  pv.attrs = {{"batch", bh}, {"m", a.sq}, {"n", a.d}, {"k", a.skv}};
  pv.deps = {last};
  for (int d : v_deps) pv.deps.push_back(d);
  const int weights = last;
  last = push(std::move(pv));
  if (acc != in) {
    vec_typed(OpKind::copy, name + ".weights_to_input", {weights}, rows, a.skv, acc, in);
    last = vec_typed(OpKind::copy, name + ".out_to_input", {last}, rows, a.d, acc, in);
  }
  if (a.qkv_packed) last = vec_typed(OpKind::copy, name + ".out_to_rows", {last}, rows, a.d, in, in);
  return last;
}

// The backward of _scaled_dot_product_attention_math. It is composite (no
// backward kernel of its own): autograd runs the backward of each op it launched,
// last first (derivatives.yaml; the unused attention-weights output has none):
//   fp16/bf16: ToCopyBackward of the cast back, dO to fp32
//   qkv_packed: the caller's reshape back to rows has a view backward, so dO
//     arrives as a permuted view (the cast keeps its layout) and the backward of
//     the P.V result's view to [B, h, S, d] (a reshape) copies it
//   BmmBackward0 of P.V: dP = dO V^T, dV = P^T dO
//   dropout_p > 0: NativeDropoutBackward0, native_dropout_backward of dP
//   WhereBackward0 of _safe_softmax's where: where(masked_rows, 0, dP)
//   SoftmaxBackward0: _softmax_backward_data, dS from P and dP (the mask add's
//     AddBackward0 passes dS on; a mask that needs a gradient gets dS, summed over
//     a broadcast batch by the training step)
//   BmmBackward0 of Q.K^T: dQ' = dS K'^T, dK' = Q'^T dS
//   MulBackward1 of the q and k scalings: dQ' x sqrt(scale), dK' x sqrt(scale)
//   grouped-query: repeat_interleave's backward sums dK and dV over each group
//   fp16/bf16: ToCopyBackward of the upcasts, dQ, dK, dV to the input format.
// The forward's layout copies (matmul's reshapes) have view backwards.
int GraphBuilder::attention_sdpa_math_backward(const std::string& name, const AttnShape& a) {
  const DType in = m_dtype;
  const DType acc = math_sdpa_acc(in);
  const int64_t bh = checked_mul(a.batch, a.heads, name + ": batch x heads");
  const int64_t rows = checked_mul(bh, a.sq, name + ": batch x heads x sq");
  const int64_t rows_hkv = checked_mul(bh, a.skv, name + ": batch x heads x skv");
  const int64_t rows_kv = checked_mul(checked_mul(a.batch, a.kv_heads, name), a.skv, name + ": kv rows");
  const auto mm = [&](const std::string& n, std::vector<int> deps, int64_t m, int64_t nn, int64_t k) {
    Op op;
    op.name = name + n;
    op.kind = OpKind::matmul;
    op.dtype = op.out_dtype = acc;
    op.attrs = {{"batch", bh}, {"m", m}, {"n", nn}, {"k", k}};
    op.deps = std::move(deps);
    return push(std::move(op));
  };
  std::vector<int> dov;
  if (acc != in) dov = {vec_typed(OpKind::copy, name + ".grad_out_to_fp32", {}, rows, a.d, in, acc)};
  if (a.qkv_packed) dov = {vec_typed(OpKind::copy, name + ".grad_out_reshape", dov, rows, a.d, acc, acc)};
  const int dp = mm(".grad_p", dov, a.sq, a.skv, a.d);
  const int dv = mm(".grad_v", dov, a.skv, a.d, a.sq);
  int dpd = dp;
  if (a.dropout) {  // NativeDropoutBackward0: native_dropout_backward of dP
    dpd = vec_typed(OpKind::dropout, name + ".grad_dropout", {dp}, rows, a.skv, acc, acc);
    m_graph.ops[static_cast<size_t>(dpd)].attrs["backward"] = 1;
  }
  const int dw = vec_typed(OpKind::mul, name + ".grad_where", {dpd}, rows, a.skv, acc, acc, 1);
  const int ds = vec_typed(OpKind::softmax, name + ".grad_softmax", {dw}, rows, a.skv, acc, acc);
  m_graph.ops[static_cast<size_t>(ds)].attrs["backward"] = 1;
  const int dq = mm(".grad_q", {ds}, a.sq, a.d, a.skv);
  const int dk = mm(".grad_k", {ds}, a.skv, a.d, a.sq);
  int last = vec_typed(OpKind::mul, name + ".grad_q_scale", {dq}, rows, a.d, acc, acc, 1);
  std::vector<int> kv = {vec_typed(OpKind::mul, name + ".grad_k_scale", {dk}, rows_hkv, a.d, acc, acc, 1),
                         dv};
  if (a.kv_heads != a.heads) {
    const int64_t group = a.heads / a.kv_heads;
    const int64_t cols = checked_mul(rows_kv, a.d, name + ": kv elements");
    kv[0] = vec_typed(OpKind::reduce, name + ".grad_k_group_sum", {kv[0]}, group, cols, acc, acc);
    kv[1] = vec_typed(OpKind::reduce, name + ".grad_v_group_sum", {kv[1]}, group, cols, acc, acc);
  }
  if (acc != in) {
    last = vec_typed(OpKind::copy, name + ".grad_q_to_input", {last}, rows, a.d, acc, in);
    vec_typed(OpKind::copy, name + ".grad_k_to_input", {kv[0]}, rows_kv, a.d, acc, in);
    last = vec_typed(OpKind::copy, name + ".grad_v_to_input", {kv[1], last}, rows_kv, a.d, acc, in);
  }
  return last;
}

}  // namespace tessera
