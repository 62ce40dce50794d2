// GPU lowering of training steps: FlashAttention-2's backward, convolution gradient
// passes, backward and optimizer kernels, the phase split and compare's train section.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>

#include "models/tensorcore/tensorcore.h"
#include "sim/cli/cli.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "workloads/training.h"
#include "workloads/workloads.h"
#include "tests/support/cli_run.h"

using namespace tessera;

namespace {

const TensorCoreModel& train_tc(const Hardware& hw) {
  return dynamic_cast<const TensorCoreModel&>(hw.compute());
}

// 2*m*n*k summed over a kernel's mma instructions (all copies, all repeats).
double mma_flops(const Kernel& k) {
  double f = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if (in.op == Opcode::mma)
        f += 2.0 * static_cast<double>(in.m * in.n * in.k) * static_cast<double>(in.count) *
             static_cast<double>(b.repeat);
  return f;
}

const Kernel& kernel(const Program& p, const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (g.ops[i].name == name) return p.kernels[i];
  FAIL("no op named " << name);
  return p.kernels.front();
}

}  // namespace

TEST_CASE("FlashAttention-2 backward: three launches, the KV-parallel loop's five products", "[gpu][training]") {
  const auto hw = load_hardware("h100-sxm", {"compute.attention=flash2"});   // PyTorch's flash backend
  // B = 1, H = 33, sq = skv = 512, d = 64: blocks 128 x 128 (kBlockM x kBlockN of the sm80
  // hdim-64 kernel); 33 heads x 4 KV blocks = 132 thread blocks, one per SM (smem
  // 2*128*64*2 + 4*128*64*2 + 128*128*2 = 128 KiB per block: 1 per SM in 228 KiB), each
  // visiting the 4 query blocks: 4 stages of 5 products of 2*128*128*64 per block:
  // 4 * 132 * 5 * 2,097,152 = 5,536,481,280 = 10 * 33 * 512 * 512 * 64 (2.5x the forward).
  const Graph g = build_workload("attention:batch=1,heads=33,sq=512,d=64,train=1");
  const Program p = compile(g, *hw);
  const Kernel& k = p.kernels[1];
  CHECK(k.info.launches.value_or(0) == 3);   // dot(dO, O), main loop, dQ conversion
  CHECK(k.info.block_q.value_or(0) == 128);
  CHECK(k.info.block_kv.value_or(0) == 128);
  CHECK(k.info.thread_blocks.value_or(0) == 132);
  CHECK(k.info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::flash2_backward));
  CHECK(mma_flops(k) == 5536481280.0);
  CHECK(k.flops == 5536481280.0);
  // Head dim 128: 64 x 128 blocks; grouped-query heads add the two dK/dV sums.
  const Graph q = build_workload("attention:batch=1,heads=8,kv_heads=2,sq=512,d=128,train=1");
  const Kernel kq = compile(q, *hw).kernels[1];   // a copy: the Program is a temporary
  CHECK(kq.info.block_q.value_or(0) == 64);
  CHECK(kq.info.block_kv.value_or(0) == 128);
  CHECK(kq.info.launches.value_or(0) == 5);
  // The MMAs issue at attention_backward_rate_flash2 x the forward FA2 efficiency,
  // of the mma.sync rate (sync_mma_fraction 0.5 of the H100's tensor rate).
  const double rate = hw->compute().params().real("attention_backward_rate_flash2");
  CHECK(hw->compute().params().real("sync_mma_fraction") == 0.5);
  CHECK(train_tc(*hw).mma_efficiency(DType::bf16, MmaPath::flash2_backward) ==
        Approx(rate * hw->compute().params().real("attention_efficiency_flash2") * 0.5));
  CHECK(rate < 1.0);
}

TEST_CASE("cuDNN / FlashAttention-3 backward: GEMM-rate MMAs, softmax partly hidden", "[gpu][training]") {
  // h100-sxm's default attention is flash3 (cuDNN): its backward keeps FA2's work and
  // block sizes but issues the MMAs at efficiency_fp16 x attention_backward_rate_flash3
  // and exposes attention_softmax_exposed_flash3 of the lane work.
  const auto hw = load_hardware("h100-sxm", {});
  const Graph g = build_workload("attention:batch=1,heads=33,sq=512,d=64,train=1");
  const Program p = compile(g, *hw);
  const Kernel& k = p.kernels[1];
  CHECK(k.info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::flash3_backward));
  const auto& prm = hw->compute().params();
  CHECK(k.info.vec_exposed.value_or(0) == prm.real("attention_softmax_exposed_flash3"));
  CHECK(train_tc(*hw).mma_efficiency(DType::bf16, MmaPath::flash3_backward) ==
        Approx(prm.real("efficiency_fp16") * prm.real("attention_backward_rate_flash3")));
  CHECK(k.mapping.rfind("flash3 attention backward", 0) == 0);
  // backend=1 on the op (PyTorch's flash backend) keeps FlashAttention-2's kernel.
  Graph f = g;
  for (Op& op : f.ops)
    if (op.kind == OpKind::attention) op.attrs["backend"] = 1;
  CHECK(compile(f, *hw).kernels[1].info.mma_path.value_or(0) == static_cast<int64_t>(MmaPath::flash2_backward));
}

