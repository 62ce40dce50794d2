// Importers: JSON trace, SCALE-Sim CSV, ONNX; malformed input gives InputError
// naming the file and line/node.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <variant>

#include "core/error.h"
#include "tests/support/graph_ops.h"
#include "workloads/importers.h"
#include "workloads/importers/scalesim_topology.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Contains;

namespace {
const std::string kData = TESSERA_WL_TEST_DATA;

using testing::find_op;

std::string trace_with(const std::string& ops) {
  return "{\n \"format\": \"tessera-trace\",\n \"version\": 1,\n \"ops\": [\n" + ops + "\n ]\n}\n";
}
}  // namespace

TEST_CASE("JSON trace: the checked-in example imports op for op", "[import][json]") {
  Graph g = build_workload(kData + "/example_trace.json");
  CHECK(g.name == "mlp_attention_block");
  REQUIRE(g.ops.size() == 7);
  const Op& fc = g.ops[0];
  CHECK(fc.kind == OpKind::matmul);
  CHECK(fc.dtype == DType::bf16);
  CHECK(fc.at("m") == 32);
  CHECK(g.ops[1].deps == std::vector<int>{0});
  const Op& at = find_op(g, "_scaled_dot_product_flash_attention_for_cpu.0");
  CHECK(at.at("causal") == 1);
  CHECK(at.deps == std::vector<int>{4});
  // 2*32*256*64 + 8*32*256 + 2*32*64*256 + 32*64 + 8*32*64 + 4*2*4*16*16*16/2 + 0
  CHECK(g.total_flops() == 1048576.0 + 65536 + 1048576 + 2048 + 16384 + 65536);
}

TEST_CASE("JSON trace: defaults and dependencies by name", "[import][json]") {
  Graph g = parse_json_trace(trace_with(
      R"(  {"name": "a", "kind": "matmul", "dtype": "int8", "attrs": {"batch": 1, "m": 4, "n": 4, "k": 4}},
  {"name": "b", "kind": "relu", "attrs": {"rows": 4, "cols": 4}, "deps": ["a"]},
  {"name": "c", "kind": "add", "attrs": {"rows": 4, "cols": 4}, "deps": ["a", "b"]})"),
                             "t.json");
  CHECK(g.ops[0].out_dtype == DType::int32);  // int8 products accumulate into int32
  CHECK(g.ops[1].dtype == DType::fp32);       // the trace's default format
  CHECK(g.ops[2].deps == std::vector<int>{0, 1});
}

TEST_CASE("JSON trace: malformed input names file, line and reason", "[import][json][errors]") {
  // Syntax error on line 3.
  CHECK_THROWS_WITH(parse_json_trace("{\n \"ops\": [\n  {\"name\": \"a\",, }\n ]\n}", "bad.json"),
                    Contains("bad.json:3: malformed JSON"));
  CHECK_THROWS_WITH(parse_json_trace("[1, 2]", "bad.json"),
                    Contains("bad.json:1: a trace is a JSON object"));
  CHECK_THROWS_WITH(parse_json_trace("{\"opz\": []}", "bad.json"),
                    Contains("unknown top-level key 'opz'"));
  CHECK_THROWS_WITH(parse_json_trace("{\"ops\": []}", "bad.json"), Contains("\"ops\" is empty"));
  // Ops start on line 5 (after the header lines of trace_with).
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(R"(  {"name": "a", "kind": "matmull", "attrs": {}})"), "t.json"),
      Contains("t.json:5: op 0 'a': unknown kind 'matmull'; accepted: matmul, conv2d"));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(
          R"(  {"name": "a", "kind": "relu", "attrs": {"rows": 2, "cols": 2}},
  {"name": "b", "kind": "matmul", "attrs": {"batch": 1, "M": 4, "n": 4, "k": 4}})"), "t.json"),
      Contains("t.json:6: op 1 'b': unknown attribute 'M' for kind matmul; accepted: batch, m, n, "
               "k, b_shared"));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(R"(  {"name": "a", "kind": "matmul", "attrs": {"batch": 1, "m": 4, "n": 4}})"),
                       "t.json"),
      Contains("t.json:5: op 'a' (matmul) is missing dimension 'k'"));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(R"(  {"name": "a", "kind": "relu", "attrs": {"rows": 2.5, "cols": 2}})"),
                       "t.json"),
      Contains("attribute 'rows' = 2.5 is not an integer"));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(
          R"(  {"name": "a", "kind": "relu", "attrs": {"rows": 2, "cols": 2}, "deps": ["b"]},
  {"name": "b", "kind": "relu", "attrs": {"rows": 2, "cols": 2}})"), "t.json"),
      Contains("t.json:5: op 0 'a': dependency 'b' appears later in \"ops\""));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(
          R"(  {"name": "a", "kind": "relu", "attrs": {"rows": 2, "cols": 2}},
  {"name": "a", "kind": "relu", "attrs": {"rows": 2, "cols": 2}})"), "t.json"),
      Contains("t.json:6: op 1 'a': name 'a' is already used by op 0"));
  CHECK_THROWS_WITH(
      parse_json_trace(trace_with(R"(  {"name": "a", "kind": "relu", "dtype": "fp12", "attrs": {"rows": 2, "cols": 2}})"),
                       "t.json"),
      Contains("'dtype' = 'fp12' is not a known format; accepted: fp64, fp32"));
}

