// ONNX files as PyTorch's exporter writes them: small configurations of
// torchvision's ViT, Swin and ConvNeXt (tests/use/data/make_torchvision_onnx.py,
// opset 14, one 1 x 3 x 32 x 32 image). Their exports carry the operators beyond the
// layers: LayerNorm as ReduceMean, Sub, Pow, Sqrt and Div (LayerNormalization is
// opset 17), GELU as Erf, ViT's class token through Equal, ConstantOfShape, Where and
// Expand, Swin's shifted-window padding through Transpose and Slice of integer pads,
// its attention mask through Range, Mod, ScatterND and Equal.
#include <catch2/catch.hpp>
#include <map>

#include "workloads/workloads.h"

using namespace tessera;

namespace {
const std::string kExportsData = std::string(TESSERA_SOURCE_DIR) + "/tests/use/data";

struct Summary {
  std::map<OpKind, int> kinds;
  double product_flops = 0;  // matmuls and convolutions
};

Summary summarise(const Graph& g) {
  Summary s;
  for (const Op& op : g.ops) {
    ++s.kinds[op.kind];
    if (op.kind == OpKind::matmul || op.kind == OpKind::conv2d) s.product_flops += op_flops(op);
  }
  return s;
}
}  // namespace

TEST_CASE("ONNX exports: torchvision VisionTransformer", "[onnx][use]") {
  const Summary s = summarise(build_workload(kExportsData + "/vit_tiny_opset14.onnx"));
  // Patch embedding, Conv 3 -> 32 with 8 x 8 patches of the 32 x 32 image (16 of
  // them): 2 x 16 x 32 x (3 x 64) = 196608. Per layer, 17 tokens (16 + the class
  // token) of width 32, 2 heads of 16: in_proj 2 x 17 x 32 x 96 = 104448, Q.K^T and
  // P.V 2 x (2 x 2 x 17 x 17 x 16) = 36992, out_proj 2 x 17 x 32 x 32 = 34816, MLP
  // 2 x (2 x 17 x 32 x 64) = 139264: 315520 per layer, 631040 for 2. Head: the
  // class token 32 -> 1000, 64000. Total 196608 + 631040 + 64000 = 891648.
  CHECK(s.product_flops == 891648.0);
  CHECK(s.kinds.at(OpKind::conv2d) == 1);
  CHECK(s.kinds.at(OpKind::matmul) == 13);  // 6 per layer (in_proj, Q.K^T, P.V, out_proj, 2 MLP) + head
  CHECK(s.kinds.at(OpKind::reduce) == 10);  // 5 LayerNorms (2 per layer + the last), 2 ReduceMean each
  CHECK(s.kinds.at(OpKind::gelu) == 2);     // one Erf per MLP
  CHECK(s.kinds.at(OpKind::softmax) == 2);
}

TEST_CASE("ONNX exports: torchvision SwinTransformer", "[onnx][use]") {
  const Summary s = summarise(build_workload(kExportsData + "/swin_tiny_opset14.onnx"));
  // Patch embedding, Conv 3 -> 16 with 4 x 4 patches: 8 x 8 = 64 tokens,
  // 2 x 64 x 16 x 48 = 98304. Stage 1 (width 16, 1 head, 4 x 4 windows: 4 windows of
  // 16 tokens), per block: qkv 2 x 64 x 16 x 48 = 98304, Q.K^T and P.V
  // 2 x (2 x 4 x 16 x 16 x 16) = 65536, proj 2 x 64 x 16 x 16 = 32768, MLP
  // 2 x (2 x 64 x 16 x 64) = 262144: 458752, 917504 for 2 blocks. Patch merging to
  // 4 x 4 = 16 tokens, 64 -> 32: 2 x 16 x 64 x 32 = 65536. Stage 2 (width 32, 2 heads
  // of 16, one window), per block: qkv 2 x 16 x 32 x 96 = 98304, Q.K^T and P.V
  // 2 x (2 x 2 x 16 x 16 x 16) = 32768, proj 2 x 16 x 32 x 32 = 32768, MLP
  // 2 x (2 x 16 x 32 x 128) = 262144: 425984, 851968 for 2 blocks. Head 32 -> 10,
  // 640. Total 98304 + 917504 + 65536 + 851968 + 640 = 1933952.
  CHECK(s.product_flops == 1933952.0);
  CHECK(s.kinds.at(OpKind::conv2d) == 1);
  CHECK(s.kinds.at(OpKind::matmul) == 26);  // 6 per block x 4, patch merging, head
  // 11 LayerNorms (the patch embedding's, 2 per block, patch merging's, the last).
  CHECK(s.kinds.at(OpKind::reduce) == 22);
  CHECK(s.kinds.at(OpKind::gelu) == 4);
  CHECK(s.kinds.at(OpKind::softmax) == 4);
}

