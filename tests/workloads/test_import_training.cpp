// A training step of an imported model: path:train=1[,optimizer=...,amp=...] and
// --set workload.train=1 on a JSON trace or an ONNX file (workloads/workloads.cpp,
// build_imported), against hand derivations and the errors each misuse gets.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tests/support/cli_run.h"
#include "tests/support/graph_ops.h"
#include "workloads/training.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Contains;

namespace {

const std::string kImportData = TESSERA_WL_TEST_DATA;

// Writes `text` to a scratch file called `name` and returns its path.
std::string scratch(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "tessera_import_training";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

// An MLP block as scripts/trace_pytorch.py records nn.Linear(64, 256), GELU,
// nn.Linear(256, 64, bias=False), nn.LayerNorm(64) on 32 tokens, in `dtype`, the
// products with the training attributes (param, bias).
std::string mlp_trace(const std::string& dtype) {
  return scratch("mlp_" + dtype + ".json",
                 R"({"format": "tessera-trace", "version": 1, "dtype": ")" + dtype + R"(", "ops": [
  {"name": "fc1", "kind": "matmul", "attrs": {"batch": 1, "m": 32, "n": 256, "k": 64, "param": 1, "bias": 1,
   "b_shared": 1}},
  {"name": "act", "kind": "gelu", "attrs": {"rows": 32, "cols": 256}, "deps": ["fc1"]},
  {"name": "fc2", "kind": "matmul", "attrs": {"batch": 1, "m": 32, "n": 64, "k": 256, "param": 1, "b_shared": 1},
   "deps": ["act"]},
  {"name": "ln", "kind": "layernorm", "attrs": {"rows": 32, "cols": 64}, "deps": ["fc2"]}
]})");
}

using testing::find_op;

}  // namespace

TEST_CASE("an imported trace trains with train=1 after its path", "[import][train]") {
  const std::string path = mlp_trace("fp32");
  const Graph g = build_workload(path + ":train=1,optimizer=sgd");
  CHECK(g.info.at("train_step") == 1);
  // fc1 64 x 256 + 256, fc2 256 x 64, the norm's weight and bias 64 + 64.
  CHECK(g.info.at("params_trained") == 16384 + 256 + 16384 + 128);
  CHECK(g.info.at("param_tensors") == 5);
  // The products of the backward: fc2's data gradient (32 x 256 over k = 64) and
  // weight gradient (256 x 64 over the 32 tokens), fc1's weight gradient (64 x 256
  // over 32); fc1's input is the model's input, which needs no gradient.
  double products = 0;
  int n = 0;
  for (size_t i = static_cast<size_t>(g.info.at("ops_forward")); i < g.ops.size(); ++i)
    if (g.ops[i].kind == OpKind::matmul) {
      products += op_flops(g.ops[i]);
      ++n;
    }
  CHECK(n == 3);
  CHECK(products == 3 * 2.0 * 32 * 256 * 64);
  CHECK(g.spec == path + ":train=1,optimizer=sgd");
  // Without train the file imports as it is.
  CHECK(build_workload(path + ":train=0").ops.size() == 4);
}

TEST_CASE("workload.train=1 set on an imported file is the spec written with it", "[import][train][cli]") {
  using testing::run_cli;
  const std::string path = mlp_trace("fp32");
  const auto a = run_cli({"run", "--hw", "h100-sxm", "--workload", path + ":train=1", "--format", "json"});
  const auto b = run_cli(
      {"run", "--hw", "h100-sxm", "--workload", path, "--set", "workload.train=1", "--format", "json"});
  REQUIRE(a.code == 0);
  CHECK(b.code == 0);
  CHECK(a.out == b.out);
  CHECK(workload_spec_with(path + ":train=1", "optimizer", "sgd", "workload.optimizer=sgd") ==
        path + ":train=1,optimizer=sgd");
  CHECK(workload_spec_with(kImportData + "/tiny_mlp.onnx:batch=8", "train", "1", "workload.train=1") ==
        kImportData + "/tiny_mlp.onnx:batch=8,train=1");
  CHECK_THROWS_WITH(workload_spec_with(path, "seq", "4", "workload.seq=4"),
                    Contains("--set 'workload.seq=4': the workload '" + path +
                             "' is an imported file; its shapes are fixed (accepted: workload.train, "
                             "workload.optimizer, workload.amp"));
  CHECK_THROWS_WITH(workload_spec_with(path, "train", "2", "workload.train=2"),
                    Contains("invalid value '2' for workload.train"));
}

