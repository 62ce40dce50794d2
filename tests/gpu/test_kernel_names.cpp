// Library kernels read from profiler kernel names, beside the model's kernel
// (sim/tools/kernel_names.h) and in compare's report.
#include <catch2/catch.hpp>
#include <filesystem>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "sim/tools/kernel_names.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

std::string parsed(const std::string& name) {
  const auto k = parse_library_kernel(name);
  return k ? describe(*k) : "none";
}

std::string model(const std::string& spec, const std::string& hw_name) {
  const auto hw = load_hardware(hw_name, {});
  const Graph g = build_workload(spec);
  const Program p = compile(g, *hw);
  return describe(model_library_kernel(p.kernels.front(), g.ops.front(), *hw));
}

}  // namespace

TEST_CASE("profiler kernel names: the library kernel's generation, tile, alignment and split",
          "[gpu][kernels]") {
  // Kernel names in the libraries' forms. Copied from public torch.profiler / nsys
  // output: the cutlass_75 name, the three nvjet ones, cuBLASLt's splitKreduce,
  // sm90_xmma_gemm, cuDNN's sm80 fprop one and the two cutlass_80 ones (template
  // arguments and truncated tails completed); the others are written in the same naming.
  // cuBLAS for a bf16 GEMM whose N is odd (pytorch/pytorch#181718): Turing code.
  CHECK(parsed("cutlass_75_tensorop_bf16_s1688gemm_bf16_128x128_nn_align1") == "sm75 128x128 align1");
  // cuBLAS 12.8+ generated Hopper kernels: <M>x<N> tile first, splitK in the name.
  CHECK(parsed("nvjet_hsh_256x128_64x4_1x2_h_bz_coopA_NNT") == "sm90 256x128");
  CHECK(parsed("nvjet_sm90_hss_64x8_64x16_1x1_h_bz_splitK_NNT") == "sm90 64x8 split-K");
  CHECK(parsed("nvjet_sm100_hsh_64x8_64x16_1x1_h_bz_splitK_NNT") == "sm100 64x8 split-K");
  CHECK(parsed("cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16>") == "splitk_reduce");
  CHECK(
      parsed(
          "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_"
          "off_kernel__5x_cublas") == "sm90 128x128");
  // fp32 operands and fp32 math: CUDA cores, whatever the kernel's prefix.
  CHECK(parsed("sm80_xmma_gemm_f32f32_f32f32_f32_tn_n_tilesize64x256x8_stage3_warpsize1x4x1_ffma_kernel") ==
        "simt 64x256");
  CHECK(parsed("sm80_xmma_gemm_f32f32_tf32f32_f32_nn_n_tilesize128x128x32_stage3_warpsize2x2x1_tensor16x8x8_"
               "kernel") == "sm80 128x128");
  CHECK(parsed("ampere_sgemm_128x64_nn") == "simt 128x64");
  CHECK(parsed("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_64x3_nn") == "sm80 128x128");
  // cuDNN's implicit-GEMM convolutions.
  CHECK(parsed("sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize128x128x64_"
               "warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cudnn") == "sm90 128x128");
  CHECK(parsed("sm80_xmma_fprop_implicit_gemm_f16f16_f16f32_f32_nhwckrsc_nhwc_tilesize128x32x32_stage4_"
               "warpsize4x1x1_g1_tensor16x8x16_execute_kernel__5x_cudnn") == "sm80 128x32");
  // CUTLASS 2 kernels, also inside a template argument.
  CHECK(parsed("cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_256x128_32x3_tn_align8") ==
        "sm80 256x128 align8");
  CHECK(parsed(
            "void cutlass::Kernel2<cutlass_80_wmma_tensorop_s161616gemm_f16_32x32_64x2_nn_align2>(Params)") ==
        "sm80 32x32 align2");
  CHECK(parsed("cutlass3x_sm90_tensorop_gemm_bf16_bf16_f32_bf16_bf16_128x256x64_1x2x1_0_tnn_align8_"
               "warpspecialized") == "sm90 128x256 align8");
  CHECK(
      parsed("void gemv2T_kernel_val<int, int, __nv_bfloat16, __nv_bfloat16, float, 128, 16, 4, 4, false>") ==
      "gemv");
  CHECK(parsed("void nchwToNhwcKernel<__nv_bfloat16, __nv_bfloat16, float, true, false>") == "layout");
  // PyTorch's own kernels belong to no GEMM library.
  CHECK(parsed("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>") ==
        "none");

  // A call's kernels: the first GEMM-family kernel is the main one.
  const KernelDigest d = digest_kernels({"nchwToNhwcKernel", "nchwToNhwcKernel",
                                         "sm80_xmma_fprop_implicit_gemm_tilesize128x32x32_kernel",
                                         "nhwcToNchwKernel", "void at::native::elementwise_kernel"});
  REQUIRE(d.main.has_value());
  CHECK(describe(*d.main) == "sm80 128x32");
  CHECK(d.layout == 3);
  CHECK(d.other == 1);
  CHECK(d.reduce == 0);
}