TEST_CASE("SCALE-Sim CSV: convolution form", "[import][csv]") {
  Graph g = build_workload(kData + "/scalesim_alexnet.csv");
  REQUIRE(g.ops.size() == 5);
  const Op& c1 = g.ops[0];
  CHECK(c1.name == "Conv1");
  CHECK(c1.kind == OpKind::conv2d);
  CHECK(c1.at("h") == 224);
  CHECK(c1.at("r") == 11);
  CHECK(c1.at("cin") == 3);
  CHECK(c1.at("cout") == 96);
  CHECK(c1.at("stride") == 4);
  CHECK(c1.at("pad") == 0);
  CHECK(c1.dtype == DType::int8);
  // SCALE-Sim's MACs: ofmap (224-11)/4 + 1 = 54 -> 54*54 * 11*11*3 * 96.
  CHECK(op_flops(c1) == 2.0 * 54 * 54 * 11 * 11 * 3 * 96);
  CHECK(g.ops[1].deps == std::vector<int>{0});
}

TEST_CASE("SCALE-Sim CSV: GEMM form with CRLF and trailing commas; tabs", "[import][csv]") {
  Graph g = build_workload(kData + "/scalesim_gemm_gpt2.csv");
  REQUIRE(g.ops.size() == 6);
  CHECK(g.ops[0].name == "QKT");
  CHECK(g.ops[0].kind == OpKind::matmul);
  CHECK(g.ops[0].at("m") == 1024);
  CHECK(g.ops[0].at("n") == 1024);
  CHECK(g.ops[0].at("k") == 64);
  CHECK(g.ops[5].name == "PW-FF-L2");  // last line has no newline
  CHECK(g.ops[5].at("k") == 3072);
  Graph t = build_workload(kData + "/scalesim_unet_tabs.csv");
  CHECK(t.ops.size() == 23);
  CHECK(t.ops[0].at("h") == 572);
}

TEST_CASE("SCALE-Sim CSV: byte-order mark, section titles, notes, extra columns", "[import][csv]") {
  Graph g = parse_scalesim_csv(
      "\xEF\xBB\xBFLayer name,\xC2\xA0IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
      "Channels, Num Filter, Strides,\n\nResnet,\n,,,,,,,,\nConv1, 8, 8, 3, 3, 4, 16, 1,#dw\n"
      "Conv2, 6, 6, 1, 1, 16, 16, 1, 5, 5,\n",
      "x.csv");
  REQUIRE(g.ops.size() == 2);
  CHECK(g.ops[1].at("cin") == 16);
}

TEST_CASE("SCALE-Sim CSV: every shared topology imports or fails with a line", "[import][csv]") {
  const std::filesystem::path dir = std::string(TESSERA_SHARED_DIR) + "/peer-data/scale-sim/topologies";
  if (!std::filesystem::exists(dir)) {
    WARN("no SCALE-Sim topologies at " << dir.string());
    return;
  }
  int ok = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".csv") continue;
    try {
      Graph g = build_workload(e.path().string());
      CHECK(!g.ops.empty());
      ++ok;
    } catch (const InputError& err) {
      // Placeholders such as "B" and "H" (LSTM_template.csv) or a broken row
      // (MLPERF.csv: "FC, 1, 1, 1, ,1 2, ...") must be reported with a line.
      CHECK_THAT(err.what(), Contains(e.path().string() + ":"));
    }
  }
  CHECK(ok > 100);
}

TEST_CASE("SCALE-Sim CSV: malformed rows", "[import][csv][errors]") {
  const std::string hdr =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\n";
  CHECK_THROWS_WITH(parse_scalesim_csv(hdr + "L1, 1, B, 1, 1, H, H, 1,\n", "l.csv"),
                    Contains("l.csv:2: field 3 (IFMAP Width) is 'B' (expected an integer)"));
  CHECK_THROWS_WITH(parse_scalesim_csv(hdr + "L1, 8, 8, 3, 3,\n", "l.csv"),
                    Contains("l.csv:2: conv row needs 'name, IFMAP Height, IFMAP Width, Filter Height, "
                             "Filter Width, Channels, Num Filter, Strides' (8 fields"));
  CHECK_THROWS_WITH(parse_scalesim_csv(hdr + "L1, 2, 2, 3, 3, 1, 1, 1,\n", "l.csv"),
                    Contains("l.csv:2: Filter Height 3 is larger than IFMAP Height 2 (expected filter "
                             "<= ifmap)"));
  CHECK_THROWS_WITH(parse_scalesim_csv("Layer, M, N, K,\nG1, 4, 0, 4,\n", "g.csv"),
                    Contains("g.csv:2: field 3 (N) is 0 (expected an integer >= 1)"));
  CHECK_THROWS_WITH(parse_scalesim_csv("Layer, M, N, K,\nG1, 4, -2, 4,\n", "g.csv"),
                    Contains("g.csv:2: field 3 (N) is -2 (expected an integer >= 1)"));
  CHECK_THROWS_WITH(parse_scalesim_csv("name, a, b\n", "h.csv"), Contains("h.csv:1: unrecognised header"));
  CHECK_THROWS_WITH(parse_scalesim_csv("", "e.csv"), Contains("e.csv: the file is empty"));
  CHECK_THROWS_WITH(parse_scalesim_csv("Layer, M, N, K,\n", "e.csv"),
                    Contains("e.csv: no layers after the header line"));
}