TEST_CASE("an ONNX model trains with its symbolic dimensions set", "[import][train][onnx]") {
  const Graph one = build_workload(kImportData + "/tiny_mlp.onnx:batch=8");
  const Graph g = build_workload(kImportData + "/tiny_mlp.onnx:train=1,batch=8");
  CHECK(g.info.at("onnx_dim:batch") == 8);
  CHECK(g.info.at("train_step") == 1);
  CHECK(g.info.at("ops_forward") == static_cast<double>(one.ops.size()));
  CHECK(g.ops.size() > one.ops.size());
}

TEST_CASE("a training step of an imported file: misuse is refused by name", "[import][train][errors]") {
  const std::string path = mlp_trace("fp32");
  CHECK_THROWS_WITH(
      build_workload(path + ":batch=2"),
      Contains("'" + path +
               "' takes train, optimizer and amp after its path (a training step of "
               "the imported model); symbolic dimensions (model.onnx:batch_size=8) apply to .onnx "
               "models"));
  CHECK_THROWS_WITH(build_workload(path + ":train=2"),
                    Contains("parameter 'train': '2' is not accepted; accepted: 0, 1"));
  CHECK_THROWS_WITH(build_workload(path + ":amp=bf16"),
                    Contains("parameter 'amp' applies to a training step only (add train=1)"));
  CHECK_THROWS_WITH(build_workload(path + ":train=1,train=1"), Contains("parameter 'train' given twice"));
  CHECK_THROWS_WITH(build_workload(path + ":train"),
                    Contains("malformed parameter 'train'; expected key=value"));
  CHECK_THROWS_WITH(build_workload(path + ":train=1,,optimizer=sgd"),
                    Contains("empty item in the parameter list"));
  // SCALE-Sim's layers are int8 (its one-byte word): nothing PyTorch trains.
  CHECK_THROWS_WITH(
      build_workload(kImportData + "/scalesim_alexnet.csv:train=1"),
      Contains("train=1 needs products in fp32, tf32, bf16 or fp16 (PyTorch trains floating-point "
               "parameters); op 'Conv1' is int8"));
  // autocast runs an fp32 model: a bf16 trace is refused, the fp32 one trains.
  CHECK_THROWS_WITH(build_workload(mlp_trace("bf16") + ":train=1,amp=bf16"),
                    Contains("amp=bf16: op 'fc1' is bf16 in the model; autocast runs an fp32 model"));
  CHECK(build_workload(path + ":train=1,amp=bf16").info.at("amp") == 1);
  // Products without param marks and no other layer with weights: nothing to train.
  const std::string bare =
      scratch("relu.json", R"({"ops": [{"name": "r", "kind": "relu", "attrs": {"rows": 4, "cols": 4}}]})");
  CHECK_THROWS_WITH(build_workload(bare + ":train=1"),
                    Contains("train=1: the imported model has no parameters"));
}

