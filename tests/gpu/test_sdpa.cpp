// PyTorch's SDPA backend rules (compiler/tensorcore/sdpa_select.h) and what a
// fused attention's attn_mask costs (compiler/tensorcore/attention_select.h).
#include <catch2/catch.hpp>
#include <map>

#include "compiler/compile.h"
#include "compiler/tensorcore/sdpa_select.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

SdpaQuery query(DType t, int64_t d, SdpaMask mask = SdpaMask::none) {
  SdpaQuery q;
  q.dtype = t;
  q.batch = 8;
  q.heads = q.kv_heads = 16;
  q.sq = q.skv = 1024;
  q.d = d;
  q.mask = mask;
  return q;
}

SdpaBackend pick(const SdpaQuery& q, int cc, int64_t cudnn = 91900) {
  return select_sdpa_backend(q, SdpaDevice{cc, cudnn}).backend;
}

Kernel only_kernel(const Program& p) {
  REQUIRE(p.kernels.size() == 1);
  return p.kernels[0];
}

}  // namespace

TEST_CASE("SDPA backend order and filters follow sdp_utils.cpp", "[gpu][attention][sdpa]") {
  using B = SdpaBackend;
  // H100 (sm90) with cuDNN 9.19 > 9.15: cuDNN first.
  CHECK(pick(query(DType::bf16, 64), 90) == B::cudnn);
  CHECK(pick(query(DType::bf16, 64, SdpaMask::additive), 90) == B::cudnn);
  // cuDNN 9.19 < 9.22: head dim limit 128, so d = 256 falls to flash (<= 256),
  // and with a mask (flash takes none) to the efficient kernel.
  CHECK(pick(query(DType::bf16, 256), 90) == B::flash);
  CHECK(pick(query(DType::bf16, 256, SdpaMask::additive), 90) == B::efficient);
  CHECK(pick(query(DType::bf16, 256), 90, 92300) == B::cudnn);
  // Not a multiple of 8: cuDNN refuses; flash takes it (d <= 256), efficient
  // needs a multiple of 8 for 16-bit inputs, so with a mask: math.
  CHECK(pick(query(DType::bf16, 60), 90) == B::flash);
  CHECK(pick(query(DType::bf16, 60, SdpaMask::boolean), 90) == B::math);
  // fp32: cuDNN and flash take fp16/bf16 only; efficient with d % 4 == 0 on sm80+.
  CHECK(pick(query(DType::fp32, 32), 90) == B::efficient);
  CHECK(pick(query(DType::fp32, 30), 90) == B::math);
  // A100 (sm80): cuDNN not preferred: flash, then efficient for a mask.
  CHECK(pick(query(DType::bf16, 64), 80) == B::flash);
  CHECK(pick(query(DType::bf16, 64, SdpaMask::additive), 80) == B::efficient);
  // Older cuDNN on H100 (9.15.0 is not > 9.15.0): flash first.
  CHECK(pick(query(DType::bf16, 64), 90, 91500) == B::flash);
  // V100 (sm70): no flash, no bf16 efficient kernel: bf16 runs the math path; fp16
  // and fp32 (alignment 1 without tensor cores) the efficient kernel.
  CHECK(pick(query(DType::bf16, 64), 70) == B::math);
  CHECK(pick(query(DType::fp16, 64), 70) == B::efficient);
  CHECK(pick(query(DType::fp32, 30), 70) == B::efficient);
  // is_causal with sq != skv: flash refuses, cuDNN does not.
  SdpaQuery c = query(DType::bf16, 64);
  c.causal = true;
  c.sq = 512;
  CHECK(pick(c, 80) == B::efficient);
  CHECK(pick(c, 90) == B::cudnn);
  // Key length 1: cuDNN refuses; non-contiguous last dims: every fused kernel does.
  SdpaQuery k1 = query(DType::bf16, 64);
  k1.skv = 1;
  CHECK(pick(k1, 90) == B::flash);
  SdpaQuery s = query(DType::bf16, 64);
  s.strided = true;
  CHECK(pick(s, 90) == B::math);
  // An attn_mask whose last dimension is not contiguous (a permuted projection:
  // linear(z).permute(2, 0, 1) has stride(-1) = heads): every fused backend
  // refuses it on a GPU (check_last_dim_stride_equals_1_dense), in every format
  // and generation; the same mask contiguous goes to cuDNN / efficient.
  for (DType t : {DType::bf16, DType::fp16, DType::fp32}) {
    for (int cc : {70, 80, 90, 100}) {
      SdpaQuery m = query(t, 32, SdpaMask::additive);
      m.mask_strided = true;
      CHECK(pick(m, cc) == B::math);
    }
  }
  SdpaQuery ms = query(DType::bf16, 32, SdpaMask::additive);
  ms.mask_strided = true;
  CHECK(select_sdpa_backend(ms, SdpaDevice{90, 91900}).why ==
        "cuDNN needs the attn_mask's last dimension contiguous; flash takes no attn_mask; "
        "efficient needs the attn_mask's last dimension contiguous");
  ms.mask_strided = false;
  CHECK(pick(ms, 90) == B::cudnn);
  ms.dtype = DType::fp32;
  CHECK(pick(ms, 90) == B::efficient);
  // The reasons name the failed filters in priority order.
  CHECK(select_sdpa_backend(query(DType::fp32, 32), SdpaDevice{90, 91900}).why ==
        "cuDNN needs fp16/bf16, not fp32; flash needs fp16/bf16, not fp32");
  // Grouped-query heads (enable_gqa): flash and cuDNN take them, the efficient
  // kernel does not (check_batch_size_and_num_heads_dense<false>), so an fp32 GQA
  // call, or an fp16 one on a V100, runs the math path.
  SdpaQuery g = query(DType::bf16, 64);
  g.kv_heads = 4;
  CHECK(pick(g, 90) == B::cudnn);
  CHECK(pick(g, 80) == B::flash);
  g.dtype = DType::fp16;
  CHECK(pick(g, 70) == B::math);
  g.dtype = DType::fp32;
  CHECK(
      select_sdpa_backend(g, SdpaDevice{80, 91900}).why ==
      "flash needs fp16/bf16, not fp32; efficient takes no grouped-query heads (16 query heads, 4 key/value "
      "heads)");
  g.kv_heads = 16;
  CHECK(pick(g, 80) == B::efficient);
}

