// Depthwise convolutions (groups == cin > 1, cout a multiple of cin) on a GPU, as
// PyTorch runs them. aten/src/ATen/native/Convolution.cpp (_select_conv_backend)
// sends a depthwise 2-D convolution on CUDA to cuDNN when
// ConvParams::use_cudnn_depthwise holds (channels-last input, or fp16 NCHW with
// >= 32 channels, no dilation, square stride and a filter/size pair from
// check_cudnn_depthwise_workload), otherwise to its own kernels
// (aten/src/ATen/native/cuda/DepthwiseConv2d.cu: conv_depthwise2d_forward_kernel,
// one thread per output element looping over the r x s taps;
// conv_depthwise2d_backward_kernel, one thread per input element;
// conv_depthwise2d_grad_weight_kernel, one block per filter channel reducing over
// batch and pixels). None of them is a tensor-core GEMM: each output is r*s
// multiply-adds (9 for 3x3) of one channel, so the kernel streams its input and
// output once (the taps re-read neighbours through the L1/L2) and does r*s FMAs per
// output element on the CUDA cores in fp32 (acc_type). Modelled so: one pass over
// the pass's own traffic (op_traffic: input, weights, output; the gradients'
// reads and writes), the multiply-adds as fp32 lane operations.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"

namespace tessera {

using namespace tc_build;

bool is_depthwise_conv(const Op& op) {
  const int64_t groups = op.get("groups", 1);
  return op.kind == OpKind::conv2d && groups > 1 && groups == op.at("cin") && op.at("cout") % groups == 0;
}

Kernel TensorCoreMapper::lower_depthwise_conv(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const OpTraffic t = op_traffic(op);
  const double macs = op_flops(op) / 2.0;
  // One thread block per 4096 elements moved (as the element-wise kernels), all
  // SMs once there are enough; stages of 4 MiB pipeline the stream.
  const double blocks = std::max(1.0, std::ceil(std::max(t.read, t.written) / 8192.0));
  const int64_t sms = static_cast<int64_t>(std::min<double>(static_cast<double>(m_s.sm), blocks));
  const int64_t stages =
      std::clamp<int64_t>(static_cast<int64_t>(std::ceil((t.read + t.written) / (4.0 * 1024 * 1024))), 1, 64);
  const double st = static_cast<double>(stages);
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.info.bytes_in_flight = m_s.in_flight;
  k.info.passes = 1;
  Block b;
  b.repeat = stages;
  add_traffic(b.instrs, lv, Opcode::load, t.read / st, t.read / st, sms);
  b.instrs.push_back(vec("conv_depthwise", macs / st / static_cast<double>(sms), sms, DType::fp32));
  add_traffic(b.instrs, lv, Opcode::store, t.written / st, t.written / st, sms);
  k.blocks.push_back(b);
  const int64_t grad = op.get("grad", 0);
  // A 3-D depthwise convolution runs PyTorch's conv_depthwise3d kernels
  // (aten/src/ATen/native/cuda/DepthwiseConv3d.cu, one thread per output element
  // looping over the t x r x s taps): the same memory-bound form.
  const ConvWindow cw = conv_window(op);
  const bool three_d = op.attrs.count("d") || op.attrs.count("t");
  const std::string taps =
      three_d ? fmt::format("{}x{}x{}", cw.t, cw.r, cw.s) : fmt::format("{}x{}", cw.r, cw.s);
  k.mapping = fmt::format(
      "depthwise {} ({} / cuDNN depthwise): memory-bound, {} fp32 FMAs per "
      "output on the CUDA cores, {} SMs, {} stages",
      grad == 0   ? "forward"
      : grad == 1 ? "data gradient"
                  : "weight gradient",
      three_d ? "conv_depthwise3d" : "conv_depthwise2d", taps, sms, stages);
  set_dram_bytes(k, lv.dram);
  return k;
}

}  // namespace tessera