TEST_CASE("an nn.EmbeddingBag trains by the sorted backward at any size", "[import][train][embedding]") {
  // A DLRM-style bag of 1024 indices into a 1000 x 16 table in 64 bags, then a
  // linear: the plain embedding's backward takes the direct path up to 3072 indices
  // (2 launches), the bag's always sorts (EmbeddingBag.cu: 20 launches, training/
  // autograd.cpp).
  const auto write = [&](const std::string& name, const std::string& bags) {
    return scratch(name, R"({"ops": [
  {"name": "emb", "kind": "embedding", "attrs": {"tokens": 1024, "dim": 16, "vocab": 1000, "order": 2)" +
                             bags +
                             R"(}},
  {"name": "fc", "kind": "matmul", "attrs": {"batch": 1, "m": 64, "n": 16, "k": 16, "param": 1}, "deps": ["emb"]}
]})");
  };
  const Graph bag = build_workload(write("bag.json", R"(, "bags": 64)") + ":train=1");
  const Graph plain = build_workload(write("plain.json", "") + ":train=1");
  const auto grad = [](const Graph& g) { return find_op(g, "emb.grad_weight"); };
  CHECK(grad(bag).at("launches") == 20);
  CHECK(grad(plain).at("launches") == 2);
  CHECK(grad(bag).at("bags") == 64);
  // 1000 x 16 table + 16 x 16 weight.
  CHECK(bag.info.at("params_trained") == 16000 + 256);
  // mode="max" (bag_max): embedding_bag_backward_cuda_max, the zero fill and one
  // scatter through the argmax, no sort (2 launches). The trace is fp32 (its
  // default): it reads each bag's gradient row and its int64 argmax (64 x 16 x
  // (4 + 8) B = 12,288 B) and writes the 1000 x 16 zero fill plus the 64 x 16
  // scattered rows ((16,000 + 1,024) x 4 B = 68,096 B).
  const Graph mx = build_workload(write("bag_max.json", R"(, "bags": 64, "bag_max": 1)") + ":train=1");
  const Op& gm = grad(mx);
  CHECK(gm.at("launches") == 2);
  CHECK(op_flops(gm) == 64.0 * 16);
  const OpTraffic tm = op_traffic(gm);
  CHECK(tm.read == 12288.0);
  CHECK(tm.written == 68096.0);
  // The sum bag's backward sorts and reads every index's row: more than the max one.
  CHECK(op_traffic(grad(bag)).read > 1024.0 * 16 * 4);
  // Its forward writes the 64 x 16 fp32 rows and their int64 argmax: 4,096 + 8,192 B;
  // it reads 1024 rows of 16 fp32 and the 1024 int64 indices: 65,536 + 8,192 B.
  const OpTraffic f = op_traffic(find_op(mx, "emb"));
  CHECK(f.written == 4096.0 + 8192.0);
  CHECK(f.read == 65536.0 + 8192.0);
}

TEST_CASE("a transposed convolution trains through the convolution it transposes", "[import][train][conv]") {
  // A 1x1 convolution to 32 x 8 x 8, then ConvTranspose2d(32, 16, 2, stride 2) with
  // a bias (TinyUNet's up): the data gradient (grad=1, transposed=1) of C, the
  // Conv2d(16, 32, 2, stride 2) on 16 x 16. Its input gradient is C's forward over dy
  // (grad=0), its weight gradient C's weight-gradient pass (grad=2), each 2 x 32 x 64
  // x 16 x 4 = 262144 FLOPs like the op; its bias gradient sums dy's 256 pixels of C's
  // 16 input channels.
  const std::string path = scratch("up.json", R"({"ops": [
  {"name": "c0", "kind": "conv2d", "attrs": {"n": 1, "cin": 4, "cout": 32, "h": 8, "w": 8, "r": 1, "s": 1, "stride": 1, "pad": 0}},
  {"name": "up", "kind": "conv2d", "attrs": {"n": 1, "cin": 16, "cout": 32, "h": 16, "w": 16, "r": 2, "s": 2, "stride": 2, "pad": 0,
   "grad": 1, "transposed": 1, "bias": 1}, "deps": ["c0"]}
]})");
  const Graph g = build_workload(path + ":train=1,optimizer=sgd");
  const Op dx = find_op(g, "up.grad_input"), dw = find_op(g, "up.grad_weight"),
           db = find_op(g, "up.grad_bias");
  CHECK(dx.get("grad", 0) == 0);
  CHECK(dx.get("transposed", 0) == 0);
  CHECK(dw.get("grad", 0) == 2);
  CHECK(dw.get("transposed", 0) == 0);
  CHECK(op_flops(find_op(g, "up")) == 262144);
  CHECK(op_flops(dx) == 262144);
  CHECK(op_flops(dw) == 262144);
  CHECK(db.at("rows") == 256);
  CHECK(db.at("cols") == 16);
  // c0: 32 x 4; up: 32 x 16 x 2 x 2 and 16 bias elements.
  CHECK(g.info.at("params_trained") == 128 + 2048 + 16);
}

