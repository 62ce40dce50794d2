#pragma once
// Graph IR: a workload is a list of ops in execution order (the order PyTorch eager
// would launch them), each with its kind, number format, shape attributes and the
// indices of the ops whose outputs it consumes.
//
// Shape attributes are integers with canonical names per kind (the contract every
// compiler mapper and model relies on):
//   matmul      batch, m, n, k           C[batch][m][n] = A[m][k] * B[k][n]
//               optional: b_shared=1 when B is one weight matrix for all batches;
//               fast_accum=1: fp8 products without the periodic fp32 promotion
//               (cuBLASLt CUBLASLT_MATMUL_DESC_FAST_ACCUM, torch._scaled_mm use_fast_accum)
//   conv2d      n, cin, cout, h, w, r, s, stride, pad, dilation, groups
//               (square stride/pad/dilation; input h x w; output ho/wo derived)
//   attention   batch, heads, kv_heads, sq, skv, d, causal(0/1), bias(0/1)
//               fused scaled-dot-product attention; sq=1 is a decode step.
//               kv_heads < heads is multi-query/grouped-query attention (heads
//               must be a multiple of kv_heads). Optional bias_shared=1: the
//               additive bias (heads x sq x skv) is broadcast over `batch` and
//               read once (AlphaFold pair bias) instead of once per batch entry.
//   layernorm, rmsnorm, softmax, gelu, silu, relu, sigmoid, tanh, add, mul,
//   batchnorm, copy, transpose
//               rows, cols (the op works on a rows x cols tensor); add/mul read
//               `inputs` tensors (default 2)
//   maxpool, avgpool  n, c, h, w, r, s, stride, pad
//   embedding   tokens, dim, vocab
//   kv_read, kv_write  batch, kv_heads, tokens, d   (K and V both counted)
//               kv_write stores `tokens` new positions into a preallocated cache.
//               kv_read reads `tokens` cached positions; optional append=A > 0
//               makes it a concatenation (HF DynamicCache's torch.cat): it also
//               reads the A new positions and writes all tokens + A positions.
//   allreduce, allgather, reducescatter, alltoall   bytes, ranks
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/dtype.h"

namespace tessera {

enum class OpKind {
  matmul, conv2d, attention,
  layernorm, rmsnorm, softmax, gelu, silu, relu, sigmoid, tanh, add, mul,
  batchnorm, copy, transpose,
  maxpool, avgpool, embedding,
  kv_read, kv_write,
  allreduce, allgather, reducescatter, alltoall,
};

std::string_view op_kind_name(OpKind k);
bool parse_op_kind(std::string_view s, OpKind& out);
std::string op_kind_names();
// Canonical attribute names of a kind: the required ones first, then the
// optional ones (read with Op::get and a default).
std::vector<std::string_view> op_attr_names(OpKind k);
std::vector<std::string_view> op_required_attrs(OpKind k);
// Element-wise/row-wise ops bounded by memory traffic on every target.
bool is_vector_kind(OpKind k);
bool is_collective_kind(OpKind k);

struct Op {
  std::string name;
  OpKind kind = OpKind::matmul;
  DType dtype = DType::fp32;        // operand (input) format
  DType out_dtype = DType::fp32;    // output format
  std::map<std::string, int64_t> attrs;
  std::vector<int> deps;            // indices of producer ops in Graph::ops

  int64_t at(std::string_view key) const;                 // throws std::logic_error if absent
  int64_t get(std::string_view key, int64_t fallback) const;
};

// Floating-point operations of the op (a multiply-add counts as 2).
double op_flops(const Op& op);
// Minimum bytes moved to and from memory: every input read once, every output
// written once, in the op's formats.
double op_min_bytes(const Op& op);
// Output spatial size of a conv/pool: floor((h + 2p - d(r-1) - 1)/stride) + 1.
int64_t conv_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation);

struct Graph {
  std::string name;                  // e.g. "gemm" or "resnet50"
  std::string spec;                  // the spec it was built from
  std::vector<Op> ops;
  std::map<std::string, double> info;  // model-level facts (parameters, tokens, ...)

  int add(Op op);                    // appends, returns its index
  double total_flops() const;
};

// Checks attribute presence and ranges for every op; throws InputError naming
// `source`, the op and the attribute.
void validate_graph(const Graph& g, std::string_view source);

}  // namespace tessera
