#pragma once
// Compute impl "tensorcore": a GPU's streaming multiprocessors (SMs) with tensor
// cores, as seen by one kernel at a time: the timing and energy of its
// instructions. Its mapper (compiler/tensorcore/) turns every IR op into a kernel
// the way the vendor libraries do; parameters are declared in params.cpp and the
// power-capped clock search lives in clock.h.
//
// Timing of one mma instruction (tile m x n x k, `count` thread blocks):
//   cycles_tile = max(2mnk / (rate_fmt * eff), (m + n) * k * bytes / smem_bytes_per_clock,
//                     (m + n) * k * bytes / (lsu_lanes * a) * (a < 4 ? 2 : 1))
//   time        = ceil(count / sm_count) * cycles_tile / clock
// i.e. thread blocks beyond one per SM wait for the SM (wave quantization), the
// tensor pipe sustains `eff` of its dense rate (fitted per format family), and a
// tile too thin to amortise its shared-memory operand reads is bound by them. The
// third term applies to GEMM kernels whose operands are loaded by the threads
// themselves `a` = KernelInfo::load_align bytes at a time (a < 16: no TMA): each
// load is one lane of the SM's load/store units, and below cp.async's 4-byte
// minimum every element also needs a shared-memory store.
// vec instructions run on the SFUs (exp and other transcendental ops) or on the
// fp32 lanes (everything else). Row kernels (softmax, layernorm, rmsnorm) also
// carry the latency chain of their rows on the compute side: `wait elems=N` is N
// dependent memory round trips per SM that the SM's resident rows wait on together
// (row_round_trip each, plus KernelInfo::row_reductions_per_trip block-wide reductions of
// row_reduction each); the pipeline takes the larger of that chain and the memory
// transfer time per stage.
//
// Clock: the SMs run at max_clock unless the kernel's average power
// (static + dynamic energy / time) would exceed the board's power limit; then the
// clock is lowered until it does not (begin_kernel, PowerCappedClock). Time and
// energy follow it.
#include <array>
#include <cstdint>
#include <string>

#include "models/compute/compute.h"
#include "models/compute/host.h"
#include "models/tensorcore/clock.h"
#include "core/registry.h"