TEST_CASE("the model's kernel described the same way", "[gpu][kernels]") {
  // N = 4097 leaves B's rows 2-byte aligned: the Turing-generation fallback.
  CHECK(model("gemm:m=4095,n=4097,k=4096,dtype=bf16", "h100-sxm") == "sm75 256x128 align1");
  CHECK(model("gemm:m=8192,n=8192,k=8192,dtype=bf16", "h100-sxm") == "sm90 128x256");
  CHECK(model("gemm:m=8192,n=8192,k=8192,dtype=bf16", "a100-80gb") == "sm80 128x256");
  CHECK(model("gemm:m=16,n=4096,k=4096,dtype=bf16", "h100-sxm") == "sm90 64x64 split-K");
  // fp32 matmuls stay on the CUDA cores (allow_tf32 off); int8 runs mma.sync code.
  CHECK(model("gemm:m=2048,n=2048,k=2048,dtype=fp32", "h100-sxm").starts_with("simt "));
  CHECK(model("gemm:m=4096,n=4096,k=4096,dtype=int8", "h100-sxm").starts_with("sm80 "));
  // A matrix-vector product: cuBLAS's gemv kernels (the model still tiles and splits it).
  CHECK(model("gemm:m=1,n=4096,k=4096,dtype=bf16", "h100-sxm") == "gemv 64x128 split-K");
  // fp32 convolutions run on TF32 tensor cores (cudnn.allow_tf32 on).
  CHECK(model("conv2d:n=32,cin=64,cout=64,h=56,r=3,pad=1,dtype=fp32", "h100-sxm").starts_with("sm90 "));
  // No GPU, no library kernel.
  CHECK(model("gemm:m=256,n=256,k=256,dtype=int8", "tpu-v1").empty());
}

TEST_CASE("compare sets a record's measured library kernels beside the model's", "[gpu][kernels][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto one = [&](const nlohmann::json& rec) {
    const CompareRow row = compare_record(rec, *hw);
    return row.record;
  };
  nlohmann::json r = {{"section", "gemm"}, {"dtype", "bf16"}, {"M", 4095},    {"N", 4097},
                      {"K", 4096},         {"tag", "odd"},    {"l2", "cold"}, {"median_ms", 0.9}};
  r["kernels"] = {"cutlass_75_tensorop_bf16_s1688gemm_bf16_128x128_nn_align1"};
  nlohmann::json out = one(r);
  CHECK(out["kernel_measured"] == "sm75 128x128 align1");
  CHECK(out["kernel_predicted"] == "sm75 256x128 align1");
  CHECK(out["kernel_family_match"] == true);
  // An NCHW convolution: cuDNN's conversions on the measured side, the model's
  // further launches (its three conversions) on the other; an Ampere kernel where
  // the model runs Hopper code is flagged.
  nlohmann::json c = {{"section", "conv"}, {"dtype", "bf16"}, {"N", 32},
                      {"Cin", 64},         {"Cout", 64},      {"H", 56},
                      {"W", 56},           {"R", 3},          {"S", 3},
                      {"stride", 1},       {"pad", 1},        {"memory_format", "contiguous"},
                      {"median_ms", 0.05}};
  c["kernels"] = {
      "nchwToNhwcKernel", "nchwToNhwcKernel",
      "sm80_xmma_fprop_implicit_gemm_f16f16_f16f32_f32_nhwckrsc_nhwc_tilesize128x32x32_stage4_kernel",
      "nhwcToNchwKernel"};
  out = one(c);
  CHECK(out["kernel_measured"] == "sm80 128x32 + 3 layout conversion(s)");
  CHECK(out["kernel_predicted"] == "sm90 128x64 + 3 more launch(es)");
  CHECK(out["kernel_family_match"] == false);
  // Records without kernel names carry none of the fields.
  r.erase("kernels");
  CHECK(!one(r).contains("kernel_measured"));
  // A malformed list is an input error naming the field and the entry.
  r["kernels"] = {"nvjet_hsh_256x128_64x4_1x2_h_bz_coopA_NNT", 3};
  CHECK_THROWS_WITH(one(r), Catch::Contains("field 'kernels' entry 1 (3) is not a kernel name (string)"));
  r["kernels"] = "nvjet_hsh_256x128_64x4_1x2_h_bz_coopA_NNT";
  CHECK_THROWS_WITH(one(r), Catch::Contains("field 'kernels' is not a list"));
}

