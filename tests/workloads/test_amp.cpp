// Mixed-precision training (train=1,amp=bf16: workloads/training/autocast.cpp):
// the kernels torch.autocast(bfloat16) launches around an fp32 model, the loss of
// shared/reference/models/train_amp.py, fp32 gradients and fused AdamW, by hand.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/capacity.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "tests/support/cli_run.h"
#include "tests/support/graph_ops.h"
#include "tests/support/workload_errors.h"
#include "workloads/training.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

using testing::find_op;

using testing::has_op;

int count(const Graph& g, size_t from, size_t to, OpKind kind, DType in, DType out) {
  int n = 0;
  for (size_t i = from; i < to && i < g.ops.size(); ++i)
    n += g.ops[i].kind == kind && g.ops[i].dtype == in && g.ops[i].out_dtype == out ? 1 : 0;
  return n;
}

using testing::workload_error;

}  // namespace

TEST_CASE("amp=bf16 GPT-2, one layer: autocast's casts, bf16 products, the loss, fp32 grads, fused AdamW",
          "[training][amp]") {
  const Graph g = build_workload("gpt2-small:batch=1,seq=8,layers=1,train=1,amp=bf16,optimizer=adamw_fused");
  const size_t fwd = static_cast<size_t>(g.info.at("ops_forward"));
  const size_t bwd = fwd + static_cast<size_t>(g.info.at("ops_backward"));
  // Forward: four linears (c_attn, attn.c_proj, c_fc, mlp.c_proj), each with a
  // weight and a bias cast once fp32 -> bf16 (leaf casts: no producer) = 8; the
  // activations cast fp32 -> bf16: ln_1 -> c_attn, ln_2 -> c_fc and gelu_new's fp32
  // result -> mlp.c_proj = 3 (attn.c_proj reads SDPA's bf16 output); bf16 -> fp32:
  // gelu_new's pow(x, 3) (autocast's fp32 list) = 1; the loss reads ln_f's fp32
  // output (LayerNorm is on the fp32 list): no y.float() kernel.
  CHECK(count(g, 0, fwd, OpKind::copy, DType::fp32, DType::bf16) == 11);
  CHECK(count(g, 0, fwd, OpKind::copy, DType::bf16, DType::fp32) == 1);
  CHECK(!has_op(g, "loss.float"));
  // The c_attn weight cast: 768 x 2304 elements read as fp32 and written as bf16,
  // 768 * 2304 * (4 + 2) = 10,616,832 bytes.
  const Op& wc = find_op(g, "l0.attn.c_attn.weight_autocast");
  CHECK(wc.deps.empty());
  CHECK(op_min_bytes(wc) == 10616832.0);
  CHECK(find_op(g, "l0.attn.c_attn").dtype == DType::bf16);
  CHECK(find_op(g, "l0.attn.sdpa").dtype == DType::bf16);
  CHECK(find_op(g, "l0.ln_2").dtype == DType::fp32);
  CHECK(find_op(g, "l0.attn.add").dtype == DType::fp32);  // bf16 c_proj + fp32 residual: promoted
  // The loss: pow(2) and mean over the 8 x 768 = 6144 elements of last_hidden_state;
  // loss.backward(): ones_like (1 kernel), MeanBackward (1), PowBackward (3).
  CHECK(find_op(g, "loss.pow").get("exponent", 0) == 2);
  CHECK(find_op(g, "loss.mean").at("rows") == 6144);
  CHECK(g.ops[fwd].name == "loss.backward_seed");
  CHECK(g.ops[fwd + 1].name == "loss.mean.grad");
  CHECK(g.ops[fwd + 2].name == "loss.pow.grad_pow");
  CHECK(g.ops[fwd + 3].name == "loss.pow.grad_scale");
  CHECK(g.ops[fwd + 4].name == "loss.pow.grad");
  // Backward: every weight and bias gradient of a linear is made in bf16 and cast
  // back to fp32 for .grad (ToCopyBackward0): 8 casts of 4 * 2 tensors; the
  // gradients of the bf16 inputs of fp32 ops (mlp.c_proj's output into the fp32
  // residual add, attn.c_proj's likewise, mul_half's bf16 output into the fp32
  // product) are cast fp32 -> bf16 by the engine's validate_outputs.
  int to_fp32 = 0;
  for (size_t i = fwd; i < bwd; ++i)
    to_fp32 += g.ops[i].name.find("_to_fp32") != std::string::npos ? 1 : 0;
  CHECK(to_fp32 == 8);
  CHECK(find_op(g, "l0.attn.c_attn.grad_weight").dtype == DType::bf16);
  CHECK(find_op(g, "l0.attn.c_attn.grad_weight_to_fp32").out_dtype == DType::fp32);
  CHECK(op_min_bytes(find_op(g, "l0.attn.c_attn.grad_weight_to_fp32")) == 10616832.0);
  CHECK(has_op(g, "l0.mlp.c_proj.grad_cast"));
  CHECK(has_op(g, "l0.attn.c_proj.grad_cast"));
  // gelu_new's pow(x, 3) backward: pow(x, 2), x 3, x grad (3 kernels).
  CHECK(find_op(g, "l0.mlp.gelu_new.pow3.grad_pow").kind == OpKind::mul);
  CHECK(has_op(g, "l0.mlp.gelu_new.pow3.grad_scale"));
  // Fused AdamW over the fp32 parameters: wte 50257 x 768 + wpe 1024 x 768 + one
  // layer 7,087,872 + ln_f 1536 = 46,473,216; reads p, g, m, v (16 B) and writes p,
  // m, v (12 B): 28 B per parameter = 1,301,250,048 bytes, one pass.
  const Op& adam = find_op(g, "adamw_fused.update");
  CHECK(adam.dtype == DType::fp32);
  CHECK(adam.at("elems") == 46473216);
  CHECK(op_min_bytes(adam) == 28.0 * 46473216);
  CHECK(g.ops.size() == bwd + 2);   // the device step counts' _foreach_add_ and _fused_adamw_
  // Memory: fp32 master weights and fp32 gradients (4 B each), AdamW's two fp32
  // states (8 B); the bf16 weight copies are forward outputs (activations).
  const Footprint f = graph_footprint(g);
  CHECK(f.weights == 4.0 * 46473216);
  CHECK(f.gradients == 4.0 * 46473216);
  CHECK(f.optimizer == 8.0 * 46473216);
  CHECK(f.activations > 2.0 * (7087872 - 2 * 768 * 2));   // at least the layer's bf16 weight copies
}