TEST_CASE("an attention's float attn_mask is read by the kernel", "[gpu][attention][sdpa]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto dram = [&](const std::string& spec) {
    const Kernel k = only_kernel(compile(build_workload(spec), *hw));
    return *k.info.dram_bytes;
  };
  // bf16, batch 8, 16 heads, 1024 x 1024, d 64: Q = O = 8*16*1024*64*2 B =
  // 16777216 B, K + V = 33554432 B: 67108864 B without a mask. The mask
  // (8 x 16 x 1024 x 1024 bf16) adds 268435456 B. Tolerance 1e-4: each load and
  // store instruction carries whole bytes per SM and stage (kernel_build.h
  // to_bytes), which moves the totals by a few KiB.
  const std::string base = "attention:batch=8,heads=16,sq=1024,d=64";
  CHECK(dram(base) == Approx(67108864.0).epsilon(1e-4));
  CHECK(dram(base + ",bias=1") == Approx(67108864.0 + 268435456.0).epsilon(1e-4));
  // Broadcast over the batch ([1, 4, 1024, 1024] bf16 = 8 MiB, within half the
  // 50 MiB L2): DRAM reads it once, the L2 serves it to all 8 batch entries.
  const std::string small = "attention:batch=8,heads=4,sq=1024,d=64";
  CHECK(dram(small + ",bias=1,bias_shared=1") - dram(small) == Approx(8388608.0).epsilon(1e-4));
  // Not broadcast: 8 x 8 MiB.
  CHECK(dram(small + ",bias=1") - dram(small) == Approx(67108864.0).epsilon(1e-4));
  // Broadcast over the heads (a padding mask [8, 1, 1024, 1024] bf16 = 16 MiB,
  // within half the L2): DRAM reads it once, not 16 times (256 MiB above).
  CHECK(dram(base + ",bias=1,bias_head_shared=1") - dram(base) == Approx(16777216.0).epsilon(1e-4));
  // Over both: one [1, 1, 1024, 1024] tile, 2 MiB.
  CHECK(dram(base + ",bias=1,bias_shared=1,bias_head_shared=1") - dram(base) ==
        Approx(2097152.0).epsilon(1e-4));
  // [32, 1, 1024, 1024] bf16 = 64 MiB exceeds half the L2: every head reads it
  // from DRAM again, 32 x 16 x 2 MiB = 1 GiB, as an unshared mask.
  const std::string wide = "attention:batch=32,heads=16,sq=1024,d=64";
  CHECK(dram(wide + ",bias=1,bias_head_shared=1") - dram(wide) == Approx(1073741824.0).epsilon(1e-4));
  // The mask costs time: the same op with bias=1 takes longer than without.
  const double t0 = simulate(build_workload(base), *hw).time_s;
  const double t1 = simulate(build_workload(base + ",bias=1"), *hw).time_s;
  CHECK(t1 > t0 * 1.05);
}

