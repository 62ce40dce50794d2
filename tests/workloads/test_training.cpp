// Training steps (workloads/training.h): backward kernels, gradient accumulation,
// optimizer kernels and the common workload parameters, against hand derivations.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "compiler/mapper.h"
#include "core/error.h"
#include "models/compute/systolic_array.h"
#include "models/hardware.h"
#include "sim/cli/cli.h"
#include "sim/simulate.h"
#include "tests/support/cli_run.h"
#include "tests/support/engine_checks.h"
#include "tests/support/graph_ops.h"
#include "tests/support/workload_errors.h"
#include "workloads/builder.h"
#include "workloads/training.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

std::vector<std::string> names(const Graph& g, size_t from = 0) {
  std::vector<std::string> out;
  for (size_t i = from; i < g.ops.size(); ++i) out.push_back(g.ops[i].name);
  return out;
}

using testing::find_op;

using testing::has_op;

double flops_of(const Graph& g, bool (*pred)(const Op&)) {
  double f = 0;
  for (const auto& op : g.ops)
    if (pred(op)) f += op_flops(op);
  return f;
}

std::string w_name(const std::string& spec) { return spec.substr(0, spec.find(':')); }

double optimizer_bytes(const Graph& g) {
  double b = 0;
  for (const auto& op : g.ops)
    if (op.kind == OpKind::optimizer) b += op_min_bytes(op);
  return b;
}

using testing::workload_error;

// fc1 (64 -> 128) and fc2 (128 -> 16) with biases on 32 rows, bf16: 10,384
// parameters in 4 tensors, with its training step.
Graph mlp_step(const TrainingOptions& o) {
  Graph g;
  GraphBuilder b(g, DType::bf16);
  b.set_linear_bias(true);
  const int fc1 = b.linear("fc1", {}, 32, 128, 64);
  b.linear("fc2", {fc1}, 32, 16, 128);
  append_training_step(g, o);
  return g;
}

}  // namespace

TEST_CASE("two-layer MLP: backward kernels in autograd's order, first layer without dX", "[training]") {
  // x[32 x 64] -> fc1 (64 -> 128, bias) -> relu -> fc2 (128 -> 16, bias); x is an input.
  Graph g;
  GraphBuilder b(g, DType::bf16);
  b.set_linear_bias(true);
  const int fc1 = b.linear("fc1", {}, 32, 128, 64);
  const int relu = b.vec(OpKind::relu, "relu", {fc1}, 32, 128);
  b.linear("fc2", {relu}, 32, 16, 128);
  TrainingOptions opt;
  opt.optimizer = Optimizer::none;
  append_training_step(g, opt);
  CHECK(names(g) == std::vector<std::string>{"fc1", "relu", "fc2", "fc2.grad_input", "fc2.grad_weight",
                                             "fc2.grad_bias", "relu.grad", "fc1.grad_weight", "fc1.grad_bias"});
  // Forward F: fc1 2*32*128*64 = 524,288 + fc2 2*32*16*128 = 131,072 = 655,360 (+ relu 32*128 = 4,096).
  // Backward products: fc2 dX = dY[32x16] W^T -> 32x128: 2*32*128*16 = 131,072;
  // fc2 dW = relu^T[128x32] dY: 2*128*16*32 = 131,072; fc1 dW = x^T dY: 2*64*128*32 = 524,288;
  // no fc1 dX (x needs no gradient): 786,432 = 2F - 524,288.
  CHECK(find_op(g, "fc2.grad_input").attrs ==
        OpAttrs{{"batch", 1}, {"m", 32}, {"n", 128}, {"k", 16}, {"b_shared", 1}});
  CHECK(find_op(g, "fc1.grad_weight").attrs == OpAttrs{{"batch", 1}, {"m", 64}, {"n", 128}, {"k", 32}});
  CHECK(flops_of(g, [](const Op& op) { return op.kind == OpKind::matmul && op.name.find(".grad") != std::string::npos; }) ==
        786432.0);
  // Bias gradients: column sums of dY over the 32 rows: 32*16 = 512 and 32*128 = 4,096 FLOP;
  // fc2's reads 512 bf16 and writes 16: 1,056 bytes.
  CHECK(op_min_bytes(find_op(g, "fc2.grad_bias")) == 1056.0);
  // threshold_backward reads dY and the ReLU output, writes dX: 3 * 4,096 * 2 B = 24,576 bytes.
  CHECK(op_min_bytes(find_op(g, "relu.grad")) == 24576.0);
  CHECK(find_op(g, "relu.grad").deps == std::vector<int>{3, 1});    // fc2.grad_input, the saved output
  CHECK(find_op(g, "fc2.grad_input").deps == std::vector<int>{2});  // the given dY: after fc2's forward
  CHECK(g.info.at("flops_forward") == 659456.0);                // 655,360 + 4,096
  CHECK(g.info.at("flops_backward") == 795136.0);               // 786,432 + 512 + 4,096 + 4,096
  CHECK(g.info.at("flops_optimizer") == 0.0);
  CHECK(g.info.at("ops_forward") == 3);
  CHECK(g.info.at("ops_backward") == 6);
  CHECK(g.info.at("ops_optimizer") == 0);
  // The optimizer updates fc1 (64*128 + 128) and fc2 (128*16 + 16): 10,384 elements in 4 tensors.
  CHECK(g.info.at("params_trained") == 10384.0);
  CHECK(g.info.at("param_tensors") == 4.0);
  CHECK_THROWS_AS(append_training_step(g, opt), InputError);   // already a training step
}