TEST_CASE("amp=fp16 GPT-2, one layer: autocast(float16) and GradScaler's kernels around fused AdamW",
          "[training][amp]") {
  const Graph g = build_workload("gpt2-small:batch=1,seq=8,layers=1,train=1,amp=fp16,optimizer=adamw_fused");
  const size_t fwd = static_cast<size_t>(g.info.at("ops_forward"));
  const size_t bwd = fwd + static_cast<size_t>(g.info.at("ops_backward"));
  // autocast_mode.cpp's lists are the same for float16: the 11 casts into the
  // products and the one out of them of the bf16 step, now fp32 <-> fp16.
  CHECK(count(g, 0, fwd, OpKind::copy, DType::fp32, DType::fp16) == 11);
  CHECK(count(g, 0, fwd, OpKind::copy, DType::fp16, DType::fp32) == 1);
  CHECK(count(g, 0, g.ops.size(), OpKind::copy, DType::fp32, DType::bf16) == 0);
  CHECK(find_op(g, "l0.attn.c_attn").dtype == DType::fp16);
  CHECK(op_min_bytes(find_op(g, "l0.attn.c_attn.weight_autocast")) == 10616832.0);  // 768 x 2304 x (4 + 2)
  // scaler.scale(loss): the mean times the one-element scale, the model's output.
  const Op& sc = find_op(g, "loss.grad_scaler_scale");
  CHECK(sc.kind == OpKind::mul);
  CHECK(sc.at("rows") * sc.at("cols") == 1);
  CHECK(g.ops[fwd - 1].name == "loss.grad_scaler_scale");
  // backward from the scaled loss: ones_like, MulBackward0 (grad * scale), then the
  // bf16 step's MeanBackward and PowBackward.
  CHECK(g.ops[fwd].name == "loss.backward_seed");
  CHECK(g.ops[fwd + 1].name == "loss.grad_scaler_scale.grad");
  CHECK(g.ops[fwd + 2].name == "loss.mean.grad");
  CHECK(g.ops[fwd + 3].name == "loss.pow.grad_pow");
  // scaler.step(optimizer) with fused AdamW (_step_supports_amp_scaling), then
  // scaler.update(): 11 kernels in this order (workloads/training/grad_scaler.cpp).
  const std::vector<std::string> step = {
      "grad_scaler.dummy_inv_scale", "grad_scaler.found_inf", "grad_scaler.found_inf_to_device",
      "grad_scaler.inv_scale_to_device", "grad_scaler.unscale", "grad_scaler.found_inf_sum",
      "grad_scaler.grad_scale", "adamw_fused.step_count", "adamw_fused.update",
      "adamw_fused.step_count_found_inf", "grad_scaler.update_scale"};
  REQUIRE(g.ops.size() == bwd + step.size());
  for (size_t i = 0; i < step.size(); ++i) CHECK(g.ops[bwd + i].name == step[i]);
  // _amp_foreach_non_finite_check_and_unscale_ over the 16 fp32 gradients of
  // 46,473,216 elements: each read and written back in place (UnaryOpFunctor,
  // res_arg_index 0): 46,473,216 x (4 + 4) = 371,785,728 bytes. One launch: the
  // tensors' 65536-element chunks are wte 589 + wpe 12 + c_attn 27 + attn.c_proj 9
  // + c_fc 36 + mlp.c_proj 36 + 4 biases + 6 norm vectors = 719 blocks, under the
  // 2240 blocks and 770 tensors of a depth-1 launch.
  const Op& un = find_op(g, "grad_scaler.unscale");
  CHECK(un.kind == OpKind::optimizer);
  CHECK(un.dtype == DType::fp32);
  CHECK(un.at("elems") == 46473216);
  CHECK(un.at("tensors") == 16);
  CHECK(un.at("launches") == 1);
  CHECK(op_min_bytes(un) == 371785728.0);
  // The fused kernel unscales inside (one more operation per element); the step
  // counts are put back where found_inf is set: _foreach_sub_ over 16 pairs.
  CHECK(find_op(g, "adamw_fused.update").at("flops") == 13);
  CHECK(find_op(g, "adamw_fused.step_count_found_inf").at("elems") == 16);
  CHECK(find_op(g, "adamw_fused.step_count_found_inf").at("reads") == 2);
  // Memory as with bf16: fp32 weights, gradients, two AdamW states.
  const Footprint f = graph_footprint(g);
  CHECK(f.weights == 4.0 * 46473216);
  CHECK(f.gradients == 4.0 * 46473216);
  CHECK(f.optimizer == 8.0 * 46473216);
}

