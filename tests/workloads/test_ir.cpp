// IR arithmetic: FLOPs and minimum bytes of single ops, derived by hand.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "workloads/ir.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {
Op make(OpKind k, OpAttrs attrs, DType t = DType::bf16) {
  Op op;
  op.name = "x";
  op.kind = k;
  op.dtype = op.out_dtype = t;
  op.attrs = std::move(attrs);
  return op;
}
}  // namespace

TEST_CASE("conv2d FLOPs and bytes: ResNet-50 stem", "[ir]") {
  // 3 -> 64 channels, 7x7, stride 2, pad 3 on 224x224: ho = (224 + 6 - 7)/2 + 1 = 112.
  // FLOPs = 2 * 112*112 * 64 * 3*7*7 = 2 * 118,013,952 = 236,027,904.
  // Bytes (bf16): input 3*224*224 = 150,528 + weight 64*3*49 = 9,408 + output
  // 64*112*112 = 802,816 elements = 962,752 * 2 = 1,925,504.
  Op op = make(OpKind::conv2d, {{"n", 1}, {"cin", 3}, {"cout", 64}, {"h", 224}, {"w", 224},
                                {"r", 7}, {"s", 7}, {"stride", 2}, {"pad", 3}});
  CHECK(op_flops(op) == 236027904.0);
  CHECK(op_min_bytes(op) == 1925504.0);
}

TEST_CASE("conv2d FLOPs: depthwise and dilated", "[ir]") {
  // Depthwise 3x3 on 32 x 112 x 112, pad 1: each output sees cin/groups = 1 channel:
  // 2 * 112*112 * 32 * 1 * 9 = 7,225,344.
  Op dw = make(OpKind::conv2d, {{"n", 1}, {"cin", 32}, {"cout", 32}, {"h", 112}, {"w", 112},
                                {"r", 3}, {"s", 3}, {"stride", 1}, {"pad", 1}, {"groups", 32}});
  CHECK(op_flops(dw) == 7225344.0);
  // Dilation 2, 3x3, pad 2 on 10x10: effective window 5, ho = (10 + 4 - 4 - 1)/1 + 1 = 10.
  // 2 * 10*10 * 4 * 2 * 9 = 14,400.
  Op dil = make(OpKind::conv2d, {{"n", 1}, {"cin", 2}, {"cout", 4}, {"h", 10}, {"w", 10},
                                 {"r", 3}, {"s", 3}, {"stride", 1}, {"pad", 2}, {"dilation", 2}});
  CHECK(op_flops(dil) == 14400.0);
}

