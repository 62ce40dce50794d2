// Convolutional networks as torchvision defines them, one op per kernel that
// PyTorch eager launches in inference (model.eval(), no autograd): every
// Conv2d, BatchNorm2d, ReLU (in place, still a kernel), pooling layer, residual
// `out += identity` and Linear (addmm: bias fused) is its own op. Flatten and
// Dropout (identity in eval; with train=1 the classifiers' dropouts run, below)
// launch nothing. Tensors are NCHW; element-wise ops over an N x C x H x W tensor
// use rows = N*H*W, cols = C.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {
namespace {

// Running NCHW activation shape plus the op that produced it.
struct Act {
  int op = -1;
  int64_t n = 1, c = 3, h = 224, w = 224;
};

std::vector<int> dep(const Act& a) { return a.op < 0 ? std::vector<int>{} : std::vector<int>{a.op}; }

Act conv(GraphBuilder& b, const std::string& name, const Act& x, int64_t cout, int64_t k,
         int64_t stride, int64_t pad, int64_t groups = 1) {
  Act y = x;
  y.op = b.conv(name, dep(x), x.n, x.c, cout, x.h, x.w, k, k, stride, pad, 1, groups);
  y.c = cout;
  y.h = conv_out_dim(x.h, k, stride, pad, 1);
  y.w = conv_out_dim(x.w, k, stride, pad, 1);
  if (y.h <= 0 || y.w <= 0)
    throw InputError(fmt::format("workload parameter 'image': {}x{} is too small for layer '{}'",
                                 x.h, x.w, name));
  return y;
}

// A training step runs the classifiers' nn.Dropout (torchvision's p: AlexNet and
// VGG 0.5, MobileNetV2 0.2): one native_dropout kernel each. In inference it is
// the identity.
bool training(const std::map<std::string, std::string>& p) {
  return p.count("train") && p.at("train") == "1";
}

Act pointwise(GraphBuilder& b, OpKind kind, const std::string& name, const Act& x,
              std::vector<int> extra = {}) {
  Act y = x;
  std::vector<int> deps = dep(x);
  deps.insert(deps.end(), extra.begin(), extra.end());
  y.op = b.vec(kind, name, deps, x.n * x.h * x.w, x.c, 2);
  if (kind == OpKind::batchnorm) b.graph().ops[static_cast<size_t>(y.op)].attrs["n"] = x.n;   // input.size(0)
  return y;
}

// The layout of the batch-norm and convolution ops (attr channels_last): workload
// parameter memory_format, channels_last (NHWC, model.to(memory_format=torch.channels_last))
// or contiguous (NCHW: the batch norms run PyTorch's NCHW kernels, and cuDNN converts
// each tensor-core convolution's operands to NHWC and its result back).
void set_memory_format(Graph& g, const std::map<std::string, std::string>& p) {
  const int64_t cl = wl_choice(p, "memory_format", {"channels_last", "contiguous"}) == "channels_last" ? 1 : 0;
  for (auto& op : g.ops)
    if (op.kind == OpKind::batchnorm || op.kind == OpKind::conv2d) op.attrs["channels_last"] = cl;
}

Act pool(GraphBuilder& b, OpKind kind, const std::string& name, const Act& x, int64_t k,
         int64_t stride, int64_t pad) {
  Act y = x;
  y.op = b.pool(kind, name, dep(x), x.n, x.c, x.h, x.w, k, stride, pad);
  y.h = conv_out_dim(x.h, k, stride, pad, 1);
  y.w = conv_out_dim(x.w, k, stride, pad, 1);
  if (y.h <= 0 || y.w <= 0)
    throw InputError(fmt::format("workload parameter 'image': {}x{} is too small for layer '{}'",
                                 x.h, x.w, name));
  return y;
}

// AdaptiveAvgPool2d(out): when the input divides evenly this is a pool with
// window = stride = in/out, which is what the kernel computes; otherwise the
// windows differ by one and we take stride = floor(in/out), window = in - (out-1)*stride.
Act adaptive_avgpool(GraphBuilder& b, const std::string& name, const Act& x, int64_t out) {
  const int64_t stride = std::max<int64_t>(1, x.h / out);
  const int64_t k = x.h - (out - 1) * stride;
  if (k <= 0 || x.h != x.w)
    throw InputError(fmt::format("workload parameter 'image': feature map {}x{} cannot be "
                                 "pooled to {}x{} at '{}'", x.h, x.w, out, out, name));
  return pool(b, OpKind::avgpool, name, x, k, stride, 0);
}

Act linear(GraphBuilder& b, const std::string& name, const Act& x, int64_t in, int64_t out) {
  Act y;
  y.op = b.linear(name, dep(x), x.n, out, in);
  y.n = x.n;
  y.c = out;
  y.h = y.w = 1;
  return y;
}

// Weights of the graph's layers; `conv_bias`: the convolutions carry a bias
// (AlexNet, VGG) rather than being followed by batch-norm (ResNet).
double count_params_conv(const Graph& g, bool conv_bias) {
  double params = 0;
  for (const auto& op : g.ops) {
    if (op.kind == OpKind::conv2d)
      params += static_cast<double>(conv_weight_elems(op)) + (conv_bias ? static_cast<double>(op.at("cout")) : 0.0);
    else if (op.kind == OpKind::matmul && op.get("b_shared", 0))
      params += static_cast<double>(op.at("k")) * op.at("n") + op.at("n");  // + bias
    else if (op.kind == OpKind::batchnorm)
      params += 2.0 * op.at("cols");  // weight and bias (running stats are buffers)
  }
  return params;
}

// torchvision.models.resnet50 (v1.5: the stride sits on the 3x3 conv).
// Bottleneck.forward: conv1 bn1 relu conv2 bn2 relu conv3 bn3 [downsample conv bn]
// out += identity, relu.
Graph build_resnet50(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "resnet50";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);   // fc; the convolutions have none (batch-norm follows)
  Act x;
  x.n = wl_int(p, "batch");
  x.h = x.w = wl_int(p, "image");
  x = conv(b, "conv1", x, 64, 7, 2, 3);
  x = pointwise(b, OpKind::batchnorm, "bn1", x);
  x = pointwise(b, OpKind::relu, "relu", x);
  x = pool(b, OpKind::maxpool, "maxpool", x, 3, 2, 1);
  const int64_t widths[4] = {64, 128, 256, 512};
  const int blocks[4] = {3, 4, 6, 3};
  for (int layer = 0; layer < 4; ++layer) {
    for (int blk = 0; blk < blocks[layer]; ++blk) {
      const std::string pre = fmt::format("layer{}.{}.", layer + 1, blk);
      const int64_t width = widths[layer];
      const int64_t stride = (blk == 0 && layer > 0) ? 2 : 1;
      const Act in = x;
      Act y = conv(b, pre + "conv1", in, width, 1, 1, 0);
      y = pointwise(b, OpKind::batchnorm, pre + "bn1", y);
      y = pointwise(b, OpKind::relu, pre + "relu1", y);
      y = conv(b, pre + "conv2", y, width, 3, stride, 1);
      y = pointwise(b, OpKind::batchnorm, pre + "bn2", y);
      y = pointwise(b, OpKind::relu, pre + "relu2", y);
      y = conv(b, pre + "conv3", y, width * 4, 1, 1, 0);
      y = pointwise(b, OpKind::batchnorm, pre + "bn3", y);
      Act identity = in;
      if (blk == 0) {
        identity = conv(b, pre + "downsample.0", in, width * 4, 1, stride, 0);
        identity = pointwise(b, OpKind::batchnorm, pre + "downsample.1", identity);
      }
      y = pointwise(b, OpKind::add, pre + "add", y, {identity.op});
      x = pointwise(b, OpKind::relu, pre + "relu3", y);
    }
  }
  x = adaptive_avgpool(b, "avgpool", x, 1);
  linear(b, "fc", x, 2048, 1000);
  set_memory_format(g, p);
  g.info["params"] = count_params_conv(g, false);
  g.info["images"] = static_cast<double>(x.n);
  return g;
}