TEST_CASE("SCALE-Sim CSV: one parser, SCALE-Sim's own dialect is stricter", "[import][csv]") {
  using importers::ScaleSimDialect;
  // A row without the trailing comma: SCALE-Sim drops its last value (Strides).
  const std::string conv =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\n\nC1, 8, 8, 3, 3, 4, 16, 2\nDP2, 6, 6, 3, 3, 2, 1, 1, 2,\n";
  const auto t = importers::parse_scalesim_layers(conv, "c.csv", ScaleSimDialect::tolerant);
  REQUIRE(t.size() == 2);
  CHECK(t[0].line == 3);
  CHECK(std::get<importers::ScaleSimConv>(t[0].shape).stride_h == 2);
  const auto& dp = std::get<importers::ScaleSimConv>(t[1].shape);
  CHECK(t[1].line == 4);
  CHECK(t[1].depthwise());
  CHECK(dp.stride_w == 1);  // tolerant: the ninth field is a note
  CHECK_THROWS_WITH(importers::parse_scalesim_layers(conv, "c.csv", ScaleSimDialect::scalesim),
                    Contains("c.csv:3: conv row needs"));
  const auto s = importers::parse_scalesim_layers(
      conv.substr(0, conv.find("C1")) + "DP2, 6, 6, 3, 3, 2, 1, 1, 2,\n", "c.csv", ScaleSimDialect::scalesim);
  REQUIRE(s.size() == 1);
  CHECK(std::get<importers::ScaleSimConv>(s[0].shape).stride_w == 2);  // SCALE-Sim: Stride Width
  const auto g =
      importers::parse_scalesim_layers("Layer, M, N, K,\nG, 4, 5, 6,\n", "g.csv", ScaleSimDialect::scalesim);
  REQUIRE(g.size() == 1);
  const auto& mnk = std::get<importers::ScaleSimGemm>(g[0].shape);
  CHECK((mnk.m == 4 && mnk.n == 5 && mnk.k == 6));
  CHECK(!g[0].depthwise());
}

TEST_CASE("SCALE-Sim CSV: a depthwise (DP) row imports as a grouped convolution", "[import][csv]") {
  // DP2: 6x6 input, 3x3 filter, 2 channels, 1 filter per channel, stride 1. SCALE-Sim
  // runs it as 2 single-channel convolutions of 1 filter each: groups 2, cout 2.
  const Graph g = parse_scalesim_csv(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
      "C1, 8, 8, 3, 3, 4, 16, 2,\nDP2, 6, 6, 3, 3, 2, 1, 1,\n",
      "dw.csv");
  REQUIRE(g.ops.size() == 2);
  CHECK(g.ops[0].get("groups", 0) == 1);
  CHECK(g.ops[1].get("groups", 0) == 2);
  CHECK(g.ops[1].get("cin", 0) == 2);
  CHECK(g.ops[1].get("cout", 0) == 2);
  // MACs: 2 channels x 4x4 outputs x 3x3 taps x 1 input channel each = 288; FLOPs 576.
  CHECK(op_flops(g.ops[1]) == 576.0);
}

TEST_CASE("ONNX: small CNN with conv, batch-norm, pools, gemm", "[import][onnx]") {
  Graph g = build_workload(kData + "/tiny_cnn.onnx");
  CHECK(g.name == "tiny_cnn");
  // Flatten launches nothing; every other node is one op.
  REQUIRE(g.ops.size() == 9);
  const Op& c1 = find_op(g, "conv1");
  CHECK(c1.kind == OpKind::conv2d);
  CHECK(c1.dtype == DType::fp32);
  CHECK(c1.at("pad") == 1);
  CHECK(c1.at("cout") == 8);
  CHECK(op_flops(c1) == 2.0 * 32 * 32 * 8 * 3 * 9);
  const Op& bn = find_op(g, "bn1");
  CHECK(bn.kind == OpKind::batchnorm);
  CHECK(bn.at("cols") == 8);
  CHECK(bn.at("rows") == 32 * 32);
  const Op& pool = find_op(g, "pool1");
  CHECK(pool.kind == OpKind::maxpool);
  CHECK(pool.at("stride") == 2);
  const Op& dw = find_op(g, "dwconv");
  CHECK(dw.at("groups") == 8);
  CHECK(dw.at("h") == 16);
  CHECK(dw.at("stride") == 2);
  const Op& gap = find_op(g, "gap");
  CHECK(gap.kind == OpKind::avgpool);
  CHECK(gap.at("r") == 8);
  const Op& fc = find_op(g, "fc");
  CHECK(fc.kind == OpKind::matmul);
  CHECK(fc.at("m") == 1);
  CHECK(fc.at("n") == 10);
  CHECK(fc.at("k") == 8);
  CHECK(fc.deps == std::vector<int>{6});  // through the Flatten to the pool
  CHECK(find_op(g, "softmax").at("cols") == 10);
}