TEST_CASE("foreach AdamW: eight multi-tensor kernels, 40 bytes per bf16 parameter", "[training][optimizer]") {
  const Graph g = mlp_step(TrainingOptions{});
  const size_t first = static_cast<size_t>(g.info.at("ops_forward") + g.info.at("ops_backward"));
  CHECK(names(g, first) == std::vector<std::string>{"adamw.weight_decay", "adamw.exp_avg", "adamw.exp_avg_sq_decay",
                                                    "adamw.exp_avg_sq", "adamw.sqrt", "adamw.bias_correction2",
                                                    "adamw.eps", "adamw.update"});
  // Tensors read + written per element: mul_ 1+1, lerp_ 2+1, mul_ 1+1, addcmul_ 2+1
  // (grads passed twice, read once), sqrt 1+1, div_ 1+1, add_ 1+1, addcdiv_ 3+1 = 20,
  // 2 bytes each: 40 bytes per parameter; 10,384 parameters -> 415,360 bytes.
  CHECK(optimizer_bytes(g) == 40.0 * 10384);
  // Operations per element 1+2+1+2+1+1+1+2 = 11, one square root.
  CHECK(g.info.at("flops_optimizer") == 11.0 * 10384);
  CHECK(find_op(g, "adamw.sqrt").get("sfu", 0) == 1);
  for (size_t i = first; i < g.ops.size(); ++i) {
    CHECK(g.ops[i].at("tensors") == 4);
    CHECK(g.ops[i].at("launches") == 1);   // 4 tensors, 1+1+1+1 chunks: one launch
  }
  // optimizer.step() waits for every parameter gradient (fc2's dW and db, fc1's dW
  // and db), then its kernels run in order.
  std::vector<int> grads;
  for (const char* n : {"fc2.grad_weight", "fc2.grad_bias", "fc1.grad_weight", "fc1.grad_bias"}) {
    for (size_t i = 0; i < g.ops.size(); ++i)
      if (g.ops[i].name == n) grads.push_back(static_cast<int>(i));
  }
  std::sort(grads.begin(), grads.end());
  CHECK(g.ops[first].deps == grads);
  CHECK(g.ops[first + 1].deps == std::vector<int>{static_cast<int>(first)});
}

TEST_CASE("clip_grad_norm: torch.nn.utils.clip_grad_norm_ before the step", "[training][optimizer]") {
  // The MLP above (10,384 bf16 parameters in 4 tensors): _foreach_norm (zeros, one
  // multi_tensor_apply launch, lpnorm_cleanup: 3 launches, every gradient read once),
  // torch.stack of the 4 norms, vector_norm, + 1e-6, max_norm / ., clamp, then
  // _foreach_mul_ reading and writing every gradient; then AdamW.
  TrainingOptions o;
  o.clip_grad_norm = true;
  const Graph g = mlp_step(o);
  const size_t first = static_cast<size_t>(g.info.at("ops_forward") + g.info.at("ops_backward"));
  const std::vector<std::string> all = names(g, first);
  REQUIRE(all.size() == 15);
  CHECK(std::vector<std::string>(all.begin(), all.begin() + 7) ==
        std::vector<std::string>{"clip_grad_norm.foreach_norm", "clip_grad_norm.stack",
                                 "clip_grad_norm.total_norm", "clip_grad_norm.eps", "clip_grad_norm.coef",
                                 "clip_grad_norm.clamp", "clip_grad_norm.scale"});
  CHECK(all[7] == "adamw.weight_decay");
  CHECK(find_op(g, "clip_grad_norm.foreach_norm").at("launches") == 3);
  // 10,384 bf16 gradients read (20,768 B) and one fp32 norm written.
  CHECK(op_min_bytes(find_op(g, "clip_grad_norm.foreach_norm")) == 2.0 * 10384 + 4);
  CHECK(op_min_bytes(find_op(g, "clip_grad_norm.scale")) == 2.0 * 2 * 10384);
  CHECK(find_op(g, "clip_grad_norm.stack").at("rows") == 4);
  // The workload parameter: a max_norm > 0 clips; refusals name what is accepted.
  CHECK(has_op(build_workload("gpt2-small:layers=1,seq=64,train=1,clip_grad_norm=1.0"),
               "clip_grad_norm.scale"));
  CHECK_FALSE(
      has_op(build_workload("gpt2-small:layers=1,seq=64,train=1,clip_grad_norm=0"), "clip_grad_norm.scale"));
  CHECK(
      workload_error("gpt2-small:clip_grad_norm=1") ==
      "--workload 'gpt2-small:clip_grad_norm=1': parameter 'clip_grad_norm' applies to a training step only "
      "(add train=1)");
  CHECK(
      workload_error("gpt2-small:train=1,clip_grad_norm=-1") ==
      "--workload 'gpt2-small:train=1,clip_grad_norm=-1': parameter 'clip_grad_norm': '-1' is not accepted; "
      "expected a finite max_norm >= 0 (e.g. 1.0; 0: no clipping)");
  CHECK(workload_error("gpt2-small:train=1,clip_grad_norm=nan") ==
        "--workload 'gpt2-small:train=1,clip_grad_norm=nan': parameter 'clip_grad_norm': 'nan' is not "
        "accepted; "
        "expected a finite max_norm >= 0 (e.g. 1.0; 0: no clipping)");
  CHECK(workload_error("gemm:m=8,n=8,k=8,train=1,clip_grad_norm=1") ==
        "--workload 'gemm:m=8,n=8,k=8,train=1,clip_grad_norm=1': parameter 'clip_grad_norm': gemm is a "
        "kernel-level workload without parameters");
  CHECK(workload_error("gpt2-small:layers=2,seq=64,train=1,dp=2,clip_grad_norm=1")
            .find("parameter 'clip_grad_norm': not modelled for a parallel workload") != std::string::npos);
  // Under GradScaler with fused AdamW the gradients are unscaled first
  // (scaler.unscale_: the inverse scale computed, the found_inf .item() is not needed
  // by the fused step, which then gets found_inf and no grad_scale).
  const Graph f = build_workload(
      "gpt2-small:layers=1,seq=64,dtype=fp32,train=1,amp=fp16,optimizer=adamw_fused,clip_grad_norm=1");
  CHECK_FALSE(has_op(f, "grad_scaler.dummy_inv_scale"));
  CHECK(has_op(f, "grad_scaler.inv_scale"));
  CHECK_FALSE(has_op(f, "grad_scaler.grad_scale"));
  CHECK(find_op(f, "grad_scaler.unscale").get("host_sync", 0) == 0);
  CHECK(find_op(f, "adamw_fused.update").at("flops") == 12);
}