// torchvision.models.alexnet: features, AdaptiveAvgPool2d(6), classifier
// (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear).
Graph build_alexnet(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "alexnet";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  b.set_conv_bias(true);
  Act x;
  x.n = wl_int(p, "batch");
  x.h = x.w = wl_int(p, "image");
  x = conv(b, "features.0", x, 64, 11, 4, 2);
  x = pointwise(b, OpKind::relu, "features.1", x);
  x = pool(b, OpKind::maxpool, "features.2", x, 3, 2, 0);
  x = conv(b, "features.3", x, 192, 5, 1, 2);
  x = pointwise(b, OpKind::relu, "features.4", x);
  x = pool(b, OpKind::maxpool, "features.5", x, 3, 2, 0);
  x = conv(b, "features.6", x, 384, 3, 1, 1);
  x = pointwise(b, OpKind::relu, "features.7", x);
  x = conv(b, "features.8", x, 256, 3, 1, 1);
  x = pointwise(b, OpKind::relu, "features.9", x);
  x = conv(b, "features.10", x, 256, 3, 1, 1);
  x = pointwise(b, OpKind::relu, "features.11", x);
  x = pool(b, OpKind::maxpool, "features.12", x, 3, 2, 0);
  x = adaptive_avgpool(b, "avgpool", x, 6);
  if (training(p)) x = pointwise(b, OpKind::dropout, "classifier.0", x);
  x = linear(b, "classifier.1", x, 256 * 6 * 6, 4096);
  x = pointwise(b, OpKind::relu, "classifier.2", x);
  if (training(p)) x = pointwise(b, OpKind::dropout, "classifier.3", x);
  x = linear(b, "classifier.4", x, 4096, 4096);
  x = pointwise(b, OpKind::relu, "classifier.5", x);
  linear(b, "classifier.6", x, 4096, 1000);
  g.info["params"] = count_params_conv(g, true);
  g.info["images"] = static_cast<double>(x.n);
  return g;
}