TEST_CASE("a group norm traced as a row norm trains its C-element scale and shift", "[import][train]") {
  // GroupNorm(4, 16) on a 1x1 convolution's 16 x 16 x 16 output: 4 rows of 4
  // channels x 256 pixels; its scale and shift have 16 elements (affine), not the
  // row's 1024.
  const std::string path = scratch("groupnorm.json", R"({"ops": [
  {"name": "c0", "kind": "conv2d", "attrs": {"n": 1, "cin": 8, "cout": 16, "h": 16, "w": 16, "r": 1, "s": 1,
   "stride": 1, "pad": 0}},
  {"name": "gn", "kind": "layernorm", "attrs": {"rows": 4, "cols": 1024, "affine": 16}, "deps": ["c0"]}
]})");
  const Graph g = build_workload(path + ":train=1,optimizer=sgd");
  CHECK(g.info.at("params_trained") == 16 * 8 + 16 + 16);
  CHECK(g.info.at("param_tensors") == 3);
}

TEST_CASE("a learned attention bias broadcast over the heads gets its gradient summed over them",
          "[import][train][attention]") {
  // A [2, 1, 64, 64] bias (8192 elements, a linear's output) added to the scores of
  // a 4-head attention: the backward writes dS per batch entry and head (2 x 4 x 64
  // x 64), and sum_to_size folds the 4 heads: one reduction of 4 rows of 8192.
  const std::string path = scratch("head_bias.json", R"({"ops": [
  {"name": "qkv", "kind": "matmul", "attrs": {"batch": 1, "m": 128, "n": 96, "k": 32, "param": 1, "b_shared": 1}},
  {"name": "bias", "kind": "matmul", "attrs": {"batch": 1, "m": 128, "n": 64, "k": 16, "param": 1, "b_shared": 1}},
  {"name": "attn", "kind": "attention", "attrs": {"batch": 2, "heads": 4, "sq": 64, "skv": 64, "d": 8, "bias": 1,
   "bias_head_shared": 1}, "deps": ["qkv", "qkv", "qkv", "bias"]}
]})");
  const Graph g = build_workload(path + ":train=1,optimizer=sgd");
  const Op& red = testing::find_op(g, "attn.grad_bias");
  CHECK(red.kind == OpKind::reduce);
  CHECK(red.at("rows") == 4);
  CHECK(red.at("cols") == 8192);
  // The backward reads the bias once per element it owns: 8192 bf16.
  CHECK(attention_bias_elems(testing::find_op(g, "attn")) == 8192);
  // Without the broadcast the gradient is dS itself: no reduction.
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find(",\n   \"bias_head_shared\": 1"),
               std::string(",\n   \"bias_head_shared\": 1").size(), "");
  const Graph full = build_workload(scratch("head_bias_full.json", text) + ":train=1,optimizer=sgd");
  CHECK(std::none_of(full.ops.begin(), full.ops.end(),
                     [](const Op& op) { return op.name == "attn.grad_bias"; }));
}

