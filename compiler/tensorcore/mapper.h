#pragma once
// The GPU mapper: turns every IR op into a kernel for a tensor-core model the way
// the vendor libraries do. One file per kernel family:
//   gemm.cpp                cuBLAS-like tile choice (plan_gemm), GEMMs and
//                           implicit-GEMM convolutions;
//   attention.cpp           FlashAttention-style fused attention, split-KV decode,
//                           SDPA's math fallback;
//   attention_select.cpp    which attention kernel (PyTorch's SDPA rules,
//                           sdpa_select.cpp) and what its attn_mask costs;
//   attention_backward.cpp  FlashAttention-2/3 backward;
//   vector.cpp              memory-bound element-wise and row kernels;
//   batchnorm.cpp           batch norm: cuDNN or PyTorch's kernels, per pass;
//   collective.cpp          collectives over a link;
//   mapper.cpp              dispatch by op kind.
#include <cstdint>

#include "compiler/mapper.h"
#include "models/tensorcore/tensorcore.h"

namespace tessera {

// GEMM problem as the mapper sees it.
struct GemmShape {
  int64_t batch = 1, m = 1, n = 1, k = 1;
  bool b_shared = false;
  DType a = DType::bf16, out = DType::bf16;
  bool fast_accum = false;   // fp8: no periodic fp32 promotion (matmul attr fast_accum)
  // Alignment in bytes of the rows of A, B and C as the library sees them
  // (ld_alignment of the leading dimension); 16 = every kernel family is usable.
  int64_t align_a = 16, align_b = 16, align_c = 16;
  // DRAM bytes of A when they are not batch x m x k elements (< 0: they are): an
  // implicit-GEMM convolution reads the activation, not its im2col matrix.
  double a_dram_bytes = -1;
  // The library may use a workspace (split-K needs one for its partial sums, or at
  // least for the counters of an in-place reduction). torch._int_mm passes none.
  bool workspace = true;
  // Seconds the device idles after the kernel in a host-timed loop (graph info
  // loop_idle_s): the power bound holds for the loop's average (clock.h).
  double loop_idle_s = 0;
};

// Largest power of two, at most 16, that divides a row of `elems` elements of
// format `t` in bytes (1 where the row is not a whole number of bytes). The
// libraries pick their kernels by it: Hopper's TMA needs row strides that are
// multiples of 16 bytes (CUDA driver API, cuTensorMapEncodeTiled: "globalStrides
// ... must be a multiple of 16"), and the kernels without TMA load each operand
// with vector loads as wide as the alignment allows (CUTLASS kernels are
// instantiated per alignment: align8/4/2/1 elements for 16-bit types; cuBLAS
// guide, "Tensor Core Usage": best performance when m, n, k and the leading
// dimensions are multiples of 16 bytes).
int64_t ld_alignment(int64_t elems, DType t);

// The mapper's choice for one GEMM.
struct GemmPlan {
  int64_t bm = 128, bn = 128, bk = 64;
  int64_t ctas_per_sm = 1;     // thread blocks resident per SM (occupancy)
  int64_t split_k = 1;
  int64_t tiles = 0;           // thread blocks: batch * ceil(m/bm) * ceil(n/bn) * split_k
  int64_t waves = 0;           // ceil(tiles / (sm_count * ctas_per_sm))
  int64_t k_steps = 0;         // ceil((k / split_k) / bk) per thread block
  int64_t load_align = 16;     // bytes per thread load of A and B (< 16: kernel without TMA)
  bool sync_kernel = false;    // mma.sync code (MmaPath::gemm_sync) instead of the TMA/wgmma family
  bool sm75_kernel = false;    // of those, the Turing generation's (MmaPath::gemm_sm75: m16n8k8)
  double est_time_s = 0;       // the estimate the choice minimised
};

// A collective op on a system description (models/interconnect/system.h): the
// interconnect model's plan as blocks (collective.cpp). Target-independent: the
// systolic mapper lowers collectives with it too.
Kernel lower_system_collective(const Op& op, const Hardware& hw);

// groups == cin > 1 and cout a multiple of cin (ConvParams::is_depthwise).
bool is_depthwise_conv(const Op& op);

class TensorCoreMapper : public Mapper {
 public:
  explicit TensorCoreMapper(const TensorCoreModel& tc) : m_tc(tc), m_s(tc.spec()) {}

  Kernel lower(const Graph& g, int index, const Hardware& hw) const override;
  // The tile, split-K and occupancy choice for one GEMM (public for tests and tools).
  GemmPlan plan_gemm(const GemmShape& s, const Hardware& hw) const;

 private:
  Kernel lower_gemm(const Op& op, const GemmShape& s, double a_dram_bytes, const Hardware& hw) const;
  Kernel lower_attention(const Op& op, const Hardware& hw) const;
  Kernel lower_decode_attention(const Op& op, const Hardware& hw) const;
  // PyTorch's math fallback of SDPA (no fused backend takes the op).
  Kernel lower_attention_math(const Op& op, const Hardware& hw, const std::string& why) const;
  // attr backward=1: FlashAttention-2's backward (attention_backward.cpp).
  Kernel lower_attention_backward(const Op& op, const Hardware& hw) const;
  Kernel lower_vector(const Op& op, const Hardware& hw) const;
  // Batch norm (eval, training, backward and its weight-gradient reduction) as
  // PyTorch dispatches it to cuDNN or its own kernels (batchnorm.cpp).
  Kernel lower_batchnorm(const Op& op, const Graph& g, const Hardware& hw) const;
  // Depthwise convolutions: PyTorch's conv_depthwise2d / cuDNN, memory-bound (conv_depthwise.cpp).
  Kernel lower_depthwise_conv(const Op& op, const Hardware& hw) const;
  Kernel lower_collective(const Op& op, const Hardware& hw) const;
  // A matmul with attr rnn=3: cuDNN's persistent small-hidden RNN kernel over a
  // layer's whole recurrence (rnn_persistent.cpp).
  Kernel lower_rnn_persistent(const Op& op, const Hardware& hw) const;

  const TensorCoreModel& m_tc;
  const TensorCoreSpec& m_s;
};

}  // namespace tessera
