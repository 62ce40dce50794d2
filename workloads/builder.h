#pragma once
// Helpers the built-in model builders share: append ops with canonical
// attributes to a Graph and return their indices, so a builder reads like the
// reference model's forward() (one call per kernel PyTorch eager launches).
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/workloads.h"

namespace tessera {

// Output format of a product in `t`, as the libraries produce it: integer inputs
// accumulate into int32, 8/6/4-bit floats produce bf16, other formats keep their own.
DType product_out_dtype(DType t);

// Bytes of `elems` elements of format t (block scales included, so fractional
// bits per element round down to whole bytes), or InputError "<what>: ..." when
// the count exceeds 2^62 bytes.
int64_t checked_bytes(int64_t elems, DType t, std::string_view what);

// Integer parameter that may be "auto" (returns `fallback`); otherwise a positive integer.
int64_t wl_int_or(const std::map<std::string, std::string>& p, const std::string& key,
                  int64_t fallback);
// Non-negative integer parameter (0 allowed).
int64_t wl_count(const std::map<std::string, std::string>& p, const std::string& key);

// Shape of one attention call (fused or unfused).
struct AttnShape {
  int64_t batch = 1, heads = 1, kv_heads = 1, sq = 1, skv = 1, d = 64;
  bool causal = false;
  bool bias = false;         // additive bias/mask (batch x heads x sq x skv)
  bool bias_shared = false;  // bias broadcast over batch (read once)
  bool bias_head_shared = false;  // bias broadcast over heads (batch x 1 x sq x skv: a padding mask)
  bool bias_bool = false;         // boolean mask (PyTorch converts it to an additive one)
  bool bias_strided = false;  // the bias's last dimension is not contiguous (stride != 1)
  bool qkv_packed = false;    // q, k, v are head views of one packed projection's rows
                              // (not dense), and the caller reads the output back as rows
  bool dropout = false;       // dropout_p > 0 on the attention weights (training)
  bool fused_softmax = false;  // unfused path: the scale and causal mask inside the softmax
                               // kernel (Megatron-LM's FusedScaleMaskSoftmax), none of their own
};

class GraphBuilder {
 public:
  GraphBuilder(Graph& g, DType dtype) : m_graph(g), m_dtype(dtype) {}

  DType dtype() const { return m_dtype; }
  Graph& graph() { return m_graph; }

