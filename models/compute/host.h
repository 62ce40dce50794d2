#pragma once
// The host side of eager execution: in PyTorch eager every aten op spends CPU
// time before its kernel reaches the GPU (Python binding, dispatcher,
// TensorIterator set-up or the library's plan/heuristic lookup, caching
// allocator, cudaLaunchKernel), and the CPU runs ahead of the GPU otherwise.
// Engines drive this model; the compute model says what each op costs
// (ComputeModel::host_time_s, host_queue_depth, idle_launch_s).
//
// Recurrence (kernel i = 1..N in program order, one stream; h_0 = 0):
//   l_i     = max(h_{i-1}, end_{i-Q})               the host launches kernel i
//   h_i     = l_i + host_i                          ... and is done with its op
//   begin_i = max(end_{i-1} + overhead_i, l_i + launch_i)
//   end_i   = begin_i + the kernel's stages (pipeline.h)
//   run end = max(end_N, h_N)
// host_i is the op's host time, Q the launch queue depth (the launch call blocks
// while Q launches are outstanding: end_{i-Q} = 0 for i <= Q or Q = 0), overhead_i
// the kernel's own fixed cost behind its predecessor (kernel_overhead_s) and
// launch_i that of a launch onto an idle GPU (idle_launch_s). The wait
//   host_wait_i = begin_i - (end_{i-1} + overhead_i)   (>= 0)
// is time the GPU idles for the host: reported as launch idle of the kernel.
// The host's time of an op is counted after its launch (returning through the
// dispatcher, wrapping the output, the interpreter reaching the next op): the
// run is timed from the first launch to the end event the host records after its
// last op. That is what the hot-L2 microbenchmarks show: an op alone measures
// max(host_1, launch_1 + device time) -- hot copies of 2, 8 and 32 MiB all take
// 14.3-15.1 us while the cold 2 MiB copy takes 5.5 us, and from 64 MiB on hot
// and cold copies agree (26.4 vs 28.2 us, shared/reference/h100/microbench.jsonl).
// A kernel with host_i = 0 (a CUDA-graph node) is not launched by the host: it
// starts at end_{i-1} + overhead_i, and the host's l_i = h_{i-1} only counts it
// against the queue.
// A synchronising op (KernelInfo::host_sync: `.item()` or another device-to-host
// copy of the kernel's result, as GradScaler's found_inf check and Megatron-LM's
// gradient norm do) holds the host until its kernel ends: h_i = max(h_i, end_i).
// The host then launches the next kernel onto an idle GPU, which waits
// idle_launch_s plus that op's host time for it. The copy's own latency (a few
// microseconds of PCIe round trip) is not charged.
// A kernel launched by a library's own loop inside an earlier op's host call
// (KernelInfo::lib_launch: cuDNN's RNN launches every time step's GEMM and cell
// kernel from C++ within one _cudnn_rnn call) costs only the launch call
// (the compute model's host_library_launch), not an aten op's host path.
// An op of several host calls (KernelInfo::host_calls: a Python loop of per-tensor
// aten calls made one op) costs that many times its family's host time.
#include <cstdint>
#include <deque>
#include <string_view>

#include "isa/isa.h"

namespace tessera {

// The aten op families whose host paths differ (the compute model's host_*
// parameters, one each).
enum class HostOp {
  elementwise,   // TensorIterator kernels: activations, add/mul, pooling, embedding
  reduction,     // TensorIterator reductions (sum, mean)
  norm,          // row kernels: layer/RMS/batch norm, softmax
  copy,          // copy_, contiguous, index_copy_/cat of a KV cache
  matmul,        // torch.matmul / nn.Linear: cuBLAS(Lt) heuristics, workspace
  scaled_mm,     // torch._scaled_mm (fp8 operands)
  int_mm,        // torch._int_mm (int8 operands)
  conv,          // cuDNN convolution: frontend plan cache lookup, workspace
  attention,     // scaled_dot_product_attention: backend selection, fused kernel
  other,         // optimizer steps, collectives
};
inline constexpr int k_host_ops = 10;
std::string_view host_op_name(HostOp op);
// The family of the op a kernel implements (Kernel::op_kind; a matmul by its
// mma instructions' operand format: fp8 -> scaled_mm, int8 -> int_mm).
HostOp host_op(const Kernel& k);

// The host's launch times of one stream (the recurrence above).
class HostIssue {
 public:
  explicit HostIssue(int64_t queue_depth) : m_depth(queue_depth) {}
  // l_i of the next kernel, whose op costs `host_s` of host time; kernels
  // launched earlier must have reported their ends (retire) up to kernel i - Q.
  double launch(double host_s);
  // The end of the next kernel in launch order.
  void retire(double end_s);
  // The host waits for a kernel that ended at `end_s` (a synchronising op).
  void sync(double end_s);
  // h_N: the host is done with every op launched so far.
  double done() const { return m_h; }

 private:
  int64_t m_depth = 0;
  double m_h = 0;
  int64_t m_issued = 0;
  std::deque<double> m_ends;   // ends of issued kernels, oldest first (last Q)
};

}  // namespace tessera