TEST_CASE("a boolean mask costs PyTorch's conversion kernel, an unaligned one the efficient kernel's padding",
          "[gpu][attention][sdpa]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto kernel = [&](const std::string& spec) { return only_kernel(compile(build_workload(spec), *hw)); };
  // bf16 + bool mask on H100: cuDNN, plus one where() kernel (convert_boolean_attn_mask).
  const Kernel b = kernel("attention:batch=2,heads=4,sq=512,d=64,bias=1,mask=bool");
  CHECK(b.info.launches.value_or(1) == 2);
  CHECK(b.mapping.rfind("flash3 attention", 0) == 0);   // cuDNN's kernel, first in the order: no note
  // fp32 + float mask, 1000 keys (not a multiple of 16): efficient kernel plus the
  // padded copy of the mask (pad_bias).
  const Kernel p = kernel("attention:batch=2,heads=4,sq=1000,d=64,bias=1,dtype=fp32");
  CHECK(p.info.launches.value_or(1) == 2);
  CHECK(p.mapping.find("SDPA backend efficient") != std::string::npos);
  const Kernel a = kernel("attention:batch=2,heads=4,sq=1024,d=64,bias=1,dtype=fp32");
  CHECK(a.info.launches.value_or(1) == 1);
}

TEST_CASE("the Evoformer's permuted pair bias sends its biased attentions to the math path",
          "[gpu][attention][sdpa]") {
  // evoformer_sdpa.py passes linear(z).permute(2, 0, 1).unsqueeze(0) as the
  // attn_mask of the row and both triangle attentions: stride(-1) = heads, which
  // no fused GPU backend takes. The column attention has no mask.
  const auto h100 = load_hardware("h100-sxm", {});
  const auto kernels = [&](const std::string& spec) {
    std::map<std::string, Kernel> by;
    for (const Kernel& k : compile(build_workload(spec), *h100).kernels) {
      const std::string base = k.name.substr(0, k.name.find('#'));
      if (base.ends_with(".sdpa")) by[base] = k;
    }
    return by;
  };
  // bf16 math path, non-causal with a mask: 3 fp32 upcasts, q and k scaling,
  // Q.K^T, mask add, softmax, the two constant fills, the -inf test, its row
  // reduction, where, P.V, the weights and the output cast back = 16 launches;
  // q, k, v are views of the packed q|k|v|g projection: matmul's reshape copies
  // the fp32 q, k and v, and the output is copied back to rows = 20 launches.
  auto bf = kernels("evoformer:n_seq=16,n_res=32,dtype=bf16");
  REQUIRE(bf.size() == 4);
  for (const char* name : {"b0.row.sdpa", "b0.tri_att_start.sdpa", "b0.tri_att_end.sdpa"}) {
    INFO(name);
    CHECK(bf[name].mapping.rfind(
              "math attention (SDPA backend math: cuDNN needs the attn_mask's last dimension "
              "contiguous;",
              0) == 0);
    CHECK(bf[name].info.launches.value_or(1) == 20);
  }
  CHECK(bf["b0.col.sdpa"].mapping.rfind("flash3 attention", 0) == 0);  // cuDNN
  // fp32: no upcasts or casts back (20 - 5 = 15); the column attention runs the
  // memory-efficient kernel.
  auto f = kernels("evoformer:n_seq=16,n_res=32,dtype=fp32");
  CHECK(f["b0.row.sdpa"].info.launches.value_or(1) == 15);
  CHECK(f["b0.col.sdpa"].mapping.rfind("efficient attention", 0) == 0);
  // The attention workload's bias_strided asks the same question.
  const auto one = [&](const std::string& spec) {
    return only_kernel(compile(build_workload(spec), *h100)).mapping;
  };
  const std::string a = "attention:batch=16,heads=8,sq=32,d=32,bias=1,bias_shared=1";
  CHECK(one(a).rfind("flash3 attention", 0) == 0);
  CHECK(one(a + ",bias_strided=1").rfind("math attention", 0) == 0);
}

