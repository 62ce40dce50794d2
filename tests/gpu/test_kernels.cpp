// Library kernel choices of the GPU mapper: alignment-driven GEMM kernel family,
// PyTorch's TF32 switches.
#include <catch2/catch.hpp>

#include "compiler/compile.h"
#include "compiler/tensorcore/mapper.h"
#include "models/hardware.h"
#include "models/tensorcore/tensorcore.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

const TensorCoreModel& tc_of(const Hardware& hw) { return dynamic_cast<const TensorCoreModel&>(hw.compute()); }

Kernel first_kernel(const std::string& workload, const Hardware& hw) {
  return compile(build_workload(workload), hw).kernels.at(0);
}

}  // namespace

TEST_CASE("leading-dimension alignment is the largest power of two up to 16 dividing a row in bytes",
          "[gpu][gemm][align]") {
  CHECK(ld_alignment(4096, DType::bf16) == 16);   // 8192 B
  CHECK(ld_alignment(4097, DType::bf16) == 2);    // 8194 B = 2 x 4097
  CHECK(ld_alignment(1000, DType::bf16) == 16);   // 2000 B = 16 x 125
  CHECK(ld_alignment(4097, DType::fp32) == 4);    // 16388 B = 4 x 4097
  CHECK(ld_alignment(7000, DType::int8) == 8);    // 7000 B = 8 x 875
  CHECK(ld_alignment(1000, DType::int8) == 8);
  CHECK(ld_alignment(3, DType::bf16) == 2);       // 6 B
  CHECK(ld_alignment(3, DType::fp4_e2m1) == 1);   // 1.5 B: not whole bytes
  CHECK(ld_alignment(12, DType::fp16) == 8);      // 24 B
}

TEST_CASE("a GEMM whose rows are not multiples of 16 bytes runs a kernel without TMA", "[gpu][gemm][align]") {
  const auto hw = load_hardware("h100-sxm", {});
  // N = 4097 bf16: B and C rows are 8194 B, 2-byte aligned.
  // Below cp.async's 4 bytes the Turing-generation kernel runs (mma.sync m16n8k8).
  const Kernel odd = first_kernel("gemm:m=4095,n=4097,k=4096,dtype=bf16", *hw);
  CHECK(odd.info.load_align.value_or(16) == 2);
  CHECK(odd.info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::gemm_sm75));
  CHECK(odd.mapping.find("align2 sm75 mma.sync m16n8k8 kernel") != std::string::npos);
  // fp32 data on TF32 with N odd: 4-byte rows take cp.async, an Ampere-generation kernel.
  const auto tf32 = load_hardware("h100-sxm", {"compute.matmul_allow_tf32=true"});
  const Kernel odd32 = first_kernel("gemm:m=4095,n=4097,k=4096,dtype=fp32", *tf32);
  CHECK(odd32.info.load_align.value_or(16) == 4);
  CHECK(odd32.info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::gemm_sync));
  CHECK(odd32.mapping.find("align4 mma.sync kernel") != std::string::npos);
  const Kernel even = first_kernel("gemm:m=4096,n=4096,k=4096,dtype=bf16", *hw);
  CHECK_FALSE(even.info.load_align.has_value());
  CHECK(even.info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::gemm));
  // K = 4097 misaligns A only: the kernel takes the smaller alignment.
  CHECK(first_kernel("gemm:m=4096,n=4096,k=4097,dtype=bf16", *hw).info.load_align.value_or(16) == 2);
  // M does not enter any leading dimension of row-major A, B, C.
  CHECK_FALSE(first_kernel("gemm:m=4095,n=4096,k=4096,dtype=bf16", *hw).info.load_align.has_value());
  // The fallback is slower: m16n8k8 at a quarter of the wgmma rate on the H100 (the
  // power limit then lets the clock rise, so less than 4x).
  const double t_odd = simulate(build_workload("gemm:m=4095,n=4097,k=4096,dtype=bf16"), *hw).time_s;
  const double t_even = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=bf16"), *hw).time_s;
  CHECK(t_odd > 2.0 * t_even);
  CHECK(t_odd < 4.0 * t_even);
}