// torchvision.models.vgg16 (configuration "D", no batch norm).
Graph build_vgg16(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "vgg16";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  b.set_conv_bias(true);
  Act x;
  x.n = wl_int(p, "batch");
  x.h = x.w = wl_int(p, "image");
  const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  int idx = 0;
  for (int c : cfg) {
    if (c == 0) {
      x = pool(b, OpKind::maxpool, fmt::format("features.{}", idx++), x, 2, 2, 0);
    } else {
      x = conv(b, fmt::format("features.{}", idx++), x, c, 3, 1, 1);
      x = pointwise(b, OpKind::relu, fmt::format("features.{}", idx++), x);
    }
  }
  x = adaptive_avgpool(b, "avgpool", x, 7);
  x = linear(b, "classifier.0", x, 512 * 7 * 7, 4096);
  x = pointwise(b, OpKind::relu, "classifier.1", x);
  if (training(p)) x = pointwise(b, OpKind::dropout, "classifier.2", x);
  x = linear(b, "classifier.3", x, 4096, 4096);
  x = pointwise(b, OpKind::relu, "classifier.4", x);
  if (training(p)) x = pointwise(b, OpKind::dropout, "classifier.5", x);
  linear(b, "classifier.6", x, 4096, 1000);
  g.info["params"] = count_params_conv(g, true);
  g.info["images"] = static_cast<double>(x.n);
  return g;
}