TEST_CASE("optimizer bytes per parameter for each torch.optim choice", "[training][optimizer]") {
  // ResNet-50 (25,557,032 parameters in 161 tensors: 53 conv weights, 53 x 2 batch-norm,
  // fc weight and bias), bf16 parameters and state.
  const auto bytes = [](const std::string& o) {
    const Graph g = build_workload("resnet50:image=32,train=1,optimizer=" + o);
    CHECK(g.info.at("params_trained") == 25557032.0);
    CHECK(g.info.at("param_tensors") == 161.0);
    return optimizer_bytes(g);
  };
  CHECK(bytes("adamw") == 40.0 * 25557032);
  // _fused_adamw_ reads p, g, m, v and writes p, m, v: 7 x 2 B; the step counts (one
  // fp32 per tensor) are incremented first: 161 x 8 B.
  CHECK(bytes("adamw_fused") == 14.0 * 25557032 + 8.0 * 161);
  CHECK(bytes("sgd") == 6.0 * 25557032);            // p += -lr g: 2 reads + 1 write
  CHECK(bytes("sgd_momentum") == 16.0 * 25557032);  // buf *= m (1+1), buf += g (2+1), p += -lr buf (2+1)
  CHECK(bytes("none") == 0.0);
}

TEST_CASE("multi_tensor_apply launches: chunks of 65536, block and tensor-list limits", "[training][optimizer]") {
  // 4 KB arguments: 320 blocks per launch; 320 chunks + 1 element -> 321 blocks: 2 launches.
  CHECK(multi_tensor_launches({320 * 65536 + 1}, 1, false, false) == 2);
  CHECK(multi_tensor_launches({320 * 65536}, 1, false, false) == 1);
  // Depth 1 holds 110 tensors (96 with a scalar list): 111 small tensors -> 2 launches.
  CHECK(multi_tensor_launches(std::vector<int64_t>(111, 10), 1, false, false) == 2);
  CHECK(multi_tensor_launches(std::vector<int64_t>(110, 10), 1, false, false) == 1);
  CHECK(multi_tensor_launches(std::vector<int64_t>(97, 10), 1, true, false) == 2);
  // Depth 3 (e.g. addcmul_): 48 tensors per launch: 100 -> 48 + 48 + 4 = 3 launches.
  CHECK(multi_tensor_launches(std::vector<int64_t>(100, 1), 3, false, false) == 3);
  // 32 KB arguments (CUDA >= 12.1): 2240 blocks, 7x the tensors (depth 3: 336).
  CHECK(multi_tensor_launches({2240 * 65536 + 1}, 1, false, true) == 2);
  CHECK(multi_tensor_launches(std::vector<int64_t>(336, 1), 3, false, true) == 1);
  CHECK(multi_tensor_launches(std::vector<int64_t>(337, 1), 3, false, true) == 2);
  // A tensor whose chunks straddle a launch is carried over: 2 tensors of 200 chunks,
  // 320 blocks -> launch after tensor 2's chunk 120, then its last 80 chunks.
  CHECK(multi_tensor_launches({200 * 65536, 200 * 65536}, 1, false, false) == 2);
  CHECK(multi_tensor_launches({0, 0}, 1, false, false) == 0);   // empty tensors are skipped
  // Counted in runs of chunks, not chunk by chunk: 10^15 elements = 15,258,789,063
  // chunks (the last partial) fill 47,683,715 launches of 320 blocks and one of 263;
  // 10 small tensors then join that last launch (273 blocks, 11 tensors).
  std::vector<int64_t> huge = {1000000000000000};
  CHECK(multi_tensor_launches(huge, 1, false, false) == 47683715 + 1);
  huge.insert(huge.end(), 10, 1);
  CHECK(multi_tensor_launches(huge, 1, false, false) == 47683715 + 1);
  // A tensor of exactly 320 chunks after one of 319 + 1 element: the first fills
  // 320 blocks (launch), the second starts a launch of its own, full at its end.
  CHECK(multi_tensor_launches({319 * 65536 + 1, 320 * 65536}, 1, false, false) == 2);
  CHECK(multi_tensor_limits(4, false, true).max_tensors == 252);
  CHECK(multi_tensor_limits(2, true, false).max_tensors == 64);
}