TEST_CASE("narrow operand loads bind on the load/store lanes", "[gpu][gemm][align]") {
  const auto hw = load_hardware("h100-sxm", {});
  const TensorCoreModel& tc = tc_of(*hw);
  Kernel k;
  k.info.mma_path = static_cast<int64_t>(MmaPath::gemm_sync);
  Instr in;
  in.op = Opcode::mma;
  in.m = 128;
  in.n = 128;
  in.k = 128;
  in.a = DType::int8;
  in.count = 132;   // one tile per SM
  KernelContext c;
  c.clock_hz = 1.98e9;
  // int8 tile 128x128x128: MMA 2 x 128 x 128 x 128 = 4194304 OP at 8192 x
  // efficiency_int8 1 x sync_mma_fraction 0.5 = 4096 OP/clk -> 1024 clk; shared
  // memory (128 + 128) x 128 B = 32768 B at 128 B/clk -> 256 clk.
  CHECK(tc.instr_time_s(in, k, c) == Approx(1024 / 1.98e9));
  // 1-byte loads: 32768 B / (32 lanes x 1 B) = 1024 loads per lane, twice (load to
  // registers, store to shared memory: below cp.async's 4 bytes) -> 2048 clk; then
  // the 2 x 2 warps read their fragments: (128 x 2 + 128 x 2) x 128 B = 65536 B at
  // 128 B/clk = 512 clk on the same path -> 2560 clk.
  k.info.load_align = 1;
  CHECK(tc.instr_time_s(in, k, c) == Approx(2560 / 1.98e9));
  // 4-byte cp.async: 32768 / (32 x 4) = 256 clk + 512 = 768, under the MMA's 1024.
  k.info.load_align = 4;
  CHECK(tc.instr_time_s(in, k, c) == Approx(1024 / 1.98e9));
  // A wrong lane count breaks it: 8 lanes, 1-byte loads -> 32768 / 8 x 2 + 512 = 8704 clk.
  const auto few = load_hardware("h100-sxm", {"compute.lsu_lanes=8"});
  k.info.load_align = 1;
  CHECK(tc_of(*few).instr_time_s(in, k, c) == Approx(8704 / 1.98e9));
}

TEST_CASE("an mma.sync kernel's warps read their fragments once per warp row and column", "[gpu][gemm][align]") {
  // 2 x 2 warps up to 128 x 128: A and B are each read twice.
  CHECK(sync_smem_bytes(128, 128, 64, 2.0) == (128.0 * 2 + 128.0 * 2) * 64 * 2);
  CHECK(sync_smem_bytes(64, 64, 64, 2.0) == (64.0 * 2 + 64.0 * 2) * 64 * 2);
  // 256 x 128: 4 x 2 warps, A read by 2 warp columns, B by 4 warp rows:
  // (256 x 2 + 128 x 4) x 64 x 2 B = 131072 B, 2.67 x the (256 + 128) x 64 x 2 of wgmma.
  CHECK(sync_smem_bytes(256, 128, 64, 2.0) == 131072.0);
  CHECK(sync_smem_bytes(128, 256, 64, 2.0) == 131072.0);
  // bf16 4095 x 4097 x 4096 on the H100 (B rows 2-byte aligned), tile 256 x 128 x 64:
  // lanes 49152 B / (32 x 2 B) x 2 = 1536 clk + fragments 131072 / 128 = 1024 clk
  // = 2560 clk a k-step. An Ampere-generation kernel (m16n8k16) would issue its MMAs
  // in 2 x 256 x 128 x 64 / (4096 x 0.941 x 0.5) = 2176 clk and be bound by these
  // reads; the Turing-generation kernel that runs (m16n8k8 at half that rate, 4352
  // clk) is bound by its MMAs.
  const auto hw = load_hardware("h100-sxm", {});
  GemmShape shape{1, 4095, 4097, 4096, false, DType::bf16, DType::bf16};
  shape.align_b = shape.align_c = ld_alignment(4097, DType::bf16);   // 2
  const GemmPlan p = TensorCoreMapper(tc_of(*hw)).plan_gemm(shape, *hw);
  REQUIRE(p.sync_kernel);
  REQUIRE(p.bm * p.bn == 256 * 128);
  Kernel k = first_kernel("gemm:m=4095,n=4097,k=4096,dtype=bf16", *hw);
  // The MMAs alone: without the later waves' start-ups the kernel's stages carry.
  k.info.startup_per_stage.reset();
  Instr in;
  in.op = Opcode::mma;
  in.m = p.bm;
  in.n = p.bn;
  in.k = p.bk;
  in.a = DType::bf16;
  in.count = 132;
  KernelContext c;
  c.clock_hz = 1.98e9;
  const double c_mma =
      2.0 * 256 * 128 * 64 / (4096 * tc_of(*hw).mma_efficiency(DType::bf16, MmaPath::gemm_sm75));
  CHECK(c_mma == Approx(4352).epsilon(0.001));
  CHECK(tc_of(*hw).instr_time_s(in, k, c) == Approx(c_mma / 1.98e9));
  Kernel ampere = k;
  ampere.info.mma_path = static_cast<int64_t>(MmaPath::gemm_sync);
  CHECK(tc_of(*hw).instr_time_s(in, ampere, c) == Approx(2560 / 1.98e9));
}