  // x[m x k] * W[k x n] with a weight matrix (nn.Linear / addmm: bias fused).
  // The op carries param=1 (W is learned) and bias=1 when the linear has a bias:
  // `bias` if given, else the builder's default (set_linear_bias).
  int linear(const std::string& name, std::vector<int> deps, int64_t m, int64_t n, int64_t k,
             std::optional<bool> bias = std::nullopt);
  // Default for linear(): whether the model's nn.Linear layers have a bias
  // (BERT, GPT-2, nn.Transformer: yes; LLaMA, Mixtral: no). Off by default.
  void set_linear_bias(bool on) { m_linear_bias = on; }
  // Whether conv() layers have a bias (AlexNet, VGG: yes; ResNet: no, batch-norm
  // follows). Off by default.
  void set_conv_bias(bool on) { m_conv_bias = on; }
  // Batched product of two activations: C[batch][m][n] = A[batch][m][k] * B[batch][k][n].
  int bmm(const std::string& name, std::vector<int> deps, int64_t batch, int64_t m, int64_t n,
          int64_t k);
  // Row/element-wise op on a rows x cols tensor; `inputs` (add/mul only) is the
  // number of full-size tensors read (1 for a scalar or broadcast operand).
  int vec(OpKind kind, const std::string& name, std::vector<int> deps, int64_t rows,
          int64_t cols, int64_t inputs = 2);
  // NCHW convolution; returns the op index. Output size via conv_out_dim.
  int conv(const std::string& name, std::vector<int> deps, int64_t n, int64_t cin, int64_t cout,
           int64_t h, int64_t w, int64_t r, int64_t s, int64_t stride, int64_t pad,
           int64_t dilation = 1, int64_t groups = 1);
  int pool(OpKind kind, const std::string& name, std::vector<int> deps, int64_t n, int64_t c,
           int64_t h, int64_t w, int64_t r, int64_t stride, int64_t pad);
  // Makes conv or pool `op` 3-D (Conv3d, MaxPool3d, AvgPool3d): input depth d,
  // window depth t, the depth's stride and padding (attrs d, t, stride_d, pad_d).
  void set_depth(int op, int64_t d, int64_t t, int64_t stride_d, int64_t pad_d);
  int embedding(const std::string& name, std::vector<int> deps, int64_t tokens, int64_t dim,
                int64_t vocab);
  int kv(OpKind kind, const std::string& name, std::vector<int> deps, int64_t batch,
         int64_t kv_heads, int64_t tokens, int64_t d, int64_t append = 0);
  // Attention. fused: one `attention` op (scaled_dot_product_attention).
  // Unfused (the eager "math" path): Q.K^T (bmm), scale (mul), bias/mask add
  // (add, when bias or causal), softmax, P.V (bmm). Returns the last op.
  // `deps` name the producers of Q, K, V in that order ({q, k, v}, {q, kv} with K
  // and V packed, or {qkv}), then those of the bias; the unfused kernels depend on
  // the ones they read (Q.K^T on Q and K, P.V on P and V).
  int attention(const std::string& name, std::vector<int> deps, const AttnShape& a, bool fused);
  // PyTorch's _scaled_dot_product_attention_math (aten/src/ATen/native/transformers/
  // attention.cpp), kernel for kernel as eager CUDA launches it: fp16/bf16 inputs
  // are upcast to fp32 and the chain runs in fp32 (see the definition). Returns the
  // last op.
  int attention_sdpa_math(const std::string& name, std::vector<int> deps, const AttnShape& a);
  // Its backward: autograd through those kernels (the math path has no backward
  // kernel of its own), kernel for kernel (see the definition). Returns the last op.
  int attention_sdpa_math_backward(const std::string& name, const AttnShape& a);
  // Grouped-query K or V of `a` (kv_heads heads) copied to all heads in format
  // `t`: a copy with attrs expand (heads / kv_heads) and expand_slice (skv x d).
  int repeat_kv(const std::string& name, std::vector<int> deps, const AttnShape& a, DType t);
  // Marks the last input of add/mul op `op` as a broadcast view of elements of
  // `elem` format read with an innermost stride of `stride` elements (attrs
  // bcast_bytes / bcast_stride, costed in compiler/tensorcore/access.cpp).
  void broadcast_input(int op, DType elem, int64_t stride);
  // Element-wise op on rows x cols elements with explicit formats (casts, compares,
  // masks): `in` is read `inputs` times per element (add/mul; 1 for other kinds),
  // `out` written once.
  int vec_typed(OpKind kind, const std::string& name, std::vector<int> deps, int64_t rows,
                int64_t cols, DType in, DType out, int64_t inputs = 1);

 private:
  int push(Op op);
  Graph& m_graph;
  DType m_dtype;
  bool m_linear_bias = false;
  bool m_conv_bias = false;
};

// One LSTM layer over `seq` steps of `batch` rows as cuDNN runs it
// (workloads/models/rnn.cpp): the input projection of every step at once (after
// `deps`), then per step the recurrent GEMM (its weight tied with `tied`) and the
// fused cell (rnn_cell, gates 4). Every kernel is launched by cuDNN's loop
// (lib_launch) but the input projection of the layer that `opens_call` (the first
// of one RNN call). Ops named `pre` + input_proj and `pre` + t<step>.<part>;
// returns the cell op of every step (its output is h_t).
std::vector<int> lstm_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                            int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t tied,
                            bool opens_call = true);

// One GRU layer (workloads/models/rnn.cpp). `linear_before_reset` (PyTorch's,
// cuDNN's and ONNX's default 1): n = tanh(W_in x + r * (W_hn h + b_hn)), the
// cuDNN structure of lstm_layer with gates 3; 0: n = tanh(W_in x + W_hn (r * h)),
// which cuDNN has no form for: op by op, a 2 x hidden GEMM for r and z and a
// second one for n per step (tied with `tied` and `tied_n`). Returns the h_t ops.
std::vector<int> gru_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                           int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t tied,
                           bool linear_before_reset = true, int64_t tied_n = 0, bool opens_call = true);

}  // namespace tessera