TEST_CASE("a math-path attention trains through autograd's kernels of its chain",
          "[gpu][attention][sdpa][training]") {
  // The math backend has no backward kernel: autograd runs the backward of each op
  // it launched. bf16, no grouped heads (attention_sdpa_math_backward): dO to
  // fp32, dP and dV (2 bmm), where's backward, softmax backward, dQ and dK (2 bmm),
  // the two scalings' backward, dQ dK dV cast back = 12 launches; fp32 has no
  // casts: 8; grouped-query adds the two group sums of dK and dV.
  const auto grad = [](const std::string& hw_name, const std::string& spec) {
    const auto hw = load_hardware(hw_name, {});
    for (const Kernel& k : compile(build_workload(spec), *hw).kernels)
      if (k.name.find(".grad#") != std::string::npos && k.op_kind == "attention") return k;
    FAIL("no attention backward kernel in " << spec);
    return Kernel{};
  };
  // V100: no fused backend takes bf16.
  const Kernel v = grad("v100", "attention:batch=2,heads=4,sq=64,d=64,train=1");
  CHECK(v.mapping.rfind("math attention backward (SDPA backend math:", 0) == 0);
  CHECK(v.info.launches.value_or(1) == 12);
  CHECK(grad("v100", "attention:batch=2,heads=4,sq=64,d=64,kv_heads=2,train=1").info.launches.value_or(1) ==
        14);
  // H100, fp32 with head dim 30 (efficient needs a multiple of 4): math, 8 launches.
  const Kernel f = grad("h100-sxm", "attention:batch=2,heads=4,sq=64,d=30,dtype=fp32,train=1");
  CHECK(f.mapping.rfind("math attention backward", 0) == 0);
  CHECK(f.info.launches.value_or(1) == 8);
  // Packed q, k, v (the Evoformer's): dO arrives as a permuted view and the P.V
  // view's reshape copies it, one more launch: 13 in bf16, 9 in fp32.
  const std::string packed =
      "attention:batch=2,heads=4,sq=64,d=32,bias=1,bias_shared=1,bias_strided=1,qkv_packed=1,"
      "train=1";
  CHECK(grad("h100-sxm", packed).info.launches.value_or(1) == 13);
  CHECK(grad("h100-sxm", packed + ",dtype=fp32").info.launches.value_or(1) == 9);
  // A fused backend's backward stays the fused kernel.
  CHECK(grad("h100-sxm", "attention:batch=2,heads=4,sq=64,d=64,train=1")
            .mapping.rfind("flash3 attention backward", 0) == 0);
}

TEST_CASE("the math path reads a permuted attn_mask through its stride", "[gpu][attention][sdpa]") {
  // The mask add of path=sdpa_math reads the fp32 scores as a stream and the
  // mask, broadcast over the batch, once per score: n = 16 x 8 x 32 x 32 =
  // 131072 scores. Contiguous fp32 mask: 4 B per score through the L2 and from
  // DRAM. Stride 8 (the 8 heads innermost): each lane's element is 32 B from its
  // neighbour's, a sector per score through the L2; DRAM is charged its 4 B per
  // score either way (access.cpp: the broadcast re-read as measured).
  const auto hw = load_hardware("h100-sxm", {});
  const auto mask_add = [&](const std::string& extra) {
    const Program p = compile(build_workload("attention:batch=16,heads=8,sq=32,d=32,bias=1,bias_shared=1,"
                                             "path=sdpa_math,dtype=fp32" +
                                             extra),
                              *hw);
    for (const Kernel& k : p.kernels)
      if (k.name.starts_with("attention.mask_add")) return k;
    FAIL("no mask_add kernel");
    return Kernel{};
  };
  const auto load_bytes = [](const Kernel& k, const std::string& level) {
    double b = 0;
    for (const Block& blk : k.blocks)
      for (const Instr& in : blk.instrs)
        if (in.op == Opcode::load && in.src == level)
          b +=
              static_cast<double>(in.bytes) * static_cast<double>(in.count) * static_cast<double>(blk.repeat);
    return b;
  };
  const double n = 131072;
  const Kernel c = mask_add("");
  const Kernel s = mask_add(",bias_strided=1");
  // Whole bytes per SM and stage (kernel_build.h to_bytes): a few bytes off.
  CHECK(load_bytes(c, "l2") == Approx(n * 4 + n * 4).epsilon(1e-3));
  CHECK(load_bytes(s, "l2") == Approx(n * 4 + n * 32).epsilon(1e-3));
  CHECK(load_bytes(s, "dram") == Approx(n * 8).epsilon(1e-3));
  CHECK(load_bytes(c, "dram") == Approx(n * 8).epsilon(1e-3));
  // bf16: the mask stays in bf16 (2 B, stride 8 -> 16 B through the L2), the
  // scores are fp32.
  const Program pb = compile(build_workload("attention:batch=16,heads=8,sq=32,d=32,bias=1,bias_shared=1,"
                                            "bias_strided=1,path=sdpa_math,dtype=bf16"),
                             *hw);
  for (const Kernel& k : pb.kernels)
    if (k.name.starts_with("attention.mask_add")) {
      CHECK(load_bytes(k, "l2") == Approx(n * 4 + n * 16).epsilon(1e-3));
      CHECK(load_bytes(k, "dram") == Approx(n * 4 + n * 2).epsilon(1e-3));
    }
}