TEST_CASE("the mma.sync fallback costs tensor rate only where wgmma is faster", "[gpu][gemm][align]") {
  const auto h100 = load_hardware("h100-sxm", {});
  const auto a100 = load_hardware("a100-80gb", {});
  // H100: sync_mma_fraction 0.5 of the fitted GEMM efficiency.
  CHECK(tc_of(*h100).mma_efficiency(DType::bf16, MmaPath::gemm_sync) ==
        Approx(0.5 * tc_of(*h100).mma_efficiency(DType::bf16, MmaPath::gemm)));
  // int8 GEMMs already run as mma.sync code; CUDA-core fp32 has no tensor instruction.
  CHECK(tc_of(*h100).mma_efficiency(DType::int8, MmaPath::gemm_sync) ==
        Approx(tc_of(*h100).mma_efficiency(DType::int8, MmaPath::gemm)));
  CHECK(tc_of(*h100).mma_efficiency(DType::fp32, MmaPath::gemm_sync) ==
        Approx(tc_of(*h100).mma_efficiency(DType::fp32, MmaPath::gemm)));
  // H100: m16n8k8 (the Turing-generation kernel) at half of that again, a quarter.
  CHECK(tc_of(*h100).mma_efficiency(DType::bf16, MmaPath::gemm_sm75) ==
        Approx(0.25 * tc_of(*h100).mma_efficiency(DType::bf16, MmaPath::gemm)));
  // A100: mma.sync is the whole tensor rate, whatever its shape.
  CHECK(tc_of(*a100).mma_efficiency(DType::bf16, MmaPath::gemm_sync) ==
        Approx(tc_of(*a100).mma_efficiency(DType::bf16, MmaPath::gemm)));
  CHECK(tc_of(*a100).mma_efficiency(DType::bf16, MmaPath::gemm_sm75) ==
        Approx(tc_of(*a100).mma_efficiency(DType::bf16, MmaPath::gemm)));
}

