#pragma once
// Which kernel torch.nn.functional.scaled_dot_product_attention runs on a CUDA
// GPU: PyTorch's runtime dispatch (select_sdp_backend in
// aten/src/ATen/native/transformers/cuda/sdp_utils.cpp, the shared filters in
// aten/src/ATen/native/transformers/sdp_utils_cpp.h), as rules over the op and
// the GPU. The backends are tried in priority order and the first whose filters
// all pass runs:
//   order    cuDNN, flash, efficient, math  when cuDNN is preferred
//            (check_prefer_cudnn_attention: runtime cuDNN > 9.15.0 and compute
//            capability 9.x or 10.x, CUDA 13 builds), else flash, efficient,
//            math, cuDNN (math is always enabled, so cuDNN then never runs)
//   cuDNN    sm80..sm121; fp16/bf16; attn_mask (bool or float) of a broadcastable
//            shape; batch and heads <= 65535; head dim a multiple of 8 and
//            <= 128 (<= 256 from cuDNN 9.22 on sm90/sm10x; 192/128 from 9.11);
//            key length != 1; last dims contiguous (q, k, v and the attn_mask);
//            no dropout_p > 0 with runtime cuDNN 9.11..9.13 (can_use_cudnn_attention:
//            "cuDNN version does not support droppout in SDPA (9.11 - 9.13)"; such
//            a cuDNN is not preferred, so flash or efficient runs first anyway)
//   flash    (FlashAttention-2 as PyTorch bundles it) sm80..sm121; fp16/bf16;
//            no attn_mask at all
//            (check_for_attn_mask); head dim <= 256; is_causal only with
//            sq == skv (check_flash_causal_non_square_seqlens); on sm86-sm89 and
//            sm120-121, training with head dim in (192, 224] refused
//   efficient (xFormers' CUTLASS kernel) sm50..sm121; fp16/fp32/bf16 (bf16 from
//            sm80); takes an attn_mask; head dim a multiple of
//            minimum_gemm_alignment (sm80+: 8 for fp16/bf16, 4 for fp32; sm70:
//            8 for fp16, 1 for fp32; older: 1); last dims contiguous (q, k, v
//            and the attn_mask); as many key/value heads as query heads
//            (check_batch_size_and_num_heads_dense<false>: no enable_gqa, which
//            flash and cuDNN take)
//   Every fused backend runs check_last_dim_stride_equals_1_dense
//   (sdp_utils_cpp.h) on CUDA inputs: q, k, v and the attn_mask must each have
//   stride(-1) == 1 ("GPU backends require attn_mask's last dimension to have
//   stride 1 while the CPU does not"). A mask made by permuting a projection's
//   output (AlphaFold's pair bias: linear(z).permute(2, 0, 1) has stride(-1) =
//   heads) therefore sends the call to the math path.
//   math     everything else: at::_scaled_dot_product_attention_math, kernel by
//            kernel (fp32 upcast of fp16/bf16, see workloads/builder.h)
// Dropout (dropout_p > 0) is taken by flash, efficient and math (each draws it
// with Philox; compiler/tensorcore/kernel_build.h) and by cuDNN outside 9.11..9.13.
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace tessera {

enum class SdpaBackend { cudnn, flash, efficient, math };
std::string_view sdpa_backend_name(SdpaBackend b);

// The attn_mask passed to SDPA (is_causal is separate).
enum class SdpaMask { none, boolean, additive };

struct SdpaQuery {
  DType dtype = DType::bf16;
  int64_t batch = 1, heads = 1, kv_heads = 1, sq = 1, skv = 1, d = 64;
  bool causal = false;
  SdpaMask mask = SdpaMask::none;
  bool strided = false;        // a q/k/v last dimension that is not contiguous
  bool mask_strided = false;   // the attn_mask's last dimension is not contiguous (stride != 1)
  bool requires_grad = false;  // inputs require grad (a training step)
  bool dropout = false;        // dropout_p > 0
};

struct SdpaDevice {
  int compute_capability = 90;   // major * 10 + minor (H100: 90)
  int64_t cudnn_version = 91900; // runtime cuDNN as cudnnGetVersion() reports it (9.19.0)
};

struct SdpaChoice {
  SdpaBackend backend = SdpaBackend::math;
  std::string why;   // why the backends before it were passed over ("" when the first fits)
};

// The backend PyTorch runs for `q` on `dev`.
SdpaChoice select_sdpa_backend(const SdpaQuery& q, const SdpaDevice& dev);

}  // namespace tessera