TEST_CASE("the GPU generation changes the SDPA backend", "[gpu][attention][sdpa][presets]") {
  // V100 has no bf16 fused kernel: PyTorch runs the math path (15 kernels for a
  // non-causal bf16 call without a mask: 3 fp32 upcasts, q and k scaling, Q.K^T,
  // softmax, two constant fills, the -inf test and its row reduction, where, P.V,
  // 2 casts back).
  const auto v100 = load_hardware("v100", {});
  const Kernel m = only_kernel(compile(build_workload("attention:batch=2,heads=8,sq=512,d=64"), *v100));
  CHECK(m.mapping.rfind("math attention", 0) == 0);
  CHECK(m.info.launches.value_or(1) == 15);
  const Kernel f = only_kernel(compile(build_workload("attention:batch=2,heads=8,sq=512,d=64,dtype=fp16"), *v100));
  CHECK(f.mapping.rfind("efficient attention", 0) == 0);
  // A100: PyTorch's flash backend (FlashAttention-2); H100: cuDNN (FlashAttention-3 class).
  const auto a100 = load_hardware("a100-80gb", {});
  CHECK(only_kernel(compile(build_workload("attention:batch=2,heads=8,sq=512,d=64"), *a100)).mapping.rfind("flash2", 0) == 0);
  const auto h100 = load_hardware("h100-sxm", {});
  CHECK(only_kernel(compile(build_workload("attention:batch=2,heads=8,sq=512,d=64"), *h100)).mapping.rfind("flash3", 0) == 0);
  // --set compute.cudnn_version=91500 on the H100: flash first.
  const auto old = load_hardware("h100-sxm", {"compute.cudnn_version=91500"});
  CHECK(only_kernel(compile(build_workload("attention:batch=2,heads=8,sq=512,d=64"), *old)).mapping.rfind("flash2", 0) == 0);
}

TEST_CASE("compare predicts a decode record as decode_static.py replayed in a CUDA graph", "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  const nlohmann::json rec = {{"section", "decode"}, {"batch", 8}, {"ctx", 1024}, {"layers", 32},
                              {"graph_median_ms", 5.0}};
  const CompareRow row = compare_record(rec, *hw);
  REQUIRE_FALSE(row.skipped);
  // The reference's step: cache of ctx = 1024 positions holding the new token, so
  // 1023 cached before it; the graph replay has no launch idle: summed kernel time.
  const RunResult r = simulate(build_workload("llama-7b:phase=decode,batch=8,ctx=1023,layers=32,embed=0,kv_cache=static,"
                                              "fused_qkv=1,fused_gate_up=1,rope=0,kernels=fused"), *hw);
  CHECK(row.record["predicted_value"].get<double>() == Approx(r.kernel_time_s * 1e3).epsilon(1e-12));
  CHECK(r.kernel_time_s < r.time_s);
  // HF's DynamicCache decode (torch.cat of the whole cache, separate projections,
  // its eager RMSNorm and rotary) launches more than three times the kernels.
  const Graph hf = build_workload("llama-7b:phase=decode,batch=8,ctx=1023,layers=32,embed=0,kv_cache=dynamic");
  CHECK(hf.ops.size() > 3 * 32 * 12);
}

TEST_CASE("compare reads a decode record's layers and an Evoformer record's variant", "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  // make_step(batch, ctx, layers=4): four decoder layers, not the default 32.
  const nlohmann::json dec = {{"section", "decode"}, {"batch", 1}, {"ctx", 512}, {"layers", 4},
                              {"graph_median_ms", 1.0}};
  const CompareRow d = compare_record(dec, *hw);
  REQUIRE_FALSE(d.skipped);
  CHECK(d.record["workload"] == "llama-7b:phase=decode,batch=1,ctx=511,layers=4,embed=0,kv_cache=static,fused_qkv=1,"
                                "fused_gate_up=1,rope=0,kernels=fused,dtype=bf16");
  // No variant: the reference module evoformer_sdpa.py; "openfold": OpenFold's block,
  // which launches other kernels and so predicts another time.
  nlohmann::json evo = {{"section", "evoformer"}, {"dtype", "bf16"}, {"n_seq", 16}, {"n_res", 32},
                        {"c_m", 256}, {"c_z", 128}, {"median_ms", 1.0}};
  const CompareRow sdpa = compare_record(evo, *hw);
  REQUIRE_FALSE(sdpa.skipped);
  CHECK(sdpa.record["workload"] == "evoformer:n_seq=16,n_res=32,c_m=256,c_z=128,variant=sdpa,dtype=bf16");
  evo["variant"] = "openfold";
  const CompareRow of = compare_record(evo, *hw);
  REQUIRE_FALSE(of.skipped);
  CHECK(of.record["workload"] == "evoformer:n_seq=16,n_res=32,c_m=256,c_z=128,variant=openfold,dtype=bf16");
  CHECK(of.record["predicted_value"].get<double>() != sdpa.record["predicted_value"].get<double>());
}