TEST_CASE("TF32 switches mirror PyTorch's flags and defaults", "[gpu][tf32]") {
  const auto hw = load_hardware("h100-sxm", {});
  // Defaults: torch.backends.cudnn.allow_tf32 = True, torch.backends.cuda.matmul.allow_tf32 = False.
  CHECK(hw->compute().params().flag("cudnn_allow_tf32"));
  CHECK_FALSE(hw->compute().params().flag("matmul_allow_tf32"));
  const std::string conv = "conv2d:n=32,cin=256,cout=256,h=28,w=28,r=3,s=3,stride=1,pad=1,dtype=fp32";
  const std::string mm = "gemm:m=4096,n=4096,k=4096,dtype=fp32";
  CHECK(first_kernel(conv, *hw).mapping.rfind("tf32 (tf32 pipe)", 0) == 0);
  CHECK(first_kernel(mm, *hw).mapping.rfind("fp32 (fp32 pipe)", 0) == 0);
  const auto flipped = load_hardware("h100-sxm", {"compute.cudnn_allow_tf32=false", "compute.matmul_allow_tf32=true"});
  CHECK(first_kernel(conv, *flipped).mapping.rfind("fp32 (fp32 pipe)", 0) == 0);
  CHECK(first_kernel(mm, *flipped).mapping.rfind("tf32 (tf32 pipe)", 0) == 0);
  // TF32 tensor cores (2048 FLOP/clk/SM) against the CUDA cores (256): the fp32
  // convolution gets several times faster.
  const double t_tf32 = simulate(build_workload(conv), *hw).time_s;
  const double t_fp32 = simulate(build_workload(conv), *flipped).time_s;
  CHECK(t_fp32 > 3.0 * t_tf32);
  // The precision analysis asks the same question (ComputeModel::operand_dtype).
  const Graph gc = build_workload(conv);
  CHECK(hw->compute().operand_dtype(gc.ops.at(0)) == DType::tf32);
  CHECK(flipped->compute().operand_dtype(gc.ops.at(0)) == DType::fp32);
  // Other formats are untouched by either switch.
  CHECK(first_kernel("gemm:m=4096,n=4096,k=4096,dtype=bf16", *flipped).mapping.rfind("bf16", 0) == 0);
}

namespace {

// Issued K per thread block of a GEMM-like kernel: the mma work of all blocks
// divided by tiles x tile_m x tile_n.
double issued_k_per_tile(const Kernel& k) {
  double work = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if (in.op == Opcode::mma)
        work += static_cast<double>(b.repeat) * static_cast<double>(in.count) * static_cast<double>(in.m) *
                static_cast<double>(in.n) * static_cast<double>(in.k);
  return work / static_cast<double>(k.info.thread_blocks.value() * k.info.tile_m.value() * k.info.tile_n.value());
}

}  // namespace

TEST_CASE("a strided 1x1 convolution reads only the pixels it samples", "[gpu][conv]") {
  const auto hw = load_hardware("h100-sxm", {});
  // ResNet-50 layer2.0.downsample at batch 32: 256 -> 512 channels, 56x56 -> 28x28.
  const Kernel k = first_kernel("conv2d:n=32,cin=256,cout=512,h=56,r=1,stride=2,pad=0,dtype=bf16", *hw);
  // Input pixels sampled: 32 x 28 x 28 x 256 x 2 B = 12845056 B (the whole input
  // would be 4x that); weights 256 x 512 x 2 = 262144 B; output 32 x 28 x 28 x 512 x
  // 2 = 25690112 B; each once (13.1 MB of operands fit in half the 50 MiB L2).
  // (Each SM's share is rounded to whole bytes: 1e-4 relative.)
  CHECK(k.info.dram_bytes.value() == Approx(12845056.0 + 262144.0 + 25690112.0).epsilon(1e-4));
  // A 3x3 stride-2 convolution touches every input pixel: the whole input is read.
  const Kernel k3 = first_kernel("conv2d:n=32,cin=256,cout=256,h=56,r=3,stride=2,pad=1,dtype=bf16", *hw);
  CHECK(k3.info.dram_bytes.value() ==
        Approx(32.0 * 56 * 56 * 256 * 2 + 256.0 * 256 * 9 * 2 + 32.0 * 28 * 28 * 256 * 2).epsilon(1e-4));
}

