#pragma once
// Compute impl "tensorcore": a GPU's streaming multiprocessors (SMs) with tensor
// cores, as seen by one kernel at a time. It is also the GPU mapper: lower() turns
// every IR op into a kernel the way the vendor libraries do (cuBLAS-like tile
// choice, implicit-GEMM convolution, FlashAttention-style fused attention,
// memory-bound vector kernels, collectives over a link).
//
// Timing of one mma instruction (tile m x n x k, `count` thread blocks):
//   cycles_tile = max(2mnk / (rate_fmt * eff), (m + n) * k * bytes / smem_bytes_per_clock)
//   time        = ceil(count / sm_count) * cycles_tile / clock
// i.e. thread blocks beyond one per SM wait for the SM (wave quantization), the
// tensor pipe sustains `eff` of its dense rate (fitted per format family), and a
// tile too thin to amortise its shared-memory operand reads is bound by them.
// vec instructions run on the SFUs (exp and other transcendental ops) or on the
// fp32 lanes (everything else). Row kernels (softmax, layernorm, rmsnorm) also
// carry the latency chain of their rows on the compute side: `wait elems=N` is N
// dependent memory round trips per SM that the SM's resident rows wait on together
// (row_round_trip each, plus attr row_reductions_per_trip block-wide reductions of
// row_reduction each); the pipeline takes the larger of that chain and the memory
// transfer time per stage.
//
// Clock: the SMs run at max_clock unless the kernel's average power
// (static + dynamic energy / time) would exceed the board's power limit; then the
// clock is lowered until it does not (begin_kernel). Time and energy follow it.
#include <array>
#include <cstdint>
#include <string>

#include "models/compute/compute.h"
#include "core/registry.h"

namespace tessera {

// Tensor-core (or CUDA-core) pipe that executes a format.
enum class MmaPipe { fp16, tf32, fp8, int8, fp4, fp32, fp64 };
inline constexpr int k_mma_pipes = 7;
MmaPipe mma_pipe(DType a);
std::string_view mma_pipe_name(MmaPipe p);

// How a kernel's mma instructions are issued (kernel attr "mma_path").
enum class MmaPath { gemm = 0, flash2 = 1, flash3 = 2, efficient = 3, flash2_backward = 4, flash3_backward = 5 };

// FlashAttention-2's backward kernel issues its MMAs at the compute parameter
// attention_backward_rate_flash2 times the forward's rate (attention_efficiency_flash2):
// more accumulators in registers, five products per block pair with transposed
// operands, dQ atomics. The recomputed softmax, the atomics' traffic and the extra
// launches are modelled explicitly (models/tensorcore/attention_backward.cpp).

// GEMM problem as the mapper sees it.
struct GemmShape {
  int64_t batch = 1, m = 1, n = 1, k = 1;
  bool b_shared = false;
  DType a = DType::bf16, out = DType::bf16;
  bool fast_accum = false;   // fp8: no periodic fp32 promotion (matmul attr fast_accum)
};

// The mapper's choice for one GEMM.
struct GemmPlan {
  int64_t bm = 128, bn = 128, bk = 64;
  int64_t ctas_per_sm = 1;     // thread blocks resident per SM (occupancy)
  int64_t split_k = 1;
  int64_t tiles = 0;           // thread blocks: batch * ceil(m/bm) * ceil(n/bn) * split_k
  int64_t waves = 0;           // ceil(tiles / (sm_count * ctas_per_sm))
  int64_t k_steps = 0;         // ceil((k / split_k) / bk) per thread block
  double est_time_s = 0;       // the estimate the choice minimised
};

class TensorCoreModel : public ComputeModel {
 public:
  void bind(const Hardware& hw) override;
  Kernel lower(const Graph& g, int index, const Hardware& hw) const override;
  KernelContext begin_kernel(const Kernel& k, const Hardware& hw) const override;
  double instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double instr_energy_j(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double kernel_overhead_s(const Kernel& k, const KernelContext& c) const override;
  double launch_idle_s(const Kernel& k, const KernelContext& c) const override;
  double peak_flops(DType t) const override;
  double nominal_clock_hz() const override;
  // min(1, thread blocks / SMs); see tensorcore.cpp.
  double compute_share(const Kernel& k) const override;

  // Mapper pieces, public for tests and tools.
  GemmPlan plan_gemm(const GemmShape& s, const Hardware& hw) const;
  // Dense FLOP per clock per SM of the pipe that runs `a` (falls back to the next
  // wider format the SM supports when it lacks one, e.g. fp4 on Hopper runs as fp8).
  double flops_per_clock(DType a) const;
  double mma_efficiency(DType a, MmaPath path) const;
  // Share of the tensor rate a format's GEMM kernels can issue at: sync_mma_fraction
  // for int8 (the libraries' int8 kernels are mma.sync code), 1 otherwise.
  double gemm_issue_fraction(DType a) const;
  // Clock the power limit allows for `k` (the bisection of begin_kernel).
  double capped_clock_hz(const Kernel& k, const Hardware& hw) const;
  int64_t sm_count() const { return m_sm; }

 private:
  Kernel lower_gemm(const Op& op, const GemmShape& s, double a_dram_bytes, const Hardware& hw) const;
  Kernel lower_attention(const Op& op, const Hardware& hw) const;
  Kernel lower_decode_attention(const Op& op, const Hardware& hw) const;
  // attr backward=1: FlashAttention-2's backward (attention_backward.cpp).
  Kernel lower_attention_backward(const Op& op, const Hardware& hw) const;
  Kernel lower_vector(const Op& op, const Hardware& hw) const;
  Kernel lower_collective(const Op& op) const;
  double mma_cycles(const Instr& in, const Kernel& k) const;

  int64_t m_sm = 1;
  double m_max_clock = 1, m_min_clock = 1;
  std::array<double, k_mma_pipes> m_rate{}, m_eff{}, m_energy{};
  double m_sfu = 16, m_alu = 128, m_smem = 0, m_smem_bpc = 128, m_regs = 0;
  int64_t m_multicast = 1;
  double m_kernel_gap = 0, m_kernel_fixed = 0;
  double m_bwd_fa2 = 1;   // attention_backward_rate_flash2
  double m_bwd_fa3 = 1;   // attention_backward_rate_flash3
  double m_launch = 0, m_eff_fa2 = 1, m_fa3_exposed = 1, m_eff_mem = 1, m_sync = 1;
  double m_link_bw = 0, m_link_latency = 0, m_row_trip = 0, m_row_sync = 0, m_max_threads = 2048;
  double m_wave_startup = 0;
  double m_in_flight = 0;
  std::string m_default_attention;
  double m_static_w = 0, m_limit_w = 0;
};

void register_tensorcore(Registry& r);

}  // namespace tessera
