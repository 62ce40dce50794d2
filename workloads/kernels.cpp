// Generic single-kernel workloads.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {
namespace {

Graph build_gemm(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "gemm";
  Op op;
  op.name = "gemm";
  op.kind = OpKind::matmul;
  op.dtype = wl_dtype(p, "dtype");
  // Output format as the libraries produce it: int8 -> int32, fp8 -> bf16, others keep
  // their input format (the reference measurements' convention).
  op.out_dtype = product_out_dtype(op.dtype);
  op.attrs = {{"batch", wl_int(p, "batch")}, {"m", wl_int(p, "m")}, {"n", wl_int(p, "n")},
              {"k", wl_int(p, "k")}};
  if (wl_bool(p, "fast_accum")) op.attrs["fast_accum"] = 1;
  g.add(op);
  return g;
}

Graph build_conv2d(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "conv2d";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  const int64_t cin = wl_int(p, "cin");
  // groups=depthwise is shorthand for groups = cin (one filter per input channel).
  const int64_t groups = p.at("groups") == "depthwise" ? cin : wl_int(p, "groups");
  const int64_t r = wl_int(p, "r");
  const int64_t s = wl_int_or(p, "s", r);
  const int64_t h = wl_int(p, "h");
  const int64_t w = wl_int_or(p, "w", h);
  const int op = b.conv("conv2d", {}, wl_int(p, "n"), cin, wl_int(p, "cout"), h, w, r, s, wl_int(p, "stride"),
                        wl_count(p, "pad"), wl_int(p, "dilation"), groups);
  // Input and weight layout: NHWC (x.to(memory_format=torch.channels_last)) or
  // PyTorch's default contiguous NCHW.
  Op& o = g.ops[static_cast<size_t>(op)];
  if (wl_choice(p, "memory_format", {"channels_last", "contiguous"}) == "contiguous")
    o.attrs["channels_last"] = 0;
  // The width's own stride, padding and dilation (auto: the height's); set only
  // where they differ.
  for (const char* key : {"stride", "pad", "dilation"}) {
    const std::string wkey = std::string(key) + "_w";
    const int64_t v =
        p.at(wkey) == "auto" ? o.at(key) : (wkey == "pad_w" ? wl_count(p, wkey) : wl_int(p, wkey));
    if (v != o.at(key)) o.attrs[wkey] = v;
  }
  return g;
}

// torch.nn.functional.conv3d: the conv2d op with the depth's attributes (input
// depth d, filter depth t, stride_d, pad_d, dilation_d; auto: the height's values).
Graph build_conv3d(const std::map<std::string, std::string>& p) {
  Graph g = build_conv2d(p);
  g.name = "conv3d";
  Op& op = g.ops.front();
  const auto or_hw = [&](const char* key, const char* hw) {
    return p.at(key) == "auto" ? op.at(hw) : wl_int(p, key);
  };
  op.attrs["d"] = or_hw("d", "h");
  op.attrs["t"] = or_hw("t", "r");
  op.attrs["stride_d"] = or_hw("stride_d", "stride");
  op.attrs["pad_d"] = p.at("pad_d") == "auto" ? op.at("pad") : wl_count(p, "pad_d");
  op.attrs["dilation_d"] = or_hw("dilation_d", "dilation");
  return g;
}

Graph build_attention(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "attention";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  AttnShape a;
  a.batch = wl_int(p, "batch");
  a.heads = wl_int(p, "heads");
  a.kv_heads = wl_int_or(p, "kv_heads", a.heads);
  a.sq = wl_int(p, "sq");
  a.skv = wl_int_or(p, "skv", a.sq);
  a.d = wl_int(p, "d");
  a.causal = wl_bool(p, "causal");
  a.bias = wl_bool(p, "bias");
  for (const char* key : {"bias_shared", "bias_head_shared", "bias_strided"})
    if (!a.bias && wl_bool(p, key))
      throw InputError(
          fmt::format("workload parameter '{}': describes the attn_mask, so it needs bias=1", key));
  a.bias_shared = wl_bool(p, "bias_shared");
  a.bias_head_shared = wl_bool(p, "bias_head_shared");
  a.bias_strided = wl_bool(p, "bias_strided");
  a.qkv_packed = wl_bool(p, "qkv_packed");
  // F.scaled_dot_product_attention's dropout_p applies whatever the module's mode.
  a.dropout = wl_probability(p, "dropout") > 0;
  if (a.heads % a.kv_heads != 0)
    throw InputError(fmt::format("workload parameter 'kv_heads': heads={} is not a multiple of "
                                 "kv_heads={}", a.heads, a.kv_heads));
  const std::string& path = p.at("path");
  if (path == "sdpa_math") {
    // The output is the last op; the attention weights cast back beside it are
    // returned by the math backend but not by scaled_dot_product_attention.
    const int out = b.attention_sdpa_math("attention", {}, a);
    g.ops[static_cast<size_t>(out)].attrs["output"] = 1;
  } else if (path == "eager") {
    const int att = b.attention("attention", {}, a, wl_bool(p, "fused"));
    Op& op = g.ops[static_cast<size_t>(att)];
    if (op.kind == OpKind::attention) {
      // The SDPA backend forced as torch.nn.attention.sdpa_kernel(...) would
      // (attention_select.h codes); auto: the hardware's rules.
      const std::string be = wl_choice(p, "backend", {"auto", "flash", "cudnn", "efficient", "math"});
      if (be != "auto") op.attrs["backend"] = be == "flash" ? 1 : be == "cudnn" ? 2 : be == "efficient" ? 3 : 4;
      if (a.bias && wl_choice(p, "mask", {"float", "bool"}) == "bool") op.attrs["bias_bool"] = 1;
    }
  } else {
    throw InputError(fmt::format("workload parameter 'path': '{}' is not one of eager, sdpa_math",
                                 path));
  }
  return g;
}

// F.dropout(x, p, training=True) on a rows x cols tensor: one native_dropout
// kernel for 0 < p < 1 (ATen's dropout: p = 0 returns x without a kernel).
Graph build_dropout(const std::map<std::string, std::string>& p) {
  if (wl_probability(p, "p") == 0)
    throw InputError(
        "workload parameter 'p': 0 launches no kernel (dropout returns its input); accepted: "
        "0 < p < 1");
  Graph g;
  g.name = "dropout";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.vec(OpKind::dropout, g.name, {}, wl_int(p, "rows"), wl_int(p, "cols"));
  return g;
}

// One row-wise / element-wise op on a rows x cols tensor.
template <OpKind K>
Graph build_vector(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = std::string(op_kind_name(K));
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.vec(K, g.name, {}, wl_int(p, "rows"), wl_int(p, "cols"), 2);
  return g;
}

}  // namespace