TEST_CASE("the 3-channel stem pads each filter tap's channels to the MMA's K", "[gpu][conv]") {
  const auto hw = load_hardware("h100-sxm", {});
  // 7x7 stride-2 stem, 3 channels, bf16: K = 49 taps x 16 (one m16n8k16 K step of 32
  // bytes per tap) = 784 issued for 147 useful; in k-steps of 64: 13 x 64 = 832 per
  // tile (without the padding 3 x 64 = 192).
  const Kernel stem = first_kernel("conv2d:n=8,cin=3,cout=64,h=224,r=7,stride=2,pad=3,dtype=bf16", *hw);
  CHECK(issued_k_per_tile(stem) == Approx(832));
  // The 3-channel rows (6 bytes) also rule out TMA.
  CHECK(stem.info.load_align.value_or(16) == 2);
  // tf32 (fp32 data, cuDNN's default): 8 channels per step -> 49 x 8 = 392, in
  // k-steps of 32: 13 x 32 = 416.
  CHECK(issued_k_per_tile(first_kernel("conv2d:n=8,cin=3,cout=64,h=224,r=7,stride=2,pad=3,dtype=fp32", *hw)) ==
        Approx(416));
  // 64 channels fill whole steps: 3 x 3 x 64 = 576 = 9 x 64, nothing added.
  CHECK(issued_k_per_tile(first_kernel("conv2d:n=8,cin=64,cout=64,h=56,r=3,stride=1,pad=1,dtype=bf16", *hw)) ==
        Approx(576));
  // Depthwise convolutions are not GEMMs (PyTorch's conv_depthwise2d / cuDNN
  // depthwise, compiler/tensorcore/conv_depthwise.cpp): no MMA at all.
  const Kernel dw = first_kernel("conv2d:n=8,cin=64,cout=64,h=56,r=3,stride=1,pad=1,groups=depthwise,dtype=bf16", *hw);
  int mmas = 0;
  for (const Block& b : dw.blocks)
    for (const Instr& in : b.instrs) mmas += in.op == Opcode::mma ? 1 : 0;
  CHECK(mmas == 0);
  CHECK(dw.mapping.rfind("depthwise forward", 0) == 0);
}

TEST_CASE("a 3-D convolution is the implicit GEMM over its depth too", "[gpu][conv][conv3d]") {
  const auto hw = load_hardware("h100-sxm", {});
  // R3D-18's stem at batch 8: 3 -> 64 channels, 3x7x7 filter, stride (1, 2, 2), pad
  // (1, 3, 3) on 16 x 112 x 112 frames. Each of the 3 x 7 x 7 = 147 taps is one
  // 16-channel K step of the bf16 MMA: K = 147 x 16 = 2352, in k-steps of 64:
  // ceil(2352 / 64) = 37 -> 2368 per tile.
  const Kernel stem = first_kernel(
      "conv3d:n=8,cin=3,cout=64,d=16,h=112,t=3,r=7,stride=2,stride_d=1,pad=3,pad_d=1,dtype=bf16", *hw);
  CHECK(issued_k_per_tile(stem) == Approx(2368));
  CHECK(stem.mapping.find("; 3-D: 3x7x7 filter over 16x112x112 (NDHWC implicit GEMM)") != std::string::npos);
  // Tiles cover M = 8 x 16 x 56 x 56 = 401408 output pixels by N = 64 channels.
  CHECK(static_cast<double>(stem.info.thread_blocks.value() * stem.info.tile_m.value()) >= 401408.0);
  // A strided 1x1x1 downsample (R3D-18 layer2.0.downsample at batch 8: 64 -> 128,
  // stride 2 on all three axes, 16 x 56 x 56 -> 8 x 28 x 28) fetches only the pixels
  // it samples, planes included: 8 x 8 x 28 x 28 x 64 x 2 B = 6422528 B of input (an
  // eighth of it), weights 64 x 128 x 2 = 16384 B, output 8 x 8 x 28 x 28 x 128 x 2 =
  // 12845056 B.
  const Kernel ds = first_kernel("conv3d:n=8,cin=64,cout=128,d=16,h=56,r=1,stride=2,pad=0,dtype=bf16", *hw);
  CHECK(ds.info.dram_bytes.value() == Approx(6422528.0 + 16384.0 + 12845056.0).epsilon(1e-4));
  // The same layer as its 2-D slice: the depth multiplies M only.
  const Kernel ds2 = first_kernel("conv2d:n=64,cin=64,cout=128,h=56,r=1,stride=2,pad=0,dtype=bf16", *hw);
  CHECK(ds.flops == ds2.flops);
}

