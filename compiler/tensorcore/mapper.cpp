// The tensor-core mapper's dispatch: one kernel family per op kind.
#include "compiler/tensorcore/mapper.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/tensorcore/attention_select.h"
#include "compiler/tensorcore/kernel_build.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

namespace {

// NCHW around a tensor-core convolution (attr channels_last = 0: PyTorch's default
// contiguous layout). cuDNN's tensor-core convolution kernels are NHWC/KRSC ones:
// "the cuDNN library may use padding, folding, and NCHW-to-NHWC transformations to
// call the Tensor Core operations" (cuDNN Developer Guide, Legacy API, "Data and
// Filter Formats"), and NVIDIA's Convolutional Layers User's Guide ("Tensor Layouts
// In Memory: NCHW vs NHWC") describes the NCHW input transposed to NHWC before the
// convolution and the output transposed back after it. Each pass converts its two
// operands and its result: forward x, w -> y; dgrad dy, w -> dx; wgrad x, dy -> dw.
// A tensor whose two layouts are the same bytes is left alone: an activation with one
// channel or one pixel, a filter with one tap (1x1: KCRS = KRSC) or one input channel
// per group. Each conversion is one launch that reads the tensor and writes it
// transposed (a tiled transpose through shared memory, both sides coalesced), from
// and to DRAM like the batch-norm kernels' passes; the CUDA-core path (fp32 without
// TF32) has NCHW kernels of its own and converts nothing.
void add_nchw_transposes(Kernel& k, const Op& op, const Levels& lv, int64_t sm_count) {
  const int64_t n = op.at("n"), cin = op.at("cin"), cout = op.at("cout");
  const int64_t groups = std::max<int64_t>(1, op.get("groups", 1));
  const ConvWindow cw = conv_window(op);  // pixels and taps include a 3-D op's depth (NCDHW, KCTRS)
  const int64_t pixels = cw.in_pixels(), out_pixels = cw.out_pixels(), taps = cw.taps();
  struct Tensor {
    const char* name;
    bool filter;
    int64_t channels, pixels;  // the two dimensions the conversion swaps (per image / filter)
    int64_t count;             // images (activations) or output channels (filters)
    DType dtype;
  };
  const Tensor x{"x", false, cin, pixels, n, op.dtype}, y{"y", false, cout, out_pixels, n, op.out_dtype};
  const Tensor filt{"w", true, cin / groups, taps, cout, op.dtype};  // KCRS -> KRSC
  const int64_t grad = op.get("grad", 0);
  std::vector<Tensor> in, out;
  if (grad == 0) {
    in = {x, filt};
    out = {y};
  } else if (grad == 1) {  // operands in the backward's formats: dy (dtype), w, dx (out_dtype)
    in = {Tensor{"dy", false, cout, out_pixels, n, op.dtype}, filt};
    out = {Tensor{"dx", false, cin, pixels, n, op.out_dtype}};
  } else {
    in = {Tensor{"x", false, cin, pixels, n, op.out_dtype},
          Tensor{"dy", false, cout, out_pixels, n, op.dtype}};
    out = {Tensor{"dw", true, cin / groups, taps, cout, op.out_dtype}};
  }
  const auto block_of = [&](const Tensor& t) -> std::optional<Block> {
    if (t.channels <= 1 || t.pixels <= 1) return std::nullopt;
    const double elems = static_cast<double>(t.channels * t.pixels * t.count);
    const double bytes = dtype_bytes(t.dtype, elems);
    // 32 x 32-element tiles, one per thread block.
    const int64_t sms = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(elems / 1024.0)), 1, sm_count);
    Block b;
    add_traffic(b.instrs, lv, Opcode::load, bytes, bytes, sms);
    add_traffic(b.instrs, lv, Opcode::store, bytes, bytes, sms);
    return b;
  };
  std::vector<Block> before, after;
  std::string names;
  const auto collect = [&](const std::vector<Tensor>& ts, std::vector<Block>& dst, bool to_nhwc) {
    for (const Tensor& t : ts)
      if (auto b = block_of(t)) {
        dst.push_back(std::move(*b));
        const char* layout = t.filter ? (to_nhwc ? "KRSC" : "KCRS") : (to_nhwc ? "NHWC" : "NCHW");
        names += fmt::format("{}{} to {}", names.empty() ? "" : ", ", t.name, layout);
      }
  };
  collect(in, before, true);
  collect(out, after, false);
  if (before.empty() && after.empty()) return;
  const auto extra = static_cast<int64_t>(before.size() + after.size());
  k.blocks.insert(k.blocks.begin(), before.begin(), before.end());
  k.blocks.insert(k.blocks.end(), after.begin(), after.end());
  k.info.launches = k.info.launches.value_or(1) + extra;
  k.mapping += fmt::format("; NCHW: cuDNN converts {} ({} more launch(es))", names, extra);
  set_dram_bytes(k, lv.dram);
}

}  // namespace