TEST_CASE("ONNX: MLP with shape arithmetic, symbolic batch, Gelu, LayerNorm", "[import][onnx]") {
  Graph g = build_workload(kData + "/tiny_mlp.onnx");
  CHECK(g.info.at("onnx_symbolic_dims") == 1);
  std::vector<std::string> names;
  for (const auto& op : g.ops) names.push_back(op.name);
  // Shape, Gather, Unsqueeze and Concat on constants fold; Reshape is free.
  CHECK(names == std::vector<std::string>{"fc1", "fc1_bias", "gelu", "fc2", "residual", "ln",
                                          "to_heads", "softmax"});
  const Op& fc1 = find_op(g, "fc1");
  CHECK(fc1.at("m") == 16);  // batch 1 (symbolic) * 16 rows
  CHECK(fc1.at("b_shared") == 1);
  // Both MatMuls read an initializer as B: layers with a weight (the resident
  // footprint counts 32 x 64 and 64 x 32 of them).
  CHECK(fc1.get("param", 0) == 1);
  CHECK(find_op(g, "fc2").get("param", 0) == 1);
  CHECK(find_op(g, "to_heads").get("param", 0) == 0);
  CHECK(find_op(g, "fc1_bias").at("inputs") == 1);  // bias is broadcast
  CHECK(find_op(g, "residual").at("inputs") == 2);
  CHECK(find_op(g, "ln").at("cols") == 32);
  CHECK(find_op(g, "gelu").kind == OpKind::gelu);
  const Op& sm = find_op(g, "softmax");  // over [1, 4, 16, 8] after the transpose
  CHECK(sm.at("cols") == 8);
  CHECK(sm.at("rows") == 64);
  CHECK(find_op(g, "to_heads").deps == std::vector<int>{5});
}

TEST_CASE("ONNX: symbolic input dimensions are set by name in the workload spec", "[import][onnx][dims]") {
  // tiny_mlp.onnx's input x is [batch, 16, 32] with the symbolic dimension 'batch'.
  const Graph one = build_workload(kData + "/tiny_mlp.onnx");
  CHECK(one.info.at("onnx_dim_unset:batch") == 1);
  const Graph g = build_workload(kData + "/tiny_mlp.onnx:batch=8");
  CHECK(g.info.at("onnx_symbolic_dims") == 0);
  CHECK(g.info.at("onnx_dim:batch") == 8);
  CHECK(g.spec == kData + "/tiny_mlp.onnx:batch=8");
  // Bound before ONNX's shape inference: every op scales with the batch. fc1 has
  // m = 8 x 16 = 128 rows; the softmax over [8, 4, 16, 8] has 8 x 4 x 16 = 512 rows
  // (64 at batch 1); FLOPs 8x.
  CHECK(find_op(g, "fc1").at("m") == 128);
  CHECK(find_op(g, "softmax").at("rows") == 512);
  CHECK(g.total_flops() == 8 * one.total_flops());
  // A name no input uses, a bad size, a repeated name, and a parameter on another file.
  CHECK_THROWS_WITH(
      build_workload(kData + "/tiny_mlp.onnx:seq=4"),
      Contains("tiny_mlp.onnx: no graph input has a symbolic dimension 'seq'; the model's symbolic "
               "dimensions: 'batch'"));
  CHECK_THROWS_WITH(build_workload(kData + "/tiny_mlp.onnx:batch=0"),
                    Contains("dimension 'batch': '0' is not a positive integer up to 2^31"));
  CHECK_THROWS_WITH(build_workload(kData + "/tiny_mlp.onnx:batch=2,batch=3"),
                    Contains("'batch' is given twice"));
  CHECK_THROWS_WITH(build_workload(kData + "/tiny_mlp.onnx:batch"), Contains("malformed dimension 'batch'"));
  CHECK_THROWS_WITH(build_workload(kData + "/example_trace.json:batch=2"),
                    Contains("symbolic dimensions (model.onnx:batch_size=8) apply to .onnx models"));
  CHECK_THROWS_WITH(
      build_workload(kData + "/tiny_cnn.onnx:batch=2"),
      Contains("no graph input has a symbolic dimension 'batch'; the model's input shapes are all fixed"));
}

TEST_CASE("ONNX: one error lists every unsupported operator and node", "[import][onnx][errors]") {
  // Grouped by operator type in order of first use: one node is named, more are
  // counted (and the first three named).
  CHECK_THROWS_WITH(build_workload(kData + "/unsupported.onnx"),
                    Contains("unsupported.onnx: 3 unsupported ONNX operator node(s): NonZero (2 nodes: 'nz_1', "
                             "'nz_2'), com.example::Frobnicate (node 'custom_1'); supported operators: Abs, Add, "
                             "And, AveragePool,"));
}

namespace {
const Op* op_named(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return &op;
  return nullptr;
}
}  // namespace