TEST_CASE("an NCHW tensor-core convolution pays cuDNN's conversions to NHWC and back",
          "[gpu][conv][layout]") {
  const auto hw = load_hardware("h100-sxm", {});
  // ResNet-50's layer1 3x3 convolution at batch 32, bf16.
  const std::string conv = "conv2d:n=32,cin=64,cout=64,h=56,r=3,stride=1,pad=1,dtype=bf16";
  const Kernel nhwc = first_kernel(conv, *hw);
  const Kernel nchw = first_kernel(conv + ",memory_format=contiguous", *hw);
  // Three conversions, each a launch of its own: x (NCHW -> NHWC), the filter
  // (KCRS -> KRSC) and y (NHWC -> NCHW).
  CHECK(nhwc.info.launches.value_or(1) == 1);
  CHECK(nchw.info.launches.value_or(1) == 4);
  CHECK(nchw.mapping.find("NCHW: cuDNN converts x to NHWC, w to KRSC, y to NCHW (3 more launch(es))") !=
        std::string::npos);
  // Each conversion reads its tensor from DRAM and writes it back once:
  // x = y = 32 x 64 x 56 x 56 x 2 B = 12845056 B, w = 64 x 64 x 3 x 3 x 2 B = 73728 B;
  // 2 x (12845056 + 73728 + 12845056) = 51527680 B more than the NHWC kernel's.
  CHECK(nchw.info.dram_bytes.value() - nhwc.info.dram_bytes.value() == Approx(51527680.0).epsilon(1e-4));
  // ... which takes at least that traffic at the HBM's peak bandwidth.
  const double t_nhwc = simulate(build_workload(conv), *hw).time_s;
  const double t_nchw = simulate(build_workload(conv + ",memory_format=contiguous"), *hw).time_s;
  CHECK(t_nchw - t_nhwc > 51527680.0 / hw->outermost_memory().bandwidth_bps());
  // The workload parameter sets the op's layout; the default is channels_last.
  CHECK(build_workload(conv + ",memory_format=contiguous").ops.at(0).get("channels_last", 1) == 0);
  CHECK(build_workload(conv).ops.at(0).get("channels_last", 1) == 1);
  // A 1x1 filter is the same bytes in KCRS and KRSC: two conversions.
  const Kernel one = first_kernel(
      "conv2d:n=32,cin=64,cout=256,h=56,r=1,stride=1,pad=0,dtype=bf16,memory_format=contiguous", *hw);
  CHECK(one.info.launches.value_or(1) == 3);
  CHECK(one.mapping.find("converts x to NHWC, y to NCHW (2 more") != std::string::npos);
  // fp32 on the CUDA cores (TF32 switched off) runs cuDNN's NCHW kernels: nothing converted.
  const auto no_tf32 = load_hardware("h100-sxm", {"compute.cudnn_allow_tf32=false"});
  const Kernel simt = first_kernel(
      "conv2d:n=32,cin=64,cout=64,h=56,r=3,stride=1,pad=1,dtype=fp32,memory_format=contiguous", *no_tf32);
  CHECK(simt.info.launches.value_or(1) == 1);
  CHECK(simt.mapping.find("NCHW") == std::string::npos);
  // With TF32 (the default) the fp32 convolution is a tensor-core one and converts.
  CHECK(first_kernel("conv2d:n=32,cin=64,cout=64,h=56,r=3,stride=1,pad=1,dtype=fp32,memory_format=contiguous",
                     *hw)
            .info.launches.value_or(1) == 4);
}

