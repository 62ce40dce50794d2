// Mixed precision (amp=bf16: torch.autocast over fp32 parameters) on parallel
// workloads: the bytes each collective moves, the footprint, and Megatron-LM's
// fp32 gradient reduction (grad_reduce=fp32) for a bf16 model.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "tests/parallel/collectives.h"
#include "tests/support/cli_run.h"
#include "workloads/workloads.h"

using namespace tessera;
using tessera::testing::collectives;

TEST_CASE("amp=bf16 with dp: the DDP buckets move the fp32 gradients, 4 B per parameter", "[parallel][amp]") {
  // Buckets of 25 MB (bucket=25): the default's 40M elements would hold all of it.
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,train=1,bucket=25";
  const Graph bf = build_workload(base);                  // a bf16 model: bf16 gradients
  const Graph amp = build_workload(base + ",amp=bf16");   // fp32 parameters under autocast
  // 2 layers x 12,596,224 + wte 1,024,000 + wpe 65,536 + ln_f 2,048 + lm_head 1,024,000.
  const double params = 2 * 12596224 + 1024000 + 65536 + 2048 + 1024000;
  CHECK(amp.info.at("chunk0.params") == params);
  CHECK(collectives(bf)["allreduce/dp/1"].bytes == 2 * params);    // 54,616,064
  CHECK(collectives(amp)["allreduce/dp/1"].bytes == 4 * params);   // 109,232,128
  // 25 MB buckets of fp32 gradients, in the backward's order (MB): lm_head 4.096 +
  // ln_f 0.008 + layer 1's mlp.c_proj 16.781 + c_fc 16.794 = 37.68; ln_2, attn.c_proj
  // 4.198, c_attn 12.595, ln_1, layer 0's mlp.c_proj = 33.59; c_fc, ln_2, c_proj,
  // c_attn = 33.59 (the last reaches 25 at c_attn); ln_1, wte 4.096, wpe 0.262 = 4.37:
  // 4 allreduces (the bf16 model's half-size gradients fill 3).
  CHECK(collectives(amp)["allreduce/dp/1"].n == 4);
  CHECK(collectives(bf)["allreduce/dp/1"].n == 3);
  // ZeRO-2 reduce-scatters the same fp32 bytes; ZeRO-1 gathers the fp32 parameters.
  CHECK(collectives(build_workload(base + ",amp=bf16,zero=2"))["reducescatter/dp/1"].bytes == 4 * params);
  CHECK(collectives(build_workload(base + ",amp=bf16,zero=1"))["allgather/dp/2"].bytes == 4 * params);
  // Footprint: fp32 weights plus the bf16 copies autocast caches of the linears'
  // weights and biases (per layer c_attn 3,148,800 + attn.c_proj 1,049,600 + c_fc
  // 4,198,400 + mlp.c_proj 4,195,328 = 12,592,128; x 2 layers + lm_head 1,024,000 =
  // 26,208,256 elements, 2 B each), fp32 gradients, AdamW's two fp32 states.
  CHECK(amp.info.at("device0.weights_bytes") == 4 * params + 2.0 * 26208256);
  CHECK(amp.info.at("device0.grads_bytes") == 4 * params);
  CHECK(amp.info.at("device0.optimizer_bytes") == 8 * params);
  // The bf16 model: bf16 weights and gradients, an fp32 master copy with the states.
  CHECK(bf.info.at("device0.weights_bytes") == 2 * params);
  CHECK(bf.info.at("device0.optimizer_bytes") == 12 * params);
}