TEST_CASE("a whole-model record's profiled time by kernel class, beside the model's",
          "[gpu][kernels][compare]") {
  CHECK(kernel_time_class("nvjet_hsh_128x256_64x4_2x1_v_bz_coopA_TNN") == "gemm/conv");
  CHECK(kernel_time_class("cublasLt::splitKreduce_kernel<32, 16, int, float, float>") == "elementwise");
  CHECK(kernel_time_class("void nhwcToNchwKernel<float, float, float, true, false>") == "elementwise");
  CHECK(kernel_time_class("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>>") ==
        "attention");
  CHECK(kernel_time_class("void cudnn::bn_fw_inf_1C11_kernel_NHWC<float, float, true, 1>") == "norm/softmax");
  CHECK(kernel_time_class(
            "void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16>") ==
        "norm/softmax");
  CHECK(kernel_time_class(
            "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>>") ==
        "elementwise");
  CHECK(kernel_time_class("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float>>") == "other");
  CHECK(op_time_class("conv2d") == "gemm/conv");
  CHECK(op_time_class("batchnorm") == "norm/softmax");
  CHECK(op_time_class("relu") == "elementwise");
  CHECK(op_time_class("optimizer") == "other");

  const auto hw = load_hardware("h100-sxm", {});
  nlohmann::json r = {{"section", "e2eg"}, {"model", "resnet50"}, {"dtype", "bf16"},      {"batch", 1},
                      {"seq", 0},          {"layers", 50},        {"device_busy_us", 900}};
  r["kernel_us"] = {
      {"sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize128x128x64_kernel", 40,
       400.0},
      {"sm80_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize64x32x64_kernel", 13, 120.0},
      {"void at::native::batch_norm_transform_input_channels_last_kernel<c10::BFloat16, float>", 53, 150.0},
      {"void at::native::vectorized_elementwise_kernel<4, at::native::launch_clamp_scalar>", 49, 100.0},
      {"void at::native::max_pool_forward_nhwc<c10::BFloat16, float>", 1, 5.0},
      {"nvjet_hsh_64x8_64x16_1x1_v_bz_splitK_TNN", 1, 6.0},
      {"cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16>", 1, 2.0},
      {"void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float>>", 1, 4.0}};
  const nlohmann::json out = compare_record(r, *hw).record;
  const nlohmann::json& by = out["time_by_class"];
  // measured: 400 + 120 + 6 = 526 us of GEMM-library kernels; clamp (ReLU) 100 +
  // pool 5 + the split-K reduction 2 = 107; batch norm 150; the reduction 4.
  CHECK(by["gemm/conv"]["measured_us"] == Approx(526.0));
  CHECK(by["elementwise"]["measured_us"] == Approx(107.0));
  CHECK(by["norm/softmax"]["measured_us"] == Approx(150.0));
  CHECK(by["other"]["measured_us"] == Approx(4.0));
  // The model's classes add up to its summed kernel time, the record's prediction;
  // ResNet-50 has no op of class "other".
  double predicted = 0;
  for (const auto& [cls, c] : by.items()) predicted += c["predicted_us"].get<double>();
  CHECK(predicted == Approx(out["predicted_value"].get<double>()).epsilon(1e-9));
  CHECK(by["other"]["predicted_us"] == 0.0);
  CHECK(by["gemm/conv"]["predicted_us"].get<double>() > 0);
}

TEST_CASE("a video-network record (e2eg) is predicted by the built-in r3d_18 / r2plus1d_18",
          "[gpu][compare][conv3d]") {
  const auto hw = load_hardware("h100-sxm", {});
  for (const char* name : {"r3d_18", "r2plus1d_18"}) {
    INFO(name);
    // scripts/measure_gpu.py's e2eg video records: 16 frames of 112 x 112, channels_last_3d.
    nlohmann::json r = {
        {"section", "e2eg"},     {"model", name}, {"dtype", "bf16"}, {"batch", 8},
        {"frames", 16},          {"image", 112},  {"seq", 0},        {"memory_format", "channels_last"},
        {"device_busy_us", 5000}};
    const nlohmann::json out = compare_record(r, *hw).record;
    // The prediction is the built-in's summed kernel time (what the profiler sums).
    const RunResult res =
        simulate(build_workload(std::string(name) + ":batch=8,frames=16,image=112,dtype=bf16"), *hw);
    CHECK(out["predicted_value"].get<double>() == Approx(res.kernel_time_s * 1e6).epsilon(1e-12));
    CHECK(out["measured_value"].get<double>() == 5000.0);
  }
}