TEST_CASE("memory_format=contiguous puts every ResNet-50 convolution pass in NCHW", "[gpu][conv][layout]") {
  const auto hw = load_hardware("h100-sxm", {});
  const Graph g =
      build_workload("resnet50:batch=8,train=1,optimizer=sgd,dtype=bf16,memory_format=contiguous");
  int convs = 0, nchw = 0;
  for (const Op& op : g.ops)
    if (op.kind == OpKind::conv2d) {
      ++convs;
      nchw += op.get("channels_last", 1) == 0 ? 1 : 0;
    }
  CHECK(convs > 53);  // forward, data and weight gradients
  CHECK(nchw == convs);
  // The weight gradient converts its two operands (x, dy) and its result (dw, 3x3 filter).
  const Program p = compile(g, *hw);
  bool found = false;
  for (const Kernel& k : p.kernels)
    if (k.name.rfind("layer1.0.conv2.grad_weight#", 0) == 0) {
      found = true;
      CHECK(k.mapping.find("converts x to NHWC, dy to NHWC, dw to KCRS (3 more") != std::string::npos);
    }
  CHECK(found);
  // The default (channels_last) converts nothing.
  for (const Kernel& k : compile(build_workload("resnet50:batch=8,dtype=bf16"), *hw).kernels)
    CHECK(k.mapping.find("cuDNN converts") == std::string::npos);
}

TEST_CASE("the TF32 switches do nothing on a GPU without TF32 tensor cores", "[gpu][tf32]") {
  // Volta has no TF32 mode (flops_per_clock_tf32 = 0): cuDNN computes an fp32
  // convolution on the CUDA cores whatever torch.backends.cudnn.allow_tf32 says.
  const auto v100 = load_hardware("v100", {});
  CHECK(v100->compute().params().flag("cudnn_allow_tf32"));
  const std::string conv = "conv2d:n=32,cin=64,cout=64,h=56,r=3,stride=1,pad=1,dtype=fp32";
  CHECK(v100->compute().operand_dtype(build_workload(conv).ops.at(0)) == DType::fp32);
  const Kernel k = first_kernel(conv + ",memory_format=contiguous", *v100);
  CHECK(k.mapping.rfind("fp32 (fp32 pipe)", 0) == 0);
  CHECK(k.info.launches.value_or(1) == 1);  // cuDNN's NCHW CUDA-core kernels: no conversion
}

TEST_CASE("GPU presets derive their peaks from their datasheets", "[gpu][presets]") {
  // B200 datasheet: 2.25 PFLOPS dense bf16 = 148 SMs x 8192 FLOP/clk x 1.856 GHz.
  const auto b200 = load_hardware("b200", {});
  CHECK(b200->compute().peak_flops(DType::bf16) == Approx(2.25e15).epsilon(0.001));
  // V100: no bf16 tensor cores; a bf16 GEMM runs on the CUDA cores at the fp32 rate.
  const auto v100 = load_hardware("v100", {});
  CHECK(tc_of(*v100).flops_per_clock(DType::bf16) == 128);
  CHECK(tc_of(*v100).flops_per_clock(DType::fp16) == 1024);
  CHECK(v100->compute().peak_flops(DType::bf16) == Approx(v100->compute().peak_flops(DType::fp32)));
  CHECK(first_kernel("gemm:m=4096,n=4096,k=4096,dtype=bf16", *v100).mapping.rfind("bf16 (fp32 pipe)", 0) == 0);
  const double t_bf16 = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=bf16"), *v100).time_s;
  const double t_fp16 = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=fp16"), *v100).time_s;
  CHECK(t_bf16 > 4.0 * t_fp16);
  // H200: the L2 size CUDA reports for a real H200 (62914560 B); its SMs are the H100's.
  const auto h200 = load_hardware("h200", {});
  const auto h100 = load_hardware("h100-sxm", {});
  CHECK(h200->memories().front().second->capacity_bytes() == 62914560.0);
  CHECK(h200->compute().params().integer("sm_count") == h100->compute().params().integer("sm_count"));
  for (const char* key : {"max_clock", "flops_per_clock_fp16", "efficiency_fp16", "launch_overhead"})
    CHECK(h200->compute().params().real(key) == h100->compute().params().real(key));
}