TEST_CASE("ResNet-50 training FLOPs: three times the forward conv/fc FLOPs less conv1's dgrad", "[training][flops]") {
  // Forward conv + fc per image: 4,089,184,256 MACs = 8,178,368,512 FLOP
  // (test_models: ResNet-50 at 224x224). Backward: dgrad and wgrad of every conv at
  // the forward's FLOPs, dX and dW of fc, except conv1's dgrad (the image needs none):
  // 2 * 118,013,952 = 236,027,904 FLOP. Per image 3 * 8,178,368,512 - 236,027,904
  // = 24,299,077,632; batch 32: 777,570,484,224.
  const Graph g = build_workload("resnet50:batch=32,train=1");
  CHECK(flops_of(g, [](const Op& op) { return op.kind == OpKind::conv2d || op.kind == OpKind::matmul; }) ==
        777570484224.0);
  CHECK(!has_op(g, "conv1.grad_input"));
  CHECK(has_op(g, "conv1.grad_weight"));
  int dgrad = 0, wgrad = 0;
  for (const auto& op : g.ops) {
    dgrad += op.get("grad", 0) == 1;
    wgrad += op.get("grad", 0) == 2;
  }
  CHECK(dgrad == 52);
  CHECK(wgrad == 53);
  // Batch-norms run on batch statistics in training: 7 FLOP per element instead of 4.
  CHECK(find_op(g, "bn1").get("training", 0) == 1);
  // The residual: `out += identity` passes its gradient on (no kernel), and a block's
  // input, read by conv1 and by the identity (or the downsample), gets the two summed.
  CHECK(!has_op(g, "layer1.1.add.grad"));
  CHECK(find_op(g, "layer1.0.relu3.grad_acc").kind == OpKind::add);
  CHECK(find_op(g, "maxpool.grad_acc").kind == OpKind::add);
  CHECK(find_op(g, "maxpool.grad").at("launches") == 2);  // zero fill + gather kernel
}

TEST_CASE("residual: a tensor consumed twice gets one gradient addition", "[training]") {
  // x -> fc1 -> ln -> fc2 -> add(fc2, fc1): fc1's output feeds ln and the add.
  Graph g;
  GraphBuilder b(g, DType::bf16);
  const int fc1 = b.linear("fc1", {}, 16, 32, 32);
  const int ln = b.vec(OpKind::layernorm, "ln", {fc1}, 16, 32);
  const int fc2 = b.linear("fc2", {ln}, 16, 32, 32);
  b.vec(OpKind::add, "add", {fc2, fc1}, 16, 32, 2);
  TrainingOptions opt;
  opt.optimizer = Optimizer::none;
  append_training_step(g, opt);
  CHECK(names(g, 4) == std::vector<std::string>{"fc2.grad_input", "fc2.grad_weight", "ln.grad_input",
                                                "ln.grad_weight", "fc1.grad_acc", "fc1.grad_weight"});
  const Op& acc = find_op(g, "fc1.grad_acc");
  CHECK(acc.kind == OpKind::add);
  CHECK(op_min_bytes(acc) == 3.0 * 16 * 32 * 2);   // 2 reads + 1 write of 16 x 32 bf16
  CHECK(acc.deps == std::vector<int>{6, 1});       // ln.grad_input (the other one is the given dY), after ln
  // layer_norm_backward: dx reads dy, x (2 x 512 bf16), gamma (32), mean and rstd (16 x 2 fp32),
  // writes dx: 2*(1024 + 32) + 128 + 1024 = 3,264 bytes; the gamma/beta kernel reads dy and x,
  // writes 2 x 32: 2*(1024 + 64) = 2,176.
  CHECK(op_min_bytes(find_op(g, "ln.grad_input")) == 3264.0);
  CHECK(op_min_bytes(find_op(g, "ln.grad_weight")) == 2176.0);
}

