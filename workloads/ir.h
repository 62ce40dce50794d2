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
//               (input h x w; output ho/wo derived); stride, pad and dilation
//               are the height's and the width's unless the width has its own:
//               optional stride_w, pad_w, dilation_w (Inception's 1x7 filters
//               with padding (0, 3); a Conv1d's padding, its height being 1);
//               a 3-D convolution (Conv3d: NCDHW input, KCTRS filter in cuDNN's
//               notation) adds d (input depth) and t (filter depth), with the
//               depth's own stride_d, pad_d, dilation_d (default 1, 0, 1)
//   attention   batch, heads, kv_heads, sq, skv, d, causal(0/1), bias(0/1)
//               fused scaled-dot-product attention; sq=1 is a decode step.
//               kv_heads < heads is multi-query/grouped-query attention (heads
//               must be a multiple of kv_heads). Optional bias_shared=1: the
//               additive bias (heads x sq x skv) is broadcast over `batch` and
//               read once (AlphaFold pair bias) instead of once per batch entry;
//               bias_head_shared=1: the mask is broadcast over the heads (a
//               batch x 1 x sq x skv padding mask), read by every head from one copy;
//               bias_bool=1: the mask is boolean (PyTorch converts it to an
//               additive one first); bias_strided=1: the mask's last
//               dimension is not contiguous (no fused GPU backend takes it);
//               qkv_packed=1: q/k/v are head views of one packed projection
//               and the output is read back as rows (the math path's copies);
//               strided=1: a q/k/v last dimension is not contiguous; backend: the SDPA backend forced (1
//               flash2, 2 flash3 / cuDNN, 3 efficient, 4 math; absent: the hardware's rules,
//               compiler/tensorcore/sdpa_select.h); dropout=1: dropout_p > 0 on the
//               attention weights (the fused kernels draw it in-kernel; the math
//               path runs a dropout op on them).
//   layernorm, rmsnorm, softmax, gelu, silu, relu, sigmoid, tanh, add, mul,
//   batchnorm, copy, transpose
//               rows, cols (the op works on a rows x cols tensor); add/mul read
//               `inputs` tensors (default 2); mul exponent=E (inputs=1): torch.pow(x, E);
//               add/mul bcast_bytes=B: the last input is a broadcast view of
//               B-byte elements read with a stride of bcast_stride elements
//               (default 1) along the innermost dim
//               (autocast runs it in fp32; its backward is pow_backward's kernels);
//               batchnorm (rows = N*H*W, cols = C) optional n: the batch N
//               (input.size(0), default 1) and channels_last: 1 NHWC (default),
//               0 NCHW; they decide cuDNN or PyTorch's kernels and which ones
//               (compiler/tensorcore/batchnorm.h); layernorm optional affine: the
//               elements of its scale and of its shift when not cols (a group or
//               instance norm as a row norm: rows N x groups of C/groups x H x W,
//               affine C)
//   dropout     rows, cols: native_dropout in training mode (nn.Dropout, F.dropout
//               with p > 0): reads the input, writes the output and a bool keep
//               mask (1 byte per element); backward=1: native_dropout_backward
//               (reads the gradient and the mask, writes the input gradient)
//   maxpool, avgpool  n, c, h, w, r, s, stride, pad
//               (optional stride_w, pad_w: the width's own, as for conv2d;
//               3-D pools: d, t, stride_d, pad_d as for conv2d)
//   embedding   tokens, dim, vocab
//               optional order: how the tokens pick rows of the vocab x dim table
//               (t.index_select(0, idx)): 1 = consecutive rows, 2 = uniformly
//               random rows; absent = rows read as one stream; optional bags
//               (nn.EmbeddingBag): the tokens' rows are summed (mean) into
//               `bags` output rows of dim; its backward (backward=1) always sorts;
//               with bag_max=1 (mode="max") each output element is the bag's
//               maximum, the forward also writes its int64 argmax (bags x dim) and
//               the backward scatters through it without sorting; index_put=1: a
//               parameter indexed by a tensor (table[index], Swin's relative
//               position bias), whose backward is index_put_ with accumulate
//   kv_read, kv_write  batch, kv_heads, tokens, d   (K and V both counted)
//               kv_write stores `tokens` new positions into a preallocated cache.
//               kv_read reads `tokens` cached positions; optional append=A > 0
//               makes it a concatenation (HF DynamicCache's torch.cat): it also
//               reads the A new positions and writes all tokens + A positions.
//   allreduce, allgather, reducescatter, alltoall, broadcast, sendrecv
//               bytes, ranks: nccl-tests' "size" (bytes per rank; all_gather: the
//               gathered output) over `ranks` ranks. Optional: algo and protocol
//               (indices into collective_algorithms()/collective_protocols() of
//               models/interconnect/collective.h: algo 0 = auto, 1 ring, 2 tree,
//               3 nvls, 4 direct, 5 halving_doubling, 6 hierarchical; protocol 0 =
//               auto, 1 ll, 2 ll128, 3 simple); stride (default 1): consecutive
//               ranks of the group are `stride` devices apart, so a group with
//               stride >= devices_per_node has one rank per node (a data-parallel
//               group across nodes); group: which parallel group the collective
//               belongs to (CommGroup: 1 tp, 2 dp, 3 pp, 4 ep; 0 or absent: all
//               devices), for reports (no effect on timing)
//   multi-device workloads (workloads/models/parallel.h) add to any op:
//               stage (pipeline chunk, from 0), pass (0 forward, 1 backward,
//               2 optimizer), overlap=1 (runs on the communication stream beside
//               the compute), p2p=1 (a pipeline transfer between stages),
//               recompute=1 (a forward op recomputed in the backward pass),
//               every_microbatch=1 (a per-microbatch collective of a dp group),
//               prefetch=p (a parameter gather on the communication stream:
//               issued once the unit p gathers before it has begun, the ops
//               after it waiting for it; sim/engines/parallel_pass.cpp),
//               in_microbatch (an inline op of the backward that some microbatches
//               skip: 1 runs in every microbatch but the first, 2 in the last only)
//   reduce      rows, cols: column sums over the rows (a gradient's reduction to a
//               bias or norm weight, or over a broadcast dimension); reads `inputs`
//               rows x cols tensors (default 1), writes `outputs` cols-sized
//               results (default 1); optional stride: consecutive rows are
//               `stride` elements apart in memory (x[::stride].sum() is rows=elems,
//               cols=1, stride); reread=1: the input was read by the op before and
//               nothing flushed the caches in between (a loop over one tensor);
//               batchnorm=1 (with the batch-norm's n, channels_last): the weight
//               and bias gradients of a batch-norm backward (batch_norm_backward_reduce)
//   optimizer   elems, reads, writes: one optimizer kernel (a torch._foreach_* call
//               or a fused optimizer kernel) over `elems` parameter elements that
//               reads `reads` and writes `writes` tensors per element; optional
//               flops (per element, default 1), sfu (square roots per element),
//               tensors (parameter tensors), launches (kernels of the call)
//
// Training (workloads/training.h) adds attributes:
//   matmul      param=1: B is a learned weight (nn.Linear); bias=1: the linear
//               has a bias; tied=T: ops with the same T share one weight (and
//               one bias), e.g. tied embeddings
//   mul         param=1: one input is a learned weight of `cols` elements (an
//               RMSNorm's weight * x)
//   conv2d      bias=1: the convolution has a bias; grad=1 (data gradient,
//               cuDNN dgrad) or grad=2 (weight gradient, wgrad) instead of the
//               forward pass (grad=0); conv_gemm_dims() gives each pass's GEMM;
//               transposed=1 with grad=1: the forward pass of a transposed
//               convolution (ConvTranspose2d), which cuDNN runs as the data gradient
//               of the convolution it transposes (an inference op, not a training one);
//               channels_last: 1 NHWC activations (default), 0 NCHW (cuDNN converts
//               a tensor-core convolution's operands and result, compiler/tensorcore/mapper.cpp)
//   attention, embedding, maxpool, avgpool, layernorm, rmsnorm, batchnorm,
//   softmax, gelu, silu, relu, sigmoid, tanh, dropout
//               backward=1: the op's backward kernel(s) (op_flops/op_min_bytes
//               count their own work and traffic; see op_cost.cpp); attention also
//               bias_grad=1 (writes the bias gradient)
//   batchnorm   training=1: batch statistics (training mode: a statistics pass
//               and a normalise pass over x)
//   softmax     fused_scale_mask: Megatron-LM's fused kernel, one warp per row
//               (1 scaled_masked_softmax, 2 scaled_upper_triang_masked_softmax:
//               row i reads its first i + 1 elements)
//   copy        grad_view=1: its backward is a view (no kernel; .contiguous() of
//               a permuted tensor)
//   any kind    output=1: the op's result is a model output that backward is
//               seeded at; launches=L: the op is L kernel launches
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera {

enum class OpKind {
  matmul,
  conv2d,
  attention,
  layernorm,
  rmsnorm,
  softmax,
  gelu,
  silu,
  relu,
  sigmoid,
  tanh,
  add,
  mul,
  batchnorm,
  copy,
  transpose,
  maxpool,
  avgpool,
  embedding,
  kv_read,
  kv_write,
  allreduce,
  allgather,
  reducescatter,
  alltoall,
  reduce,
  optimizer,
  broadcast,
  sendrecv,
  reduce_coll,  // the collective reduce (nccl-tests reduce_perf); `reduce` is the column sum
  rnn_cell,     // one time step's fused point-wise work of an LSTM (gates 4) or GRU (gates 3) layer
  dropout,  // native_dropout in training mode: the output and a 1-byte keep mask (backward: the masked scale)
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
// The parallel dimension of a collective's `group` attribute.
enum class CommGroup : int64_t { all = 0, tp = 1, dp = 2, pp = 3, ep = 4 };
// "tp", "dp", "pp", "ep", "all" ("?" for an unknown code).
std::string_view comm_group_name(int64_t group);

// An op's integer attributes by name; looked up by string_view without a copy.
using OpAttrs = std::map<std::string, int64_t, std::less<>>;

struct Op {
  std::string name;
  OpKind kind = OpKind::matmul;
  DType dtype = DType::fp32;        // operand (input) format
  DType out_dtype = DType::fp32;    // output format
  OpAttrs attrs;
  std::vector<int> deps;            // indices of producer ops in Graph::ops

  int64_t at(std::string_view key) const;                 // throws std::logic_error if absent
  int64_t get(std::string_view key, int64_t fallback) const;
};

// Floating-point operations of the op (a multiply-add counts as 2).
double op_flops(const Op& op);
// Minimum bytes moved to and from memory: every input read once, every output
// written once, in the op's formats.
double op_min_bytes(const Op& op);
// Read and written bytes of op_min_bytes (read + written == op_min_bytes).
struct OpTraffic {
  double read = 0, written = 0;
};
OpTraffic op_traffic(const Op& op);
// Elements an attention op's attn_mask holds: batch x heads x sq x skv, less the
// batch with bias_shared (broadcast over the batch) and the heads with
// bias_head_shared (broadcast over the heads).
double attention_bias_elems(const Op& op);
// Output spatial size of a conv/pool: floor((h + 2p - d(r-1) - 1)/stride) + 1.
int64_t conv_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation);
// The window geometry of a conv2d, maxpool or avgpool: input d x h x w, window
// t x r x s taps, output od x oh x ow. A 2-D op has d = t = od = 1; a 3-D one
// takes the depth's stride_d, pad_d and dilation_d (default 1, 0, 1); the height
// takes stride, pad and dilation, the width stride_w, pad_w and dilation_w
// (default: the height's).
struct ConvWindow {
  int64_t d = 1, h = 1, w = 1;     // input
  int64_t t = 1, r = 1, s = 1;     // window (filter taps)
  int64_t od = 1, oh = 1, ow = 1;  // output
  int64_t stride = 1, stride_d = 1, pad = 0, pad_d = 0, dilation = 1, dilation_d = 1;
  int64_t stride_w = 1, pad_w = 0, dilation_w = 1;  // the width's
  int64_t in_pixels() const { return d * h * w; }
  int64_t out_pixels() const { return od * oh * ow; }
  int64_t taps() const { return t * r * s; }
};
ConvWindow conv_window(const Op& op);
// Elements of an op's (first) output tensor.
int64_t op_out_elems(const Op& op);
// Weight elements of a conv2d: cout x cin/groups x t x r x s.
int64_t conv_weight_elems(const Op& conv);

// The implicit GEMM of one convolution pass (attr grad: 0 forward, 1 data
// gradient, 2 weight gradient), per group: C[m][n] = A[m][k] * B[k][n], `groups`
// independent products.
//   forward  m = n*ho*wo       n = cout/g        k = cin/g*r*s
//   data     m = n*h*w         n = cin/g         k = cout/g*r*s   (stride 1)
//   weight   m = cout/g        n = cin/g*r*s     k = n*ho*wo
// For stride > 1 the data gradient skips the positions a strided forward never
// wrote (cuDNN's and CUTLASS's strided dgrad split the input into stride x stride
// phases, each with its own subset of filter taps): m = n*ceil(h/stride)*ceil(w/stride),
// so that every pass does the forward's multiply-adds. A 3-D convolution's pixels
// and taps include the depth (d, od, t; ceil(d/stride_d) phases).
struct ConvGemm {
  int64_t groups = 1, m = 1, n = 1, k = 1;
};
ConvGemm conv_gemm_dims(const Op& conv);

// PyTorch's embedding_dense_backward_cuda (aten/src/ATen/native/cuda/Embedding.cu)
// takes a direct path (at::zeros of the weight gradient, then
// embedding_backward_feature_kernel) up to this many indices, and above that sorts
// the indices first (EmbeddingBackwardKernel.cu): the embedding backward's traffic
// (op_cost.cpp) and its launches (training/autograd.cpp) both switch here.
inline constexpr int64_t k_embedding_direct_indices = 3072;
// Whether an embedding's backward sorts its indices: above the direct path's limit,
// and always for an nn.EmbeddingBag (attr bags: embedding_bag_backward_cuda_sum_avg,
// aten/src/ATen/native/cuda/EmbeddingBag.cu, radix-sorts the indices and runs the
// same embedding_backward_cuda_kernel, each index's gradient row read through the
// forward's offset2bag).
// An EmbeddingBag with mode="max" (attr bag_max) does not: embedding_bag_backward_cuda_max
// zero-fills the weight gradient and scatter-adds each bag's gradient row through
// the forward's max_indices (EmbeddingBag_accGradParametersKernel_max), 2 launches.
// A parameter indexed by a tensor (attr index_put) always does: IndexBackward0 is
// index_put_(accumulate=true) into zeros, index_put_with_sort_kernel
// (aten/src/ATen/native/cuda/Indexing.cu).
inline bool embedding_backward_sorts(const Op& op) {
  if (op.get("bag_max", 0) != 0) return false;
  if (op.get("index_put", 0) != 0) return true;
  return op.at("tokens") > k_embedding_direct_indices || op.attrs.count("bags") != 0;
}

// Backward and optimizer ops (attr backward=1, conv grad > 0, kind optimizer,
// batchnorm training=1): what a training step appends besides plain matmul, add,
// mul, copy and reduce kernels.
bool is_training_op(const Op& op);

struct Graph {
  std::string name;                  // e.g. "gemm" or "resnet50"
  std::string spec;                  // the spec it was built from
  std::vector<Op> ops;
  std::map<std::string, double> info;  // model-level facts (parameters, tokens, ...)

  int add(Op op);                    // appends, returns its index
  double total_flops() const;
};

// g.info[key], or `fallback` where the graph does not state it.
double info_or(const Graph& g, const std::string& key, double fallback);

// True when the graph holds a training step (any is_training_op op).
bool is_training_graph(const Graph& g);

// Checks attribute presence and ranges for every op; throws InputError naming
// `source`, the op and the attribute.
void validate_graph(const Graph& g, std::string_view source);

}  // namespace tessera
