// The "tensorcore" compute impl's parameters: each one's meaning, default and
// the source of its value.
#include "models/tensorcore/tensorcore.h"

#include <memory>

namespace tessera {

void register_tensorcore(Registry& r) {
  // Defaults describe an H100 SXM5 (NVIDIA H100 Tensor Core GPU Architecture
  // whitepaper, 2022; datasheet). Values marked "fitted" come from
  // `tessera calibrate --hw h100-sxm --measured reference/h100/microbench.jsonl`.
  r.add(make_impl<TensorCoreModel>(
      "compute", "tensorcore",
      "GPU SMs with tensor cores: per-format dense rates, waves over the SMs, cuBLAS-like tiles, "
      "fused attention, power-capped clock",
      {p_int("sm_count", "132", "streaming multiprocessors (H100 SXM5: 132)").positive(),
       p_real("die_area", "0",
              "die area in mm^2 as the vendor states it (sweep metric area_mm2); 0 = not stated")
           .non_negative(),
       // nvidia-smi max SM clock 1980 MHz (info records); idle clock 345 MHz.
       p_qty("max_clock", Unit::hertz, "1.98GHz", "maximum SM clock").positive(),
       p_qty("min_clock", Unit::hertz, "345MHz", "lowest SM clock the power limit may set").positive(),
       // Dense FLOP per clock per SM (whitepaper: 4th-gen tensor core, 512 fp16
       // FMA/clk each, 4 per SM; tf32 half of that, fp8/int8 twice; 128 fp32 lanes).
       p_real("flops_per_clock_fp16", "4096", "dense fp16/bf16 tensor FLOP per clock per SM").positive(),
       // bf16 tensor-core MMAs exist from Ampere (sm_80) on; Volta's take fp16 only
       // (V100 whitepaper). PyTorch still runs bf16 there ("emulation":
       // torch.cuda.is_bf16_supported(including_emulation=True) is true below
       // compute capability 8.0), and cuBLAS computes such GEMMs on the CUDA cores in fp32.
       p_bool(
           "bf16_tensor_cores", "true",
           "the tensor cores take bf16 operands (false: bf16 GEMMs run on the CUDA cores at the fp32 rate)"),
       p_real("flops_per_clock_tf32", "2048", "dense tf32 tensor FLOP per clock per SM").non_negative(),
       p_real("flops_per_clock_fp8", "8192", "dense fp8 (and fp6) tensor FLOP per clock per SM")
           .non_negative(),
       p_real("flops_per_clock_int8", "8192", "dense int8 tensor OP per clock per SM").non_negative(),
       p_real("flops_per_clock_fp4", "0", "dense fp4 tensor FLOP per clock per SM (0: runs as fp8)")
           .non_negative(),
       p_real("flops_per_clock_fp32", "256", "fp32 FLOP per clock per SM on the CUDA cores").positive(),
       // H100 SXM5 datasheet: 67 TFLOPS fp64 tensor = 132 SMs x 256 x 1.98 GHz.
       p_real("flops_per_clock_fp64", "256", "fp64 FLOP per clock per SM").positive(),
       p_real("efficiency_fp16", "0.92",
              "sustained fraction of the fp16/bf16 tensor rate in GEMM mainloops (fitted)")
           .fraction(),
       p_real("efficiency_tf32", "0.92", "same for tf32 (fitted)").fraction(),
       p_real("efficiency_fp8", "0.92", "same for fp8; fp4 uses it too (fitted)").fraction(),
       p_real("efficiency_int8", "0.5", "same for int8, of the mma.sync rate its kernels issue at (fitted)")
           .fraction(),
       p_real("efficiency_fp32", "0.8", "same for fp32 on the CUDA cores; fp64 uses it too (fitted)")
           .fraction(),
       // Warp-synchronous mma.sync, the only tensor-core instruction before Hopper,
       // reaches about half of Hopper's wgmma rate: FlashAttention-2 (Ampere code)
       // uses 50-73 % of the A100's peak (Dao 2023, abstract) but 35 % of the H100's
       // (Shah et al. 2024, abstract), and the int8 GEMMs of the shared H100 data
       // (Ampere-style kernels) run at 0.50 of the wgmma rate per clock (energy
       // record: 843 TOPS at 1563 MHz). 1 where mma.sync is the full rate.
       p_real("sync_mma_fraction", "1",
              "fraction of the tensor-core rate that mma.sync (Ampere-style code: FlashAttention-2, "
              "the memory-efficient attention kernel) reaches; 1 before Hopper")
           .fraction(),
       // mma.sync m16n8k8 (the only 16-bit shape of Turing, sm75) against m16n8k16 (from
       // Ampere): where mma.sync issues at a fixed instruction rate, half the K is half
       // the multiply-adds per clock. Hopper's mma.sync looks instruction-bound: the
       // shared H100 int8 GEMMs (m16n8k32, 4096 multiply-adds an instruction) and the
       // Ampere-style 16-bit kernels (m16n8k16, 2048) both reach half of their format's
       // wgmma rate (4096 and 2048 multiply-adds per clock per SM, datasheet peaks), one
       // instruction every 8 clocks per SM partition for both. On Ada an s1688 kernel
       // reaches about 94 % of the RTX 4090's bf16 peak with fp32 accumulation (156 of
       // 165 TFLOP/s, pytorch/pytorch#181718), so before Hopper the shape costs nothing.
       p_real("sync_mma_k8_fraction", "1",
              "rate of mma.sync m16n8k8 (Turing-generation kernels: 16-bit operands aligned below 4 "
              "bytes) as a fraction of m16n8k16's; 1 before Hopper")
           .fraction(),
       p_real("attention_efficiency_flash2", "0.6",
              "FlashAttention-2's MMA rate as a fraction of the mma.sync rate (fitted)")
           .fraction(),
       // Fitted on FlashAttention-2 backward records (attn, pass backward): the H100
       // figures of the FlashAttention-3 paper (Shah et al. 2024, sec. 4.1),
       // tests/gpu/data/h100_attention_bwd_fa3_paper.jsonl.
       p_real("attention_backward_rate_flash2", "0.55",
              "FlashAttention-2 backward MMA rate relative to its forward MMAs (fitted)")
           .positive(),
       // Fitted on cuDNN backward records (attn, backend cudnn, pass backward): the
       // same paper's H100 figures.
       p_real("attention_backward_rate_flash3", "0.55",
              "FlashAttention-3 / cuDNN backward MMA rate relative to the GEMM mainloop (fitted)")
           .positive(),
       p_real("attention_softmax_exposed_flash3", "0.7",
              "share of FlashAttention-3/cuDNN softmax time not hidden under the MMAs (fitted)")
           .range(0, 1),
       p_real("attention_efficiency_efficient", "0.3",
              "the memory-efficient kernel's MMA rate as a fraction of the mma.sync rate (fitted)")
           .fraction(),
       p_qty("energy_fp16", Unit::joules, "0.6pJ", "dynamic energy per fp16/bf16 tensor FLOP (fitted)")
           .non_negative(),
       p_qty("energy_tf32", Unit::joules, "1.2pJ", "dynamic energy per tf32 tensor FLOP (fitted)")
           .non_negative(),
       p_qty("energy_fp8", Unit::joules, "0.35pJ", "dynamic energy per fp8 tensor FLOP; fp4 uses it (fitted)")
           .non_negative(),
       p_qty("energy_int8", Unit::joules, "0.5pJ", "dynamic energy per int8 tensor OP (fitted)")
           .non_negative(),
       p_qty("energy_fp32", Unit::joules, "10pJ",
             "dynamic energy per fp32 FLOP on the CUDA cores, also per vector lane op; fp64 twice (fitted)")
           .non_negative(),
       // Whitepaper: 4 SFU per SM sub-partition x 4 = 16 results per clock.
       p_real("sfu_per_clock", "16", "special-function results (exp, erf, ...) per clock per SM").positive(),
       p_real("alu_lanes", "128", "fp32 lanes per SM").positive(),
       // Volta, Ampere and Hopper whitepapers (SM diagrams): 8 LD/ST units in each
       // of the 4 SM sub-partitions.
       p_real("lsu_lanes", "32", "load/store lanes per SM (thread loads per clock)").positive(),
       // Whitepaper: 228 KB shared memory per SM, 256 KB register file per SM.
       p_qty("smem_per_sm", Unit::bytes, "228KiB", "shared memory per SM").positive(),
       p_real("smem_bytes_per_clock", "128", "shared-memory bandwidth per SM per clock").positive(),
       p_qty("register_file", Unit::bytes, "256KiB", "register file per SM").positive(),
       // Hopper thread-block clusters with TMA multicast (whitepaper); 1 before Hopper.
       p_int("tma_multicast", "2", "thread blocks of a cluster that share one B tile load").positive(),
       p_qty("launch_overhead", Unit::seconds, "4.5us",
             "launch, fill and drain time of a kernel timed alone with CUDA events, not overlapped "
             "with work (fitted)")
           .non_negative(),
       // Not fitted (no shared measurement separates it): back-to-back kernels in one
       // stream start ~1 us apart (NVIDIA, "Getting Started with CUDA Graphs", 2019:
       // 3.8 us per 2.9 us kernel in a stream), and a small kernel's own fixed cost
       // (block dispatch, first DRAM round trip, drain) is ~1 us more.
       p_qty("kernel_gap", Unit::seconds, "2us",
             "fixed cost of a kernel queued behind another in the same stream or CUDA graph "
             "(its launch overlaps the predecessor; assumption, see docs/gpu-model.md)")
           .non_negative(),
       // The ~1 us of kernel_gap above that is the kernel's own (same source): a
       // profiler counts it as kernel time, the spacing before it not.
       p_qty("kernel_fixed", Unit::seconds, "1us",
             "of launch_overhead and kernel_gap, the part inside the kernel's own duration (block "
             "dispatch, first DRAM round trip, drain), which a profiler counts as kernel time (assumption)")
           .non_negative(),
       // Host (CPU) time per aten op in PyTorch eager (models/compute/host.h): the
       // Python binding, the dispatcher, TensorIterator set-up or the library's
       // heuristic/plan lookup, the caching allocator and cudaLaunchKernel, before
       // the kernel reaches the GPU. A published breakdown puts that path at ~5-25 us
       // per op on an H100 host (J. Lin, "From PyTorch op to kernel launch", GPU
       // kernel serving lesson 18: Python ~1, pybind ~1, autograd 1-3, dispatcher
       // 1-2, library 1-5, cudaLaunchKernel 1-3 us). Fitted: matmul, scaled_mm,
       // int_mm and copy (the hot records of the H100 microbenchmarks: there the
       // gap from the start event to the launch also holds the event call's return
       // and the timed lambda's call). The others are assumptions inside the
       // published range (docs/gpu-model.md, "Host time").
       p_choice("host_mode", {"eager", "graph"}, "eager",
                "how the framework issues kernels: eager = every op pays its host time and the GPU waits "
                "when the host falls behind (plain PyTorch); graph = a CUDA-graph replay, no host time per "
                "kernel (workloads that are graph replays, e.g. decode with kv_cache=static, are so in "
                "either mode)"),
       p_int("host_queue_depth", "1024",
             "kernel launches the host may have outstanding before a launch call blocks (assumption: the "
             "CUDA launch queue holds about 1024 entries; not documented by NVIDIA; 0: unbounded)")
           .non_negative(),
       // Between the hot microbenchmark's start event and its end event the host
       // also returns from start.record(), calls the timed lambda and calls
       // end.record() (scripts/measure_gpu.py, Timer.run; torch/cuda/streams.py:
       // Event.record looks up the current stream, then enters C++): some six
       // Python<->C++ transitions and Python calls at ~1 us each (same source).
       p_qty("host_timer", Unit::seconds, "7us",
             "host time of the CUDA-event timing inside the measured interval of an op timed alone "
             "(compare adds it to hot-L2 records; assumption)")
           .non_negative(),
       p_qty("host_matmul", Unit::seconds, "24.67us",
             "host time of a torch.matmul / nn.Linear (cuBLAS/cuBLASLt heuristic, workspace; fitted)")
           .non_negative(),
       p_qty("host_scaled_mm", Unit::seconds, "24.55us",
             "host time of a torch._scaled_mm on fp8 operands (fitted)")
           .non_negative(),
       p_qty("host_int_mm", Unit::seconds, "12.01us",
             "host time of a torch._int_mm on int8 operands (fitted)")
           .non_negative(),
       p_qty("host_copy", Unit::seconds, "7.33us",
             "host time of a copy_ / contiguous / KV-cache index_copy_ (TensorIterator; fitted)")
           .non_negative(),
       p_qty("host_elementwise", Unit::seconds, "6us",
             "host time of an elementwise TensorIterator op: activation, add/mul, pooling, embedding "
             "(assumption: the copy path less its larger argument checks)")
           .non_negative(),
       p_qty("host_reduction", Unit::seconds, "7us",
             "host time of a TensorIterator reduction (sum, mean; assumption)")
           .non_negative(),
       p_qty("host_norm", Unit::seconds, "7us", "host time of a layer/RMS/batch norm or softmax (assumption)")
           .non_negative(),
       p_qty("host_conv", Unit::seconds, "8us",
             "host time of a cuDNN convolution (frontend plan-cache lookup, workspace; assumption)")
           .non_negative(),
       p_qty("host_attention", Unit::seconds, "12us",
             "host time of scaled_dot_product_attention (backend selection, fused kernel; assumption)")
           .non_negative(),
       // A kernel launched from a library's C++ loop (cuDNN's RNN steps) skips the
       // Python, pybind, autograd and dispatcher parts of the path above and pays
       // cudaLaunchKernel: 1-3 us in the same breakdown (J. Lin, lesson 18).
       p_qty("host_library_launch", Unit::seconds, "2us",
             "host time of a kernel a library launches from its own loop inside one aten call, e.g. "
             "cuDNN's RNN time steps (cudaLaunchKernel alone; assumption inside the published 1-3 us)")
           .non_negative(),
       p_qty("host_other", Unit::seconds, "10us",
             "host time of any other op (optimizer step, collective; assumption)")
           .non_negative(),
       // Little's law: 2048 threads x 16 B vector loads outstanding per SM.
       p_qty("bytes_in_flight", Unit::bytes, "32KiB", "outstanding load bytes per SM in streaming kernels")
           .positive(),
       // Whitepapers (Volta to Blackwell): 64 resident warps = 2048 threads per SM.
       p_real("max_threads_per_sm", "2048", "resident threads per SM (occupancy limit)").positive(),
       p_qty("row_round_trip", Unit::seconds, "459ns",
             "one dependent memory round trip of a row kernel's loop under load (fitted; published "
             "H100 HBM3 load latency ~500-800 ns)")
           .non_negative(),
       p_qty("row_reduction", Unit::seconds, "564ns",
             "one block-wide reduction of a row kernel (barriers, shuffles, broadcast; fitted)")
           .non_negative(),
       p_qty("gemm_wave_startup", Unit::seconds, "0s",
             "per wave of GEMM thread blocks: prologue (barrier and descriptor set-up, filling the "
             "k-pipeline stages from DRAM before the first MMA) and epilogue (C tile through smem "
             "to memory) not overlapped with the mainloop (fitted)")
           .non_negative(),
       // PyTorch's two TF32 switches and their defaults (PyTorch docs, "TensorFloat-32
       // (TF32) on Ampere (and later) devices"; torch/backends/cuda and
       // torch/backends/cudnn): fp32 matmuls stay on fp32 math, fp32 convolutions
       // (forward and both gradients) may run on the TF32 tensor cores.
       p_bool("matmul_allow_tf32", "false",
              "fp32 matmuls run on the TF32 tensor cores (torch.backends.cuda.matmul.allow_tf32)"),
       p_bool("cudnn_allow_tf32", "true",
              "fp32 convolutions run on the TF32 tensor cores (torch.backends.cudnn.allow_tf32)"),
       p_choice("attention", {"sdpa", "flash3", "flash2", "efficient"}, "sdpa",
                "attention kernel used when an op does not choose: sdpa = PyTorch's SDPA backend rules "
                "(compiler/tensorcore/sdpa_select.h; cuDNN runs as flash3), or always one kernel "
                "(flash3 needs Hopper)"),
       // What PyTorch's SDPA dispatch reads of the device (sdp_utils.cpp):
       // cudaDeviceProp major/minor (H100: 9.0) and the runtime cuDNN (the reference
       // setting: PyTorch 2.11 with cuDNN 9.19.0, shared/reference/models/README.md).
       p_int("compute_capability", "90", "CUDA compute capability as major*10+minor (H100: 90)")
           .range(10, 199),
       p_int("cudnn_version", "91900",
             "runtime cuDNN version as cudnnGetVersion() reports it (9.19.0 = 91900)")
           .range(0, 999999),
       // NVLink 4: 900 GB/s per GPU, both directions together.
       p_qty("link_bandwidth", Unit::bytes_per_second, "450GB/s", "per-direction bandwidth to peers")
           .positive(),
       p_qty("link_latency", Unit::seconds, "2us", "latency of one collective step").non_negative()}));
}

}  // namespace tessera