// torchvision.models.mobilenet_v2 (Sandler et al. 2018, width 1.0): a 3x3 stem,
// 17 inverted residual blocks (1x1 expansion by t, 3x3 depthwise with groups =
// channels, 1x1 projection; `x + conv(x)` where the stride is 1 and the channels
// stay), a 1x1 conv to 1280, adaptive average pooling, Dropout (identity in eval)
// and Linear(1280, 1000). Every Conv2dNormActivation is conv, BatchNorm2d, ReLU6
// (hardtanh: a relu-class kernel).
Graph build_mobilenet_v2(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "mobilenet_v2";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  Act x;
  x.n = wl_int(p, "batch");
  x.h = x.w = wl_int(p, "image");
  const auto cna = [&](const std::string& name, const Act& in, int64_t cout, int64_t k, int64_t stride,
                       int64_t groups, bool act) {
    Act y = conv(b, name + ".0", in, cout, k, stride, (k - 1) / 2, groups);
    y = pointwise(b, OpKind::batchnorm, name + ".1", y);
    if (act) y = pointwise(b, OpKind::relu, name + ".2", y);
    return y;
  };
  x = cna("features.0", x, 32, 3, 2, 1, true);
  // InvertedResidual settings: expansion t, output channels c, repeats n, first stride s.
  const int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int idx = 1;
  for (const auto& st : settings) {
    for (int64_t i = 0; i < st[2]; ++i) {
      const std::string pre = fmt::format("features.{}.conv", idx++);
      const int64_t stride = i == 0 ? st[3] : 1, hidden = x.c * st[0];
      const Act in = x;
      Act y = in;
      int layer = 0;
      if (st[0] != 1) y = cna(fmt::format("{}.{}", pre, layer++), y, hidden, 1, 1, 1, true);
      y = cna(fmt::format("{}.{}", pre, layer++), y, hidden, 3, stride, hidden, true);   // depthwise
      y = conv(b, fmt::format("{}.{}", pre, layer++), y, st[1], 1, 1, 0);
      y = pointwise(b, OpKind::batchnorm, fmt::format("{}.{}", pre, layer++), y);
      if (stride == 1 && in.c == st[1]) y = pointwise(b, OpKind::add, pre + ".add", y, {in.op});
      x = y;
    }
  }
  x = cna(fmt::format("features.{}", idx), x, 1280, 1, 1, 1, true);
  x = adaptive_avgpool(b, "avgpool", x, 1);
  if (training(p)) x = pointwise(b, OpKind::dropout, "classifier.0", x);
  linear(b, "classifier.1", x, 1280, 1000);
  set_memory_format(g, p);
  g.info["params"] = count_params_conv(g, false);
  g.info["images"] = static_cast<double>(x.n);
  return g;
}

// Video networks (torchvision.models.video, VideoResNet): NCDHW clips, Conv3d,
// BatchNorm3d (rows = N*D*H*W, cols = C), ReLU, residual add,
// AdaptiveAvgPool3d(1) and the fc, one op per kernel as for the 2-D networks.
struct Act3 {
  int op = -1;
  int64_t n = 1, c = 3, d = 16, h = 112, w = 112;
};

std::vector<int> dep(const Act3& a) {
  return a.op < 0 ? std::vector<int>{} : std::vector<int>{a.op};
}

// Conv3d with kernel (kt, k, k), stride (st, s, s), padding (pt, pad, pad), no bias.
Act3 conv3d(GraphBuilder& b, const std::string& name, const Act3& x, int64_t cout, int64_t kt, int64_t k,
            int64_t st, int64_t s, int64_t pt, int64_t pad) {
  Act3 y = x;
  y.op = b.conv(name, dep(x), x.n, x.c, cout, x.h, x.w, k, k, s, pad);
  b.set_depth(y.op, x.d, kt, st, pt);
  y.c = cout;
  y.d = conv_out_dim(x.d, kt, st, pt, 1);
  y.h = conv_out_dim(x.h, k, s, pad, 1);
  y.w = conv_out_dim(x.w, k, s, pad, 1);
  if (y.d <= 0 || y.h <= 0 || y.w <= 0)
    throw InputError(
        fmt::format("workload parameters 'frames' and 'image': {}x{}x{} is too small for layer '{}'", x.d,
                    x.h, x.w, name));
  return y;
}