TEST_CASE("conv GEMM dims per pass and the passes' own traffic", "[training][ir]") {
  Op c;
  c.kind = OpKind::conv2d;
  c.dtype = c.out_dtype = DType::bf16;
  c.attrs = {{"n", 2}, {"cin", 64}, {"cout", 128}, {"h", 56}, {"w", 56}, {"r", 3}, {"s", 3}, {"stride", 2}, {"pad", 1}};
  // ho = floor((56 + 2 - 3) / 2) + 1 = 28.
  // forward: m = 2*28*28 = 1568, n = 128, k = 64*9 = 576.
  auto d = conv_gemm_dims(c);
  CHECK((d.groups == 1 && d.m == 1568 && d.n == 128 && d.k == 576));
  // data: stride 2 skips the positions no output wrote: m = 2*28*28 = 1568, n = 64, k = 128*9 = 1152.
  c.attrs["grad"] = 1;
  d = conv_gemm_dims(c);
  CHECK((d.m == 1568 && d.n == 64 && d.k == 1152));
  // dgrad reads dY (2*128*28*28 = 200,704) and W (128*64*9 = 73,728), writes dX (2*64*56*56 = 401,408).
  CHECK(op_min_bytes(c) == 2.0 * (200704 + 73728 + 401408));
  CHECK(op_flops(c) == 2.0 * 1568 * 128 * 576);   // the forward's 231,211,008
  // weight: m = 128, n = 576, k = 1568; reads x (401,408) and dY, writes dW.
  c.attrs["grad"] = 2;
  d = conv_gemm_dims(c);
  CHECK((d.m == 128 && d.n == 576 && d.k == 1568));
  CHECK(op_min_bytes(c) == 2.0 * (401408 + 200704 + 73728));
  // Stride 1: data m = n*h*w.
  c.attrs["grad"] = 1;
  c.attrs["stride"] = 1;
  c.attrs["groups"] = 4;
  d = conv_gemm_dims(c);
  CHECK((d.groups == 4 && d.m == 2 * 56 * 56 && d.n == 16 && d.k == 32 * 9));
  c.attrs["grad"] = 3;
  Graph g;
  g.add(c);
  CHECK_THROWS_AS(validate_graph(g, "test"), InputError);
}

TEST_CASE("fused attention backward: 2.5x the forward FLOPs, halved when causal", "[training][flops]") {
  // Forward 4 * B*H*sq*skv*d = 4 * 2*4*256*256*64 = 134,217,728; backward five products of
  // 2 * B*H*sq*skv*d each: 2.5x = 335,544,320 (kernel-level: q, k, v require grad).
  const Graph g = build_workload("attention:batch=2,heads=4,sq=256,d=64,train=1");
  REQUIRE(g.ops.size() == 2);
  CHECK(g.ops[1].name == "attention.grad");
  CHECK(op_flops(g.ops[0]) == 134217728.0);
  CHECK(op_flops(g.ops[1]) == 335544320.0);
  CHECK(op_flops(build_workload("attention:batch=2,heads=4,sq=256,d=64,causal=1,train=1").ops[1]) == 167772160.0);
  // Reads Q, K, V, O, dO (5 x 2*4*256*64 = 131,072 bf16) and the fp32 log-sum-exp
  // (2*4*256), writes dQ, dK, dV: 2*(5 + 3)*131,072 + 4*2,048 = 2,105,344 bytes.
  CHECK(op_min_bytes(g.ops[1]) == 2105344.0);
}

TEST_CASE("GPT-2 small: AdamW updates HF GPT2Model's 124,439,808 parameters", "[training][models]") {
  const Graph g = build_workload("gpt2-small:seq=64,train=1");
  CHECK(g.info.at("params_trained") == 124439808.0);
  CHECK(g.info.at("params_trained") == g.info.at("params"));
  // 12 layers x (ln_1, c_attn, c_proj, ln_2, c_fc, c_proj: 2 tensors each) + wte, wpe + ln_f (2) = 148.
  CHECK(g.info.at("param_tensors") == 148.0);
  // Packed Q, K, V: the three gradients are concatenated back (split's backward).
  CHECK(find_op(g, "l0.attn.sdpa.grad_qkv").kind == OpKind::copy);
  CHECK(has_op(g, "l0.attn.c_attn.grad_bias"));
  CHECK(find_op(g, "wte.grad_weight").at("launches") == 2);  // 64 indices: zero fill + feature kernel
}

