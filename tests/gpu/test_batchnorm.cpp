// Batch norm as PyTorch dispatches it on a CUDA GPU (compiler/tensorcore/batchnorm.h):
// cuDNN or PyTorch's own kernels, and the launches and bytes of each pass.
#include <catch2/catch.hpp>

#include "compiler/compile.h"
#include "compiler/tensorcore/batchnorm.h"
#include "models/hardware.h"
#include "core/error.h"
#include "workloads/ir.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

// A batchnorm op over an N x C x H x W tensor: rows = N*H*W, cols = C.
Op bn_op(int64_t n, int64_t c, int64_t hw, DType t, bool channels_last, bool training = false) {
  Op op;
  op.name = "bn";
  op.kind = OpKind::batchnorm;
  op.dtype = op.out_dtype = t;
  op.attrs = {{"rows", n * hw}, {"cols", c}, {"n", n}, {"channels_last", channels_last ? 1 : 0}};
  if (training) op.attrs["training"] = 1;
  return op;
}

constexpr double k_l2 = 50.0 * 1024 * 1024;   // H100 L2
constexpr double k_onchip = 132.0 * (256 + 228) * 1024;   // H100 registers + shared memory

BnPlan plan(const Op& op, DType weight, double l2 = k_l2) {
  return plan_batchnorm(op, batchnorm_inputs(op, weight), l2, 132, k_onchip);
}

}  // namespace

TEST_CASE("batch norm goes to cuDNN or PyTorch's kernels by _select_batch_norm_backend's rule", "[gpu][batchnorm]") {
  BnInputs in;
  in.n = 32;
  in.numel = 32.0 * 64 * 56 * 56;
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);   // fp32
  in.input = in.weight = DType::bf16;
  CHECK(batchnorm_backend(in).backend == BnBackend::native);   // bf16 is never cuDNN
  CHECK(batchnorm_backend(in).reason.find("bf16") != std::string::npos);
  in.weight = DType::fp32;   // autocast: bf16 activations, fp32 parameters: still native
  CHECK(batchnorm_backend(in).backend == BnBackend::native);
  in.input = DType::fp16;   // fp16 with fp32 weights: cuDNN
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);
  in.weight = DType::fp16;  // model.half(): fp16 weights: native
  CHECK(batchnorm_backend(in).backend == BnBackend::native);
  in.input = in.weight = DType::fp64;   // no fp64 exclusion for cuDNN in the rule
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);
  // cuDNN's batch limits: 65535 in eval, 880801 in training; one over flips the choice.
  in.input = in.weight = DType::fp32;
  in.n = 65535;
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);
  in.n = 65536;
  CHECK(batchnorm_backend(in).backend == BnBackend::native);
  CHECK(batchnorm_backend(in).reason == "batch 65536 > 65535 (cuDNN's limit in eval)");
  in.training = true;
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);
  in.n = 880802;
  CHECK(batchnorm_backend(in).backend == BnBackend::native);
  // 32-bit indexing: numel must stay below 2^31 - 1 = 2147483647.
  in.n = 32;
  in.numel = 2147483646.0;
  CHECK(batchnorm_backend(in).backend == BnBackend::cudnn);
  in.numel = 2147483647.0;
  CHECK(batchnorm_backend(in).backend == BnBackend::native);
}