namespace {

// PyTorch's own fp8 and int8 GEMMs refuse some shapes (aten/src/ATen/native/cuda/
// Blas.cpp): torch._scaled_mm needs K and N multiples of 16 ("Expected trailing
// dimension of mat1 to be divisible by 16", "mat2 shape ... must be divisible by
// 16", cuBLASLt's fp8 rule), torch._int_mm M > 16 and K, N multiples of 8. Such a
// GEMM is still timed (a hand-written kernel could run it); the mapping says so.
std::string pytorch_gemm_refusal(const GemmShape& s) {
  const bool fp8 = s.a == DType::fp8_e4m3 || s.a == DType::fp8_e5m2;
  if (fp8 && (s.k % 16 != 0 || s.n % 16 != 0))
    return fmt::format(
        "; torch._scaled_mm refuses this shape (it needs K and N multiples of 16; K = {}, N = {})", s.k, s.n);
  if (s.a == DType::int8 && (s.m <= 16 || s.k % 8 != 0 || s.n % 8 != 0))
    return fmt::format(
        "; torch._int_mm refuses this shape (it needs M > 16 and K, N multiples of 8; M = {}, "
        "K = {}, N = {})",
        s.m, s.k, s.n);
  return "";
}

}  // namespace

Kernel TensorCoreMapper::lower(const Graph& g, int index, const Hardware& hw) const {
  if (index < 0 || static_cast<size_t>(index) >= g.ops.size())
    throw std::logic_error(fmt::format("tensorcore::lower: op index {} out of range", index));
  const Op& op = g.ops[static_cast<size_t>(index)];
  Kernel k;
  switch (op.kind) {
    case OpKind::matmul: {
      if (op.get("rnn", 0) == 3) {
        k = lower_rnn_persistent(op, hw);
        break;
      }
      GemmShape s{op.at("batch"), op.at("m"), op.at("n"), op.at("k"), op.get("b_shared", 0) != 0,
                  op.dtype, op.out_dtype, op.get("fast_accum", 0) != 0};
      // fp32 operands, fp32 storage: TF32 tensor cores only where PyTorch's switch
      // allows (TensorCoreModel::operand_dtype, which precision analysis uses too).
      s.a = m_tc.operand_dtype(op);
      // Row-major A (M x K), B (K x N), C (M x N) as PyTorch stores them: the rows
      // of A are K elements long, those of B and C N elements.
      s.align_a = ld_alignment(s.k, s.a);
      s.align_b = ld_alignment(s.n, s.a);
      s.align_c = ld_alignment(s.n, s.out);
      // An int8 matmul is torch._int_mm, which gives cuBLASLt no workspace.
      s.workspace = m_tc.pipe(s.a) != MmaPipe::int8;
      s.loop_idle_s = info_or(g, "loop_idle_s", 0.0);
      k = lower_gemm(op, s, static_cast<double>(s.batch * s.m * s.k) * dtype_bytes(s.a, 1), hw);
      k.mapping += pytorch_gemm_refusal(s);
      break;
    }
    case OpKind::conv2d: {
      if (is_depthwise_conv(op)) {   // not a GEMM: conv_depthwise.cpp
        k = lower_depthwise_conv(op, hw);
        break;
      }
      // Implicit GEMM of the pass (conv_gemm_dims: forward M = n*ho*wo, N = cout,
      // K = cin*r*s per group; data and weight gradients). The im2col tile is
      // gathered through the L2, so DRAM reads the activation it is built from
      // once, not the r*s-times larger im2col matrix: the input (forward), the
      // output gradient (dgrad). wgrad's im2col of the input goes on the A side
      // (dW^T = im2col(x)^T dY: M and N swapped) for the same reason.
      const ConvGemm c = conv_gemm_dims(op);
      const int64_t grad = op.get("grad", 0);
      GemmShape s{c.groups, c.m, c.n, c.k, true, op.dtype, op.out_dtype};
      s.loop_idle_s = info_or(g, "loop_idle_s", 0.0);
      const ConvWindow cw = conv_window(op);
      const int64_t cin = op.at("cin"), cout = op.at("cout"), taps = cw.taps();
      const int64_t groups = op.get("groups", 1);
      // Forward: the input pixels the filter taps touch. A stride larger than the
      // filter (the strided 1x1 downsample) skips rows and columns (and a 3-D
      // input's planes), and in NHWC a skipped pixel's channel vector is never
      // fetched: cuDNN runs such a convolution as a GEMM over the strided pixels
      // (dil 1; dilated filters keep the whole input).
      const auto touched = [](int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil) {
        return dil == 1 && stride > k ? std::min(in, out * k) : in;
      };
      const int64_t planes = touched(cw.d, cw.od, cw.t, cw.stride_d, cw.dilation_d);
      const int64_t rows = touched(cw.h, cw.oh, cw.r, cw.stride, cw.dilation);
      const int64_t cols = touched(cw.w, cw.ow, cw.s, cw.stride_w, cw.dilation_w);
      double a = static_cast<double>(op.at("n") * cin * planes * rows * cols);
      if (grad == 1) a = static_cast<double>(op.at("n") * cout * cw.out_pixels());
      if (grad == 2) s = GemmShape{c.groups, c.n, c.m, c.k, false, op.dtype, op.out_dtype};
      // cuDNN runs fp32 convolutions (all three passes) on the TF32 tensor cores
      // unless torch.backends.cudnn.allow_tf32 is off (TensorCoreModel::operand_dtype).
      s.a = m_tc.operand_dtype(op);
      // Forward K runs over the filter taps, each tap's channels in steps of the
      // MMA's K (32 bytes: m16n8k16 for 16-bit, m16n8k8 for tf32, m16n8k32 for
      // 8-bit operands, PTX ISA "Matrix shape"): a tap with fewer channels is
      // zero-padded to a whole step (the 7x7 stem with 3 channels issues 16 of
      // them per tap in bf16, 5.3x its useful K). Grouped convolutions (depthwise
      // ones are lowered above) are left as one GEMM per group.
      const int64_t cin_g = cin / groups;
      if (grad == 0 && groups == 1 && m_tc.tensor_pipe(s.a)) {
        const int64_t kstep = std::max<int64_t>(1, static_cast<int64_t>(std::llround(32.0 / dtype_bytes(s.a, 1))));
        s.k = taps * ceil_div(cin_g, kstep) * kstep;
      }
      // NHWC rows as the kernel loads them: a pixel's channels (input, output
      // gradient), a filter's cin/groups x r x s (KRSC), the output's channels.
      const DType st = op.dtype;
      if (groups > 1) {
        // grouped and depthwise: left as they were (see above)
      } else if (grad == 0) {
        s.align_a = ld_alignment(cin, st);
        s.align_b = ld_alignment(cin_g * taps, st);
        s.align_c = ld_alignment(cout, s.out);
      } else if (grad == 1) {
        s.align_a = ld_alignment(cout, st);
        s.align_b = ld_alignment(cin_g, st);
        s.align_c = ld_alignment(cin, s.out);
      } else {
        s.align_a = ld_alignment(cin, st);
        s.align_b = ld_alignment(cout, st);
        s.align_c = ld_alignment(cin_g * taps, s.out);
      }
      s.a_dram_bytes = dtype_bytes(op.dtype, a);
      k = lower_gemm(op, s, s.a_dram_bytes, hw);
      // A 3-D convolution (the IR's conv2d with a depth) says so beside its GEMM.
      if (op.attrs.count("d") || op.attrs.count("t"))
        k.mapping += fmt::format("; 3-D: {}x{}x{} filter over {}x{}x{} (NDHWC implicit GEMM)", cw.t, cw.r,
                                 cw.s, cw.d, cw.h, cw.w);
      if (op.get("channels_last", 1) == 0 && m_tc.tensor_pipe(s.a))
        add_nchw_transposes(k, op, levels_of(hw), m_s.sm);
      break;
    }
    case OpKind::attention:
      if (const AttnBackend be = attention_backend(op, m_s); be.math) {
        k = lower_attention_math(op, hw, be.note);
        break;
      }
      if (op.get("backward", 0)) {
        k = lower_attention_backward(op, hw);
        break;
      }
      k = (op.at("sq") * (op.at("heads") / op.get("kv_heads", op.at("heads"))) <= 64 && op.at("sq") < op.at("skv"))
              ? lower_decode_attention(op, hw)
              : lower_attention(op, hw);
      break;
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
    case OpKind::broadcast:
    case OpKind::sendrecv:
    case OpKind::reduce_coll: k = lower_collective(op, hw); break;
    case OpKind::batchnorm: k = lower_batchnorm(op, g, hw); break;
    case OpKind::reduce:   // a batch-norm backward's weight/bias reduction (attr batchnorm)
      k = op.get("batchnorm", 0) ? lower_batchnorm(op, g, hw) : lower_vector(op, hw);
      break;
    default: k = lower_vector(op, hw); break;
  }
  // The first kernel of a run may find the L2 full of another stream's dirty lines
  // (graph info l2_dirty_bytes: the benchmark's cache flush); kernel_build.h.
  if (const auto it = g.info.find("l2_dirty_bytes"); index == 0 && it != g.info.end()) {
    const double wb = add_dirty_writeback(k, levels_of(hw), it->second);
    if (wb > 0) k.mapping += fmt::format("; first writes back {:.3g} MB of dirty L2 lines", wb / 1e6);
  }
  k.name = fmt::format("{}#{}", op.name.empty() ? std::string(op_kind_name(op.kind)) : op.name, index);
  k.op_index = index;
  k.flops = op_flops(op);
  k.bytes = op_min_bytes(op);
  return k;
}
}  // namespace tessera