TEST_CASE("FlashAttention-2 backward: causal block skipping and the resulting time", "[gpu][training]") {
  const auto hw = load_hardware("h100-sxm", {"compute.attention=flash2"});
  // Causal: KV block j (128 keys) is visited by the query blocks from j on: 4+3+2+1 =
  // 10 of 16 block pairs per head. With 132 heads (528 thread blocks on 132 SMs) the
  // busiest SM runs 1320 / 132 = 10 block pairs instead of 16: 10/16 of the products.
  const Graph full = build_workload("attention:batch=1,heads=132,sq=512,d=64,train=1");
  const Graph causal = build_workload("attention:batch=1,heads=132,sq=512,d=64,causal=1,train=1");
  const double f = mma_flops(compile(full, *hw).kernels[1]);
  CHECK(mma_flops(compile(causal, *hw).kernels[1]) == Approx(f * 10.0 / 16.0));
  // The backward does 2.5x the forward's products at a lower rate: it takes longer
  // than 2.5 forward passes.
  const RunResult r = simulate(full, *hw);
  CHECK(r.ops[1].time_s > 2.5 * r.ops[0].time_s);
}

TEST_CASE("convolution gradients lower through the pass's implicit GEMM", "[gpu][training]") {
  const auto hw = load_hardware("h100-sxm", {});
  // 32 x 64 x 56 x 56, 3x3, 64 filters, pad 1: every pass 2*32*56*56*64*64*9 = 7,398,752,256 FLOP.
  const Graph g = build_workload("conv2d:n=32,cin=64,cout=64,h=56,pad=1,train=1");
  const Program p = compile(g, *hw);
  REQUIRE(p.kernels.size() == 3);
  for (const Kernel& k : p.kernels) CHECK(k.flops == 7398752256.0);
  // wgrad: dW^T = im2col(x)^T dY, M = 64*9 = 576, N = 64, K = 32*56*56 = 100,352: at most
  // ceil(576/64) * ceil(64/64) = 9 output tiles for 132 SMs, so K is split.
  const Kernel& w = p.kernels[2];
  CHECK(w.info.split_k.value_or(1) > 1);
  CHECK(mma_flops(w) >= 7398752256.0);
  // DRAM reads x and dY once each (2 x 32*64*56*56 bf16), not the 9x larger im2col.
  const double x = 2.0 * 32 * 64 * 56 * 56;
  CHECK(w.info.dram_bytes.value_or(0) >= 2 * x);
  CHECK(w.info.dram_bytes.value_or(0) < 4 * x);
  // dgrad: M = 32*56*56 (stride 1), N = 64, K = 64*9: the forward's shape here.
  CHECK(p.kernels[1].info.tile_m.value_or(0) == p.kernels[0].info.tile_m.value_or(0));
  CHECK(p.kernels[1].info.thread_blocks.value_or(0) == p.kernels[0].info.thread_blocks.value_or(0));
}