TEST_CASE("3-D convolution (conv2d with d, t): FLOPs, bytes, GEMM passes", "[ir][conv3d]") {
  // R3D-18's stem: 3 -> 64 channels, filter 3x7x7, stride (1, 2, 2), pad (1, 3, 3)
  // on 16 x 112 x 112: od = (16 + 2 - 3)/1 + 1 = 16, oh = ow = (112 + 6 - 7)/2 + 1 = 56.
  Op op = make(OpKind::conv2d, {{"n", 1},
                                {"cin", 3},
                                {"cout", 64},
                                {"d", 16},
                                {"h", 112},
                                {"w", 112},
                                {"t", 3},
                                {"r", 7},
                                {"s", 7},
                                {"stride", 2},
                                {"stride_d", 1},
                                {"pad", 3},
                                {"pad_d", 1}});
  const ConvWindow c = conv_window(op);
  CHECK(c.od == 16);
  CHECK(c.oh == 56);
  CHECK(c.ow == 56);
  // FLOPs = 2 x 16*56*56 x 64 x 3*3*7*7 = 2 x 50176 x 64 x 441 = 2832334848.
  CHECK(op_flops(op) == 2832334848.0);
  // Bytes (bf16): input 3*16*112*112 = 602112, weight 64*3*3*7*7 = 28224, output
  // 64*16*56*56 = 3211264 elements; (602112 + 28224 + 3211264) x 2 = 7683200.
  CHECK(op_min_bytes(op) == 7683200.0);
  CHECK(conv_weight_elems(op) == 28224);
  CHECK(op_out_elems(op) == 3211264);
  // Forward GEMM: M = 16*56*56 = 50176, N = 64, K = 3 x 147 = 441.
  ConvGemm f = conv_gemm_dims(op);
  CHECK((f.m == 50176 && f.n == 64 && f.k == 441));
  // Data gradient: ceil(16/1) x ceil(112/2)^2 = 50176 input positions per stride
  // phase, N = cin = 3, K = cout x taps = 64 x 147 = 9408.
  op.attrs["grad"] = 1;
  ConvGemm dg = conv_gemm_dims(op);
  CHECK((dg.m == 50176 && dg.n == 3 && dg.k == 9408));
  // Weight gradient: M = cout = 64, N = cin x taps = 441, K = output pixels = 50176.
  op.attrs["grad"] = 2;
  ConvGemm wg = conv_gemm_dims(op);
  CHECK((wg.m == 64 && wg.n == 441 && wg.k == 50176));
  // Without d and t it is the 2-D convolution of one frame.
  Op flat = make(OpKind::conv2d, {{"n", 1},
                                  {"cin", 3},
                                  {"cout", 64},
                                  {"h", 112},
                                  {"w", 112},
                                  {"r", 7},
                                  {"s", 7},
                                  {"stride", 2},
                                  {"pad", 3}});
  CHECK(op_flops(flat) == 2.0 * 56 * 56 * 64 * 147);
  // A 3-D max pool (S3D's 1x3x3, stride (1, 2, 2), pad (0, 1, 1)) on 64 x 8 x 56 x 56:
  // 8 x 28 x 28 outputs per channel, 9 compares each.
  Op mp = make(OpKind::maxpool, {{"n", 1},
                                 {"c", 64},
                                 {"d", 8},
                                 {"h", 56},
                                 {"w", 56},
                                 {"t", 1},
                                 {"r", 3},
                                 {"s", 3},
                                 {"stride", 2},
                                 {"stride_d", 1},
                                 {"pad", 1},
                                 {"pad_d", 0}});
  CHECK(op_flops(mp) == 64.0 * 8 * 28 * 28 * 9);
  CHECK(op_min_bytes(mp) == 2.0 * (64 * 8 * 56 * 56 + 64 * 8 * 28 * 28));
  CHECK(op_out_elems(mp) == 64 * 8 * 28 * 28);
}

TEST_CASE("3-D convolution attributes are validated", "[ir][conv3d]") {
  const auto graph_of = [](OpAttrs extra) {
    OpAttrs a = {{"n", 1}, {"cin", 4}, {"cout", 4},   {"h", 8},  {"w", 8},
                 {"r", 3}, {"s", 3},   {"stride", 1}, {"pad", 1}};
    for (const auto& [k, v] : extra) a[k] = v;
    Graph g;
    g.add(make(OpKind::conv2d, a));
    return g;
  };
  // A filter depth beyond the padded depth: (2 + 0 - 3) < 0, no output plane.
  CHECK_THROWS_WITH(
      validate_graph(graph_of({{"d", 2}, {"t", 3}}), "src"),
      Catch::Contains("src: op 'x': filter 3x3x3 does not fit input 2x8x8 with pad 1 (depth: pad_d 0, "
                      "stride_d 1, dilation_d 1)"));
  CHECK_NOTHROW(validate_graph(graph_of({{"d", 2}, {"t", 3}, {"pad_d", 1}}), "src"));
  CHECK_THROWS_WITH(validate_graph(graph_of({{"d", 4}, {"stride_d", 0}}), "src"),
                    Catch::Contains("'stride_d' = 0 must be a positive integer"));
  CHECK_THROWS_WITH(validate_graph(graph_of({{"d", 4}, {"pad_d", -1}}), "src"),
                    Catch::Contains("'pad_d' = -1 must be >= 0"));
  // Depth attributes belong to convolutions and pools only.
  Graph mm;
  mm.add(make(OpKind::matmul, {{"batch", 1}, {"m", 4}, {"n", 4}, {"k", 4}, {"t", 2}}));
  CHECK_THROWS_WITH(validate_graph(mm, "src"),
                    Catch::Contains("'t' is an attribute of 3-D convolutions and pools"));
}