Act3 pointwise(GraphBuilder& b, OpKind kind, const std::string& name, const Act3& x,
               std::vector<int> extra = {}) {
  Act3 y = x;
  std::vector<int> deps = dep(x);
  deps.insert(deps.end(), extra.begin(), extra.end());
  y.op = b.vec(kind, name, deps, x.n * x.d * x.h * x.w, x.c, 2);
  if (kind == OpKind::batchnorm) b.graph().ops[static_cast<size_t>(y.op)].attrs["n"] = x.n;
  return y;
}

// torchvision.models.video.resnet: r3d_18 (Conv3DSimple: 3x3x3 convolutions) and
// r2plus1d_18 (Conv2Plus1D: a 1x3x3 spatial convolution to `midplanes` channels,
// BatchNorm3d, ReLU, then a 3x1x1 temporal one; midplanes = in*out*27 / (in*9 + 3*out)
// so that the pair has the 3x3x3 convolution's parameters). BasicBlock.forward:
// conv1 (conv, bn, relu), conv2 (conv, bn), [downsample: 1x1x1 conv with the
// block's stride on all three axes, bn], out += residual, relu. Layers [2, 2, 2, 2]
// of 64, 128, 256, 512 planes, strides 1, 2, 2, 2; AdaptiveAvgPool3d(1); fc to 400
// (Kinetics-400) classes. Stems: r3d_18 Conv3d(3, 64, (3, 7, 7), stride (1, 2, 2),
// padding (1, 3, 3)); r2plus1d_18 Conv3d(3, 45, (1, 7, 7), (1, 2, 2), (0, 3, 3)) then
// Conv3d(45, 64, (3, 1, 1), 1, (1, 0, 0)), each with BatchNorm3d and ReLU.
Graph build_video_resnet(const std::map<std::string, std::string>& p, bool r2plus1d) {
  Graph g;
  g.name = r2plus1d ? "r2plus1d_18" : "r3d_18";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);
  Act3 x;
  x.n = wl_int(p, "batch");
  x.d = wl_int(p, "frames");
  x.h = x.w = wl_int(p, "image");
  if (r2plus1d) {
    x = conv3d(b, "stem.0", x, 45, 1, 7, 1, 2, 0, 3);
    x = pointwise(b, OpKind::batchnorm, "stem.1", x);
    x = pointwise(b, OpKind::relu, "stem.2", x);
    x = conv3d(b, "stem.3", x, 64, 3, 1, 1, 1, 1, 0);
    x = pointwise(b, OpKind::batchnorm, "stem.4", x);
    x = pointwise(b, OpKind::relu, "stem.5", x);
  } else {
    x = conv3d(b, "stem.0", x, 64, 3, 7, 1, 2, 1, 3);
    x = pointwise(b, OpKind::batchnorm, "stem.1", x);
    x = pointwise(b, OpKind::relu, "stem.2", x);
  }
  const int64_t planes[4] = {64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer)
    for (int blk = 0; blk < 2; ++blk) {
      const std::string pre = fmt::format("layer{}.{}.", layer + 1, blk);
      const int64_t out = planes[layer], in_planes = x.c;
      const int64_t stride = (blk == 0 && layer > 0) ? 2 : 1;
      const int64_t mid = in_planes * out * 27 / (in_planes * 9 + 3 * out);
      // conv_builder(in, out, midplanes, stride): "<pre>convN.0" (with ".0.0" ...
      // ".0.3" for the (2+1)D pair, as torchvision names its modules).
      const auto conv_unit = [&](const std::string& at, const Act3& in, int64_t s) {
        if (!r2plus1d) return conv3d(b, at, in, out, 3, 3, s, s, 1, 1);
        Act3 y = conv3d(b, at + ".0", in, mid, 1, 3, 1, s, 0, 1);
        y = pointwise(b, OpKind::batchnorm, at + ".1", y);
        y = pointwise(b, OpKind::relu, at + ".2", y);
        return conv3d(b, at + ".3", y, out, 3, 1, s, 1, 1, 0);
      };
      const Act3 in = x;
      Act3 y = conv_unit(pre + "conv1.0", in, stride);
      y = pointwise(b, OpKind::batchnorm, pre + "conv1.1", y);
      y = pointwise(b, OpKind::relu, pre + "conv1.2", y);
      y = conv_unit(pre + "conv2.0", y, 1);
      y = pointwise(b, OpKind::batchnorm, pre + "conv2.1", y);
      Act3 residual = in;
      if (stride != 1 || in_planes != out) {
        residual = conv3d(b, pre + "downsample.0", in, out, 1, 1, stride, stride, 0, 0);
        residual = pointwise(b, OpKind::batchnorm, pre + "downsample.1", residual);
      }
      y = pointwise(b, OpKind::add, pre + "add", y, {residual.op});
      x = pointwise(b, OpKind::relu, pre + "relu", y);
    }
  // AdaptiveAvgPool3d((1, 1, 1)): one window over the whole d x h x w map.
  const int pool = b.pool(OpKind::avgpool, "avgpool", dep(x), x.n, x.c, x.h, x.w, x.h, 1, 0);
  b.graph().ops[static_cast<size_t>(pool)].attrs["s"] = x.w;
  b.set_depth(pool, x.d, x.d, 1, 0);
  b.linear("fc", {pool}, x.n, 400, x.c);
  set_memory_format(g, p);
  g.info["params"] = count_params_conv(g, false);
  return g;
}

