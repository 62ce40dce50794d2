#pragma once
// The library kernels behind a measurement, read from the kernel names a profiler
// reports (scripts/measure_gpu.py's `kernels` field: every kernel one call
// launches), set beside the kernel the model chose for the same record. A timing
// gap then shows whether the model picked the wrong kind of kernel (its
// generation, tile, split of K) or timed the right one wrongly.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isa/isa.h"
#include "sim/engines/result.h"
#include "workloads/ir.h"

namespace tessera {

class Hardware;

// One GEMM-library kernel (cuBLAS, cuBLASLt, CUTLASS, cuDNN's implicit GEMMs):
//   family "sm90"  Hopper code, TMA loads feeding wgmma (cuBLAS's nvjet_* and
//                  sm90_xmma_* kernels, CUTLASS 3's cutlass3x_sm90_*, cuDNN's
//                  sm90_xmma_fprop_*), "sm100" likewise for Blackwell;
//          "sm80"  Ampere code: cp.async loads, mma.sync m16n8k16 (sm80_xmma_*,
//                  sm86_xmma_*, cutlass_80_*, ampere_*_s16816gemm_*);
//          "sm75"  Turing code: loads through registers, mma.sync m16n8k8
//                  (cutlass_75_*, turing_*);
//          "simt"  CUDA-core GEMMs (ampere_sgemm_*, volta_sgemm_*, cutlass_*_simt_*,
//                  fp32-math xmma kernels);
//          "gemv"  cuBLAS's matrix-vector kernels (gemv2T_kernel_val, gemvx);
//          "splitk_reduce"  cuBLASLt's separate reduction of split-K partial sums;
//          "layout"  a tensor layout conversion around a convolution (cuDNN's
//                  nchwToNhwc / nhwcToNchw kernels).
struct LibraryKernel {
  std::string family;
  int64_t tile_m = 0, tile_n = 0;  // the CTA tile, 0 where the name has none
  bool split_k = false;            // the name says it splits K (splitK, segment_k_on)
  int64_t align = 0;               // elements per operand load (alignN), 0 where not named
};

// The kernel a profiler name stands for, or nullopt for a kernel of no GEMM
// library (PyTorch's elementwise kernels, reductions, fills).
std::optional<LibraryKernel> parse_library_kernel(std::string_view name);

// The GEMM library's part of one call's kernels: the main kernel (the first name
// of a GEMM family) and the launches beside it.
struct KernelDigest {
  std::optional<LibraryKernel> main;
  int64_t reduce = 0;  // split-K reductions
  int64_t layout = 0;  // layout conversions
  int64_t other = 0;   // kernels of no GEMM library
};
KernelDigest digest_kernels(const std::vector<std::string>& names);

// The same description for the model's kernel of `op`: its MmaPath
// (KernelInfo::mma_path) on this hardware, the pipe of the operand format the op
// runs in (TF32 for an fp32 convolution where PyTorch's switch allows it), its
// tile and split. An empty family on hardware that is not a GPU.
LibraryKernel model_library_kernel(const Kernel& k, const Op& op, const Hardware& hw);

// "sm75 128x128 align1", "sm90 128x256 split-K", ...
std::string describe(const LibraryKernel& k);

// Where a whole model's kernel time goes, in classes both a profiler's kernel
// names and the model's op kinds fall into:
//   "gemm/conv"     GEMM-library kernels (parse_library_kernel), the model's
//                   matmul and conv2d ops;
//   "attention"     fused attention kernels (flash, fmha, cuDNN's SDPA);
//   "norm/softmax"  row kernels: layer, RMS and batch norm, softmax;
//   "elementwise"   PyTorch's elementwise, copy, index, cat and pooling kernels
//                   (with the library's split-K reductions and layout
//                   conversions, which the model counts inside its GEMM ops);
//   "other"         everything else (reductions, optimizer steps, collectives).
std::string kernel_time_class(std::string_view kernel_name);
std::string op_time_class(std::string_view op_kind);

// compare's fields for one record. add_library_kernels: the record's library
// kernels (field `kernels`, the names one call launches) beside the kernel the
// model chose for the graph's one op, as kernel_measured / kernel_predicted (with
// the split-K reductions and layout conversions the call launched, and the
// model's further launches) and kernel_family_match (the same generation of
// library code); nothing without the field or on a non-GPU; a malformed field is
// an InputError naming the record and entry. time_by_class: a whole-model
// record's validated `kernel_us` rows summed per class beside the model's ops,
// {class: {measured_us, predicted_us}}.
void add_library_kernels(const nlohmann::json& r, const Graph& g, const Hardware& hw, nlohmann::json& extra);
nlohmann::json time_by_class(const nlohmann::json& kernel_us, const RunResult& res);

}  // namespace tessera