void add_kernel_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"gemm", "C = A*B with A m x k and B k x n (batched when batch > 1)",
                 {{"m", "", "rows of A and C"},
                  {"n", "", "columns of B and C"},
                  {"k", "", "reduction dimension"},
                  {"batch", "1", "independent products"},
                  {"dtype", "bf16", "operand format", ParamType::dtype},
                  {"fast_accum", "0", "fp8: 1 = fast accumulation (no periodic fp32 promotion)", ParamType::boolean}},
                 build_gemm, true});
  const std::vector<WorkloadParam> conv_params = {
      {"n", "1", "batch"},
      {"cin", "", "input channels"},
      {"cout", "", "output channels"},
      {"h", "", "input height"},
      {"w", "auto", "input width (auto: = h)", ParamType::integer, {"auto"}},
      {"r", "3", "filter height"},
      {"s", "auto", "filter width (auto: = r)", ParamType::integer, {"auto"}},
      {"stride", "1", "stride (height; the width too unless stride_w)"},
      {"stride_w", "auto", "stride along the width (auto: = stride)", ParamType::integer, {"auto"}},
      {"pad", "0", "zero padding (height; the width too unless pad_w)", ParamType::integer, {}, 0},
      {"pad_w", "auto", "zero padding along the width (auto: = pad)", ParamType::integer, {"auto"}, 0},
      {"dilation", "1", "dilation (height; the width too unless dilation_w)"},
      {"dilation_w", "auto", "dilation along the width (auto: = dilation)", ParamType::integer, {"auto"}},
      {"groups", "1", "channel groups, or 'depthwise' (= cin)", ParamType::integer, {"depthwise"}},
      {"dtype", "bf16", "operand format", ParamType::dtype},
      {"memory_format",
       "channels_last",
       "layout of input and weight: channels_last (NHWC / NDHWC) or contiguous (NCHW / NCDHW: cuDNN converts "
       "a "
       "tensor-core convolution's operands)",
       ParamType::choice,
       {"channels_last", "contiguous"}}};
  out.push_back({"conv2d", "one convolution (torch.nn.functional.conv2d), NHWC or NCHW", conv_params,
                 build_conv2d, true});
  std::vector<WorkloadParam> conv3d_params = conv_params;
  // Inserted before the parameter named `before`.
  const auto insert_before = [&](const char* before, WorkloadParam param) {
    auto at = std::find_if(conv3d_params.begin(), conv3d_params.end(),
                           [&](const WorkloadParam& q) { return q.name == before; });
    conv3d_params.insert(at, std::move(param));
  };
  insert_before("h", {"d", "auto", "input depth (auto: = h)", ParamType::integer, {"auto"}});
  insert_before("r", {"t", "auto", "filter depth (auto: = r)", ParamType::integer, {"auto"}});
  insert_before(
      "pad", {"stride_d", "auto", "stride along the depth (auto: = stride)", ParamType::integer, {"auto"}});
  insert_before(
      "dilation",
      {"pad_d", "auto", "zero padding along the depth (auto: = pad)", ParamType::integer, {"auto"}, 0});
  insert_before(
      "groups",
      {"dilation_d", "auto", "dilation along the depth (auto: = dilation)", ParamType::integer, {"auto"}});
  out.push_back({"conv3d", "one 3-D convolution (torch.nn.functional.conv3d), NDHWC or NCDHW", conv3d_params,
                 build_conv3d, true});
  out.push_back(
      {"attention",
       "scaled-dot-product attention (fused kernel, or unfused with fused=0)",
       {{"batch", "1", "sequences"},
        {"heads", "32", "query heads"},
        {"kv_heads",
         "auto",
         "key/value heads (auto: = heads; fewer = GQA/MQA)",
         ParamType::integer,
         {"auto"}},
        {"sq", "2048", "query tokens (1 = decode step)"},
        {"skv", "auto", "key/value tokens (auto: = sq)", ParamType::integer, {"auto"}},
        {"d", "128", "head dimension"},
        {"causal", "0", "causal mask (0/1)", ParamType::boolean},
        {"bias", "0", "attn_mask tensor (0/1)", ParamType::boolean},
        {"mask",
         "float",
         "bias=1: the attn_mask is an additive float tensor or a boolean one",
         ParamType::choice,
         {"float", "bool"}},
        {"bias_shared", "0",
         "bias=1: the attn_mask is broadcast over the batch (one heads x sq x skv tensor)",
         ParamType::boolean},
        {"bias_head_shared", "0",
         "bias=1: the attn_mask is broadcast over the heads (a batch x 1 x sq x skv tensor, as a padding "
         "mask)",
         ParamType::boolean},
        {"bias_strided", "0",
         "bias=1: the attn_mask's last dimension is not contiguous (a permuted projection); no fused GPU "
         "backend takes it",
         ParamType::boolean},
        {"qkv_packed", "0",
         "q, k, v are head views of one packed projection and the output is read back as rows (the math "
         "path's layout copies)",
         ParamType::boolean},
        {"backend",
         "auto",
         "fused SDPA backend: auto (PyTorch's rules for the hardware), flash (FlashAttention-2), cudnn, "
         "efficient or math",
         ParamType::choice,
         {"auto", "flash", "cudnn", "efficient", "math"}},
        {"fused", "1", "1: one fused kernel; 0: Q.K^T, scale, mask, softmax, P.V", ParamType::boolean},
        {"path",
         "eager",
         "eager: as `fused` says; sdpa_math: PyTorch's math backend (fp32 upcast of "
         "fp16/bf16, q/k scale, causal mask, safe softmax, casts back; ignores fused)",
         ParamType::choice,
         {"eager", "sdpa_math"}},
        probability_param(
            "dropout", "0",
            "dropout_p on the attention weights (0: none); the fused kernels draw it in-kernel"),
        {"dtype", "bf16", "operand format", ParamType::dtype}},
       build_attention,
       true});
  const std::vector<WorkloadParam> vec_params = {{"rows", "", "rows (tokens)"},
                                                 {"cols", "", "columns (hidden size)"},
                                                 {"dtype", "bf16", "element format", ParamType::dtype}};
  out.push_back({"layernorm", "LayerNorm over the last dimension of a rows x cols tensor",
                 vec_params, build_vector<OpKind::layernorm>, true});
  out.push_back({"rmsnorm", "RMSNorm over the last dimension of a rows x cols tensor",
                 vec_params, build_vector<OpKind::rmsnorm>, true});
  out.push_back({"softmax", "softmax over the last dimension of a rows x cols tensor",
                 vec_params, build_vector<OpKind::softmax>, true});
  out.push_back({"gelu", "GELU of a rows x cols tensor", vec_params, build_vector<OpKind::gelu>, true});
  out.push_back({"add", "element-wise sum of two rows x cols tensors", vec_params,
                 build_vector<OpKind::add>, true});
  std::vector<WorkloadParam> dropout_params = vec_params;
  dropout_params.insert(dropout_params.end() - 1,
                        probability_param("p", "0.5",
                                          "probability of an element being zeroed (nn.Dropout's "
                                          "default 0.5)"));
  out.push_back({"dropout",
                 "F.dropout of a rows x cols tensor in training mode (native_dropout: output and "
                 "bool mask)",
                 dropout_params, build_dropout, true});
}

const std::vector<WorkloadInfo>& builtin_workloads() {
  static const std::vector<WorkloadInfo> table = [] {
    std::vector<WorkloadInfo> t;
    add_kernel_workloads(t);
    add_cnn_workloads(t);
    add_transformer_workloads(t);
    add_evoformer_workloads(t);
    add_rnn_workloads(t);
    add_collective_workloads(t);
    add_memory_workloads(t);
    return t;
  }();
  return table;
}

}  // namespace tessera