TEST_CASE("the width's own stride, padding and dilation (stride_w, pad_w, dilation_w)", "[ir][conv]") {
  // Inception-v3's Conv2d(768, 192, (1, 7), padding=(0, 3)) on 8 x 768 x 17 x 17:
  // height 17 + 0 - 1 + 1 = 17, width 17 + 2 x 3 - 7 + 1 = 17; FLOPs 2 x 8 x 17 x 17
  // x 192 x 768 x 7 = 4,772,855,808. Without pad_w the width would be 11.
  OpAttrs a = {{"n", 8}, {"cin", 768}, {"cout", 192}, {"h", 17},  {"w", 17},
               {"r", 1}, {"s", 7},     {"stride", 1}, {"pad", 0}, {"pad_w", 3}};
  const Op cv = make(OpKind::conv2d, a);
  const ConvWindow cw = conv_window(cv);
  CHECK((cw.oh == 17 && cw.ow == 17 && cw.pad == 0 && cw.pad_w == 3 && cw.stride_w == 1));
  CHECK(op_flops(cv) == 4772855808.0);
  a.erase("pad_w");
  CHECK(conv_window(make(OpKind::conv2d, a)).ow == 11);
  // A stride of 2 along the width only, dilation 2 along it: (17 + 6 - 2 x 6 - 1) / 2
  // + 1 = 6 columns; the data gradient's positions per stride phase: 17 rows x
  // ceil(17 / 2) = 9 columns (m = 8 x 17 x 9 = 1224).
  a["pad_w"] = 3;
  a["stride_w"] = 2;
  a["dilation_w"] = 2;
  Op strided = make(OpKind::conv2d, a);
  CHECK(conv_window(strided).oh == 17);
  CHECK(conv_window(strided).ow == 6);
  strided.attrs["grad"] = 1;
  CHECK(conv_gemm_dims(strided).m == 8 * 17 * 9);
  // A pool's width: MaxPool2d((2, 2), stride=(2, 1), padding=(0, 1)) (CRNN) on 32 x 8 x 25:
  // 4 rows, (25 + 2 - 2) / 1 + 1 = 26 columns.
  Op mp = make(OpKind::maxpool, {{"n", 1},
                                 {"c", 32},
                                 {"h", 8},
                                 {"w", 25},
                                 {"r", 2},
                                 {"s", 2},
                                 {"stride", 2},
                                 {"stride_w", 1},
                                 {"pad", 0},
                                 {"pad_w", 1}});
  CHECK(op_out_elems(mp) == 32 * 4 * 26);
  // Validation: the width's values are checked as the height's, belong to windowed
  // ops, and a window that does not fit names them.
  Graph g;
  a["stride_w"] = 0;
  g.add(make(OpKind::conv2d, a));
  CHECK_THROWS_WITH(validate_graph(g, "src"), Catch::Contains("'stride_w' = 0 must be a positive integer"));
  Graph narrow;
  narrow.add(make(OpKind::conv2d, {{"n", 1},
                                   {"cin", 4},
                                   {"cout", 4},
                                   {"h", 8},
                                   {"w", 4},
                                   {"r", 1},
                                   {"s", 7},
                                   {"stride", 1},
                                   {"pad", 3},
                                   {"pad_w", 1}}));
  CHECK_THROWS_WITH(
      validate_graph(narrow, "src"),
      Catch::Contains("src: op 'x': filter 1x7 does not fit input 8x4 with pad 3 (width: pad_w 1, "
                      "stride_w 1, dilation_w 1)"));
  Graph mm;
  mm.add(make(OpKind::matmul, {{"batch", 1}, {"m", 4}, {"n", 4}, {"k", 4}, {"pad_w", 2}}));
  CHECK_THROWS_WITH(
      validate_graph(mm, "src"),
      Catch::Contains("'pad_w' is an attribute of convolutions and pools (conv2d, maxpool, avgpool)"));
  // The conv2d workload's pad_w (auto: = pad) sets the attribute only where it differs.
  const Graph built = build_workload("conv2d:n=8,cin=768,cout=192,h=17,r=1,s=7,pad_w=3");
  CHECK(built.ops.front().at("pad_w") == 3);
  CHECK(op_flops(built.ops.front()) == 4772855808.0);
  CHECK(!build_workload("conv2d:cin=8,cout=8,h=9,pad=1,pad_w=1").ops.front().attrs.count("pad_w"));
}