TEST_CASE("amp=fp16 with foreach AdamW: unscale_() first, then the optimizer as without a scaler",
          "[training][amp]") {
  const Graph g = build_workload("gpt2-small:batch=1,seq=8,layers=1,train=1,amp=fp16,optimizer=adamw");
  const size_t bwd = static_cast<size_t>(g.info.at("ops_forward") + g.info.at("ops_backward"));
  // inv_scale = scale.double().reciprocal().float() (3), found_inf (1), the two
  // replicator copies, the unscale; AdamW's 8 foreach kernels; update (1): 15.
  const std::vector<std::string> step = {
      "grad_scaler.scale_double", "grad_scaler.reciprocal", "grad_scaler.inv_scale", "grad_scaler.found_inf",
      "grad_scaler.found_inf_to_device", "grad_scaler.inv_scale_to_device", "grad_scaler.unscale"};
  REQUIRE(g.ops.size() == bwd + step.size() + 8 + 1);
  for (size_t i = 0; i < step.size(); ++i) CHECK(g.ops[bwd + i].name == step[i]);
  CHECK(g.ops[bwd + 7].name == "adamw.weight_decay");
  CHECK(g.ops.back().name == "grad_scaler.update_scale");
  CHECK(find_op(g, "grad_scaler.scale_double").out_dtype == DType::fp64);
  CHECK(find_op(g, "adamw.update").at("flops") == 2);  // unchanged: the gradients are unscaled already
  // Without a scaler (bf16): the same step less these 8 kernels and the loss's 2.
  const Graph b = build_workload("gpt2-small:batch=1,seq=8,layers=1,train=1,amp=bf16,optimizer=adamw");
  CHECK(g.ops.size() == b.ops.size() + 8 + 2);
}

