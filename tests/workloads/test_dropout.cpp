// Training-mode dropout (OpKind::dropout, attention dropout=1): the kernels, their
// work and traffic, the models that place them as Hugging Face does, and the
// refusals.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sim/engines/capacity.h"
#include "sim/tools/compare_train.h"
#include "tests/support/graph_ops.h"
#include "tests/support/workload_errors.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

int64_t count(const Graph& g, OpKind k, bool backward) {
  return std::count_if(g.ops.begin(), g.ops.end(), [&](const Op& op) {
    return op.kind == k && (op.get("backward", 0) != 0) == backward;
  });
}

using testing::workload_error;

}  // namespace

TEST_CASE("native_dropout and its backward: work and traffic", "[dropout][ir]") {
  const Graph g = build_workload("dropout:rows=4096,cols=768,train=1");
  REQUIRE(g.ops.size() == 2);
  const Op& f = g.ops[0];
  const Op& b = g.ops[1];
  CHECK(f.kind == OpKind::dropout);
  CHECK(b.name == "dropout.grad");
  CHECK(b.get("backward", 0) == 1);
  // The backward reads the forward's mask: op 0 is among its producers.
  CHECK(std::find(b.deps.begin(), b.deps.end(), 0) != b.deps.end());
  const double e = 4096.0 * 768;
  // Forward: the keep test and the scaling (2 per element); reads x (bf16),
  // writes y (bf16) and the bool mask (1 byte): 2e read, 3e written.
  CHECK(op_flops(f) == 2 * e);
  CHECK(op_traffic(f).read == 2 * e);
  CHECK(op_traffic(f).written == 3 * e);
  CHECK(op_min_bytes(f) == 5 * e);
  // Backward (dy * mask * scale): reads dy (bf16) and the mask, writes dx.
  CHECK(op_flops(b) == 2 * e);
  CHECK(op_traffic(b).read == 3 * e);
  CHECK(op_traffic(b).written == 2 * e);
  // fp32: 4 + 4 + 1 bytes per element forward.
  CHECK(op_min_bytes(build_workload("dropout:rows=8,cols=8,dtype=fp32").ops[0]) == 64 * 9.0);
}

TEST_CASE("a training step keeps each dropout's output and its mask", "[dropout][memory]") {
  // dropout:rows=1024,cols=256 (bf16) with train=1: the forward output, 1024 x 256
  // x 2 bytes, and the bool mask, 1024 x 256 x 1 byte.
  const Footprint f = graph_footprint(build_workload("dropout:rows=1024,cols=256,train=1"));
  CHECK(f.activations == 1024.0 * 256 * 3);
}