TEST_CASE("every model's trained parameters match its parameter count", "[training][models]") {
  // BERT's pooler is not on the path from last_hidden_state: 768*768 + 768 = 590,592 fewer.
  const Graph bert = build_workload("bert-base:seq=32,train=1");
  CHECK(bert.info.at("params_trained") == bert.info.at("params") - 590592);
  CHECK(!has_op(bert, "pooler.dense.grad_weight"));
  for (const char* spec : {"resnet50:image=32", "alexnet:batch=1", "vgg16:batch=1", "gpt2-medium:seq=16,layers=2",
                           "llama-7b:seq=16,layers=2", "llama-70b:seq=16,layers=1", "transformer-base:src=16,tgt=16",
                           "moe:seq=16,d=256,heads=4,kv_heads=2,ffn=512", "lstm:batch=2,seq=4,input=64,hidden=32"}) {
    INFO(spec);
    const Graph g = build_workload(std::string(spec) + ",train=1");
    CHECK(g.info.at("params_trained") == g.info.at("params"));
  }
  // Tied weights: transformer-base's source, target and output embeddings are one
  // matrix; the second and third gradients are added to the first.
  const Graph t = build_workload("transformer-base:src=16,tgt=16,train=1");
  CHECK(has_op(t, "dec.embed.grad_weight_acc"));
  CHECK(has_op(t, "enc.embed.grad_weight_acc"));
}

TEST_CASE("bad training parameters are input errors naming spec, key and what is accepted", "[training][errors]") {
  CHECK(workload_error("resnet50:train=2") ==
        "--workload 'resnet50:train=2': parameter 'train': '2' is not accepted; accepted: 0, 1");
  CHECK(workload_error("resnet50:train=1,optimizer=lamb") ==
        "--workload 'resnet50:train=1,optimizer=lamb': parameter 'optimizer': 'lamb' is not accepted; "
        "accepted: adamw, adamw_fused, sgd, sgd_momentum, none");
  CHECK(
      workload_error("gpt2-small:train=1,phase=decode") ==
      "--workload 'gpt2-small:train=1,phase=decode': train=1 needs phase=prefill (a decode step against a KV "
      "cache is inference only)");
  CHECK(workload_error("llama-7b:train=1,kv_cache=static") ==
        "--workload 'llama-7b:train=1,kv_cache=static': train=1 needs kv_cache=auto or dynamic (a "
        "preallocated KV "
        "cache is inference only)");
  CHECK(workload_error("resnet50:optimizer=sgd") ==
        "--workload 'resnet50:optimizer=sgd': parameter 'optimizer' applies to a training step only (add "
        "train=1)");
  CHECK(workload_error("gemm:m=8,n=8,k=8,train=1,optimizer=sgd") ==
        "--workload 'gemm:m=8,n=8,k=8,train=1,optimizer=sgd': parameter 'optimizer': gemm is a kernel-level "
        "workload without parameters (train=1 appends the backward of its op only)");
  CHECK(workload_error("resnet50:train=1,dtype=int8") ==
        "--workload 'resnet50:train=1,dtype=int8': train=1 needs dtype fp32, tf32, bf16 or fp16 (PyTorch "
        "trains "
        "floating-point parameters); got int8");
  CHECK(workload_error("resnet50:train=1,train=1") ==
        "--workload 'resnet50:train=1,train=1': parameter 'train' given twice");
  // Through the CLI: exit code 2 and the message.
  const auto o = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", "gpt2-small:train=1,phase=decode"});
  CHECK(o.code == 2);
  CHECK(o.err.find("train=1 needs phase=prefill") != std::string::npos);
}

TEST_CASE("kernel-level workloads: the op's backward with its inputs requiring grad", "[training]") {
  // gemm: dA = dC B^T and dB = A^T dC, no optimizer.
  const Graph g = build_workload("gemm:m=64,n=32,k=16,train=1");
  CHECK(names(g) == std::vector<std::string>{"gemm", "gemm.grad_a", "gemm.grad_b"});
  CHECK(g.total_flops() == 3.0 * 2 * 64 * 32 * 16);
  CHECK(g.info.at("params_trained") == 0.0);
  // conv2d: dgrad (the input requires grad) and wgrad.
  const Graph c = build_workload("conv2d:cin=8,cout=8,h=16,train=1");
  CHECK(names(c) == std::vector<std::string>{"conv2d", "conv2d.grad_input", "conv2d.grad_weight"});
  // layernorm: dx and the gamma/beta reduction.
  const Graph l = build_workload("layernorm:rows=4,cols=8,train=1");
  CHECK(names(l) == std::vector<std::string>{"layernorm", "layernorm.grad_input", "layernorm.grad_weight"});
  // The math backend's chain: masks (bool) get no gradient; the casts go back.
  const Graph m = build_workload("attention:batch=1,heads=2,sq=16,d=8,causal=1,path=sdpa_math,train=1");
  CHECK(!has_op(m, "attention.mask_tril.grad"));
  CHECK(has_op(m, "attention.q_to_fp32.grad"));
  CHECK(find_op(m, "attention.q_to_fp32.grad").out_dtype == DType::bf16);
  CHECK(has_op(m, "attention.softmax.grad"));
}