TEST_CASE("batch-norm inference: cuDNN one launch, PyTorch's kernels three", "[gpu][batchnorm]") {
  // N = 2, C = 64, H = W = 8 channels-last: rows = 128, e = 8192 elements.
  {
    // fp32: cudnnBatchNormalizationForwardInference reads x (8192 x 4 = 32768 B) and
    // weight, bias, running mean and var (4 x 64 x 4 = 1024 B), writes y (32768 B).
    const BnPlan p = plan(bn_op(2, 64, 64, DType::fp32, true), DType::fp32);
    CHECK(p.dispatch.backend == BnBackend::cudnn);
    CHECK(p.entry == "cudnn_batch_norm");
    CHECK(p.mode == "CUDNN_BATCHNORM_SPATIAL");
    REQUIRE(p.launches.size() == 1);
    CHECK(p.launches[0].dram_read == 33792);
    CHECK(p.launches[0].written == 32768);
  }
  // bf16 (bf16 weights): native_batch_norm = copy_ of running_mean into fp32
  // save_mean (reads 64 x 2 = 128 B, writes 64 x 4 = 256 B), batch_norm_calc_invstd
  // (the same bytes), the elementwise kernel: x (8192 x 2 = 16384 B) plus weight and
  // bias (2 x 64 x 2 = 256 B) and mean and invstd (2 x 64 x 4 = 512 B) = 17152 B read,
  // y 16384 B written. flexible_launch_configs(128 pixels, 64 channels): block 64 x 8,
  // grid 1 x 1 (ceil(128 / (8 x 16)) = 1).
  const BnPlan p = plan(bn_op(2, 64, 64, DType::bf16, true), DType::bf16);
  CHECK(p.dispatch.backend == BnBackend::native);
  CHECK(p.entry == "native_batch_norm");
  REQUIRE(p.launches.size() == 3);
  CHECK(p.launches[0].kernel == "copy_ (running_mean to save_mean)");
  CHECK(p.launches[0].dram_read == 128);
  CHECK(p.launches[0].written == 256);
  CHECK(p.launches[1].kernel == "batch_norm_calc_invstd");
  CHECK(p.launches[1].written == 256);
  CHECK(p.launches[2].kernel == "batch_norm_transform_input_channels_last_kernel");
  CHECK(p.launches[2].dram_read == 17152);
  CHECK(p.launches[2].written == 16384);
  CHECK(p.launches[2].blocks == 1);
  CHECK(p.thread_load_bytes == 8);   // 4 bf16 loads in flight per thread
  // NCHW: the per-plane kernel, C x ceil(N / tb) blocks: HW = 64, tf = max(32, 64) = 64,
  // tb = 1, so 64 x 2 = 128 blocks.
  const BnPlan q = plan(bn_op(2, 64, 64, DType::bf16, false), DType::bf16);
  CHECK(q.launches[2].kernel == "batch_norm_transform_input_kernel");
  CHECK(q.launches[2].blocks == 128);
  CHECK(q.thread_load_bytes == 0);
}

TEST_CASE("batch-norm training: statistics, running-stat update, a second pass over x", "[gpu][batchnorm]") {
  // The same small bf16 NHWC tensor in training: no grid reduction (grid.y = 1).
  //  stats: reads x 16384 B, writes mean and var 2 x 64 x 4 = 512 B;
  //  batch_norm_update_stats_and_invert: reads mean, var (512 B) and running mean,
  //  var (256 B) = 768 B, writes running mean, var (256 B) and invstd (256 B) = 512 B;
  //  elementwise: x again (16384 B <= half the L2: from the L2) plus 768 B of
  //  per-channel vectors from DRAM, writes y.
  const BnPlan p = plan(bn_op(2, 64, 64, DType::bf16, true, true), DType::bf16);
  REQUIRE(p.launches.size() == 3);
  CHECK(p.launches[0].kernel == "batch_norm_collect_statistics_channels_last_kernel");
  CHECK(p.launches[0].dram_read == 16384);
  CHECK(p.launches[0].written == 512);
  CHECK_FALSE(p.launches[0].grid_reduction);
  CHECK(p.launches[1].dram_read == 768);
  CHECK(p.launches[1].written == 512);
  CHECK(p.launches[2].l2_read == 16384);
  CHECK(p.launches[2].dram_read == 768);
  // Without an L2 the second pass reads x from DRAM again.
  const BnPlan no_l2 = plan(bn_op(2, 64, 64, DType::bf16, true, true), DType::bf16, 0);
  CHECK(no_l2.launches[2].l2_read == 0);
  CHECK(no_l2.launches[2].dram_read == 16384 + 768);

  // ResNet-50's layer1 at batch 32 (N HW = 32 x 56 x 56 = 100352 pixels, C = 64):
  // block 32 x 16, grid 2 x min(ceil(100352 / 256), 128) = 2 x 128 blocks, so the
  // Welford partials meet in a staging buffer (64 x 128 x (2 x 4 + 4) = 98304 B)
  // behind semaphores that at::zeros clears first: four launches.
  const BnPlan big = plan(bn_op(32, 64, 56 * 56, DType::bf16, true, true), DType::bf16);
  REQUIRE(big.launches.size() == 4);
  CHECK(big.launches[0].kernel == "zeros (grid-reduction semaphores)");
  CHECK(big.launches[0].written == 8);   // grid.x = 2 int32 semaphores
  CHECK(big.launches[1].blocks == 256);
  CHECK(big.launches[1].grid_reduction);
  CHECK(big.launches[1].written == 512 + 98304);
  // NCHW: one statistics block per channel (64 SMs busy of 132), no grid reduction.
  const BnPlan nchw = plan(bn_op(32, 64, 56 * 56, DType::bf16, false, true), DType::bf16);
  REQUIRE(nchw.launches.size() == 3);
  CHECK(nchw.launches[0].kernel == "batch_norm_collect_statistics_kernel");
  CHECK(nchw.launches[0].blocks == 64);
  // fp32 channels-last training is cuDNN's persistent mode, one call; x (8192 x 4 B)
  // fits on chip, so it is read once.
  const BnPlan cud = plan(bn_op(2, 64, 64, DType::fp32, true, true), DType::fp32);
  CHECK(cud.mode == "CUDNN_BATCHNORM_SPATIAL_PERSISTENT");
  REQUIRE(cud.launches.size() == 1);
  CHECK(cud.launches[0].dram_read == 32768 + 4 * 64 * 4);
  CHECK(plan(bn_op(2, 64, 64, DType::fp32, false, true), DType::fp32).mode == "CUDNN_BATCHNORM_SPATIAL");
}