TEST_CASE("amp=fp16 softmax: the Half input runs softmax(dtype=float) without a cast (half_to_float)",
          "[training][amp]") {
  // Eager attention's softmax on unmasked scores (BERT without an attention_mask):
  // bf16 casts its input to fp32 first; fp16 does not.
  const auto softmax = [](const Graph& g) -> const Op& {
    for (const auto& op : g.ops)
      if (op.kind == OpKind::softmax && !op.get("backward", 0)) return op;
    FAIL("no softmax");
    return g.ops.front();
  };
  const Graph h = build_workload("bert-base:batch=1,seq=8,layers=1,attn=eager,train=1,amp=fp16");
  const Graph b = build_workload("bert-base:batch=1,seq=8,layers=1,attn=eager,train=1,amp=bf16");
  CHECK(softmax(h).dtype == DType::fp16);
  CHECK(softmax(h).out_dtype == DType::fp32);
  CHECK(softmax(b).dtype == DType::fp32);
  CHECK(has_op(b, softmax(b).name + ".autocast_in0"));
  CHECK(!has_op(h, softmax(h).name + ".autocast_in0"));
  // Its backward (_softmax_backward_data with input_dtype Half) reads the fp32
  // gradient and writes the fp16 input gradient: no cast after it.
  const Op& bwd = find_op(h, softmax(h).name + ".grad");
  CHECK(bwd.dtype == DType::fp32);
  CHECK(bwd.out_dtype == DType::fp16);
  // A decoder's eager scores get HF's causal mask added, built in the fp32 model's
  // format: fp16 + fp32 promotes, so the softmax reads fp32 (HF's eager attention
  // then "downcasts back to V's dtype", the product's autocast cast).
  const Graph d = build_workload("gpt2-small:batch=1,seq=8,layers=1,attn=eager,train=1,amp=fp16");
  CHECK(find_op(d, "attention_mask.where").out_dtype == DType::fp32);
  CHECK(softmax(d).dtype == DType::fp32);
  CHECK(!has_op(d, softmax(d).name + ".autocast_in0"));
}

TEST_CASE("amp=bf16 ResNet-50: conv weights and the image cast, batch-norm in bf16 with fp32 gradients",
          "[training][amp]") {
  const Graph g = build_workload("resnet50:batch=2,image=32,train=1,amp=bf16,optimizer=adamw_fused");
  const size_t fwd = static_cast<size_t>(g.info.at("ops_forward"));
  // 53 convolution weights + fc weight and bias: 55 leaf casts, plus the image:
  // 2 x 3 x 32 x 32 = 6144 elements, 6144 * 6 = 36,864 bytes; fc's output cast back
  // by y.float(): 2 x 1000.
  CHECK(count(g, 0, fwd, OpKind::copy, DType::fp32, DType::bf16) == 56);
  CHECK(op_min_bytes(find_op(g, "conv1.autocast_input")) == 36864.0);
  CHECK(find_op(g, "loss.float").at("cols") == 1000);
  CHECK(find_op(g, "layer1.0.bn1").dtype == DType::bf16);
  CHECK(find_op(g, "layer1.0.bn1.grad_weight").out_dtype == DType::fp32);
  // BatchNorm2d in training mode: num_batches_tracked.add_(1) before each of the 53.
  CHECK(has_op(g, "layer1.0.bn1.num_batches_tracked"));
  CHECK(find_op(g, "fc.grad_bias_to_fp32").at("cols") == 1000);
  // Fused AdamW: ResNet-50's 25,557,032 parameters (torchvision), fp32.
  CHECK(find_op(g, "adamw_fused.update").at("elems") == 25557032);
}

TEST_CASE("amp: the pure-format step stays the default; bad amp settings are input errors", "[training][amp][errors]") {
  // amp=none is the default: the same graph as leaving it out.
  CHECK(build_workload("gpt2-small:seq=16,layers=1,train=1").ops.size() ==
        build_workload("gpt2-small:seq=16,layers=1,train=1,amp=none").ops.size());
  CHECK(build_workload("gpt2-small:seq=16,layers=1,train=1").info.count("amp") == 0);
  CHECK(workload_error("resnet50:amp=bf16") ==
        "--workload 'resnet50:amp=bf16': parameter 'amp' applies to a training step only (add train=1)");
  CHECK(workload_error("resnet50:train=1,amp=fp8") ==
        "--workload 'resnet50:train=1,amp=fp8': parameter 'amp': 'fp8' is not accepted; accepted: none, "
        "bf16, fp16");
  CHECK(workload_error("resnet50:train=1,amp=fp16,dtype=fp16") ==
        "--workload 'resnet50:train=1,amp=fp16,dtype=fp16': parameter 'dtype': amp=fp16 runs the fp32 model "
        "under "
        "autocast; accepted with amp=fp16: fp32 (or leave dtype out)");
  // amp=fp16 with tp and zero builds (found_inf combined across ranks:
  // tests/parallel/test_amp16_parallel.cpp); a scaler whose ranks would not agree
  // is refused there.
  CHECK(workload_error("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1,amp=fp16") ==
        "(no error)");
  CHECK(workload_error("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,dp=2,zero=1,train=1,amp=fp16") ==
        "(no error)");
  CHECK(workload_error(
            "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1,amp=fp16,grad_scaler=torch")
            .find("parameter 'grad_scaler': torch (torch.amp.GradScaler) checks only the gradients a rank "
                  "holds") != std::string::npos);
  CHECK(workload_error("resnet50:train=1,amp=bf16,dtype=bf16") ==
        "--workload 'resnet50:train=1,amp=bf16,dtype=bf16': parameter 'dtype': amp=bf16 runs the fp32 model "
        "under "
        "autocast; accepted with amp=bf16: fp32 (or leave dtype out)");
  CHECK(workload_error("gemm:m=8,n=8,k=8,train=1,amp=bf16") ==
        "--workload 'gemm:m=8,n=8,k=8,train=1,amp=bf16': parameter 'amp': gemm is a kernel-level workload; "
        "amp=bf16 trains a model (an fp32 module under torch.autocast with its loss)");
  const auto o = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", "resnet50:train=1,amp=int8"});
  CHECK(o.code == 2);
  CHECK(o.err.find("parameter 'amp': 'int8' is not accepted; accepted: none, bf16, fp16") != std::string::npos);
  // autocast is a CUDA GPU's: a systolic target refuses it, naming the hardware.
  const auto s = testing::run_cli({"run", "--hw", "tpu-v4", "--workload", "resnet50:batch=1,image=32,train=1,amp=bf16"});
  CHECK(s.code == 2);
  CHECK(s.err.find("amp runs torch.autocast on a CUDA GPU; hardware 'tpu-v4' has a 'systolic' compute unit") !=
        std::string::npos);
  CHECK(s.out.empty());
}