Graph build_r3d_18(const std::map<std::string, std::string>& p) {
  return build_video_resnet(p, false);
}
Graph build_r2plus1d_18(const std::map<std::string, std::string>& p) {
  return build_video_resnet(p, true);
}

std::vector<WorkloadParam> video_params() {
  return {{"batch", "1", "clips"},
          {"frames", "16", "frames per clip (the input's depth)"},
          {"image", "112", "frame height = width in pixels"},
          {"dtype", "bf16", "operand format", ParamType::dtype},
          {"memory_format",
           "channels_last",
           "activation layout: channels_last (NDHWC, torch.channels_last_3d) or contiguous (NCDHW); decides "
           "the batch-norm kernels and whether cuDNN converts the convolutions' operands",
           ParamType::choice,
           {"channels_last", "contiguous"}}};
}

std::vector<WorkloadParam> cnn_params() {
  return {{"batch", "1", "images"},
          {"image", "224", "input height = width in pixels"},
          {"dtype", "bf16", "operand format", ParamType::dtype}};
}

// Networks with batch norm: its kernels depend on the activations' layout.
std::vector<WorkloadParam> bn_cnn_params() {
  auto p = cnn_params();
  p.push_back(
      {"memory_format",
       "channels_last",
       "activation layout: channels_last (NHWC) or contiguous (NCHW); decides the batch-norm kernels and "
       "whether cuDNN converts the convolutions' operands",
       ParamType::choice,
       {"channels_last", "contiguous"}});
  return p;
}

}  // namespace

void add_cnn_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"resnet50", "torchvision ResNet-50 v1.5 inference (conv, batch-norm, relu, "
                 "residual add, pools, fc as separate kernels)", bn_cnn_params(), build_resnet50});
  out.push_back({"alexnet", "torchvision AlexNet inference", cnn_params(), build_alexnet});
  out.push_back({"vgg16", "torchvision VGG-16 inference", cnn_params(), build_vgg16});
  out.push_back({"mobilenet_v2", "torchvision MobileNetV2 inference (inverted residuals with 3x3 depthwise "
                 "convolutions)", bn_cnn_params(), build_mobilenet_v2});
  out.push_back({"r3d_18",
                 "torchvision R3D-18 video classification inference (3x3x3 Conv3d residual network)",
                 video_params(), build_r3d_18});
  out.push_back(
      {"r2plus1d_18",
       "torchvision R(2+1)D-18 video classification inference (1x3x3 spatial then 3x1x1 temporal Conv3d)",
       video_params(), build_r2plus1d_18});
}

}  // namespace tessera
