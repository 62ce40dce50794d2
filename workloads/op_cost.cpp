// Work and traffic of an op: op_flops, op_min_bytes, op_traffic (workloads/ir.h),
// per kind and for the backward and optimizer kernels a training step appends.
#include <algorithm>

#include "workloads/ir.h"

namespace tessera {
namespace {

// FLOPs per element of the row-wise / element-wise ops. These are the
// conventional operation counts (not instruction counts): add/mul/relu 1,
// layernorm ~ mean, var, normalise, scale, shift = 5 (8 with the reductions),
// softmax ~ max, sub, exp, sum, div = 5, gelu (tanh form) ~ 8, dropout: the
// keep test against p and the scaling by 1 / (1 - p) = 2 (its random numbers
// are integer work, not FLOPs).
double vector_flops_per_elem(OpKind k) {
  switch (k) {
    case OpKind::add: case OpKind::mul: case OpKind::relu: return 1;
    case OpKind::dropout:
      return 2;
    case OpKind::sigmoid: case OpKind::tanh: return 4;
    case OpKind::silu: return 5;
    case OpKind::gelu: return 8;
    case OpKind::softmax: return 5;
    case OpKind::layernorm: return 8;
    case OpKind::rmsnorm: return 5;
    case OpKind::batchnorm: return 4;  // inference form: (x - mean) * scale + shift
    default: return 0;
  }
}

// FLOPs per element of the backward kernels (attr backward=1), counted from the
// derivative each evaluates (y: the forward output, x: its input, dy: the incoming
// gradient):
//   relu     threshold_backward: dy where y > 0                          1
//   sigmoid  sigmoid_backward: dy * (1 - y) * y                          3
//   tanh     tanh_backward: dy * (1 - y * y)                             3
//   silu     s = sigmoid(x) (4), dy * s * (1 + x * (1 - s)) (5)          9
//   gelu     cdf = 0.5 (1 + erf(x / sqrt 2)) (4), pdf = exp(-x^2 / 2) / sqrt(2 pi)
//            (4), dy * (cdf + x * pdf) (3)                               11
//   softmax  _softmax_backward_data: y * (dy - sum(dy * y)) (mul, sum, sub, mul)   4
//   layernorm  dx: xhat (2), gamma * dy (1), the two row sums (3), rstd * (g dy -
//            mean(g dy) - xhat mean(g dy xhat)) (4)                      10
//   rmsnorm  the same without the mean terms                             8
//   batchnorm  elementwise pass: (dy - mean_dy - xhat mean_dy_xhat) * gamma * invstd   6
//   dropout  native_dropout_backward (masked_scale): dy * mask * scale      2
double backward_flops_per_elem(OpKind k) {
  switch (k) {
    case OpKind::relu: return 1;
    case OpKind::dropout:
      return 2;
    case OpKind::sigmoid: case OpKind::tanh: return 3;
    case OpKind::silu: return 9;
    case OpKind::gelu: return 11;
    case OpKind::softmax: return 4;
    case OpKind::layernorm: return 10;
    case OpKind::rmsnorm: return 8;
    case OpKind::batchnorm: return 6;
    default: return 0;
  }
}

// Batch-norm in training mode (batch statistics): the statistics pass (sum and
// sum of squares: 3 per element) plus the inference form's 4.
constexpr double k_batchnorm_training_flops = 7;

// The sorted path of the embedding backward (above k_embedding_direct_indices,
// ir.h): cuda::cub::radix_sort_pairs of the int64 indices with their positions
// over all 64 key bits (Embedding.cu passes no bit range), i.e. 8 passes of 8 bits,
// each reading and writing keys and values (4 x 8 bytes per index).
constexpr double k_embedding_sort_bytes_per_index = 8 * 4 * 8;

// One time step of a recurrent layer's fused point-wise kernel (rnn_cell), per
// batch row and hidden unit (E = rows x cols elements), in cuDNN's LSTM / GRU
// (linear_before_reset) equations (cudnnRNNMode_t; workloads/models/rnn.cpp):
//   LSTM forward   gates = xproj + hproj (4), i f o = sigmoid (3 x 4), g = tanh (4),
//                  c = f c' + i g (3), h = o tanh(c) (4 + 1)                   28 FLOP
//                  reads xproj, hproj (4 + 4) and c' (1); writes h and c       9 E, 2 E
//   GRU forward    rz = sigmoid(xproj_rz + hproj_rz) (2 + 2 x 4), n = tanh(xproj_n +
//                  r hproj_n) (2 + 4), h = n + z (h' - n) (3)                  19 FLOP
//                  reads xproj, hproj (3 + 3) and h' (1); writes h             7 E, 1 E
//   training forward  also writes the gate activations the backward reads
//                  (cuDNN's reserve space; LSTM i f g o, GRU r z n and
//                  W_hn h' + b_hn)                                             + 4 E
//   LSTM backward  dc = dc_next + dh o (1 - tanh^2 c) (4 + 2 + 2 + 1), do di df dg
//                  (3 each), dc' = dc f (1)                                    22 FLOP
//                  reads dh, dc, the 4 activations, c' and c; writes the 4 gate
//                  gradients and dc'                                           8 E, 5 E
//   GRU backward   dn = dh (1 - z)(1 - n^2) (4), dz = dh (h' - n) z (1 - z) (4),
//                  dr = dn hn r (1 - r) (3), dhn = dn r (1), dh' = dh z (1)    13 FLOP
//                  reads dh, the 4 saved values and h'; writes the input-side
//                  and hidden-side gate gradients (3 + 3) and dh'              6 E, 7 E
struct RnnCellCost {
  double flops, read, written;
};
RnnCellCost rnn_cell_cost(const Op& op) {
  const bool lstm = op.at("gates") == 4;
  if (op.get("backward", 0)) return lstm ? RnnCellCost{22, 8, 5} : RnnCellCost{13, 6, 7};
  RnnCellCost c = lstm ? RnnCellCost{28, 9, 2} : RnnCellCost{19, 7, 1};
  if (op.get("training", 0)) c.written += 4;
  return c;
}

// Megatron-LM's scaled_upper_triang_masked_softmax (a softmax op with
// fused_scale_mask = 2; megatron/core/fusions/fused_softmax.py): row i of each
// sq x sq block loads only its first i + 1 elements (local_seq = blockIdx.x + 1,
// the rest being masked), in the forward and the backward, and writes the whole
// row: (cols + 1) / (2 cols) of the rows x cols elements are read. 1 otherwise.
double softmax_read_fraction(const Op& op) {
  if (op.kind != OpKind::softmax || op.get("fused_scale_mask", 0) != 2) return 1.0;
  const double cols = static_cast<double>(op.at("cols"));
  return (cols + 1.0) / (2.0 * cols);
}

// Traffic of the ops a training step appends (is_training_op) and of `reduce`;
// `in` is the format of what the op reads, `out` of what it writes.
OpTraffic training_traffic(const Op& op) {
  const auto d = [&](std::string_view k) { return static_cast<double>(op.at(k)); };
  const DType in = op.dtype, out = op.out_dtype;
  switch (op.kind) {
    case OpKind::rnn_cell: {
      const RnnCellCost c = rnn_cell_cost(op);
      const double e = d("rows") * d("cols");
      return {dtype_bytes(in, c.read * e), dtype_bytes(out, c.written * e)};
    }
    case OpKind::conv2d: {
      const ConvWindow c = conv_window(op);
      const double x = d("n") * d("cin") * static_cast<double>(c.in_pixels());
      const double dy = d("n") * d("cout") * static_cast<double>(c.out_pixels());
      const double wgt = static_cast<double>(conv_weight_elems(op));
      if (op.get("grad", 0) == 1) return {dtype_bytes(in, dy + wgt), dtype_bytes(out, x)};   // dgrad
      return {dtype_bytes(in, x + dy), dtype_bytes(out, wgt)};                               // wgrad
    }
    case OpKind::attention: {
      // Reads Q, K, V, O, dO and the forward's log-sum-exp (fp32 per query row),
      // writes dQ, dK, dV (and the bias gradient, B x H x sq x skv, with bias_grad).
      const double kvh = static_cast<double>(op.get("kv_heads", op.at("heads")));
      const double q = d("batch") * d("heads") * d("sq") * d("d");
      const double kv = 2.0 * d("batch") * kvh * d("skv") * d("d");
      const double scores = d("batch") * d("heads") * d("sq") * d("skv");
      double read = dtype_bytes(in, 3.0 * q + kv) + 4.0 * d("batch") * d("heads") * d("sq");
      if (op.get("bias", 0)) read += dtype_bytes(in, attention_bias_elems(op));
      double written = dtype_bytes(out, q + kv);
      if (op.get("bias_grad", 0)) written += dtype_bytes(out, scores);
      return {read, written};
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const ConvWindow c = conv_window(op);
      const double o = d("n") * d("c") * static_cast<double>(c.out_pixels()),
                   x = d("n") * d("c") * static_cast<double>(c.in_pixels());
      // max_pool2d_with_indices_backward (DilatedMaxPool2d.cu): gradInput.zero_(),
      // then a kernel over the input that gathers the output gradients whose saved
      // int64 index points at it. avg_pool2d_backward: one kernel over the input.
      if (op.kind == OpKind::maxpool) return {dtype_bytes(in, o) + 8.0 * o, 2.0 * dtype_bytes(out, x)};
      return {dtype_bytes(in, o), dtype_bytes(out, x)};
    }
    case OpKind::embedding: {
      const double t = d("tokens"), dim = d("dim"), vocab = static_cast<double>(op.get("vocab", op.at("tokens")));
      // embedding_dense_backward: the weight gradient is zero-filled (vocab x dim),
      // the incoming gradient (tokens x dim) and the int64 indices are read, and the
      // rows of the used tokens are accumulated (at most tokens x dim).
      // An EmbeddingBag's reads each index's row of its bag's gradient through the
      // forward's int64 offset2bag (8 bytes per index more).
      if (op.get("bag_max", 0)) {
        // mode="max": each bag's gradient row (bags x dim) and its int64 argmax are
        // read, and added into the zero-filled gradient at those rows.
        const double bd = d("bags") * dim;
        return {dtype_bytes(in, bd) + 8.0 * bd, dtype_bytes(out, vocab * dim + bd)};
      }
      OpTraffic t0{dtype_bytes(in, t * dim) + (op.attrs.count("bags") ? 16.0 : 8.0) * t,
                   dtype_bytes(out, vocab * dim + t * dim)};
      if (embedding_backward_sorts(op)) {
        // Sorted path: the radix sort, and the fp32 partial sums per segment that
        // compute_grad_weight writes and sum_and_scatter reads.
        t0.read += 0.5 * k_embedding_sort_bytes_per_index * t + 4.0 * t * dim;
        t0.written += 0.5 * k_embedding_sort_bytes_per_index * t + 4.0 * t * dim;
      }
      return t0;
    }
    case OpKind::reduce:
      return {dtype_bytes(in, static_cast<double>(op.get("inputs", 1)) * d("rows") * d("cols")),
              dtype_bytes(out, static_cast<double>(op.get("outputs", 1)) * d("cols"))};
    case OpKind::optimizer:
      return {dtype_bytes(in, d("reads") * d("elems")), dtype_bytes(out, d("writes") * d("elems"))};
    default: {
      const double rows = d("rows"), cols = d("cols"), e = rows * cols;
      if (op.kind == OpKind::batchnorm && op.get("training", 0) && !op.get("backward", 0))
        // Statistics pass and normalise pass both read x; mean and invstd (fp32 per
        // channel) are saved for the backward.
        return {dtype_bytes(in, 2.0 * e + 2.0 * cols), dtype_bytes(out, e) + 8.0 * cols};
      // native_dropout_backward reads the gradient and the forward's bool mask.
      if (op.kind == OpKind::dropout) return {dtype_bytes(in, e) + e, dtype_bytes(out, e)};
      // Backward kernels read the incoming gradient and one saved tensor (x or y).
      double read = dtype_bytes(in, 2.0 * e * softmax_read_fraction(op));
      if (op.kind == OpKind::layernorm) read += dtype_bytes(in, cols) + 8.0 * rows;   // gamma; mean, rstd
      if (op.kind == OpKind::rmsnorm) read += dtype_bytes(in, cols) + 4.0 * rows;     // gamma; rstd
      // gamma; mean, invstd, and the reduction pass's sum(dy), sum(dy * (x - mean)) (fp32)
      if (op.kind == OpKind::batchnorm) read += dtype_bytes(in, cols) + 16.0 * cols;
      return {read, dtype_bytes(out, e)};
    }
  }
}

// Ops whose traffic training_traffic() states: the training step's kernels,
// `reduce`, `rnn_cell`, and a transposed convolution (a data gradient in an
// inference graph: it reads dy and the weight and writes dx).
bool gradient_shaped(const Op& op) {
  return is_training_op(op) || op.kind == OpKind::reduce || op.kind == OpKind::rnn_cell ||
         (op.kind == OpKind::conv2d && op.get("grad", 0) != 0);
}

}  // namespace

double attention_bias_elems(const Op& op) {
  const auto d = [&](const char* k) { return static_cast<double>(op.at(k)); };
  return (op.get("bias_shared", 0) ? 1.0 : d("batch")) * (op.get("bias_head_shared", 0) ? 1.0 : d("heads")) *
         d("sq") * d("skv");
}

double op_flops(const Op& op) {
  const auto d = [&](std::string_view k) { return static_cast<double>(op.at(k)); };
  if (op.kind == OpKind::reduce)   // one addition per element read
    return static_cast<double>(op.get("inputs", 1)) * d("rows") * d("cols");
  if (op.kind == OpKind::optimizer) return static_cast<double>(op.get("flops", 1)) * d("elems");
  if (op.kind == OpKind::rnn_cell) return rnn_cell_cost(op).flops * d("rows") * d("cols");
  if (op.get("backward", 0)) {
    switch (op.kind) {
      case OpKind::attention: {
        // FlashAttention-2's backward: recompute S = Q K^T, dV = P^T dO, dP = dO V^T,
        // dK = dS^T Q, dQ = dS K: five products of the forward's size, 2.5 x its FLOPs.
        Op fwd = op;
        fwd.attrs.erase("backward");
        return 2.5 * op_flops(fwd);
      }
      case OpKind::maxpool: {   // one addition per output gradient
        return d("n") * d("c") * static_cast<double>(conv_window(op).out_pixels());
      }
      case OpKind::avgpool: break;   // spreads each output gradient over its window: as forward
      case OpKind::embedding:        // the scatter-add (mode="max": one row per bag)
        return (op.get("bag_max", 0) ? d("bags") : d("tokens")) * d("dim");
      default: return backward_flops_per_elem(op.kind) * d("rows") * d("cols");
    }
  }
  if (op.kind == OpKind::batchnorm && op.get("training", 0))
    return k_batchnorm_training_flops * d("rows") * d("cols");
  switch (op.kind) {
    case OpKind::matmul:
      return 2.0 * d("batch") * d("m") * d("n") * d("k");
    case OpKind::conv2d: {
      const ConvWindow c = conv_window(op);
      const double groups = static_cast<double>(op.get("groups", 1));
      return 2.0 * d("n") * static_cast<double>(c.out_pixels()) * d("cout") * (d("cin") / groups) *
             static_cast<double>(c.taps());
    }
    case OpKind::attention: {
      // Q.K^T and P.V: 2 * (2 * sq * skv * d) per head; causal prefill keeps
      // about half of the score matrix (the convention the reference data uses).
      double f = 4.0 * d("batch") * d("heads") * d("sq") * d("skv") * d("d");
      if (op.get("causal", 0) && op.at("sq") > 1) f *= 0.5;
      return f;
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const ConvWindow c = conv_window(op);
      return d("n") * d("c") * static_cast<double>(c.out_pixels()) * static_cast<double>(c.taps());
    }
    case OpKind::embedding:  // a bag's rows are summed: one addition per element read
      return op.attrs.count("bags") ? d("tokens") * d("dim") : 0.0;
    case OpKind::kv_read:
    case OpKind::kv_write:
    case OpKind::copy:
    case OpKind::transpose:
      return 0;
    case OpKind::allreduce:
    case OpKind::reduce_coll:
      return d("bytes") / (dtype_info(op.dtype).storage_bits / 8.0);  // one add per element
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
    case OpKind::broadcast:
    case OpKind::sendrecv:
      return op.kind == OpKind::reducescatter ? d("bytes") / (dtype_info(op.dtype).storage_bits / 8.0)
                                              : 0;
    default:
      return vector_flops_per_elem(op.kind) * d("rows") * d("cols");
  }
}

OpTraffic op_traffic(const Op& op) {
  if (gradient_shaped(op)) return training_traffic(op);
  const double total = op_min_bytes(op);
  switch (op.kind) {
    case OpKind::kv_read:
      if (op.get("append", 0) == 0) return {total, 0};
      return {total / 2, total / 2};
    case OpKind::kv_write:
    case OpKind::allreduce: case OpKind::allgather: case OpKind::reducescatter: case OpKind::alltoall:
    case OpKind::broadcast: case OpKind::sendrecv: case OpKind::reduce_coll:
      return {total, 0};
    case OpKind::dropout: {  // reads x; writes the output and the 1-byte mask
      const double e = static_cast<double>(op.at("rows")) * static_cast<double>(op.at("cols"));
      return {dtype_bytes(op.dtype, e), dtype_bytes(op.out_dtype, e) + e};
    }
    default: {
      double written = dtype_bytes(op.out_dtype, static_cast<double>(op_out_elems(op)));
      // An EmbeddingBag with mode="max" also writes its output's int64 argmax.
      if (op.kind == OpKind::embedding && op.get("bag_max", 0))
        written += 8.0 * static_cast<double>(op_out_elems(op));
      written = std::min(total, written);
      return {total - written, written};
    }
  }
}

double op_min_bytes(const Op& op) {
  if (gradient_shaped(op)) {
    const OpTraffic t = training_traffic(op);
    return t.read + t.written;
  }
  const auto d = [&](std::string_view k) { return static_cast<double>(op.at(k)); };
  const DType in = op.dtype, out = op.out_dtype;
  switch (op.kind) {
    case OpKind::matmul: {
      const double b = d("batch");
      const double a_elems = b * d("m") * d("k");
      const double b_elems = (op.get("b_shared", 0) ? 1.0 : b) * d("k") * d("n");
      return dtype_bytes(in, a_elems + b_elems) + dtype_bytes(out, b * d("m") * d("n"));
    }
    case OpKind::conv2d: {
      const ConvWindow c = conv_window(op);
      const double x = d("n") * d("cin") * static_cast<double>(c.in_pixels());
      const double wgt = static_cast<double>(conv_weight_elems(op));
      return dtype_bytes(in, x + wgt) +
             dtype_bytes(out, d("n") * d("cout") * static_cast<double>(c.out_pixels()));
    }
    case OpKind::attention: {
      const double kvh = static_cast<double>(op.get("kv_heads", op.at("heads")));
      const double q = d("batch") * d("heads") * d("sq") * d("d");
      const double kv = 2.0 * d("batch") * kvh * d("skv") * d("d");
      double bytes = dtype_bytes(in, q + kv) + dtype_bytes(out, q);
      if (op.get("bias", 0)) bytes += dtype_bytes(in, attention_bias_elems(op));
      return bytes;
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const ConvWindow c = conv_window(op);
      return dtype_bytes(in, d("n") * d("c") * static_cast<double>(c.in_pixels())) +
             dtype_bytes(out, d("n") * d("c") * static_cast<double>(c.out_pixels()));
    }
    case OpKind::embedding:
      // Gather `tokens` rows of the table and write them out (an EmbeddingBag: one
      // row per bag).
      // mode="max" also writes each output element's int64 argmax (max_indices).
      return dtype_bytes(in, d("tokens") * d("dim")) +
             dtype_bytes(out, static_cast<double>(op.get("bags", op.at("tokens"))) * d("dim")) +
             8.0 * d("tokens") + (op.get("bag_max", 0) ? 8.0 * d("bags") * d("dim") : 0.0);  // int64 indices
    case OpKind::kv_read:
    case OpKind::kv_write: {
      const double row = 2.0 * d("batch") * d("kv_heads") * d("d");  // K and V, one position
      const double append = static_cast<double>(op.kind == OpKind::kv_read ? op.get("append", 0) : 0);
      if (append > 0)  // concatenation: read old + new, write old + new
        return dtype_bytes(in, row * (d("tokens") + append)) +
               dtype_bytes(out, row * (d("tokens") + append));
      return dtype_bytes(in, row * d("tokens"));
    }
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
    case OpKind::broadcast:
    case OpKind::sendrecv:
    case OpKind::reduce_coll:
      return d("bytes");
    default: {
      const double elems = d("rows") * d("cols");
      // A copy of an expanded view reads each input element once (expand: how
      // often it is written).
      const double inputs =
          (op.kind == OpKind::add || op.kind == OpKind::mul)
              ? static_cast<double>(op.get("inputs", 2))
              : 1.0 / static_cast<double>(op.kind == OpKind::copy ? op.get("expand", 1) : 1);
      // Norm weights (and bias) are one row each: negligible but counted.
      double params = 0;
      if (op.kind == OpKind::layernorm || op.kind == OpKind::batchnorm) params = 2 * d("cols");
      if (op.kind == OpKind::rmsnorm) params = d("cols");
      // native_dropout also writes its bool keep mask (1 byte per element).
      const double mask = op.kind == OpKind::dropout ? elems : 0;
      return dtype_bytes(in, inputs * elems * softmax_read_fraction(op) + params) + dtype_bytes(out, elems) +
             mask;
    }
  }
}

}  // namespace tessera