TEST_CASE("backward and optimizer kernels move their ops' bytes", "[gpu][training]") {
  const auto hw = load_hardware("h100-sxm", {});
  const Graph g = build_workload("resnet50:batch=8,train=1");
  const Program p = compile(g, *hw);
  // Streaming kernels whose rows fit on chip move exactly op_min_bytes through DRAM.
  for (const char* name : {"relu.grad", "layer1.0.relu3.grad_acc", "fc.grad_bias", "adamw.update", "adamw.sqrt"}) {
    INFO(name);
    const Kernel& k = kernel(p, g, name);
    CHECK(k.info.dram_bytes.value_or(0) == Approx(k.bytes).epsilon(1e-4));   // whole bytes per SM copy
  }
  // Batch norm's backward as PyTorch's channels-last kernels run it (bf16: not cuDNN;
  // compiler/tensorcore/batchnorm.h), over x and dy of 8 x 112 x 112 x 64 bf16
  // (12,845,056 B each). batch_norm_backward_reduce reads both (25,690,112 B) and
  // mean, invstd (2 x 64 x 4 B) and writes sum_dy, sum_dy_xmu (512 B), the weight
  // and bias gradients (2 x 64 x 2 = 256 B) and its grid's staging partials
  // (64 channels x 128 blocks x 12 B = 98,304 B), after a launch that zeroes 2
  // semaphores (8 B): 25,789,704 B. batch_norm_backward_elemt then finds x and dy
  // (25.7 MB, under half the 50 MiB L2) in the L2: DRAM moves only mean, invstd,
  // sum_dy, sum_dy_xmu (4 x 64 x 4 B), the weight (128 B) and dx: 12,846,208 B.
  CHECK(kernel(p, g, "bn1.grad_weight").info.dram_bytes.value_or(0) == Approx(25789704).epsilon(1e-5));
  CHECK(kernel(p, g, "bn1.grad_weight").info.launches.value_or(1) == 2);
  CHECK(kernel(p, g, "bn1.grad_input").info.dram_bytes.value_or(0) == Approx(12846208).epsilon(1e-5));
  // threshold_backward of 8 x 64 x 112 x 112 bf16: reads dY and the output, writes dX.
  CHECK(kernel(p, g, "relu.grad").bytes == 3.0 * 2 * 8 * 64 * 112 * 112);
  // Multi-kernel ops keep their launch count: the max-pool zero fill + gather, and the
  // foreach calls (25,557,032 parameters in 161 tensors: fewer than the 2,240 chunks of
  // 65,536 elements and the 336 tensors one launch of addcdiv_ takes: one launch).
  CHECK(kernel(p, g, "maxpool.grad").info.launches.value_or(1) == 2);
  CHECK(kernel(p, g, "adamw.update").info.launches.value_or(1) == 1);
}

TEST_CASE("backward row kernels: softmax and layer-norm gradients", "[gpu][training]") {
  const auto hw = load_hardware("h100-sxm", {});
  // PyTorch's softmax backward first runs tmp = dY * y, an element-wise kernel
  // (softmax_backward_cuda_out): 4096 x 1024 bf16 read twice and written once.
  {
    const Graph g = build_workload("softmax:rows=4096,cols=1024,train=1");
    const Program p = compile(g, *hw);
    REQUIRE(p.kernels.size() == 3);
    CHECK(g.ops[static_cast<size_t>(p.kernels[1].op_index)].name == "softmax.grad_times_output");
    CHECK(p.kernels[1].bytes == 3.0 * 2 * 4096 * 1024);
  }
  for (const char* spec : {"softmax:rows=4096,cols=1024,train=1", "layernorm:rows=4096,cols=768,train=1"}) {
    INFO(spec);
    const Graph g = build_workload(spec);
    const Program p = compile(g, *hw);
    const Kernel& k = p.kernels[std::string(spec).starts_with("softmax") ? 2 : 1];
    CHECK(k.mapping.find("row kernel") == 0);
    // Reads dY and y (x): a second pass re-reads both from the L2 (the resident rows
    // fit), so DRAM sees op_min_bytes: 2 reads and 1 write against the forward's 1 + 1.
    CHECK(k.info.dram_bytes.value_or(0) == Approx(k.bytes).epsilon(1e-4));
    CHECK(k.info.dram_bytes.value_or(0) == Approx(1.5 * p.kernels[0].info.dram_bytes.value_or(0)).epsilon(0.01));
  }
  // softmax_warp_backward: rows of 1024 bf16 in one warp, one round trip per row;
  // layer_norm's dx kernel: two passes (statistics, then dx), one block reduction.
  CHECK(compile(build_workload("softmax:rows=4096,cols=1024,train=1"), *hw)
            .kernels[2]
            .mapping.find("32 threads per row") != std::string::npos);
  // Longer rows: a block of SoftMax_getBlockSize(ILP, cols) = min(cols / 8, 1024)
  // threads (ILP = 16 B / 2 B): 256 for 2048 bf16; tmp kept in shared memory for the
  // second pass (one pass over the input) while the row fits in 48 KiB, re-read
  // beyond (65536 B rows of 32768 bf16: 1024 threads, two passes).
  const Kernel k2048 = compile(build_workload("softmax:rows=512,cols=2048,train=1"), *hw).kernels[2];
  CHECK(k2048.mapping.find("256 threads per row") != std::string::npos);
  CHECK(k2048.info.passes.value_or(0) == 1);
  const Kernel k32k = compile(build_workload("softmax:rows=64,cols=32768,train=1"), *hw).kernels[2];
  CHECK(k32k.mapping.find("1024 threads per row") != std::string::npos);
  CHECK(k32k.info.passes.value_or(0) == 2);
  CHECK(compile(build_workload("layernorm:rows=4096,cols=768,train=1"), *hw).kernels[1].info.passes.value_or(0) == 2);
}