TEST_CASE("compare counts a whole-model record's profiled kernel launches beside the model's",
          "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  // kernel_us rows as scripts/measure_gpu.py writes them: [name, calls, us].
  nlohmann::json rec = {{"section", "e2eg"},
                        {"model", "resnet50"},
                        {"dtype", "bf16"},
                        {"batch", 1},
                        {"seq", 0},
                        {"layers", 50},
                        {"memory_format", "channels_last"},
                        {"device_busy_us", 900.0},
                        {"kernel_us",
                         {{"sm90_xmma_fprop_implicit_gemm", 53, 400.5},
                          {"elementwise_kernel", 120, 250.0},
                          {"batch_norm_transform_input_channels_last_kernel", 53, 120.0}}}};
  const CompareRow row = compare_record(rec, *hw);
  REQUIRE_FALSE(row.skipped);
  // Measured: 53 + 120 + 53 = 226 launches. Predicted: the built-in's 174 ops of
  // ResNet-50 (53 convolutions, 53 batch norms, 49 relu, 16 adds, 2 pools, fc),
  // each batch norm 3 launches in bf16 (PyTorch's channels-last kernels):
  // 174 + 53 x 2 = 280.
  CHECK(row.record["kernels_measured"] == 226);
  CHECK(row.record["kernels_predicted"] == 280);
  // The timing comparison is the same with or without the rows.
  rec.erase("kernel_us");
  const CompareRow plain = compare_record(rec, *hw);
  CHECK_FALSE(plain.record.contains("kernels_measured"));
  CHECK(plain.record["predicted_value"] == row.record["predicted_value"]);
}

TEST_CASE("compare groups GEMM records tagged odd apart from the power-of-two grid", "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  nlohmann::json rec = {{"section", "gemm"}, {"dtype", "bf16"}, {"M", 4095}, {"N", 4097}, {"K", 4096},
                        {"tag", "odd"}, {"l2", "cold"}, {"median_ms", 0.5}};
  CHECK(compare_record(rec, *hw).record["group"] == "odd shapes, cold");
  rec["l2"] = "hot";
  CHECK(compare_record(rec, *hw).record["group"] == "odd shapes, hot L2");
  rec["tag"] = "square";
  CHECK(compare_record(rec, *hw).record["group"] == "hot L2");
}

TEST_CASE("compare reads the usual names of the whole models", "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto workload = [&](nlohmann::json rec) {
    const CompareRow row = compare_record(rec, *hw);
    return row.skipped ? "skipped: " + row.reason : row.record["workload"].get<std::string>();
  };
  nlohmann::json train = {{"section", "train"}, {"batch", 2}, {"seq", 64}, {"amp", "bf16"},
                          {"optimizer", "adamw_fused"}, {"device_busy_us", 1000.0}};
  train["model"] = "GPT2";
  CHECK(workload(train) == "gpt2-small:batch=2,seq=64,train=1,amp=bf16,optimizer=adamw_fused");
  train["model"] = "BertModel";
  CHECK(workload(train) == "bert-base:batch=2,seq=64,train=1,amp=bf16,optimizer=adamw_fused");
  // A LLaMA record names its layer count; llama7b-4layers means 4.
  train["model"] = "LlamaModel";
  train["layers"] = 2;
  CHECK(workload(train) == "llama-7b:phase=prefill,batch=2,seq=64,layers=2,train=1,amp=bf16,optimizer=adamw_fused");
  train.erase("layers");
  train["model"] = "llama7b-4layers";
  CHECK(workload(train) == "llama-7b:phase=prefill,batch=2,seq=64,layers=4,train=1,amp=bf16,optimizer=adamw_fused");
  train["model"] = "vit-b16";
  CHECK(workload(train) == "skipped: train model 'vit-b16' is not modelled");
  // e2eg: ResNet-50 by its other spelling; a LLaMA without a count is HF's LlamaConfig(), 32 layers.
  nlohmann::json e2e = {{"section", "e2eg"}, {"model", "ResNet-50"}, {"dtype", "fp32"}, {"batch", 8},
                        {"device_busy_us", 1000.0}};
  CHECK(workload(e2e) == "resnet50:batch=8,dtype=fp32");
  e2e["memory_format"] = "contiguous";   // NCHW: PyTorch's other batch-norm kernels
  CHECK(workload(e2e) == "resnet50:batch=8,dtype=fp32,memory_format=contiguous");
  e2e = {{"section", "e2eg"}, {"model", "llama-7b"}, {"batch", 1}, {"seq", 128}, {"device_busy_us", 1000.0}};
  CHECK(workload(e2e) == "llama-7b:phase=prefill,batch=1,seq=128,layers=32,dtype=bf16");
  // A zero layer count is refused, not clamped.
  e2e["layers"] = 0;
  CHECK_THROWS_WITH(compare_record(e2e, *hw), Catch::Contains("field 'layers' = 0 must be a whole number in 1..2^48"));
}