TEST_CASE("ONNX: the operators exporters emit besides the layers", "[import][onnx]") {
  // tests/workloads/data/make_onnx.py exporter_ops(): x [2, 16, 32], img [1, 4, 8, 8].
  const Graph g = build_workload(kData + "/exporter_ops.onnx");
  std::vector<std::string> names;
  for (const Op& op : g.ops) names.push_back(op.name);
  // The class-token chain (Shape .. Where, Expand of a constant), Range, Mod and the
  // reshapes fold or alias: 22 kernels of 36 nodes.
  CHECK(names == std::vector<std::string>{"ln_mean", "ln_sub", "ln_pow", "ln_var", "ln_eps", "ln_sqrt",
                                          "ln_div", "gelu_div", "gelu_erf", "gelu_add", "gelu_mul", "gelu_half",
                                          "cat", "split", "einsum", "tile", "pad", "resize", "conv_1x7", "pool",
                                          "scatter", "hardswish"});
  // ReduceMean over the last axis: 32 outputs (2 x 16) of 32 elements each.
  const Op& mean = *op_named(g, "ln_mean");
  CHECK(mean.kind == OpKind::reduce);
  CHECK(mean.at("rows") == 32);
  CHECK(mean.at("cols") == 32);
  // Sub(x, mean): one full-size operand (the mean broadcasts); Mul(ln, g3): two.
  CHECK(op_named(g, "ln_sub")->kind == OpKind::add);
  CHECK(op_named(g, "ln_sub")->at("inputs") == 1);
  CHECK(op_named(g, "ln_pow")->kind == OpKind::mul);
  CHECK(op_named(g, "ln_pow")->at("inputs") == 1);  // the exponent parameterises
  CHECK(op_named(g, "gelu_mul")->at("inputs") == 2);
  // Sqrt over the 32 variances: one special-function result each (tanh's class).
  CHECK(op_named(g, "ln_sqrt")->kind == OpKind::tanh);
  CHECK(op_named(g, "ln_sqrt")->at("rows") * op_named(g, "ln_sqrt")->at("cols") == 32);
  CHECK(op_named(g, "gelu_erf")->kind == OpKind::gelu);
  CHECK(op_named(g, "hardswish")->kind == OpKind::relu);
  // Concat of the expanded class token [2, 1, 32] and the tokens [2, 16, 32]:
  // [2, 17, 32], so the Where chain gave the expand target [2, 1, 1]; Split writes
  // both parts in one kernel.
  CHECK(op_named(g, "cat")->at("rows") * op_named(g, "cat")->at("cols") == 2 * 17 * 32);
  CHECK(op_named(g, "split")->at("rows") * op_named(g, "split")->at("cols") == 2 * 17 * 32);
  // Einsum bij,bkj->bik over the 16 patches: batch b = 2, m = i = 16, n = k = 16,
  // contracted j = 32.
  const Op& es = *op_named(g, "einsum");
  CHECK(es.kind == OpKind::matmul);
  CHECK(es.at("batch") == 2);
  CHECK(es.at("m") == 16);
  CHECK(es.at("n") == 16);
  CHECK(es.at("k") == 32);
  // Tile [2, 1, 32] by [1, 4, 1]: 256 elements, which the Range/Mod target [8, 32]
  // and the Mod(-8, 10) = 2 target [2, 128] reshape (a C-style remainder, -8,
  // would be a negative dimension).
  CHECK(op_named(g, "tile")->at("rows") * op_named(g, "tile")->at("cols") == 256);
  // Pad [1, 4, 8, 8] by 1 and 2 on each side of H and W: [1, 4, 10, 12]; Resize to
  // the constant sizes [1, 4, 20, 24].
  CHECK(op_named(g, "pad")->at("rows") * op_named(g, "pad")->at("cols") == 4 * 10 * 12);
  CHECK(op_named(g, "resize")->at("rows") * op_named(g, "resize")->at("cols") == 4 * 20 * 24);
  // Conv 1x7 with pads [0, 3, 0, 3]: the height's padding 0 (pad), the width's 3
  // (pad_w) over the 20 x 24 input; output 20 x 24 (24 + 2 x 3 - 7 + 1), FLOPs
  // 2 x 20 x 24 x 8 x 4 x 7 = 215040.
  const Op& cv = *op_named(g, "conv_1x7");
  CHECK(cv.at("pad") == 0);
  CHECK(cv.at("pad_w") == 3);
  CHECK(cv.at("h") == 20);
  CHECK(cv.at("w") == 24);
  CHECK(!cv.attrs.count("stride_w"));
  CHECK(op_out_elems(cv) == 1 * 8 * 20 * 24);
  CHECK(op_flops(cv) == 215040.0);
  // MaxPool 3x3 stride 2 with ceil_mode over 20 x 24: ceil(17 / 2) + 1 = 10 rows
  // and ceil(21 / 2) + 1 = 12 columns (floor: 9 x 11); the extent reaches the last
  // window: (10 - 1) x 2 + 3 = 21 rows, (12 - 1) x 2 + 3 = 25 columns.
  const Op& mp = *op_named(g, "pool");
  CHECK(mp.at("h") == 21);
  CHECK(mp.at("w") == 25);
  CHECK(op_flops(mp) == 8.0 * 10 * 12 * 9);
  // ScatterND and HardSwish over the pooled [1, 8, 10, 12].
  CHECK(op_named(g, "scatter")->at("rows") * op_named(g, "scatter")->at("cols") == 960);
  CHECK(op_named(g, "hardswish")->at("rows") * op_named(g, "hardswish")->at("cols") == 960);
}

namespace {
// Protobuf wire encoding (enough for a one-node ONNX model).
std::string pb_varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}
std::string pb_int(int field, uint64_t v) { return pb_varint(static_cast<uint64_t>(field) << 3) + pb_varint(v); }
std::string pb_bytes(int field, const std::string& b) {
  return pb_varint((static_cast<uint64_t>(field) << 3) | 2) + pb_varint(b.size()) + b;
}