namespace tessera {

// Tensor-core (or CUDA-core) pipe that executes a format.
enum class MmaPipe { fp16, tf32, fp8, int8, fp4, fp32, fp64 };
inline constexpr int k_mma_pipes = 7;
MmaPipe mma_pipe(DType a);
std::string_view mma_pipe_name(MmaPipe p);

// How a kernel's mma instructions are issued (KernelInfo::mma_path).
// gemm_sync: a GEMM kernel of the pre-Hopper generation (cp.async or plain loads
// feeding mma.sync), what the libraries run when an operand's leading dimension
// rules out TMA (compiler/tensorcore/gemm.cpp, plan_gemm). gemm_sm75: the Turing
// generation's kernel, for 16-bit operands aligned below cp.async's 4-byte minimum:
// plain loads staged through registers and mma.sync m16n8k8 (half the K, so half the
// multiply-adds, of the m16n8k16 the Ampere-generation kernels issue).
enum class MmaPath {
  gemm = 0,
  flash2 = 1,
  flash3 = 2,
  efficient = 3,
  flash2_backward = 4,
  flash3_backward = 5,
  gemm_sync = 6,
  gemm_sm75 = 7
};

// FlashAttention-2's backward kernel issues its MMAs at the compute parameter
// attention_backward_rate_flash2 times the forward's rate (attention_efficiency_flash2):
// more accumulators in registers, five products per block pair with transposed
// operands, dQ atomics. The recomputed softmax, the atomics' traffic and the extra
// launches are modelled explicitly (compiler/tensorcore/attention_backward.cpp).

// The bound parameters of a tensor-core model (see params.cpp for each one's
// meaning and source), read by the model's timing and by the mapper's choices.
struct TensorCoreSpec {
  int64_t sm = 1;                       // sm_count
  double max_clock = 1, min_clock = 1;  // Hz
  // Per MmaPipe: dense FLOP per clock per SM, fitted efficiency, energy per FLOP.
  std::array<double, k_mma_pipes> rate{}, eff{}, energy{};
  double sfu = 16, alu = 128;           // SFU results and fp32 lanes per clock per SM
  double lsu = 32;                      // load/store lanes per SM (lsu_lanes)
  double smem = 0, smem_bpc = 128;      // shared memory per SM (bytes), bytes per clock
  double regs = 0;                      // register file per SM (bytes)
  int64_t multicast = 1;                // tma_multicast
  double kernel_gap = 0, kernel_fixed = 0;
  bool host_graph = false;              // host_mode graph
  int64_t host_queue = 0;               // host_queue_depth
  std::array<double, k_host_ops> host{};   // host_<family> per HostOp (seconds)
  double bwd_fa2 = 1;                   // attention_backward_rate_flash2
  double bwd_fa3 = 1;                   // attention_backward_rate_flash3
  double launch = 0, eff_fa2 = 1, fa3_exposed = 1, eff_mem = 1, sync = 1;
  double sync_k8 = 1;  // sync_mma_k8_fraction
  double link_bw = 0, link_latency = 0, row_trip = 0, row_sync = 0, max_threads = 2048;
  double wave_startup = 0;
  double in_flight = 0;                 // bytes_in_flight
  bool tf32_matmul = false;             // matmul_allow_tf32
  bool tf32_conv = true;                // cudnn_allow_tf32
  double host_lib_launch = 0;           // host_library_launch (s)
  bool bf16_tensor = true;              // bf16_tensor_cores
  std::string default_attention;
  int compute_capability = 90;          // major*10+minor (SDPA backend rules)
  int64_t cudnn_version = 91900;
  double static_w = 0, limit_w = 0;     // board static power and power limit (W)
};

// vec operations that run on the special-function units (one per element); the
// rest run on the fp32 lanes.
bool is_sfu_op(const std::string& name);

class TensorCoreModel : public ComputeModel {
 public:
  void bind(const Hardware& hw) override;
  KernelContext begin_kernel(const Kernel& k, const Hardware& hw) const override;
  double instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double instr_energy_j(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double kernel_overhead_s(const Kernel& k, const KernelContext& c) const override;
  double launch_idle_s(const Kernel& k, const KernelContext& c) const override;
  // host_<family> of the kernel's op (models/compute/host.h); 0 with host_mode
  // graph or KernelInfo::host_hidden.
  double host_time_s(const Kernel& k) const override;
  int64_t host_queue_depth() const override { return m_s.host_queue; }
  double idle_launch_s(const Kernel& k, const KernelContext& c) const override;
  double peak_flops(DType t) const override;
  double nominal_clock_hz() const override;
  // The die's area as the datasheet states it (die_area; 0 = not stated).
  double area_mm2() const override { return params().real("die_area"); }
  // min(1, thread blocks / SMs); see tensorcore.cpp.
  double compute_share(const Kernel& k) const override;
  // PyTorch's TF32 switches: an fp32 convolution (cudnn_allow_tf32) or matmul
  // (matmul_allow_tf32) multiplies in tf32; every other op in its own format.
  DType operand_dtype(const Op& op) const override;

  // Questions the mapper asks (compiler/tensorcore/).
  // The pipe that runs `a` on this GPU: mma_pipe(a), except bf16 on a GPU whose
  // tensor cores take no bf16 (bf16_tensor_cores false, Volta): the CUDA cores in fp32.
  MmaPipe pipe(DType a) const;
  // Whether that pipe is a tensor-core one (the fp32 and fp64 pipes are the CUDA
  // cores, which have no mma instruction and no mma.sync fallback).
  bool tensor_pipe(DType a) const { return pipe(a) != MmaPipe::fp32 && pipe(a) != MmaPipe::fp64; }
  // Dense FLOP per clock per SM of the pipe that runs `a` (falls back to the next
  // wider format the SM supports when it lacks one, e.g. fp4 on Hopper runs as fp8).
  double flops_per_clock(DType a) const;
  double mma_efficiency(DType a, MmaPath path) const;
  // Share of the tensor rate a format's GEMM kernels can issue at: sync_mma_fraction
  // for int8 (the libraries' int8 kernels are mma.sync code), 1 otherwise.
  double gemm_issue_fraction(DType a) const;
  // Clock the power limit allows for `k` (the bisection of begin_kernel).
  double capped_clock_hz(const Kernel& k, const Hardware& hw) const;
  int64_t sm_count() const { return m_s.sm; }
  const TensorCoreSpec& spec() const { return m_s; }

 private:
  double mma_cycles(const Instr& in, const Kernel& k) const;
  // Start-up of each launch after the first of a multi-kernel op: the whole launch
  // in eager execution, the queued gap in a CUDA-graph replay (host_mode graph or
  // KernelInfo::graph).
  double extra_launch_s(const Kernel& k) const;

  TensorCoreSpec m_s;
  PowerCappedClock m_clock;
};

// Shared-memory bytes an mma.sync GEMM kernel (MmaPath::gemm_sync) reads per
// k-step of a bm x bn x bk tile. The thread block's tile is split over a grid of
// warps, 2 x 2 up to 128 x 128 and 4 x 2 (2 x 4) for 256 x 128 (128 x 256): the
// default warp tiles of CUTLASS 2.x's sm80 tensor-op GEMMs (64 x 64, 32 x 32 for
// 64-wide tiles). Each warp loads its own A rows and B columns with ldmatrix, so
// A is read once per warp column and B once per warp row: (bm wn + bn wm) bk
// elements, against (bm + bn) bk for wgmma, whose warpgroups read the operands
// from shared memory once.
inline double sync_smem_bytes(int64_t bm, int64_t bn, int64_t bk, double elem_bytes) {
  const double wm = bm >= 256 ? 4.0 : 2.0, wn = bn >= 256 ? 4.0 : 2.0;
  return (static_cast<double>(bm) * wn + static_cast<double>(bn) * wm) * static_cast<double>(bk) * elem_bytes;
}

// Declares the "tensorcore" compute impl and its parameters (params.cpp).
void register_tensorcore(Registry& r);

}  // namespace tessera