TEST_CASE("BERT, GPT-2 and nn.Transformer place their dropouts where PyTorch runs them",
          "[dropout][models]") {
  // BertEmbeddings (1), BertSelfOutput and BertOutput (2 per layer); the attention
  // probabilities' dropout is the SDPA call's dropout_p.
  const Graph bert = build_workload("bert-base:layers=2,seq=64,train=1,dropout=0.1");
  CHECK(count(bert, OpKind::dropout, false) == 1 + 2 * 2);
  CHECK(count(bert, OpKind::dropout, true) == 1 + 2 * 2);
  for (const char* n :
       {"embeddings.dropout", "l0.attn.output.dropout", "l0.output.dropout", "l1.output.dropout"})
    CHECK(testing::find_op(bert, n).kind == OpKind::dropout);
  CHECK(testing::find_op(bert, "l0.attn.sdpa").get("dropout", 0) == 1);
  CHECK(testing::find_op(bert, "l0.attn.sdpa.grad").get("dropout", 0) == 1);
  // The residual add reads the dropped projection.
  const Graph& bg = bert;
  const Op& add = testing::find_op(bg, "l0.attn.output.add");
  const int drop = static_cast<int>(&testing::find_op(bg, "l0.attn.output.dropout") - bg.ops.data());
  CHECK(std::find(add.deps.begin(), add.deps.end(), drop) != add.deps.end());
  // GPT2Model: drop after the embeddings, resid_dropout after c_proj, the MLP's
  // dropout after its c_proj.
  const Graph gpt = build_workload("gpt2-small:layers=3,seq=64,train=1,dropout=0.1");
  CHECK(count(gpt, OpKind::dropout, false) == 1 + 2 * 3);
  CHECK(testing::find_op(gpt, "embed.drop").kind == OpKind::dropout);
  CHECK(testing::find_op(gpt, "l2.attn.resid_dropout").kind == OpKind::dropout);
  CHECK(testing::find_op(gpt, "l2.mlp.dropout").kind == OpKind::dropout);
  // LlamaModel has attention_dropout only.
  const Graph llama = build_workload("llama-7b:layers=2,seq=64,train=1,dropout=0.1");
  CHECK(count(llama, OpKind::dropout, false) == 0);
  CHECK(testing::find_op(llama, "l1.attn.sdpa").get("dropout", 0) == 1);
  // Mixtral (moe): attention_dropout only.
  const Graph moe = build_workload("moe:seq=32,d=256,heads=4,kv_heads=2,ffn=512,train=1,dropout=0.1");
  CHECK(count(moe, OpKind::dropout, false) == 0);
  CHECK(testing::find_op(moe, "l0.attn.sdpa").get("dropout", 0) == 1);
  // attn=eager: nn.functional.dropout of the weights, one kernel per layer more.
  const Graph eager = build_workload("gpt2-small:layers=1,seq=64,train=1,dropout=0.1,attn=eager");
  CHECK(testing::find_op(eager, "l0.attn.sdpa.dropout").kind == OpKind::dropout);
  // nn.Transformer: per encoder layer dropout1, the FFN's dropout and dropout2
  // (3), per decoder layer dropout1..3 and the FFN's (4), and each embedding sum:
  // 6 x 3 + 6 x 4 + 2 = 44; every attention (6 + 2 x 6 = 18) with dropout_p.
  const Graph tb = build_workload("transformer-base:src=16,tgt=16,train=1,dropout=0.1");
  CHECK(count(tb, OpKind::dropout, false) == 44);
  CHECK(std::count_if(tb.ops.begin(), tb.ops.end(), [](const Op& op) {
          return op.kind == OpKind::attention && !op.get("backward", 0) && op.get("dropout", 0);
        }) == 18);
  CHECK(testing::find_op(tb, "dec.l5.cross_attn.dropout2").kind == OpKind::dropout);
  // The FFN's hidden dropout is 16 x 2048; with tp = 2 it is split with linear1's output.
  CHECK(testing::find_op(tb, "enc.l0.ffn.dropout").at("cols") == 2048);
  const Graph tp = build_workload("transformer-base:src=16,tgt=16,train=1,dropout=0.1,tp=2");
  CHECK(testing::find_op(tp, "enc.l0.ffn.dropout").at("cols") == 1024);
  CHECK(testing::find_op(tp, "enc.l0.ffn.dropout2").at("cols") == 512);
  // dropout=0 (the default) builds what it built before: no dropout anywhere.
  const Graph none = build_workload("bert-base:layers=2,seq=64,train=1");
  CHECK(count(none, OpKind::dropout, false) == 0);
  CHECK(testing::find_op(none, "l0.attn.sdpa").get("dropout", 0) == 0);
  CHECK(bert.ops.size() == none.ops.size() + 10);
}

TEST_CASE("torchvision classifiers' dropouts run in a training step only", "[dropout][models]") {
  // AlexNet: classifier.0 (on the 256 x 6 x 6 pooled features) and classifier.3;
  // VGG-16: classifier.2 and .5 (after the ReLUs of 4096); MobileNetV2:
  // classifier.0 on the 1280 pooled features.
  const Graph a = build_workload("alexnet:batch=2,train=1");
  CHECK(count(a, OpKind::dropout, false) == 2);
  CHECK(count(a, OpKind::dropout, true) == 2);
  CHECK(op_out_elems(testing::find_op(a, "classifier.0")) == 2 * 256 * 6 * 6);
  CHECK(op_out_elems(testing::find_op(a, "classifier.3")) == 2 * 4096);
  const Graph v = build_workload("vgg16:batch=2,train=1");
  CHECK(op_out_elems(testing::find_op(v, "classifier.2")) == 2 * 4096);
  CHECK(testing::find_op(v, "classifier.5").kind == OpKind::dropout);
  const Graph m = build_workload("mobilenet_v2:batch=2,image=32,train=1");
  CHECK(op_out_elems(testing::find_op(m, "classifier.0")) == 2 * 1280);
  // In inference: no dropout kernel.
  CHECK(count(build_workload("alexnet:batch=2"), OpKind::dropout, false) == 0);
  CHECK(count(build_workload("mobilenet_v2:batch=2,image=32"), OpKind::dropout, false) == 0);
}