TEST_CASE("an RNN record (e2eg) is predicted by the built-in lstm / gru", "[gpu][compare][rnn]") {
  const auto hw = load_hardware("h100-sxm", {});
  for (const char* name : {"lstm", "gru"}) {
    INFO(name);
    // scripts/measure_gpu.py's e2eg RNN records: [seq, batch, input] through nn.LSTM / nn.GRU.
    nlohmann::json r = {{"section", "e2eg"}, {"model", name}, {"dtype", "fp32"},
                        {"batch", 16},       {"seq", 32},     {"input", 1024},
                        {"hidden", 1024},    {"layers", 2},   {"device_busy_us", 400}};
    const nlohmann::json out = compare_record(r, *hw).record;
    const RunResult res = simulate(
        build_workload(std::string(name) + ":batch=16,seq=32,input=1024,hidden=1024,layers=2,dtype=fp32"),
        *hw);
    CHECK(out["predicted_value"].get<double>() == Approx(res.kernel_time_s * 1e6).epsilon(1e-12));
  }
  // A training-step record (measure_gpu.py's train section): the built-in with train=1.
  nlohmann::json t = {{"section", "train"},   {"model", "gru"}, {"dtype", "bf16"},
                      {"batch", 16},          {"seq", 32},      {"input", 1024},
                      {"hidden", 1024},       {"layers", 2},    {"optimizer", "adamw"},
                      {"device_busy_us", 900}};
  const RunResult tr =
      simulate(build_workload(
                   "gru:batch=16,seq=32,input=1024,hidden=1024,layers=2,dtype=bf16,train=1,optimizer=adamw"),
               *hw);
  CHECK(compare_record(t, *hw).record["predicted_value"].get<double>() ==
        Approx(tr.kernel_time_s * 1e6).epsilon(1e-12));
  // A record without the layer sizes is refused by name.
  nlohmann::json bad = {
      {"section", "e2eg"}, {"model", "lstm"}, {"batch", 1}, {"seq", 8}, {"device_busy_us", 1}};
  CHECK_THROWS_WITH(compare_record(bad, *hw), Catch::Contains("must be a number"));
}

TEST_CASE("a Conv3d layer record (conv with D and T) is predicted as the 3-D convolution",
          "[gpu][compare][conv3d]") {
  const auto hw = load_hardware("h100-sxm", {});
  // measure_gpu.py's conv3d section: R3D-18's layer2.0.conv1.0 at batch 8, bf16,
  // channels_last_3d: 64 -> 128, 3x3x3, stride 2 and pad 1 on all axes, 16 x 56 x 56.
  nlohmann::json r = {{"section", "conv"},
                      {"dtype", "bf16"},
                      {"N", 8},
                      {"Cin", 64},
                      {"Cout", 128},
                      {"D", 16},
                      {"H", 56},
                      {"W", 56},
                      {"T", 3},
                      {"R", 3},
                      {"S", 3},
                      {"stride", 2},
                      {"stride_d", 2},
                      {"pad", 1},
                      {"pad_d", 1},
                      {"memory_format", "channels_last"},
                      {"median_ms", 0.5}};
  const auto p = compare_record(r, *hw);
  const RunResult res = simulate(
      build_workload(
          "conv3d:n=8,cin=64,cout=128,d=16,h=56,t=3,r=3,stride=2,stride_d=2,pad=1,pad_d=1,dtype=bf16"),
      *hw);
  CHECK(p.record["predicted_value"].get<double>() == Approx(res.time_s * 1e3).epsilon(1e-12));
  CHECK(p.record["group"] == "bf16, 3-D");
  // Without D (and so without T's depth) the record is the 2-D convolution of one
  // frame, 8 x fewer output pixels and 3 x fewer taps: a shorter prediction.
  r.erase("D");
  CHECK(compare_record(r, *hw).record["predicted_value"].get<double>() <
        p.record["predicted_value"].get<double>());
}