TEST_CASE("ONNX exports: torchvision ConvNeXt", "[onnx][use]") {
  const Summary s = summarise(build_workload(kExportsData + "/convnext_tiny_opset14.onnx"));
  // Stem Conv 3 -> 16, 4 x 4 stride 4: 8 x 8 outputs, 2 x 64 x 16 x 48 = 98304.
  // Stage 1 block (16 channels at 8 x 8): depthwise 7 x 7 2 x 64 x 16 x 49 = 100352,
  // Linear 16 -> 64 and 64 -> 16, 2 x 64 x 16 x 64 = 131072 each. Downsample Conv
  // 16 -> 32, 2 x 2 stride 2: 2 x 16 x 32 x 64 = 65536. Stage 2 block (32 channels at
  // 4 x 4): depthwise 2 x 16 x 32 x 49 = 50176, Linear 32 -> 128 and 128 -> 32,
  // 131072 each. Head 32 -> 10, 640. Total 98304 + 100352 + 262144 + 65536 + 50176 +
  // 262144 + 640 = 839296.
  CHECK(s.product_flops == 839296.0);
  CHECK(s.kinds.at(OpKind::conv2d) == 4);
  CHECK(s.kinds.at(OpKind::matmul) == 5);
  CHECK(s.kinds.at(OpKind::reduce) == 10);  // 5 LayerNorms: stem, 2 blocks, downsample, head
  CHECK(s.kinds.at(OpKind::gelu) == 2);
}

TEST_CASE("ONNX exports: torch.nn.LSTM, two bidirectional layers", "[onnx][use]") {
  const Graph g = build_workload(kExportsData + "/lstm_bidir_opset14.onnx");
  const Summary s = summarise(g);
  // Per layer and direction the built-in lstm structure (cuDNN's): one input
  // projection of the 8 steps x 2 sequences and 8 recurrent GEMMs (step 0 multiplies
  // the zero h_0 too): 9 matmuls, 36 for 2 layers x 2 directions. Layer 1 (input 16,
  // hidden 32, 4 x 32 = 128 gate columns): 2 x 16 x 128 x 16 = 65536 + 8 x (2 x 2 x
  // 128 x 32) = 131072 per direction; layer 2 reads both directions (input 64):
  // 2 x 16 x 128 x 64 = 262144 + 131072. Total 2 x (196608 + 393216) = 1179648.
  CHECK(s.kinds.at(OpKind::matmul) == 36);
  CHECK(s.product_flops == 1179648.0);
  // One fused cell per step: 8 steps x 2 directions x 2 layers.
  CHECK(s.kinds.at(OpKind::rnn_cell) == 32);
  CHECK(s.kinds.count(OpKind::sigmoid) == 0);
  // The reverse direction of each node is named as such, and is launched by the
  // same cuDNN call as the forward one: every op of it is lib_launch; of the
  // forward direction all but the input projection.
  int reverse = 0, lib = 0;
  for (const Op& op : g.ops) {
    reverse += op.name.find(".reverse.") != std::string::npos ? 1 : 0;
    lib += op.get("lib_launch", 0) != 0 ? 1 : 0;
  }
  // Per layer: input_proj, then a GEMM and a cell at each of the 8 steps.
  CHECK(reverse == 2 * (1 + 8 * 2));
  CHECK(lib == 2 * (2 * (1 + 8 * 2) - 1));
}