TEST_CASE("dropout under autocast runs in its input's type", "[dropout][amp]") {
  // The embeddings' LayerNorm is fp32 under autocast, so their dropout is fp32;
  // a linear's output is bf16, so the dropout after it is bf16.
  const Graph g = build_workload("bert-base:layers=1,seq=64,train=1,amp=bf16,dropout=0.1");
  const Op& emb = testing::find_op(g, "embeddings.dropout");
  CHECK(emb.dtype == DType::fp32);
  CHECK(emb.out_dtype == DType::fp32);
  const Op& o = testing::find_op(g, "l0.attn.output.dropout");
  CHECK(o.dtype == DType::bf16);
  CHECK(o.out_dtype == DType::bf16);
}

TEST_CASE("dropout parameters: refusals name the key and what is accepted", "[dropout][errors]") {
  CHECK(
      workload_error("bert-base:dropout=0.1") ==
      "--workload 'bert-base:dropout=0.1': workload parameter 'dropout': 0.1 applies to a training step (add "
      "train=1); in inference (model.eval()) dropout launches nothing");
  for (const char* bad : {"1", "-0.1", "nan", "inf", "0.1x", "1.5"})
    CHECK(workload_error(std::string("gpt2-small:train=1,dropout=") + bad) ==
          std::string("--workload 'gpt2-small:train=1,dropout=") + bad +
              "': workload parameter 'dropout': '" + bad +
              "' is not accepted; expected a probability in [0, 1) (e.g. 0.1)");
  CHECK(workload_error("dropout:rows=4,cols=4,p=0") ==
        "--workload 'dropout:rows=4,cols=4,p=0': workload parameter 'p': 0 launches no kernel (dropout "
        "returns its "
        "input); accepted: 0 < p < 1");
  // The declared range: a real in [0, 1).
  for (const auto& [p, v] : workload_param_values("bert-base:train=1,dropout=0.25"))
    if (p.name == "dropout") {
      CHECK(v == "0.25");
      const ParamSpec s = p.spec();
      CHECK(s.type == ParamType::real);
      CHECK(s.lo == 0);
      CHECK(s.hi == 1);
      CHECK(s.hi_open);
    }
}

TEST_CASE("train records with a dropout field are predicted with it", "[dropout][compare]") {
  std::string skip;
  auto rec = nlohmann::json::parse(R"({"section": "train", "model": "BertModel", "batch": 8, "seq": 512,
      "amp": "bf16", "optimizer": "adamw_fused", "dropout": 0.1})");
  CHECK(train_record_spec(rec, skip) ==
        std::optional<std::string>(
            "bert-base:batch=8,seq=512,train=1,amp=bf16,optimizer=adamw_fused,dropout=0.1"));
  rec["dropout"] = 0;
  CHECK(train_record_spec(rec, skip) ==
        std::optional<std::string>("bert-base:batch=8,seq=512,train=1,amp=bf16,optimizer=adamw_fused"));
  rec["dropout"] = 1.5;
  CHECK_THROWS_WITH(train_record_spec(rec, skip),
                    Catch::Contains("field 'dropout' = 1.5 must be a probability"));
  rec["model"] = "resnet50";
  rec["dropout"] = 0.1;
  CHECK(!train_record_spec(rec, skip));
  CHECK(skip == "train dropout on 'resnet50' is not modelled (bert, gpt2, llama are)");
}