TEST_CASE("attention FLOPs: full, causal, decode; GQA bytes", "[ir]") {
  // 4 * batch * heads * sq * skv * d = 4 * 2 * 8 * 128 * 128 * 64 = 67,108,864.
  Op a = make(OpKind::attention, {{"batch", 2}, {"heads", 8}, {"kv_heads", 8}, {"sq", 128},
                                  {"skv", 128}, {"d", 64}});
  CHECK(op_flops(a) == 67108864.0);
  a.attrs["causal"] = 1;  // half of the score matrix
  CHECK(op_flops(a) == 33554432.0);
  // Decode: one query against 4096 keys, causal has no effect: 4*1*32*1*4096*128.
  Op dec = make(OpKind::attention, {{"batch", 1}, {"heads", 32}, {"sq", 1}, {"skv", 4096},
                                    {"d", 128}, {"causal", 1}});
  CHECK(op_flops(dec) == 4.0 * 32 * 4096 * 128);
  // GQA with 2 KV heads: Q 2*8*128*64 = 131,072; K+V 2*2*2*128*64 = 65,536; O 131,072
  // -> 327,680 elements * 2 bytes = 655,360.
  Op gqa = make(OpKind::attention, {{"batch", 2}, {"heads", 8}, {"kv_heads", 2}, {"sq", 128},
                                    {"skv", 128}, {"d", 64}});
  CHECK(op_min_bytes(gqa) == 655360.0);
  // A pair bias shared across the batch is read once (heads*sq*skv = 8*128*128 = 131,072
  // elements), not once per batch entry.
  gqa.attrs["bias"] = 1;
  gqa.attrs["bias_shared"] = 1;
  CHECK(op_min_bytes(gqa) == 655360.0 + 2.0 * 131072);
  gqa.attrs["bias_shared"] = 0;
  CHECK(op_min_bytes(gqa) == 655360.0 + 2.0 * 2 * 131072);
}

TEST_CASE("matmul, vector, KV-cache and collective arithmetic", "[ir]") {
  Op mm = make(OpKind::matmul, {{"batch", 4}, {"m", 8}, {"n", 16}, {"k", 32}});
  CHECK(op_flops(mm) == 2.0 * 4 * 8 * 16 * 32);
  // A: 4*8*32 = 1024, B: 4*32*16 = 2048, C: 4*8*16 = 512 elements, bf16.
  CHECK(op_min_bytes(mm) == 2.0 * (1024 + 2048 + 512));
  mm.attrs["b_shared"] = 1;  // one weight for all batches: B = 32*16 = 512
  CHECK(op_min_bytes(mm) == 2.0 * (1024 + 512 + 512));

  Op add = make(OpKind::add, {{"rows", 10}, {"cols", 20}});
  CHECK(op_flops(add) == 200.0);
  CHECK(op_min_bytes(add) == 2.0 * (2 * 200 + 200));
  add.attrs["inputs"] = 1;  // scalar operand
  CHECK(op_min_bytes(add) == 2.0 * (200 + 200));

  // kv_write of one token: K and V, 2 * batch 2 * kv_heads 8 * d 128 = 4096 elements.
  Op kw = make(OpKind::kv_write, {{"batch", 2}, {"kv_heads", 8}, {"tokens", 1}, {"d", 128}});
  CHECK(op_flops(kw) == 0.0);
  CHECK(op_min_bytes(kw) == 2.0 * 4096);
  // torch.cat of a 100-token cache and 1 new token: read 101 positions, write 101.
  Op cat = make(OpKind::kv_read, {{"batch", 2}, {"kv_heads", 8}, {"tokens", 100}, {"d", 128},
                                  {"append", 1}});
  CHECK(op_min_bytes(cat) == 2.0 * 4096 * 101 * 2);

  Op ar = make(OpKind::allreduce, {{"bytes", 1 << 20}, {"ranks", 8}});
  CHECK(op_flops(ar) == (1 << 20) / 2.0);  // one add per bf16 element
  CHECK(op_min_bytes(ar) == double(1 << 20));
  for (OpKind k : {OpKind::allgather, OpKind::reducescatter, OpKind::alltoall}) {
    Op c = make(k, {{"bytes", 4096}, {"ranks", 4}});
    CHECK(op_min_bytes(c) == 4096.0);
  }
}