TEST_CASE("embedding and pooling backward traffic", "[training][ir]") {
  // Embedding backward, 64 tokens of a 1000 x 16 table (direct path, <= 3072 indices):
  // reads dY (64*16 bf16) and the int64 indices, writes the zero-filled gradient
  // (1000*16) and the 64 rows: 2*1024 + 8*64 + 2*(16000 + 1024) = 36,608 bytes.
  Op e;
  e.kind = OpKind::embedding;
  e.dtype = e.out_dtype = DType::bf16;
  e.attrs = {{"tokens", 64}, {"dim", 16}, {"vocab", 1000}, {"backward", 1}};
  CHECK(op_min_bytes(e) == 36608.0);
  CHECK(op_flops(e) == 1024.0);
  // Sorted path (4096 indices): + the 8-pass radix sort (256 B per index) and the fp32
  // partial sums written and read (2 * 4 * 4096*16).
  e.attrs["tokens"] = 4096;
  CHECK(op_min_bytes(e) == 2.0 * 4096 * 16 + 8.0 * 4096 + 2.0 * (16000 + 4096 * 16) + 256.0 * 4096 +
                               8.0 * 4096 * 16);
  // Max-pool backward 1 x 4 x 8 x 8, 3x3 stride 2 pad 1 -> 4x4: reads the output gradient
  // and the int64 indices (64 each), writes the zero fill and the gradient (256 each).
  Op p;
  p.kind = OpKind::maxpool;
  p.dtype = p.out_dtype = DType::bf16;
  p.attrs = {{"n", 1}, {"c", 4}, {"h", 8}, {"w", 8}, {"r", 3}, {"s", 3}, {"stride", 2}, {"pad", 1}, {"backward", 1}};
  CHECK(op_min_bytes(p) == 2.0 * 64 + 8.0 * 64 + 2.0 * 2 * 256);
  CHECK(op_out_elems(p) == 256);
  p.kind = OpKind::avgpool;
  CHECK(op_min_bytes(p) == 2.0 * 64 + 2.0 * 256);
}

TEST_CASE("every built-in workload trains on h100-sxm and tpu-v1 with both engines", "[training][e2e]") {
  const char* specs[] = {
      "gemm:m=128,n=128,k=128",
      "conv2d:cin=32,cout=32,h=14",
      "conv2d:cin=16,cout=16,h=14,groups=depthwise,stride=2,pad=1",
      "conv3d:cin=16,cout=16,d=4,h=8,t=3,pad=1",
      "attention:sq=128,heads=4,d=64,causal=1",
      "attention:sq=64,heads=4,kv_heads=2,d=64,fused=0,bias=1",
      "layernorm:rows=64,cols=256",
      "rmsnorm:rows=64,cols=256",
      "softmax:rows=64,cols=256",
      "gelu:rows=64,cols=256",
      "add:rows=64,cols=256",
      "dropout:rows=64,cols=256,p=0.1",
      "resnet50:batch=1,image=64",
      "alexnet:batch=1",
      "vgg16:batch=1,image=224",
      "mobilenet_v2:batch=1,image=32",
      "r3d_18:batch=1,frames=4,image=32",
      "r2plus1d_18:batch=1,frames=4,image=16",
      "bert-base:batch=1,seq=32,layers=2",
      "bert-large:batch=1,seq=16,layers=1,attn=eager,dropout=0.1",
      "gpt2-small:batch=1,seq=32,layers=2",
      "gpt2-medium:batch=1,seq=16,layers=1,dropout=0.1",
      "gpt2-large:batch=1,seq=16,layers=1",
      "gpt2-xl:batch=1,seq=16,layers=1,attn=eager",
      "gpt3-175b:seq=8,layers=1",
      "gpt:layers=2,hidden=128,heads=2,seq=16,vocab=512",
      "llama-7b:seq=32,layers=2",
      "llama-70b:seq=16,layers=1,dropout=0.1",
      "llama3-8b:seq=16,layers=1,lm_head=1",
      "llama3-70b:seq=8,layers=1",
      "llama:layers=1,hidden=256,heads=4,kv_heads=2,ffn=512,vocab=512,seq=16",
      "transformer-base:batch=1,src=16,tgt=16,dropout=0.1",
      "moe:seq=32,d=256,heads=4,kv_heads=4,ffn=512,dropout=0.1",
      "evoformer:n_seq=8,n_res=16",
      "lstm:batch=2,seq=4,input=64,hidden=64",
      "gru:batch=2,seq=4,input=64,hidden=64",
      "gather:table_bytes=64KiB,row_bytes=256,rows=64",
      "strided_read:bytes=64KiB,stride=4",
      "read_repeat:working_set=64KiB,repeats=2",
  };
  std::set<std::string> covered;
  for (const char* spec : specs) covered.insert(std::string(spec).substr(0, std::string(spec).find(':')));
  for (const auto& w : builtin_workloads()) {
    INFO(w.name);
    OpKind kind = OpKind::matmul;
    if (parse_op_kind(w.name, kind) && is_collective_kind(kind)) {
      // Collective workloads have no training step.
      CHECK_THROWS_WITH(build_workload(w.name + ":bytes=1024,train=1"),
                        Catch::Contains("collectives have no backward rule"));
      continue;
    }
    CHECK(covered.count(w.name) == 1);
  }
  for (const char* hw_name : {"h100-sxm", "tpu-v1"}) {
    // tpu-v1's PEs run int8 only (compute.formats); these workloads are bf16, so the
    // array is modelled with PEs of any format.
    auto hw = load_hardware(hw_name, std::string(hw_name) == "tpu-v1" ? std::vector<std::string>{"compute.formats=any"}
                                                                       : std::vector<std::string>{});
    for (const char* spec : specs) {
      const std::string s = std::string(spec) + ",train=1";
      INFO(hw_name << " " << s);
      const Graph g = build_workload(s);
      CHECK(g.info.at("train_step") == 1);
      // add's backward passes the gradient on without a kernel.
      CHECK((g.info.at("ops_backward") > 0) == (w_name(s) != "add"));
      std::set<std::string> unique;
      for (const auto& op : g.ops) unique.insert(op.name);
      CHECK(unique.size() == g.ops.size());
      testing::check_both_engines(g, *hw);
    }
  }
}