// ModelProto with graph input "x" (float, [1, 4, 8, 8]) and one node of `op_type`
// that reads "x" twice and writes "y".
std::string one_node_model(const std::string& op_type) {
  std::string shape;
  for (int d : {1, 4, 8, 8}) shape += pb_bytes(1, pb_int(1, static_cast<uint64_t>(d)));
  const std::string tensor_type = pb_int(1, 1) + pb_bytes(2, shape);
  const std::string input = pb_bytes(1, "x") + pb_bytes(2, pb_bytes(1, tensor_type));
  const std::string node = pb_bytes(1, "x") + pb_bytes(1, "x") + pb_bytes(2, "y") + pb_bytes(3, "n") +
                           pb_bytes(4, op_type);
  return pb_bytes(7, pb_bytes(1, node) + pb_bytes(11, input));
}

// ModelProto of one Conv of "x" (float [1, 4, 8, 8]) by "w" (float [4, 4, 3, 3]) with
// the given strides and pads (AttributeProto: name 1, ints 8, type 20 = INTS 7).
std::string conv_model(const std::vector<int>& strides, const std::vector<int>& pads) {
  const auto value = [](const std::string& name, std::initializer_list<int> dims) {
    std::string shape;
    for (int d : dims) shape += pb_bytes(1, pb_int(1, static_cast<uint64_t>(d)));
    return pb_bytes(1, name) + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + pb_bytes(2, shape)));
  };
  const auto ints = [](const std::string& name, const std::vector<int>& v) {
    std::string a = pb_bytes(1, name) + pb_int(20, 7);
    for (int x : v) a += pb_int(8, static_cast<uint64_t>(x));
    return pb_bytes(5, a);
  };
  const std::string node = pb_bytes(1, "x") + pb_bytes(1, "w") + pb_bytes(2, "y") + pb_bytes(3, "conv") +
                           pb_bytes(4, "Conv") + ints("strides", strides) + ints("pads", pads);
  return pb_bytes(
      7, pb_bytes(1, node) + pb_bytes(11, value("x", {1, 4, 8, 8})) + pb_bytes(11, value("w", {4, 4, 3, 3})));
}
}  // namespace

TEST_CASE("ONNX: a Conv's width keeps its own stride and padding", "[import][onnx]") {
  // strides [2, 1], pads [1, 0, 1, 0] (height 1, width 0 on both sides) over 8 x 8
  // with a 3x3 filter: (8 + 2 - 3) / 2 + 1 = 4 rows, (8 - 3) / 1 + 1 = 6 columns; FLOPs
  // 2 x 4 x 6 x 4 x 36 = 6912.
  const Graph g = parse_onnx(conv_model({2, 1}, {1, 0, 1, 0}), "c.onnx");
  const Op& c = *op_named(g, "conv");
  CHECK((c.at("stride") == 2 && c.at("stride_w") == 1 && c.at("pad") == 1 && c.at("pad_w") == 0));
  CHECK(op_out_elems(c) == 4 * 4 * 6);
  CHECK(op_flops(c) == 6912.0);
  // Equal values on both axes set no width attribute.
  const Op& sq = *op_named(parse_onnx(conv_model({1, 1}, {1, 1, 1, 1}), "s.onnx"), "conv");
  CHECK((!sq.attrs.count("stride_w") && !sq.attrs.count("pad_w") && op_out_elems(sq) == 4 * 8 * 8));
}

TEST_CASE("ONNX: every operator the support check accepts reaches its handler", "[import][onnx]") {
  std::string listed;
  try {
    parse_onnx(one_node_model("NonZero"), "nonzero.onnx");
    FAIL("NonZero was accepted");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    const std::string key = "supported operators: ";
    REQUIRE(msg.find(key) != std::string::npos);
    listed = msg.substr(msg.find(key) + key.size());
  }
  std::vector<std::string> ops;
  for (size_t pos = 0; pos < listed.size();) {
    const size_t comma = listed.find(", ", pos);
    ops.push_back(listed.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    pos = comma == std::string::npos ? listed.size() : comma + 2;
  }
  CHECK(ops.size() == 87);
  CHECK(std::is_sorted(ops.begin(), ops.end()));
  int imported = 0;
  for (const auto& op : ops) {
    INFO(op);
    // Errors of the node itself (attributes or inputs this minimal node lacks) are
    // fine: it got past the support check and was handled, never reported unsupported.
    try {
      const Graph g = parse_onnx(one_node_model(op), op + ".onnx");
      CHECK(g.ops.size() == 1);
      ++imported;
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("unsupported") == std::string::npos);
      CHECK(msg.find("not handled") == std::string::npos);
      // Views and constants alone launch nothing.
      CHECK((msg.find("node 'n' (" + op + ")") != std::string::npos ||
             msg.find("the model launches no kernels") != std::string::npos));
    }
  }
  CHECK(imported >= 20);
}

