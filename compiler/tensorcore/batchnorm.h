#pragma once
// Batch normalisation as PyTorch runs it on a CUDA GPU: which implementation
// (cuDNN or PyTorch's own kernels) and which kernels each pass launches, with what
// they read and write. The choices follow PyTorch's source:
//   aten/src/ATen/native/Normalization.cpp   _select_batch_norm_backend (called by
//       _batch_norm_impl_index, which nn.BatchNorm2d reaches through F.batch_norm)
//   aten/src/ATen/native/cudnn/BatchNorm.cpp getCudnnBatchNormMode, cudnn_batch_norm
//   aten/src/ATen/native/cuda/Normalization.cu(h)  batch_norm_cuda_out,
//       batch_norm_mean_var, batch_norm_elementwise, batch_norm_backward_cuda
// The plan is pure arithmetic over the op's shape (tested exactly); the tensor-core
// mapper turns it into a kernel (batchnorm.cpp, TensorCoreMapper::lower_batchnorm).
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "workloads/ir.h"

namespace tessera {

enum class BnBackend { cudnn, native };

// What _select_batch_norm_backend looks at.
struct BnInputs {
  DType input = DType::fp32;    // the activation's format
  DType weight = DType::fp32;   // gamma/beta and the running statistics (fp32 under autocast)
  bool training = false;        // batch statistics (model.train())
  int64_t n = 1;                // input.size(0)
  double numel = 0;             // input.numel()
  bool channels_last = true;    // memory_format=torch.channels_last (NHWC)
};

struct BnDispatch {
  BnBackend backend = BnBackend::native;
  std::string reason;   // the condition that decided, in PyTorch's terms
};

// _select_batch_norm_backend (Normalization.cpp): cuDNN when the input is neither
// bf16 nor (fp16 with non-fp32 weights), N <= 880801 in training or <= 65535 in
// eval, and numel < 2^31 - 1 (cuDNN's 32-bit indexing); otherwise PyTorch's own CUDA
// kernels (native_batch_norm). Always defined inputs (nn.BatchNorm2d: affine,
// running statistics), eps = 1e-5 >= CUDNN_BN_MIN_EPSILON, cuDNN enabled.
BnDispatch batchnorm_backend(const BnInputs& in);

// One kernel launch of a batch-norm pass.
struct BnLaunch {
  std::string kernel;        // the CUDA kernel (PyTorch's name) or the cuDNN call
  double dram_read = 0;      // bytes read from DRAM
  double l2_read = 0;        // bytes read again from the L2 (a second pass over a resident input)
  double written = 0;        // bytes written
  double elems = 0;          // elements the lanes process
  double lanes = 0;          // fp32-lane operations per element
  double sfu = 0;            // SFU operations (reciprocals) per element
  int64_t blocks = 0;        // thread blocks that carry the work (the SMs it can use)
  bool grid_reduction = false;   // a reduction across thread blocks through global memory
};

struct BnPlan {
  BnDispatch dispatch;
  std::string entry;          // the ATen operator: cudnn_batch_norm, native_batch_norm, ...
  std::string mode;           // cuDNN mode (CUDNN_BATCHNORM_SPATIAL[_PERSISTENT]) or native impl
  std::vector<BnLaunch> launches;
  // Load bytes one thread keeps in flight (0: the streaming kernels' default). The
  // channels-last kernels load one element per thread and access (a warp covers 32
  // consecutive channels) with ELEMENTS_PER_ITER = 4 loads in flight per thread
  // (Normalization.cuh: "enables concurrency within each thread to hide latency").
  double thread_load_bytes = 0;
};

// Kernels of a batchnorm op (eval, training=1 or backward=1), or of the `reduce`
// op a training step emits for a batch-norm's weight and bias gradients (attr
// batchnorm=1: batch_norm_backward_reduce). `l2_bytes`: the L2 capacity (a second
// pass over an input that fits in half of it reads it from the L2); `sm_count` and
// `onchip_bytes` (registers and shared memory of all SMs: what a persistent kernel
// can keep) size the launches.
BnPlan plan_batchnorm(const Op& op, const BnInputs& in, double l2_bytes, int64_t sm_count, double onchip_bytes);

// The BnInputs of an op: its dtype, attrs n and channels_last (both optional:
// n = 1, channels_last = 1, the NHWC layout the convolution kernels are modelled
// in), `weight` the format of its parameters.
BnInputs batchnorm_inputs(const Op& op, DType weight);

}  // namespace tessera