TEST_CASE("the Evoformer's pair bias gets its gradient from the attention backward", "[training][models]") {
  // evoformer_sdpa.py: the biased attentions read {q|k|v|g, q|k|v|g, q|k|v|g, bias}.
  // The packed projection counts once (its q, k, v gradients concatenated: one
  // copy) and the bias projection receives dS summed over the batch the mask is
  // broadcast over (one reduction), so its linear gets weight and input gradients.
  const Graph g = build_workload("evoformer:n_seq=8,n_res=16,train=1");
  std::set<std::string> names;
  for (const auto& op : g.ops) names.insert(op.name.substr(0, op.name.find('#')));
  for (const char* p : {"b0.row.", "b0.tri_att_start.", "b0.tri_att_end."}) {
    INFO(p);
    CHECK(names.count(std::string(p) + "sdpa.grad_bias") == 1);
    CHECK(names.count(std::string(p) + "sdpa.grad_qkv") == 1);
    CHECK(names.count(std::string(p) + "b.grad_weight") == 1);
    CHECK(names.count(std::string(p) + "sdpa.grad_kv") == 0);  // not the bias taken for K|V
  }
}

TEST_CASE("systolic arrays: gradient passes as their GEMMs, attention backward as five products", "[training][systolic]") {
  // dgrad of a 3x3 conv 64 -> 128 on 2 x 56 x 56, stride 2, pad 1: the pass's implicit GEMM
  // (conv_gemm_dims) m = 2*28*28 = 1568, n = 64, k = 128*9 = 1152: 1568*1152*64 MACs.
  Op c;
  c.name = "conv";
  c.kind = OpKind::conv2d;
  c.dtype = c.out_dtype = DType::int8;
  c.attrs = {{"n", 2}, {"cin", 64}, {"cout", 128}, {"h", 56}, {"w", 56}, {"r", 3}, {"s", 3}, {"stride", 2},
             {"pad", 1}, {"grad", 1}};
  auto layers = SystolicArray::layers_of(c);
  REQUIRE(layers.size() == 1);
  CHECK(layers[0].batch == 1);
  CHECK(layers[0].layer.macs() == 1568LL * 1152 * 64);
  c.attrs["grad"] = 2;   // wgrad m = 128, n = 576, k = 1568
  CHECK(SystolicArray::layers_of(c)[0].layer.macs() == 128LL * 576 * 1568);
  // Attention backward, B*H = 8, sq = 32, skv = 64, d = 16: S and dP (32 x 64 x 16),
  // dV and dK (64 x 16 x 32), dQ (32 x 16 x 64): 5 x 32,768 MACs per head.
  Op a;
  a.name = "attn";
  a.kind = OpKind::attention;
  a.dtype = a.out_dtype = DType::int8;
  a.attrs = {{"batch", 2}, {"heads", 4}, {"sq", 32}, {"skv", 64}, {"d", 16}, {"backward", 1}};
  layers = SystolicArray::layers_of(a);
  REQUIRE(layers.size() == 5);
  for (const auto& l : layers) {
    CHECK(l.batch == 8);
    CHECK(l.layer.macs() == 32768);
  }
  // The op's FLOPs: 2.5 x the forward's 4 * 8*32*64*16 = 2 * 5 * 8 * 32,768.
  CHECK(op_flops(a) == 2.0 * 5 * 8 * 32768);
  // On tpu-v1 the softmax backward (4 per score: 8*32*64*4 = 65,536) runs on the vector unit.
  auto hw = load_hardware("tpu-v1", {});
  Graph g;
  g.add(a);
  const Kernel k = make_mapper(hw->compute())->lower(g, 0, *hw);
  int64_t vec = 0;
  for (const auto& b : k.blocks)
    for (const auto& in : b.instrs)
      if (in.op == Opcode::vec) vec += in.elems;
  CHECK(vec == 65536);
}