TEST_CASE("a training run reports its forward, backward and optimizer time", "[gpu][training][cli]") {
  // Without the host's time per op (host_mode graph; the eager host timeline is
  // tests/gpu/test_host.cpp's), the idle is the launches' alone.
  const auto o = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", "gpt2-small:seq=64,layers=2,train=1",
                                   "--set", "compute.host_mode=graph", "--format", "json"});
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(o.out);
  const auto& t = j["training_step"];
  // Kernel time by phase: the three add up to the summed kernel time, which leaves
  // out the launch idle: the first kernel's launch_overhead 4.611 us - kernel_fixed
  // 1 us, kernel_gap 2 us - kernel_fixed 1 us for each kernel queued behind it, and
  // the same 1 us for each further launch of a multi-launch kernel (the foreach
  // optimizer's multi_tensor_apply chunks), which a graph replay starts at the gap.
  const double kernel_time = j["stats"]["compute"]["kernel_time"]["value"].get<double>();
  CHECK(t["forward_s"].get<double>() + t["backward_s"].get<double>() + t["optimizer_s"].get<double>() ==
        Approx(kernel_time));
  const auto hw = load_hardware("h100-sxm", {"compute.host_mode=graph"});
  const Program prog = compile(build_workload("gpt2-small:seq=64,layers=2,train=1"), *hw);
  double extra_launches = 0;
  for (const Kernel& k : prog.kernels) extra_launches += static_cast<double>(std::max<int64_t>(1, k.info.launches.value_or(1)) - 1);
  CHECK(extra_launches > 0);
  const double kernels = static_cast<double>(j["ops"].size());
  // launch_overhead as calibrated (4.611 us shown, its exact value read here).
  const double launch_idle =
      hw->compute().params().real("launch_overhead") - hw->compute().params().real("kernel_fixed");
  CHECK(j["time_s"].get<double>() - kernel_time ==
        Approx(launch_idle + (kernels - 1) * 1e-6 + extra_launches * 1e-6));
  CHECK(t["backward_s"].get<double>() > t["forward_s"].get<double>());
  CHECK(t["flops_backward"].get<double>() > 1.9 * t["flops_forward"].get<double>());
  CHECK(t["ops_optimizer"].get<double>() == 8);   // foreach AdamW
}

TEST_CASE("compare: train records are predicted as the model's spec with train=1", "[gpu][training][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  const nlohmann::json rec = {{"section", "train"}, {"model", "gpt2-small"}, {"dtype", "bf16"},  {"batch", 2},
                              {"seq", 128},         {"optimizer", "adamw_fused"}, {"device_busy_us", 5000.0}};
  const CompareRow row = compare_record(rec, *hw);
  REQUIRE(!row.skipped);
  const std::string spec = "gpt2-small:batch=2,seq=128,dtype=bf16,train=1,optimizer=adamw_fused";
  CHECK(row.record["workload"] == spec);
  CHECK(row.record["quantity"] == "device_busy_us");
  // device_busy_us is a profiler's summed kernel time: the run's kernel time, not its
  // wall time (which adds each kernel's launch idle).
  const RunResult res = simulate(build_workload(spec), *hw);
  CHECK(row.record["predicted_value"].get<double>() == Approx(res.kernel_time_s * 1e6));
  CHECK(res.kernel_time_s < res.time_s);
  nlohmann::json llama = rec;
  llama["model"] = "llama7b-4layers";
  llama["batch"] = 1;
  llama["seq"] = 64;
  CHECK(compare_record(llama, *hw).record["workload"] ==
        "llama-7b:phase=prefill,batch=1,seq=64,layers=4,dtype=bf16,train=1,optimizer=adamw_fused");
  nlohmann::json lamb = rec;
  lamb["optimizer"] = "lamb";
  CHECK(compare_record(lamb, *hw).skipped);
  nlohmann::json t5 = rec;
  t5["model"] = "t5";
  CHECK(compare_record(t5, *hw).reason == "train model 't5' is not modelled");
}