TEST_CASE("learned tensors added or concatenated are trained (ViT's class token and position embedding)",
          "[import][train]") {
  // scripts/trace_pytorch.py's trace of tests/use/data/tiny_math.py's TinyViT (fp32):
  // cat([class_token [1, 1, 16] expanded to [2, 1, 16], x [2, 4, 16]]), + pos_embedding
  // [1, 5, 16], Linear(16, 8).
  const std::string path = scratch("vit_tokens.json", R"({"ops": [
  {"name": "cat.0", "kind": "copy", "attrs": {"rows": 10, "cols": 16, "param_elems": 16, "param_reads": 32}},
  {"name": "add.0", "kind": "add", "attrs": {"rows": 10, "cols": 16, "inputs": 1, "param_elems": 80},
   "deps": ["cat.0"]},
  {"name": "addmm.0", "kind": "matmul", "attrs": {"batch": 1, "m": 10, "n": 8, "k": 16, "param": 1, "b_shared": 1,
   "bias": 1}, "deps": ["add.0"]}
]})");
  const Graph g = build_workload(path + ":train=1,optimizer=sgd");
  // ExpandBackward0: the class token's 32 gradient elements summed over the batch
  // (2 rows of 16); sum_to_size: the position embedding's 160 summed to 80 (2 x 80).
  const Op& ct = find_op(g, "cat.0.grad_param");
  CHECK(ct.kind == OpKind::reduce);
  CHECK(ct.at("rows") == 2);
  CHECK(ct.at("cols") == 16);
  const Op& pe = find_op(g, "add.0.grad_param");
  CHECK(pe.at("rows") == 2);
  CHECK(pe.at("cols") == 80);
  // 16 + 80 + the linear's 16 x 8 + 8.
  CHECK(g.info.at("params_trained") == 16 + 80 + 128 + 8);
  CHECK(g.info.at("param_tensors") == 4);
  // Bad annotations are input errors naming the attribute.
  const std::string bad = scratch("vit_bad.json", R"({"ops": [
  {"name": "add.0", "kind": "add", "attrs": {"rows": 10, "cols": 16, "inputs": 1, "param_elems": 7}}]})");
  CHECK_THROWS_WITH(build_workload(bad),
                    Contains("'param_elems' = 7 (the parameter's elements) must divide rows x "
                             "cols = 160"));
  const std::string orphan = scratch("vit_orphan.json", R"({"ops": [
  {"name": "cat.0", "kind": "copy", "attrs": {"rows": 10, "cols": 16, "param_reads": 32}}]})");
  CHECK_THROWS_WITH(build_workload(orphan), Contains("'param_reads' needs 'param_elems'"));
}

TEST_CASE("a parameter gathered by an index tensor trains through index_put_ with accumulate",
          "[import][train][embedding]") {
  // Swin's relative position bias table [169, 3] gathered by 2401 indices (as
  // scripts/trace_pytorch.py records table[index]): IndexBackward0 is index_put_
  // (accumulate=True) into zeros, index_put_with_sort_kernel: fill, linear index,
  // divide_, arange, radix sort, indexing_backward_kernel: 6 launches, sorted at
  // any size (a plain embedding of 2401 indices takes the 2-launch direct path).
  const auto write = [&](const std::string& name, const std::string& extra) {
    return scratch(name, R"({"ops": [
  {"name": "index.0", "kind": "embedding", "attrs": {"tokens": 2401, "dim": 3, "vocab": 169, "order": 2)" +
                             extra + R"(}}]})");
  };
  const Graph g = build_workload(write("rel_bias.json", R"(, "index_put": 1)") + ":train=1,optimizer=sgd");
  CHECK(find_op(g, "index.0.grad_weight").at("launches") == 6);
  CHECK(embedding_backward_sorts(find_op(g, "index.0")));
  CHECK(g.info.at("params_trained") == 169 * 3);
  const Graph plain = build_workload(write("rel_plain.json", "") + ":train=1,optimizer=sgd");
  CHECK(find_op(plain, "index.0.grad_weight").at("launches") == 2);
  // A flag is 0 or 1.
  CHECK_THROWS_WITH(build_workload(write("rel_bad.json", R"(, "index_put": 2)")),
                    Contains("'index_put' = 2 must be 0 or 1"));
}