TEST_CASE("ONNX: malformed files", "[import][onnx][errors]") {
  CHECK_THROWS_WITH(parse_onnx("", "e.onnx"), Contains("e.onnx: the file is empty"));
  // Field 7 (graph) announced with 100 bytes but only 2 follow.
  CHECK_THROWS_WITH(parse_onnx(std::string("\x3a\x64\x0a\x00", 4), "t.onnx"),
                    Contains("t.onnx: malformed ONNX protobuf (ModelProto) at byte 2: length 100 "
                             "runs past the end"));
  CHECK_THROWS_WITH(parse_onnx("hello world, not a protobuf", "x.onnx"),
                    Contains("x.onnx: malformed ONNX protobuf"));
  // A truncated copy of a real model never crashes: it is an InputError.
  std::ifstream in(kData + "/tiny_cnn.onnx", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 100);
  for (size_t cut : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 7}) {
    INFO(cut);
    CHECK_THROWS_AS(parse_onnx(bytes.substr(0, cut), "cut.onnx"), InputError);
  }
}

// A model kept in tests/fuzz/regressions/onnx (an input fuzz_onnx found); a
// missing file fails the test.
static std::string onnx_regression(const std::string& name) {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/tests/fuzz/regressions/onnx/" + name, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!bytes.empty());
  return bytes;
}

TEST_CASE("ONNX: a zero stride is refused before ONNX's shape inference divides by it", "[import][onnx][errors]") {
  // tiny_cnn.onnx with the second Conv's strides mutated to [0, 2] (found by
  // fuzz_onnx; tests/fuzz/regressions/onnx): was a SIGFPE inside libonnx.
  const std::string bytes = onnx_regression("conv_stride_zero.onnx");
  CHECK_THROWS_WITH(parse_onnx(bytes, "s.onnx"),
                    Contains("s.onnx: node '") && Contains("(Conv): attribute strides has 0; accepted: integers from 1"));
}

TEST_CASE("ONNX: a node reading a value defined only later is refused (ONNX's shape inference crashed)",
          "[import][onnx][errors]") {
  // tiny_cnn.onnx mutated by fuzz_onnx so that the first Conv reads 'y', the
  // Softmax output at the end of the graph: a SEGV inside libonnx before.
  const std::string bytes = onnx_regression("conv_reads_later_output.onnx");
  CHECK_THROWS_WITH(parse_onnx(bytes, "l.onnx"),
                    Contains("l.onnx: node '") && Contains("(Conv) reads 'y', which no graph input, initializer or "
                                                           "earlier node defines"));
}

TEST_CASE("ONNX: a model ONNX's checker rejects skips ONNX's shape inference", "[import][onnx][errors]") {
  // fuzz_onnx's third crash: operators renamed to names ONNX does not know and the
  // graph doubled (values defined twice), so a Conv's input had no type and ONNX's
  // convPoolShapeInference read through a null pointer. check_model refuses the
  // model; the importer's own rules then list the unknown operators.
  const std::string bytes = onnx_regression("conv_after_unknown_op.onnx");
  CHECK_THROWS_WITH(parse_onnx(bytes, "u.onnx"),
                    Contains("u.onnx: 4 unsupported ONNX operator node(s): ~onv (node 'conv1'), tofSmax"));
}

TEST_CASE("ONNX: a normalisation over an empty dimension is refused, not divided by", "[import][onnx][errors]") {
  // fuzz_onnx: a LayerNormalization whose input [0] has no elements (rows = elements
  // / cols divided by zero, a UBSan report before).
  const std::string bytes = onnx_regression("layernorm_empty_axis.onnx");
  CHECK_THROWS_WITH(parse_onnx(bytes, "e.onnx"),
                    Contains("e.onnx: node 'n' (LayerNormalization): normalisation over an empty dimension of [0]"));
}

TEST_CASE("ONNX: an implicit-output Einsum equation with a capital letter is refused before ONNX's inference",
          "[import][onnx][errors]") {
  // fuzz_onnx: "...kJ,...jk" (no "->"); libonnx 1.12's einsumRankInference indexes its
  // letter counts by c - 'a' and corrupted the stack (an ASan bad-free).
  const std::string bytes = onnx_regression("einsum_implicit_uppercase.onnx");
  CHECK_THROWS_WITH(
      parse_onnx(bytes, "e.onnx"),
      Contains("e.onnx: node 'implicit' (Einsum): equation '...kJ,...jk' has an implicit output (no "
               "'->') and the character 'J'"));
}

TEST_CASE("ONNX: a GRU with linear_before_reset=0 applies the reset gate before a second recurrent GEMM",
          "[import][onnx][gru]") {
  // gru_reset.onnx: reverse, input 4, hidden 8, 3 steps of 2 sequences, with B.
  const Graph g = build_workload(kData + "/gru_reset.onnx");
  // input_proj, 4 ops at step 0 (sigmoid_rz, gates_n, tanh_n, hidden) and 10 at each
  // later step (hidden_proj for r and z, gates_rz, sigmoid_rz, mul_r_h,
  // hidden_proj_n on r * h, gates_n, tanh_n, sub_h_n, mul_z, hidden): 1 + 4 + 2 x 10.
  REQUIRE(g.ops.size() == 25);
  double products = 0;
  std::set<int64_t> ties;
  for (const Op& op : g.ops)
    if (op.kind == OpKind::matmul) {
      products += op_flops(op);
      if (op.name.find("hidden_proj") != std::string::npos) ties.insert(op.at("tied"));
    }
  // input_proj 2 x 6 x 24 x 4 = 1152; per later step W_h{r,z} h 2 x 2 x 16 x 8 = 512 and
  // W_hn (r h) 2 x 2 x 8 x 8 = 256: 1152 + 2 x 768 = 2688.
  CHECK(products == 2688.0);
  // The two recurrent weights are tied across steps, each its own group.
  CHECK(ties.size() == 2);
  const Op& rh = g.ops.at(8);
  CHECK(rh.name == "gru.reverse.t1.mul_r_h");
  CHECK(g.ops.at(9).name == "gru.reverse.t1.hidden_proj_n");
  CHECK(g.ops.at(9).deps == std::vector<int>{8});
}