TEST_CASE("pooling and embedding arithmetic", "[ir]") {
  // 3x3 stride-2 pad-1 max pool on 64 x 112 x 112 -> 56 x 56: 64*56*56*9 compares.
  Op mp = make(OpKind::maxpool, {{"n", 1}, {"c", 64}, {"h", 112}, {"w", 112}, {"r", 3},
                                 {"s", 3}, {"stride", 2}, {"pad", 1}});
  CHECK(op_flops(mp) == 64.0 * 56 * 56 * 9);
  CHECK(op_min_bytes(mp) == 2.0 * (64 * 112 * 112 + 64 * 56 * 56));
  Op emb = make(OpKind::embedding, {{"tokens", 128}, {"dim", 768}, {"vocab", 30522}});
  CHECK(op_flops(emb) == 0.0);
  CHECK(op_min_bytes(emb) == 2.0 * 2 * 128 * 768 + 8.0 * 128);
}

TEST_CASE("every kind has a name, attribute list and arithmetic", "[ir]") {
  for (const std::string& name : {"matmul", "conv2d", "attention", "layernorm", "rmsnorm",
                                  "softmax", "gelu", "silu", "relu", "sigmoid", "tanh", "add",
                                  "mul", "batchnorm", "copy", "transpose", "maxpool", "avgpool",
                                  "embedding", "kv_read", "kv_write", "allreduce", "allgather",
                                  "reducescatter", "alltoall"}) {
    OpKind k;
    REQUIRE(parse_op_kind(name, k));
    CHECK(op_kind_name(k) == name);
    Op op;
    op.name = name;
    op.kind = k;
    for (auto a : op_required_attrs(k)) op.attrs[std::string(a)] = 4;
    if (op.attrs.count("pad")) op.attrs["pad"] = 0;
    Graph g;
    g.add(op);
    CHECK_NOTHROW(validate_graph(g, "test"));
    CHECK(op_min_bytes(op) > 0);
    CHECK(op_flops(op) >= 0);
  }
}

TEST_CASE("validate_graph names the op and attribute", "[ir]") {
  Graph g;
  g.add(make(OpKind::attention, {{"batch", 1}, {"heads", 6}, {"kv_heads", 4}, {"sq", 8},
                                 {"skv", 8}, {"d", 64}}));
  CHECK_THROWS_WITH(validate_graph(g, "src"),
                    Catch::Contains("src: op 'x' (attention): heads=6 must be a multiple of kv_heads=4"));
  Graph g2;
  g2.add(make(OpKind::matmul, {{"batch", 1}, {"m", 0}, {"n", 4}, {"k", 4}}));
  CHECK_THROWS_WITH(validate_graph(g2, "src"),
                    Catch::Contains("'m' = 0 must be a positive integer"));
  Graph g3;
  g3.add(make(OpKind::maxpool, {{"n", 1}, {"c", 1}, {"h", 2}, {"w", 2}, {"r", 3}, {"s", 3},
                                {"stride", 1}}));
  CHECK_THROWS_WITH(validate_graph(g3, "src"), Catch::Contains("pooling window 3x3 does not fit"));
}