TEST_CASE("compare predicts bf16 mixed-precision training records as amp=bf16, not as pure bf16", "[gpu][compare]") {
  const auto hw = load_hardware("h100-sxm", {});
  nlohmann::json rec = {{"section", "train"}, {"model", "bert-base"}, {"batch", 8}, {"seq", 128},
                        {"amp", "bf16"}, {"loss", "pow2_mean"}, {"optimizer", "adamw_fused"},
                        {"device_busy_us", 1000.0}};
  const CompareRow amp = compare_record(rec, *hw);
  REQUIRE_FALSE(amp.skipped);
  CHECK(amp.record["workload"] == "bert-base:batch=8,seq=128,train=1,amp=bf16,optimizer=adamw_fused");
  rec["amp"] = "fp16";   // autocast(float16) with GradScaler
  CHECK(compare_record(rec, *hw).record["workload"] == "bert-base:batch=8,seq=128,train=1,amp=fp16,optimizer=adamw_fused");
  rec["amp"] = "fp8";
  CHECK(compare_record(rec, *hw).reason == "train amp 'fp8' is not modelled (accepted: bf16, fp16, none)");
  rec["amp"] = "none";
  const CompareRow pure = compare_record(rec, *hw);
  REQUIRE_FALSE(pure.skipped);
  CHECK(pure.record["workload"] == "bert-base:batch=8,seq=128,dtype=bf16,train=1,optimizer=adamw_fused");
}

TEST_CASE("attention dropout: which backends take it and the Philox work it adds",
          "[gpu][attention][sdpa][dropout]") {
  using B = SdpaBackend;
  // Every backend takes dropout_p > 0 with cuDNN 9.19: the choice is the same as
  // without (cuDNN on H100, flash on A100; efficient with a mask on A100).
  SdpaQuery q = query(DType::bf16, 64);
  q.dropout = true;
  CHECK(pick(q, 90) == B::cudnn);
  CHECK(pick(q, 80) == B::flash);
  q.mask = SdpaMask::additive;
  CHECK(pick(q, 80) == B::efficient);

  const auto hw = load_hardware("h100-sxm", {});
  // The lane work of the block that holds the scores' exp: the softmax (or the
  // backward's per-score) instruction grows by k_fused_attention_dropout_lanes =
  // 7 x 12 / 16 + 1 = 6.25 lane slots per score, i.e. 6.25 x the exp count.
  const auto lanes = [&](const Kernel& k, const char* name) {
    for (const Block& b : k.blocks) {
      int64_t exp = 0, work = 0;
      for (const Instr& in : b.instrs) {
        if (in.op != Opcode::vec) continue;
        if (in.name == "exp") exp = in.elems;
        if (in.name == name) work = in.elems;
      }
      if (exp > 0) return std::pair<int64_t, int64_t>{exp, work};
    }
    FAIL("no block with exp");
    return std::pair<int64_t, int64_t>{0, 0};
  };
  for (const char* be : {"flash", "cudnn", "efficient"}) {
    INFO(be);
    const std::string base = std::string("attention:batch=2,heads=16,sq=2048,d=64,backend=") + be;
    const Program off = compile(build_workload(base + ",train=1"), *hw);
    const Program on = compile(build_workload(base + ",dropout=0.1,train=1"), *hw);
    REQUIRE(off.kernels.size() == 2);
    REQUIRE(on.kernels.size() == 2);
    const auto [exp_f, soft_off] = lanes(off.kernels[0], "softmax");
    const auto [exp_f2, soft_on] = lanes(on.kernels[0], "softmax");
    CHECK(exp_f == exp_f2);
    CHECK(soft_on - soft_off == exp_f * 25 / 4);
    const auto [exp_b, bwd_off] = lanes(off.kernels[1], "attention_backward");
    const auto [exp_b2, bwd_on] = lanes(on.kernels[1], "attention_backward");
    CHECK(exp_b == exp_b2);
    CHECK(bwd_on - bwd_off == exp_b * 25 / 4);
    // Same launches and bytes: the mask is drawn, never stored.
    CHECK(on.kernels[0].info.dram_bytes == off.kernels[0].info.dram_bytes);
    CHECK(on.kernels[0].mapping.find("dropout drawn in-kernel") != std::string::npos);
    CHECK(off.kernels[0].mapping.find("dropout") == std::string::npos);
  }
  // The math path runs at::dropout on the fp32 weights: one native_dropout kernel
  // more (15 -> 16 launches), and its backward one native_dropout_backward more.
  const Program m0 = compile(build_workload("attention:batch=1,heads=2,sq=64,d=64,backend=math"), *hw);
  const Program m1 =
      compile(build_workload("attention:batch=1,heads=2,sq=64,d=64,backend=math,dropout=0.1"), *hw);
  CHECK(*m1.kernels[0].info.launches == *m0.kernels[0].info.launches + 1);
  // 2 x 64 rows x 64 keys fp32: reads 4 B, writes 4 B and the 1-byte mask per weight.
  CHECK(*m1.kernels[0].info.dram_bytes - *m0.kernels[0].info.dram_bytes == Approx(2 * 64 * 64 * 9.0));
  const Graph mt = build_workload("attention:batch=1,heads=2,sq=64,d=64,path=sdpa_math,dropout=0.1,train=1");
  CHECK(testing::find_op(mt, "attention.dropout").kind == OpKind::dropout);
  CHECK(testing::find_op(mt, "attention.dropout.grad").get("backward", 0) == 1);
}