TEST_CASE("ONNX: Einsum with an ellipsis, explicit and implicit output", "[import][onnx][einsum]") {
  const Graph g = build_workload(kData + "/einsum_ellipsis.onnx");
  REQUIRE(g.ops.size() == 2);
  // "...ij,...jk->...ik", A [2, 3, 4, 5], B [3, 5, 6]: the ellipses [2, 3] and [3]
  // align right; the 3 is in both operands (a batch letter), the 2 in A alone (a free
  // letter of A, folded into M): 3 products of (2 x 4) x 5 by 5 x 6,
  // 2 x 3 x 8 x 6 x 5 = 1440 FLOPs. fp32 bytes: A 120, B 90, the output 144 elements:
  // (120 + 90 + 144) x 4 = 1416.
  const Op& ex = g.ops[0];
  CHECK((ex.kind == OpKind::matmul && ex.at("batch") == 3 && ex.at("m") == 8 && ex.at("n") == 6 &&
         ex.at("k") == 5));
  CHECK(op_flops(ex) == 1440.0);
  CHECK(op_min_bytes(ex) == 1416.0);
  // "...ij,...jk" (implicit: the ellipsis, then i and k, the letters seen once) on the
  // [2, 3, 4, 6] result and C [6, 7]: 6 products of 4 x 6 by 6 x 7, 2 x 6 x 4 x 7 x 6
  // = 2016, written as [2, 3, 4, 7] (the graph output ONNX's inference agrees with).
  CHECK(op_flops(g.ops[1]) == 2016.0);
  CHECK(op_out_elems(g.ops[1]) == 2 * 3 * 4 * 7);
}

TEST_CASE("ONNX: TopK reads its input once and writes k values and k int64 indices per slice",
          "[import][onnx][topk]") {
  // topk.onnx: a router's scores [16, 8] (MatMul of x [16, 32] by w [32, 8]), the top 2
  // of each row (K a constant input), a softmax over the 2.
  const Graph g = build_workload(kData + "/topk.onnx");
  REQUIRE(g.ops.size() == 3);
  const Op& t = g.ops[1];
  CHECK(t.kind == OpKind::reduce);
  // rows = the axis's 8 scores per token, cols = 16 tokens; outputs = 2 values + the
  // 2 int64 indices as 2 x 8 / 4 = 4 fp32-sized values.
  CHECK((t.at("rows") == 8 && t.at("cols") == 16 && t.at("outputs") == 6));
  // fp32 bytes: read 16 x 8 x 4 = 512, write 6 x 16 x 4 = 384.
  CHECK(op_min_bytes(t) == 896.0);
  // The softmax reads the [16, 2] values.
  CHECK((g.ops[2].at("rows") == 16 && g.ops[2].at("cols") == 2));
  CHECK(g.ops[2].deps == std::vector<int>{1});
}

TEST_CASE("import dispatch by extension", "[import]") {
  CHECK_THROWS_WITH(import_workload_file("model.pb"),
                    Contains("model.pb: cannot import a '.pb' file; accepted: .json"));
  CHECK_THROWS_WITH(build_workload("no/such/file.json"),
                    Contains("file 'no/such/file.json' does not exist"));
}

TEST_CASE("ONNX: Dropout draws its mask in training mode only", "[import][onnx][dropout]") {
  // dropout_train.onnx: fc, Dropout(training_mode = true), Relu, Dropout(training_mode =
  // false), Dropout(), Dropout(ratio = 0.0, training_mode = true) (make_onnx.py). The
  // first is one native_dropout kernel; the other three are the identity (no op; p = 0
  // launches nothing in PyTorch either).
  const Graph g = build_workload(kData + "/dropout_train.onnx");
  REQUIRE(g.ops.size() == 3);
  const Op& d = find_op(g, "drop_train");
  CHECK(d.kind == OpKind::dropout);
  CHECK(d.at("rows") == 8);
  CHECK(d.at("cols") == 64);
  CHECK(d.deps == std::vector<int>{0});
  CHECK(find_op(g, "relu").deps == std::vector<int>{1});
  // Training: native_dropout_backward reads dy and the mask.
  const Graph t = build_workload(kData + "/dropout_train.onnx:train=1,optimizer=sgd");
  CHECK(find_op(t, "drop_train.grad").get("backward", 0) == 1);
  // A training_mode known only at run time decides nothing here: refused.
  CHECK_THROWS_WITH(
      build_workload(kData + "/dropout_dynamic.onnx"),
      Contains("node 'drop' (Dropout): training_mode 'train' is not known before the model runs; "
               "accepted: a constant scalar true or false"));
}