TEST_CASE("the built-in CNNs' batch norms follow the rule in eval and training", "[gpu][batchnorm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto bn_kernel = [&](const std::string& w, const std::string& name) {
    const Program prog = compile(build_workload(w), *hw);
    for (const Kernel& k : prog.kernels)
      if (k.name.rfind(name + "#", 0) == 0) return k;
    FAIL("no kernel " << name << " in " << w);
    return Kernel{};
  };
  const Kernel bf = bn_kernel("resnet50:batch=2,image=64,dtype=bf16", "bn1");
  CHECK(bf.info.launches.value_or(1) == 3);
  CHECK(bf.mapping.rfind("native_batch_norm [channels-last kernels]", 0) == 0);
  const Kernel fp = bn_kernel("resnet50:batch=2,image=64,dtype=fp32", "bn1");
  CHECK(fp.info.launches.value_or(1) == 1);
  CHECK(fp.mapping.rfind("cudnn_batch_norm [CUDNN_BATCHNORM_SPATIAL]", 0) == 0);
  CHECK_THROWS_WITH(build_workload("resnet50:memory_format=nhwc"),
                    "--workload 'resnet50:memory_format=nhwc': workload parameter 'memory_format': 'nhwc' is not "
                    "accepted; accepted: channels_last, contiguous");
  const Kernel nchw = bn_kernel("resnet50:batch=2,image=64,dtype=bf16,memory_format=contiguous", "bn1");
  CHECK(nchw.mapping.rfind("native_batch_norm [contiguous (NCHW) kernels]", 0) == 0);
  // Training: the backward's weight/bias reduction and dx kernels carry the layout.
  const Kernel red = bn_kernel("resnet50:batch=2,image=64,dtype=bf16,train=1", "bn1.grad_weight");
  CHECK(red.mapping.find("batch_norm_backward_reduce_channels_last_kernel") != std::string::npos);
  const Kernel dx = bn_kernel("resnet50:batch=2,image=64,dtype=bf16,train=1", "bn1.grad_input");
  CHECK(dx.mapping.find("batch_norm_backward_elemt_channels_last_kernel") != std::string::npos);
}

TEST_CASE("a batch norm's batch must divide its rows", "[gpu][batchnorm]") {
  Graph g;
  g.ops.push_back(bn_op(2, 64, 64, DType::bf16, false));   // channels_last = 0 is accepted
  CHECK_NOTHROW(validate_graph(g, "t.json"));
  g.ops[0].attrs["n"] = 3;   // 128 rows are not 3 images
  CHECK_THROWS_WITH(validate_graph(g, "t.json"),
                    "t.json: op 'bn' (batchnorm): 'n' = 3 must divide 'rows' = 128 (rows = N x H x W)");
  g.ops[0].attrs["n"] = 2;
  g.ops[0].attrs["channels_last"] = 2;
  CHECK_THROWS_WITH(validate_graph(g, "t.json"), "t.json: op 'bn' (batchnorm): 'channels_last' = 2 must be 0 or 1");
}