TEST_CASE("amp=bf16 with tp and pp: activations move in the type autocast leaves them in", "[parallel][amp]") {
  // tp=2, tokens x h = 64 x 256. Forward: the 4 row-parallel projections' bf16
  // outputs (32,768 B each) and the vocabulary-parallel embedding's fp32 output
  // (embedding has no autocast policy: 65,536 B), plus the cross-entropy's 3 fp32
  // values per token (3 x 256 B). Backward: the 5 column-parallel input gradients,
  // reduced in bf16 inside the linears' backward (5 x 32,768 B).
  const std::string tp = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,tp=2,train=1";
  auto c = collectives(build_workload(tp + ",amp=bf16"));
  CHECK(c["allreduce/tp/0"].n == 5 + 3);
  CHECK(c["allreduce/tp/0"].bytes == 4 * 32768 + 65536 + 3 * 256);
  CHECK(c["allreduce/tp/1"].n == 5);
  CHECK(c["allreduce/tp/1"].bytes == 5 * 32768);
  // pp=2: the chunk's output is the residual stream, fp32 under autocast (a bf16
  // projection added to the fp32 residual promotes): 64 x 256 x 4 B each way.
  const std::string pp = "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,pp=2,train=1";
  c = collectives(build_workload(pp + ",amp=bf16"));
  CHECK(c["sendrecv/pp/0"].bytes == 65536);
  CHECK(c["sendrecv/pp/1"].bytes == 65536);
  c = collectives(build_workload(pp));   // the bf16 model sends bf16
  CHECK(c["sendrecv/pp/0"].bytes == 32768);
  // bert-large with tp and pp builds under amp as well.
  const Graph b = build_workload("bert-large:batch=2,seq=128,tp=2,pp=2,train=1,amp=bf16");
  CHECK(b.info.at("amp") == 1);
  CHECK(b.info.at("train_step") == 1);
}

TEST_CASE("grad_reduce=fp32: a bf16 model's gradients reduced and kept in fp32 (Megatron-LM --bf16)",
          "[parallel][amp]") {
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,train=1";
  const Graph g = build_workload(base + ",grad_reduce=fp32");
  const double params = g.info.at("chunk0.params");
  CHECK(collectives(g)["allreduce/dp/1"].bytes == 4 * params);
  CHECK(g.info.at("device0.grads_bytes") == 4 * params);
  CHECK(g.info.at("device0.weights_bytes") == 2 * params);   // the model stays bf16
  try {
    build_workload(base + ",grad_reduce=bf16");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("grad_reduce") != std::string::npos);
    CHECK(std::string(e.what()).find("auto, fp32") != std::string::npos);
  }
  // Inference has no gradients to reduce.
  try {
    build_workload("gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,grad_reduce=fp32");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()) == "--workload 'gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,"
                                   "grad_reduce=fp32': parameter 'grad_reduce' applies to a training step only "
                                   "(add train=1)");
  }
}

TEST_CASE("amp=bf16 parallel: MFU against the bf16 peak, not the fp32 model's", "[parallel][amp]") {
  // 2 devices of a dgx-a100 (A100: 312 TFLOP/s bf16 dense, 19.5 fp32): the peak is
  // the devices' bf16 rate although the graph's parameters (its first op) are fp32.
  auto hw = load_hardware("dgx-a100", {"system.devices_per_node=2"});
  const Graph g = build_workload("gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,dp=2,train=1,amp=bf16");
  CHECK(g.ops.front().dtype == DType::fp32);
  const RunResult r = simulate_parallel(g, *hw, "analytic");
  CHECK(r.peak_flops == 2 * hw->compute().peak_flops(DType::bf16));
  CHECK(r.peak_flops != 2 * hw->compute().peak_flops(DType::fp32));
}

TEST_CASE("amp on a systolic system (64 TPU v4 chips) is refused with exit 2", "[parallel][amp][errors]") {
  const auto o = testing::run_cli({"run", "--hw", "tpu-v4-pod", "--workload",
                                   "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000,dp=64,train=1,amp=bf16"});
  CHECK(o.code == 2);
  CHECK(o.err.find("amp runs torch.autocast on a CUDA GPU") != std::string::npos);
  CHECK(o.out.empty());
}

