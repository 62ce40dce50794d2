// SCALE-Sim topology CSV importer: the rows of importers/scalesim_topology.h
// (tolerant dialect) become ops, each depending on the previous one.
//   convolution form -> conv2d n=1, cin=Channels, cout=Num Filter, h, w, r, s,
//                       stride, pad=0 (SCALE-Sim has no padding:
//                       ofmap = (ifmap - filter)/stride + 1)
//   depthwise row    -> (name containing "DP", as SCALE-Sim marks them) conv2d
//                       groups=Channels, cout=Channels x Num Filter: SCALE-Sim
//                       runs such a row as one single-channel convolution with
//                       Num Filter filters per channel
//   GEMM form        -> matmul batch=1, m=M, n=N, k=K
// Operands are one byte (SCALE-Sim's word size), so ops are int8 with int32 output.
#include <fmt/format.h>

#include <filesystem>
#include <variant>

#include "workloads/importers.h"
#include "workloads/importers/common.h"
#include "workloads/importers/scalesim_topology.h"

namespace tessera {

Graph parse_scalesim_csv(std::string_view text, std::string_view source) {
  Graph g;
  g.name = std::filesystem::path(std::string(source)).stem().string();
  for (const importers::ScaleSimLayer& l :
       importers::parse_scalesim_layers(text, source, importers::ScaleSimDialect::tolerant)) {
    Op op;
    op.name = l.name.empty() ? fmt::format("layer{}", g.ops.size()) : l.name;
    op.dtype = DType::int8;
    op.out_dtype = DType::int32;
    if (const auto* m = std::get_if<importers::ScaleSimGemm>(&l.shape)) {
      op.kind = OpKind::matmul;
      op.attrs = {{"batch", 1}, {"m", m->m}, {"n", m->n}, {"k", m->k}};
    } else {
      // The tolerant dialect reads one stride (stride_w == stride_h), as conv2d has.
      const auto& c = std::get<importers::ScaleSimConv>(l.shape);
      const int64_t groups = l.depthwise() ? c.channels : 1;
      op.kind = OpKind::conv2d;
      op.attrs = {{"n", 1},
                  {"cin", c.channels},
                  {"cout", l.depthwise() ? c.channels * c.num_filters : c.num_filters},
                  {"h", c.ifmap_h},
                  {"w", c.ifmap_w},
                  {"r", c.filter_h},
                  {"s", c.filter_w},
                  {"stride", c.stride_h},
                  {"pad", 0},
                  {"dilation", 1},
                  {"groups", groups}};
    }
    if (!g.ops.empty()) op.deps = {static_cast<int>(g.ops.size()) - 1};
    g.add(std::move(op));
  }
  return g;
}

Graph import_scalesim_csv(const std::string& path) {
  return parse_scalesim_csv(importers::read_input_file(path), path);
}

}  // namespace tessera