TEST_CASE("compare: train records with amp bf16 are predicted as the spec with train=1,amp=bf16",
          "[training][amp][compare]") {
  // A hand-written record file (no amp measurements exist here): each predicted
  // value must be the summed kernel time of `run` on the same workload.
  const auto recs = read_jsonl(std::string(TESSERA_WL_TEST_DATA) + "/train_amp_records.jsonl");
  REQUIRE(recs.size() == 6);
  const auto hw = load_hardware("h100-sxm", {});
  const CompareRow r0 = compare_record(recs[0], *hw);
  REQUIRE(!r0.skipped);
  CHECK(r0.record["workload"] == "resnet50:batch=2,train=1,amp=bf16,optimizer=adamw_fused");
  CHECK(r0.record["quantity"] == "device_busy_us");
  const RunResult res0 = simulate(build_workload("resnet50:batch=2,train=1,amp=bf16,optimizer=adamw_fused"), *hw);
  CHECK(r0.record["predicted_value"].get<double>() == Approx(res0.kernel_time_s * 1e6).epsilon(1e-12));
  const CompareRow r1 = compare_record(recs[1], *hw);
  REQUIRE(!r1.skipped);
  const std::string spec1 = "gpt2-small:batch=1,seq=64,train=1,amp=bf16,optimizer=adamw_fused";
  CHECK(r1.record["workload"] == spec1);
  CHECK(r1.record["predicted_value"].get<double>() ==
        Approx(simulate(build_workload(spec1), *hw).kernel_time_s * 1e6).epsilon(1e-12));
  // The amp step is not the pure-bf16 one.
  CHECK(r1.record["predicted_value"].get<double>() !=
        Approx(simulate(build_workload("gpt2-small:batch=1,seq=64,dtype=bf16,train=1,optimizer=adamw_fused"), *hw)
                   .kernel_time_s * 1e6));
  // amp fp16: the same model under autocast(float16) with GradScaler.
  const CompareRow r2 = compare_record(recs[2], *hw);
  REQUIRE(!r2.skipped);
  const std::string spec2 = "bert-base:batch=1,seq=32,train=1,amp=fp16,optimizer=adamw_fused";
  CHECK(r2.record["workload"] == spec2);
  CHECK(r2.record["predicted_value"].get<double>() ==
        Approx(simulate(build_workload(spec2), *hw).kernel_time_s * 1e6).epsilon(1e-12));
  const CompareRow r3 = compare_record(recs[3], *hw);
  CHECK(r3.skipped);
  CHECK(r3.reason == "train loss 'cross_entropy' is not modelled (train_amp.py's y.float().pow(2).mean() is)");
  const CompareRow r4 = compare_record(recs[4], *hw);
  CHECK(r4.skipped);
  CHECK(r4.reason == "train amp 'fp8' is not modelled (accepted: bf16, fp16, none)");
  // torch's dtype name float16 reads as fp16.
  const CompareRow r5 = compare_record(recs[5], *hw);
  REQUIRE(!r5.skipped);
  CHECK(r5.record["workload"] == "gpt2-small:batch=1,seq=64,train=1,amp=fp16,optimizer=adamw");
}