TEST_CASE("ONNX exports: a 2-layer bidirectional torch.nn.GRU", "[onnx][use][gru]") {
  const Graph g = build_workload(kExportsData + "/gru_bidir_opset14.onnx");
  const Summary s = summarise(g);
  // The built-in gru structure per layer and direction: one input projection and 8
  // recurrent GEMMs (PyTorch exports linear_before_reset=1: W_hn h in the same GEMM
  // as r and z), 36 matmuls in all. Layer 1 (input 16, 3 x 32 = 96 gate columns):
  // 2 x 16 x 96 x 16 = 49152 + 8 x (2 x 2 x 96 x 32) = 98304 per direction; layer 2
  // (input 64): 2 x 16 x 96 x 64 = 196608 + 98304. Total 2 x (147456 + 294912) = 884736.
  CHECK(s.kinds.at(OpKind::matmul) == 36);
  CHECK(s.product_flops == 884736.0);
  // One fused cell (gates 3) per step: 8 steps x 2 directions x 2 layers.
  CHECK(s.kinds.at(OpKind::rnn_cell) == 32);
  for (const Op& op : g.ops)
    if (op.kind == OpKind::rnn_cell) CHECK(op.at("gates") == 3);
  int reverse = 0;
  for (const Op& op : g.ops) reverse += op.name.find(".reverse.") != std::string::npos ? 1 : 0;
  CHECK(reverse == 2 * (1 + 8 * 2));
  // The built-in gru (one direction, the standard algorithm as ONNX Runtime runs it):
  // layer 1 as above, 147456; layer 2 reads the 32
  // hidden units of one direction: 2 x 16 x 96 x 32 = 98304 + 98304. 344064 in all,
  // over 2 x 17 ops after the h_0 fill (the ONNX importer lists none for a node).
  const Graph builtin =
      build_workload("gru:batch=2,seq=8,input=16,hidden=32,layers=2,dtype=fp32,algo=standard");
  CHECK(summarise(builtin).product_flops == 344064.0);
  CHECK(builtin.ops.size() == 1 + 2 * (1 + 8 * 2));
}

TEST_CASE("ONNX exports: GroupNorm and a transposed convolution (a tiny U-Net)", "[onnx][use]") {
  const Graph g = build_workload(kExportsData + "/unet_tiny_opset14.onnx");
  const Op* up = nullptr;
  const Op* norm = nullptr;
  for (const Op& op : g.ops) {
    if (op.name == "/up/ConvTranspose") up = &op;
    if (op.name == "/norm/InstanceNormalization") norm = &op;
  }
  REQUIRE(up != nullptr);
  REQUIRE(norm != nullptr);
  // ConvTranspose2d(32, 16, 2, stride=2) from 8 x 8 to 16 x 16 is what cuDNN runs
  // for it: the data gradient of Conv2d(16, 32, 2, stride=2) over a 16 x 16 input.
  CHECK(up->kind == OpKind::conv2d);
  CHECK(up->at("grad") == 1);
  CHECK(up->at("transposed") == 1);
  CHECK(up->at("cin") == 16);
  CHECK(up->at("cout") == 32);
  CHECK(up->at("h") == 16);
  CHECK(up->at("stride") == 2);
  // 8 x 8 inputs x 32 x 16 channels x 2 x 2 taps = 131072 multiply-adds.
  CHECK(op_flops(*up) == 262144.0);
  // GroupNorm(4, 16) as exported: the [1, 16, 16, 16] activations viewed as
  // [1, 4, 1024] and normalised per group: 4 rows of 4 x 16 x 16 = 1024.
  CHECK(norm->kind == OpKind::layernorm);
  CHECK(norm->at("rows") == 4);
  CHECK(norm->at("cols") == 1024);
  // Its traffic is the data gradient's: it reads dy (the 32 x 8 x 8 input) and the
  // 32 x 16 x 2 x 2 weight, 2048 + 2048 fp32 values = 16384 bytes, and writes dx
  // (the 16 x 16 x 16 output), 4096 values = 16384 bytes.
  const OpTraffic t = op_traffic(*up);
  CHECK(t.read == 16384.0);
  CHECK(t.written == 16384.0);
  // A transposed convolution is an inference op: the graph is not a training step.
  CHECK_FALSE(is_training_graph(g));
}

namespace {
const Op& named(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return op;
  FAIL("no op named " << name);
  return g.ops.front();
}
}  // namespace

