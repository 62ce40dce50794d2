#include "models/numerics/presets.h"

#include <limits>

namespace tessera::numerics {

namespace {

// H100 tensor-core step shared by fp16/bf16/tf32 (fitted to reference/h100/
// precision-bits, all 256 elements of every K=1024 and K=4096 file reproduced):
// products exact; alignment to the largest ea+eb among the group and the
// accumulator keeping 25 bits below it, shifted-out bits truncated; the exact sum
// is normalised to fp32 (23 fraction bits) by truncation.
AccumulationModel h100_wide_step(int group) {
  AccumulationModel m;
  m.exact_products = true;
  m.group_size = group;
  m.alignment_bits = 25;
  m.alignment_rounding = Rounding::toward_zero;
  m.align_on_operand_exponents = true;
  m.accumulator_mant_bits = 23;
  m.accumulator_rounding = Rounding::toward_zero;
  return m;
}

// H100 FP8 tensor-core step (fitted to the fp8 precision-bits files, all 256
// elements of all 12 files reproduced): 32 products per step (one k32 WGMMA slice),
// alignment to the largest ea+eb keeping 13 bits below it with truncation, and an
// accumulator of 13 fraction bits normalised by truncation -- the "about 14 bits"
// of DeepSeek-V3 report §3.3.
AccumulationModel h100_fp8_step() {
  AccumulationModel m;
  m.exact_products = true;
  m.group_size = 32;
  m.alignment_bits = 13;
  m.alignment_rounding = Rounding::toward_zero;
  m.align_on_operand_exponents = true;
  m.accumulator_mant_bits = 13;
  m.accumulator_rounding = Rounding::toward_zero;
  m.output = DType::fp32;
  return m;
}

// cuBLAS split-K on the 256x256xK products of reference/h100, as a rule over K
// (AccumulationModel::split_k0; chunk_for). cuBLAS's kernel heuristics are not
// published: each rule is the simplest law that reproduces every split the
// measurements pin -- the bit-exact files fix the chunk at K = 1024 and 4096, the
// normwise errors of the other K (docs/numerics.md) -- and gives every other K
// the split count of the same law, so nothing is keyed on a measured K.
//   fp8, fp8 fast accumulation: one chunk up to K = 4096 (bit-exact), then
//   ceil(sqrt(K / 8192)) splits in whole 128-deep k-tiles: 2 x 8192 at 16384,
//   3 x 21888 at 65536 (the fast-accumulation records' error grows with the chunk).
void set_fp8_split_k(AccumulationModel& m) {
  m.unblocked_max_k = 4096;
  m.split_k0 = 8192;
  m.k_tile = 128;
}

std::vector<AccumulationModel> make_presets() {
  std::vector<AccumulationModel> v;

  for (DType t : {DType::fp16, DType::bf16}) {
    AccumulationModel m = h100_wide_step(16);  // k16 WGMMA slice for 16-bit inputs
    m.name = t == DType::fp16 ? "h100_fp16" : "h100_bf16";
    m.description =
        "H100 tensor cores, " + std::string(dtype_name(t)) +
        " inputs, fp32 accumulation (cuBLAS via PyTorch): 16 exact products per step, "
        "25-bit truncating alignment, RZ fp32 accumulator; split-K chunks fitted to "
        "reference/h100 (bits at K=1024/4096, normwise_rel_err_f32out at 16384/65536)";
    // Split-K rule: one chunk up to K = 1024, then ceil(sqrt(K / 1024)) splits in
    // 64-deep k-tiles (the k-depth of a 16-bit WGMMA tile): 2 x 2048 at K = 4096
    // (bit-exact), 4 x 4096 at 16384, 8 x 8192 at 65536 (f32-output normwise error).
    m.unblocked_max_k = 1024;
    m.split_k0 = 1024;
    m.k_tile = 64;
    m.output = t;
    v.push_back(m);
  }
  {
    AccumulationModel m = h100_wide_step(8);  // k8 WGMMA slice for tf32
    m.name = "h100_tf32";
    m.description =
        "H100 tensor cores, tf32 inputs, fp32 accumulation: 8 exact products per step, "
        "25-bit truncating alignment, RZ fp32 accumulator; split-K chunks fitted to "
        "reference/h100";
    // Bit-exact: chunks of 128 (8-way split) at K=1024 and of 352 (12-way, 11 k32
    // iterations each) at K=4096. From normwise_rel_err: none at K<=256, 512 at
    // K=16384 (32-way), 4096 at K=65536 (16-way). Still a fitted table: no
    // monotone law of the split count fits it (8, 12, 32, 16 splits); the law
    // ceil((K / 1.2)^0.3), which gives the two bit-exact points, is 73-95 % off the
    // measured error at K = 16384 and 36-40 % at 65536.
    constexpr int64_t k_any = std::numeric_limits<int64_t>::max();
    m.k_blocking = {{256, 0}, {1024, 128}, {4096, 352}, {16384, 512}, {k_any, 4096}};
    m.output = DType::fp32;
    v.push_back(m);
  }
  {
    AccumulationModel m = h100_fp8_step();
    m.name = "h100_fp8";
    m.description =
        "H100 FP8 tensor cores (e4m3/e5m2), cuBLAS default mode: 14-bit truncating "
        "accumulator promoted into fp32 every 128 products (CUTLASS two-level "
        "accumulation, DeepSeek-V3 §3.3); fitted to reference/h100 precision-bits";
    m.promotion_interval = k_fp8_promotion_interval;
    set_fp8_split_k(m);
    v.push_back(m);
  }
  {
    AccumulationModel m = h100_fp8_step();
    m.name = "h100_fp8_fastacc";
    m.description =
        "H100 FP8 tensor cores, cuBLAS fast-accumulation mode: the 14-bit truncating "
        "accumulator runs over the whole K chunk without promotion";
    set_fp8_split_k(m);
    v.push_back(m);
  }
  {
    AccumulationModel m;
    m.name = "h100_int8";
    m.description = "H100 int8 tensor cores: exact int32 accumulation (IMMA), int32 output";
    m.integer_exact = true;
    m.output = DType::int32;
    v.push_back(m);
  }
  {
    AccumulationModel m;
    m.name = "h100_fp32_simt";
    m.description =
        "H100 fp32 GEMM without tensor cores (CUDA-core FMA chain per split-K chunk, "
        "chunks summed in fp32); chunks fitted to reference/h100 normwise_rel_err";
    m.fp32_fma_chain = true;
    // From normwise_rel_err (no bits for fp32): K=64 unblocked, 64 at K=256/1024,
    // 256 at K=4096/16384, 1024 at K=65536. Still a fitted table: the split-K law
    // of the tensor-core paths (ceil(sqrt(K / 16)) splits) gives 128 at K = 1024,
    // which `compare` (1024 samples) puts 30 % off the measured error.
    constexpr int64_t k_any = std::numeric_limits<int64_t>::max();
    m.k_blocking = {{64, 0}, {1024, 64}, {16384, 256}, {k_any, 1024}};
    m.output = DType::fp32;
    v.push_back(m);
  }
  // Fasi, Higham, Mikaitis, Pranesh 2021 (PeerJ CS 7:e330): V100 and A100 tensor
  // cores compute products exactly, align the addends to the largest exponent with
  // truncation of the shifted-out bits, and normalise the sum to a 24-bit
  // significand with truncation (RZ). V100 fp16 adds 4 products per step; A100 adds
  // 8 for fp16/bf16 and 4 for tf32. The alignment width (no extra bits on V100,
  // 3 extra on A100) is this library's reading of the paper; no A100/V100 raw data
  // is held here to confirm it bit for bit.
  auto fasi = [](std::string name, int group, int extra_bits, DType out) {
    AccumulationModel m;
    m.name = std::move(name);
    m.exact_products = true;
    m.group_size = group;
    m.alignment_bits = 23 + extra_bits;
    m.alignment_rounding = Rounding::toward_zero;
    m.align_on_operand_exponents = false;
    m.accumulator_mant_bits = 23;
    m.accumulator_rounding = Rounding::toward_zero;
    m.output = out;
    return m;
  };
  {
    AccumulationModel m = fasi("v100_fp16", 4, 0, DType::fp32);
    m.description = "V100 tensor cores, fp16 inputs, fp32 accumulation (Fasi et al. 2021)";
    v.push_back(m);
  }
  {
    // Volta has no bf16 MMA (PTX ISA: mma with .bf16 needs sm_80). PyTorch still
    // runs a bf16 matmul on sm_70 (aten/src/ATen/cuda/CUDABlas.cpp: cublasGemmEx with
    // CUDA_R_16BF operands and CUBLAS_COMPUTE_32F), which cuBLAS computes without
    // tensor cores: operands widened to fp32 (exact), fp32 FMAs on the CUDA cores,
    // the result rounded to bf16. One FMA chain per output (no V100 data here to
    // fit a split-K blocking as h100_fp32_simt's).
    AccumulationModel m;
    m.name = "v100_bf16";
    m.description = "V100 bf16 GEMM: no bf16 tensor cores; cuBLAS's CUDA-core fp32 FMA chain on the widened "
                    "bf16 operands";
    m.fp32_fma_chain = true;
    m.output = DType::fp32;
    v.push_back(m);
  }
  {
    AccumulationModel m = fasi("a100_fp16", 8, 3, DType::fp32);
    m.description = "A100 tensor cores, fp16 inputs, fp32 accumulation (Fasi et al. 2021)";
    v.push_back(m);
  }
  {
    AccumulationModel m = fasi("a100_bf16", 8, 3, DType::fp32);
    m.description = "A100 tensor cores, bf16 inputs, fp32 accumulation (Fasi et al. 2021)";
    v.push_back(m);
  }
  {
    AccumulationModel m = fasi("a100_tf32", 4, 3, DType::fp32);
    m.description = "A100 tensor cores, tf32 inputs, fp32 accumulation (Fasi et al. 2021)";
    v.push_back(m);
  }
  {
    AccumulationModel m;
    m.name = "ideal_fp32";
    m.description = "IEEE fp32: one correctly rounded fp32 FMA per product, in order";
    m.fp32_fma_chain = true;
    m.output = DType::fp32;
    v.push_back(m);
  }
  {
    AccumulationModel m;
    m.name = "fp64_reference";
    m.description = "fp64 multiply-add chain: the reference of every error figure";
    m.fp64_reference = true;
    m.output = DType::fp64;
    v.push_back(m);
  }
  return v;
}

}  // namespace

const std::vector<AccumulationModel>& builtin_presets() {
  static const std::vector<AccumulationModel> presets = make_presets();
  return presets;
}

}  // namespace tessera::numerics