TEST_CASE("GEMM shapes PyTorch's fp8 and int8 matmuls refuse are named in the mapping", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto mapping = [&](const std::string& spec) {
    return only_kernel(compile(build_workload(spec), *hw)).mapping;
  };
  // torch._scaled_mm: K and N multiples of 16 (M free); torch._int_mm: M > 16, K and N
  // multiples of 8 (aten/src/ATen/native/cuda/Blas.cpp).
  CHECK_THAT(
      mapping("gemm:m=1000,n=1000,k=1000,dtype=fp8_e4m3"),
      Catch::EndsWith("; torch._scaled_mm refuses this shape (it needs K and N multiples of 16; K = 1000, "
                      "N = 1000)"));
  CHECK_THAT(mapping("gemm:m=1000,n=1024,k=1024,dtype=fp8_e4m3"), !Catch::Contains("refuses"));
  CHECK_THAT(
      mapping("gemm:m=16,n=5000,k=7000,dtype=int8"),
      Catch::EndsWith("; torch._int_mm refuses this shape (it needs M > 16 and K, N multiples of 8; M = 16, "
                      "K = 7000, N = 5000)"));
  CHECK_THAT(mapping("gemm:m=17,n=5000,k=7000,dtype=int8"), !Catch::Contains("refuses"));
  CHECK_THAT(mapping("gemm:m=17,n=5000,k=7001,dtype=int8"), Catch::Contains("torch._int_mm refuses"));
  CHECK_THAT(mapping("gemm:m=1000,n=1000,k=1000,dtype=bf16"), !Catch::Contains("refuses"));
}

TEST_CASE("native_dropout's lane work: a Philox-4x32-10 call per 4 elements", "[gpu][dropout]") {
  // k_dropout_lanes = 10 rounds x 12 lane slots / 4 elements + 2 (conversion) + 3
  // (keep test, select, mask byte) = 35 per element; the backward's masked scale 2.
  const auto hw = load_hardware("h100-sxm", {});
  const auto lanes = [&](const Kernel& k, const char* name) {
    double total = 0;
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs)
        if (in.op == Opcode::vec && in.name == name)
          total +=
              static_cast<double>(in.elems) * static_cast<double>(in.count) * static_cast<double>(b.repeat);
    return total;
  };
  const Program p = compile(build_workload("dropout:rows=4096,cols=4096,train=1"), *hw);
  REQUIRE(p.kernels.size() == 2);
  const double e = 4096.0 * 4096;
  CHECK(lanes(p.kernels[0], "dropout") == Approx(35 * e).epsilon(1e-6));
  CHECK(lanes(p.kernels[1], "dropout") == Approx(2 * e).epsilon(1e-6));
  // Forward bytes: 2 read + 2 written + 1 mask per bf16 element.
  CHECK(*p.kernels[0].info.dram_bytes == Approx(5 * e));
}

TEST_CASE("a decode step on the memory-efficient kernel reads the cache without a KV split",
          "[gpu][attention][sdpa]") {
  // A100 (cuDNN not preferred): one bf16 query row per head against 4096 keys. Without
  // a mask FlashAttention-2 runs it split along the keys (flash-decoding: 7 splits of
  // the 32 heads fill the 108 SMs, then a combine kernel). With a padding mask SDPA
  // takes the memory-efficient kernel, whose grid is (ceil(1 / 64) query blocks,
  // 32 heads, 1 batch): 32 thread blocks, each reading its head's whole cache.
  const auto hw = load_hardware("a100-80gb", {});
  const std::string spec = "attention:batch=1,heads=32,sq=1,skv=4096,d=128";
  const Kernel flash = only_kernel(compile(build_workload(spec), *hw));
  CHECK(flash.mapping.rfind("decode attention (flash-decoding), 7 KV splits, 224 thread blocks", 0) == 0);
  CHECK(*flash.info.splits == 7);
  const Kernel eff = only_kernel(compile(build_workload(spec + ",bias=1,bias_head_shared=1,mask=bool"), *hw));
  CHECK(eff.mapping.rfind(
            "decode attention (memory-efficient, no KV split) (SDPA backend efficient: flash takes no "
            "attn_mask), 1 KV splits, 32 thread blocks",
            0) == 0);
  CHECK(*eff.info.splits == 1);
  CHECK(*eff.info.thread_blocks == 32);
  // 32 of 108 SMs stream the 64 MiB cache: slower than the split kernel.
  CHECK(simulate(build_workload(spec + ",bias=1,bias_head_shared=1,mask=bool"), *hw).time_s >
        1.2 * simulate(build_workload(spec), *hw).time_s);
}