TEST_CASE("amp=fp16 with dp (DDP): fp32 buckets, GradScaler's kernels around each replica's optimizer",
          "[parallel][amp]") {
  // Every replica all-reduces the scaled fp32 gradients (4 B per parameter), then
  // runs the inf check and unscale on its full copy: the same found_inf everywhere,
  // nothing to combine, with torch.amp.GradScaler (grad_scaler=torch) as with
  // Megatron-LM's scaler (the default: its kernels, no collective).
  const std::string base = "gpt:layers=2,hidden=1024,heads=16,seq=64,vocab=1000,dp=2,train=1";
  const Graph m = build_workload(base + ",amp=fp16,optimizer=adamw_fused");
  for (const auto& op : m.ops) {
    CHECK(op.name.rfind("grad_scaler.found_inf.", 0) != 0);
    CHECK(op.name != "grad_scaler.update_scale");
  }
  const Graph g = build_workload(base + ",amp=fp16,optimizer=adamw_fused,grad_scaler=torch");
  const double params = g.info.at("chunk0.params");
  CHECK(collectives(g)["allreduce/dp/1"].bytes == 4 * params);
  int unscale = 0, update = 0;
  for (const auto& op : g.ops) {
    if (op.name != "grad_scaler.unscale" && op.name != "grad_scaler.update_scale") continue;
    CHECK(op.get("pass", 0) == 2);
    if (op.name == "grad_scaler.unscale") {
      ++unscale;
      CHECK(op.at("elems") == params);
    }
    update += op.name == "grad_scaler.update_scale" ? 1 : 0;
  }
  CHECK(unscale == 1);
  CHECK(update == 1);
  // No loss is appended on a parallel chunk (its output gradient is given).
  for (const auto& op : g.ops) CHECK(op.name.rfind("loss.", 0) != 0);
  auto hw = load_hardware("dgx-a100", {"system.devices_per_node=2"});
  const RunResult r = simulate_parallel(g, *hw, "analytic");
  CHECK(r.time_s > 0);
}

TEST_CASE("activations per layer in the format each tensor is saved in: bf16, fp32, and autocast", "[parallel][amp]") {
  // gpt h = 1024, 16 heads, ffn 4h, seq 512, microbatch 1, tp = 2: s*b*h = 524288.
  // Two layers per chunk; 1f1b keeps min(m = 4, p - d = 2) = 2 microbatches on
  // device 0: activations = per layer x 2 x 2.
  const std::string base = "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1024,tp=2,pp=2,dp=2,global_batch=8,train=1";
  const double sbh = 524288;
  const auto act = [&](const std::string& extra) {
    return build_workload(base + extra).info.at("device0.activations_bytes") / 4;
  };
  // bf16 with dropout (Korthikanti et al. 2022): replicated 2x2 + 2x2 + 2 (the two
  // 1-byte masks) = 10, sharded (4 + 2 x 4) x 2 / t = 12: 22 sbh; without dropout
  // (the default) no masks: 20 sbh.
  CHECK(act(",dropout=0.1") == 22 * sbh);
  CHECK(act("") == 20 * sbh);
  // fp32: replicated 2x4 + 2x4 (+ 2) = 16 (18), sharded 12 x 4 / 2 = 24: 40 (42) sbh.
  CHECK(act(",dtype=fp32") == 40 * sbh);
  CHECK(act(",dtype=fp32,dropout=0.1") == 42 * sbh);
  // Autocast: the two layer-norm inputs fp32 (2x4), the rest bf16: 8 + 4 + 12 = 24
  // sbh, 26 with the masks.
  CHECK(act(",amp=bf16") == 24 * sbh);
  CHECK(act(",amp=bf16,dropout=0.1") == 26 * sbh);
  // Full recomputation keeps each layer's input, the fp32 residual stream under
  // autocast: 4 sbh (2 sbh for bf16).
  CHECK(act(",amp=bf16,recompute=full") == 4 * sbh);
  CHECK(act(",recompute=full") == 2 * sbh);
  // An unfused attention keeps its core, a*s^2*b/t = 16 x 512^2 / 2 = 2097152
  // elements: with dropout softmax output + mask + dropout output = 2 + 1 + 2
  // bytes in bf16, and 4 (fp32 softmax) + 1 + 2 under autocast; without, the
  // softmax output alone (2), or under autocast it and its bf16 cast for P.V (4 + 2).
  const double core = 16.0 * 512 * 512 / 2;
  CHECK(act(",attn=eager,dropout=0.1") == 22 * sbh + 5 * core);
  CHECK(act(",attn=eager,amp=bf16,dropout=0.1") == 26 * sbh + 7 * core);
  CHECK(act(",attn=eager") == 20 * sbh + 2 * core);
  CHECK(act(",attn=eager,amp=bf16") == 24 * sbh + 6 * core);
}