TEST_CASE("ONNX exports: 3-D convolutions, pools and a transposed Conv3d (a tiny video network)",
          "[onnx][use][conv3d]") {
  const Graph g = build_workload(kExportsData + "/video_tiny_opset14.onnx");
  const Summary s = summarise(g);
  // Stem Conv3d(3, 8, (3, 7, 7), stride (1, 2, 2), pad (1, 3, 3)) on 8 x 32 x 32: 8 x 16 x
  // 16 = 2048 outputs per channel, 2 x 2048 x 8 x (3 x 147) = 14450688. MaxPool3d
  // (1, 3, 3) stride (1, 2, 2) -> 8 x 8 x 8. Spatial Conv3d(8, 16, (1, 3, 3)): 2 x 512 x
  // 16 x 72 = 1179648. Temporal Conv3d(16, 16, (3, 1, 1), depth stride 2, pad 1):
  // depth (8 + 2 - 3)/2 + 1 = 4, 2 x 256 x 16 x 48 = 393216. ConvTranspose3d(16, 8, 2,
  // stride 2) to 8 x 16 x 16: the data gradient of Conv3d(8, 16, 2, stride 2), 2 x 256
  // x 16 x 64 = 524288. fc 8 -> 10: 160. Total 16548000.
  CHECK(s.product_flops == 16548000.0);
  const Op& stem = named(g, "/stem/Conv");
  CHECK((stem.at("d") == 8 && stem.at("t") == 3 && stem.at("stride_d") == 1 && stem.at("pad_d") == 1));
  CHECK((stem.at("h") == 32 && stem.at("r") == 7 && stem.at("stride") == 2 && stem.at("pad") == 3));
  const Op& pool = named(g, "/pool/MaxPool");
  CHECK((pool.kind == OpKind::maxpool && pool.at("t") == 1 && pool.at("r") == 3 && pool.at("stride_d") == 1));
  CHECK(op_out_elems(pool) == 8 * 8 * 8 * 8);
  const Op& temporal = named(g, "/temporal/Conv");
  CHECK((temporal.at("t") == 3 && temporal.at("r") == 1 && temporal.at("stride_d") == 2 &&
         temporal.at("stride") == 1));
  const Op& up = named(g, "/up/ConvTranspose");
  CHECK((up.at("grad") == 1 && up.at("transposed") == 1 && up.at("d") == 8 && up.at("h") == 16));
  // AdaptiveAvgPool3d(1): one 8 x 16 x 16 window per channel.
  const Op& gap = named(g, "/GlobalAveragePool");
  CHECK((gap.at("t") == 8 && gap.at("r") == 16 && gap.at("s") == 16));
  CHECK(op_out_elems(gap) == 8);
}

TEST_CASE("ONNX exports: 1-D convolutions, pools and a transposed Conv1d (Whisper's front end)",
          "[onnx][use][conv1d]") {
  const Graph g = build_workload(kExportsData + "/audio_tiny_opset14.onnx");
  const Summary s = summarise(g);
  // Conv1d(80, 32, 3, padding=1) over 64 frames: 2 x 64 x 32 x 240 = 983040. Conv1d(32,
  // 32, 3, stride 2, padding 1): 32 frames, 2 x 32 x 32 x 96 = 196608. MaxPool1d(2) ->
  // 16. ConvTranspose1d(32, 16, 4, stride 2, padding 1) to (16 - 1) x 2 - 2 + 4 = 32
  // frames: the data gradient of Conv1d(16, 32, 4, stride 2, padding 1), 2 x 16 x 32 x
  // 64 = 65536. Total 1245184.
  CHECK(s.product_flops == 1245184.0);
  // A 1-D op is a height-1 conv2d whose one axis is the width: the padding is the
  // width's (pad_w 1), the height's none (pad 0): 64 wide, output 64.
  const Op& c1 = named(g, "/conv1/Conv");
  CHECK((c1.at("h") == 1 && c1.at("r") == 1 && c1.at("w") == 64 && c1.at("s") == 3 && c1.at("pad") == 0 &&
         c1.at("pad_w") == 1));
  CHECK(op_out_elems(c1) == 32 * 64);
  const Op& c2 = named(g, "/conv2/Conv");
  CHECK((c2.at("w") == 64 && c2.at("stride") == 2 && c2.at("pad_w") == 1 && op_out_elems(c2) == 32 * 32));
  const Op& pool = named(g, "/MaxPool");
  CHECK(op_out_elems(pool) == 32 * 16);
  // The transposed one: forward input 32 wide with pad_w 1: (32 + 2 - 4)/2 + 1 = 16.
  const Op& up = named(g, "/up/ConvTranspose");
  CHECK((up.at("w") == 32 && up.at("pad") == 0 && up.at("pad_w") == 1 && up.at("grad") == 1 &&
         up.at("cin") == 16));
  // The IR's dx is the 16 x 32 the layer writes.
  CHECK(op_out_elems(up) == 16 * 32);
}
