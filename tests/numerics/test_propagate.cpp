// End-to-end emulation (sim/propagate.h) against the per-op report: the same
// accumulator, integer formats with a per-tensor scale.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <vector>

#include "models/hardware.h"
#include "sim/precision.h"
#include "sim/propagate.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {
// Appends a bf16 op named op<i> to g; returns its index.
int add_bf16_op(Graph& g, OpKind kind, OpAttrs attrs, std::vector<int> deps) {
  Op op;
  op.name = fmt::format("op{}", g.ops.size());
  op.kind = kind;
  op.dtype = DType::bf16;
  op.out_dtype = DType::bf16;
  op.attrs = std::move(attrs);
  op.deps = std::move(deps);
  return g.add(std::move(op));
}
}  // namespace

TEST_CASE("integer tensors carry one max-calibrated scale", "[numerics][propagate]") {
  // max|x| = 2, int8: scale = 2/127. -2 -> -127 (-2 exactly); 1 -> 63.5 -> 64 (RNE)
  // -> 128/127; 0.5 -> 31.75 -> 32 -> 64/127; 0.001 -> 0.0635 -> 0.
  std::vector<double> x = {-2, 1, 0.5, 0.001};
  quantize_tensor(x, DType::int8);
  CHECK(x[0] == -2.0);
  CHECK(x[1] == 64 * (2.0 / 127));
  CHECK(x[2] == 32 * (2.0 / 127));
  CHECK(x[3] == 0.0);
  // uint8 clamps negatives to 0; an all-zero tensor stays zero (no 0/0 scale).
  std::vector<double> u = {-1, 255, 1};
  quantize_tensor(u, DType::uint8);
  CHECK(u == std::vector<double>{0, 255, 1});
  std::vector<double> z = {0, 0};
  quantize_tensor(z, DType::int4);
  CHECK(z == std::vector<double>{0, 0});
  // Floating-point formats are rounded element by element (bf16: 8 significant bits).
  std::vector<double> f = {1.0 + 1.0 / 512};
  quantize_tensor(f, DType::bf16);
  CHECK(f[0] == 1.0);   // the tie rounds to even
}

TEST_CASE("int8 end to end: the quantization error of the operands, not 1.0", "[numerics][propagate]") {
  // N(0,1) activations and N(0,1/K) weights, each quantized with scale max|x|/127:
  // max|x| is about 4.5-5 standard deviations for 2.6e5 draws, so the rounding
  // error of one operand has a standard deviation of (4.5..5)/127/sqrt(12) =
  // 1.0-1.15 % of its own; two operands add in quadrature (1.45-1.6 %), and the
  // int32 accumulation and int32 output (scale max/(2^31 - 1)) add nothing visible.
  // Before the per-tensor scale every N(0,1/K) weight rounded to the integer 0 and
  // the error was 1.0 on every preset.
  const Graph g = build_workload("gemm:m=256,n=256,k=1024,dtype=int8");
  for (const char* hw_name : {"h100-sxm", "tpu-v1", "gemmini"}) {
    auto hw = load_hardware(hw_name, {});
    const auto p = propagate_error(g, *hw, {256, 1, "normal"});
    const double e = p["output"]["normwise_rel_err"].get<double>();
    INFO(hw_name << ": " << e);
    CHECK(e > 0.012);
    CHECK(e < 0.02);
  }
}

TEST_CASE("end to end uses the matrix unit's accumulator: one GEMM agrees with the per-op report",
          "[numerics][propagate]") {
  // A bf16 accumulator (7 fraction bits) on 4096-long dot products dominates every
  // other error (per-op 6.8e-2 against the bf16 input rounding's ~2.3e-3), so the
  // end-to-end error of one GEMM is the per-op error to within the sampling noise
  // (256 sampled outputs: a few %): 20 % apart at most. Before, the end-to-end path
  // ignored the accumulator and gave 2.9e-3 where the per-op report gave 3.7e-2.
  // (32 x 32 x 4096 products at 150 ns each: 0.63 s of emulation, inside the 1 s budget.)
  auto hw = load_hardware("tpu-v1", {"compute.formats=any", "compute.acc_dtype=bf16"});
  const Graph g = build_workload("gemm:m=32,n=32,k=4096,dtype=bf16");
  const double per_op = precision_report(g, *hw, {256, 1, "normal"})["ops"][0]["normwise_rel_err"].get<double>();
  const double e2e = propagate_error(g, *hw, {256, 1, "normal"})["output"]["normwise_rel_err"].get<double>();
  INFO("per-op " << per_op << ", end to end " << e2e);
  CHECK(per_op > 0.05);
  CHECK(e2e / per_op > 0.8);
  CHECK(e2e / per_op < 1.2);
}

TEST_CASE("V100 bf16: no bf16 tensor cores, cuBLAS's fp32 FMA chain on the widened operands",
          "[numerics][propagate]") {
  // Volta has no bf16 MMA: the per-op report and the end-to-end path both take the
  // v100_bf16 accumulator (fp32 FMAs), not a tensor-core alignment model. Over
  // K = 4096 an fp32 FMA chain adds ~sqrt(K) 2^-24 ~ 4e-6 relative, so the error is
  // the bf16 rounding of the output (2^-9 / sqrt(3) ~ 1.1e-3 normwise, per op; end
  // to end the bf16 operands' rounding adds ~2.3e-3 in quadrature): 1e-3..4e-3.
  auto hw = load_hardware("v100", {});
  CHECK(accumulation_preset_for(*hw, DType::bf16) == "v100_bf16");
  const Graph g = build_workload("gemm:m=64,n=64,k=4096,dtype=bf16");
  const auto rep = precision_report(g, *hw, {256, 1, "normal"});
  CHECK(rep["ops"][0]["preset"] == "v100_bf16");
  const double per_op = rep["ops"][0]["normwise_rel_err"].get<double>();
  const auto p = propagate_error(g, *hw, {256, 1, "normal"});
  CHECK(p["ops"][0]["path"] == "v100_bf16");
  const double e2e = p["output"]["normwise_rel_err"].get<double>();
  INFO("per-op " << per_op << ", end to end " << e2e);
  CHECK(per_op > 1e-3);
  CHECK(per_op < 4e-3);
  CHECK(e2e > per_op);
  CHECK(e2e < 4e-3);
  // The A100 has bf16 tensor cores: its own preset.
  CHECK(accumulation_preset_for(*load_hardware("a100-80gb", {}), DType::bf16) == "a100_bf16");
}

TEST_CASE("3-D convolutions and pools emulate end to end; depth 1 is the 2-D op",
          "[numerics][propagate][conv3d]") {
  auto hw = load_hardware("h100-sxm", {});
  // Explicit d = t = 1 (stride_d 1, pad_d 0) indexes the same elements as the 2-D
  // convolution: the same operand draws, the same rounding, the same report.
  const Graph g2 = build_workload("conv2d:n=2,cin=8,cout=16,h=9,r=3,stride=2,pad=1,dtype=bf16");
  const Graph g3 =
      build_workload("conv3d:n=2,cin=8,cout=16,d=1,h=9,t=1,r=3,stride=2,pad=1,stride_d=1,pad_d=0,dtype=bf16");
  const auto p2 = propagate_error(g2, *hw, {256, 1, "normal"});
  const auto p3 = propagate_error(g3, *hw, {256, 1, "normal"});
  CHECK(p3["output"].dump() == p2["output"].dump());
  // A real 3-D chain: a strided, padded Conv3d, a 3-D max pool, and a transposed
  // Conv3d (the data gradient, ConvTranspose3d) back to the input's depth. bf16
  // operands with fp32 accumulation keep each op within a few bf16 roundings
  // (2^-9 = 2.0e-3 each): below 1 % end to end; every output finite.
  Graph g;
  g.name = "conv3d_chain";
  const auto add = [&](OpKind kind, OpAttrs attrs, std::vector<int> deps) {
    return add_bf16_op(g, kind, std::move(attrs), std::move(deps));
  };
  // 4 x 6 x 10 x 10 -> 8 x 3 x 5 x 5 (stride 2 on every axis, pad 1, 3x3x3).
  const int c = add(OpKind::conv2d,
                    {{"n", 1},
                     {"cin", 4},
                     {"cout", 8},
                     {"d", 6},
                     {"h", 10},
                     {"w", 10},
                     {"t", 3},
                     {"r", 3},
                     {"s", 3},
                     {"stride", 2},
                     {"stride_d", 2},
                     {"pad", 1},
                     {"pad_d", 1}},
                    {});
  // 1x3x3 pool, stride (1, 1, 1), pad (0, 1, 1): 8 x 3 x 5 x 5 stays.
  const int p = add(OpKind::maxpool,
                    {{"n", 1},
                     {"c", 8},
                     {"d", 3},
                     {"h", 5},
                     {"w", 5},
                     {"t", 1},
                     {"r", 3},
                     {"s", 3},
                     {"stride", 1},
                     {"stride_d", 1},
                     {"pad", 1},
                     {"pad_d", 0}},
                    {c});
  // ConvTranspose3d(8, 4, 2, stride 2): 3 x 5 x 5 -> 6 x 10 x 10, as the data
  // gradient of Conv3d(4, 8, 2, stride 2) on 6 x 10 x 10.
  add(OpKind::conv2d,
      {{"n", 1},
       {"cin", 4},
       {"cout", 8},
       {"d", 6},
       {"h", 10},
       {"w", 10},
       {"t", 2},
       {"r", 2},
       {"s", 2},
       {"stride", 2},
       {"stride_d", 2},
       {"pad", 0},
       {"pad_d", 0},
       {"grad", 1},
       {"transposed", 1}},
      {p});
  validate_graph(g, "test");
  const auto r = propagate_error(g, *hw, {256, 1, "normal"});
  const double e = r["output"]["normwise_rel_err"].get<double>();
  INFO(r.dump());
  CHECK(e > 0);
  CHECK(e < 0.01);
  CHECK(r["output"]["nan"].get<double>() == 0);
  CHECK(r["output"]["inf"].get<double>() == 0);
}

TEST_CASE("windows with the width's own stride and padding emulate end to end",
          "[numerics][propagate][conv]") {
  auto hw = load_hardware("h100-sxm", {});
  // A chain over a line of 9 pixels, laid along the width (h = 1: the window's
  // width values stride_w, pad_w) or along the height (w = 1: stride, pad). With one
  // image both index their NCHW tensors and KCRS filters in the same order, so the
  // two emulations draw the same operands and must report the same errors, byte for
  // byte: any width index that took the height's stride or padding would differ.
  // Conv 4 -> 8, 7 taps, padding 3 (9 kept); Conv 8 -> 8, 3 taps, stride 2, padding 1
  // (5); max pool of 3, stride 2, padding 1 (3); ConvTranspose 8 -> 4, 3 taps, stride
  // 2, padding 1 back to 5 (the data gradient of Conv 4 -> 8 on 5).
  const auto chain = [](bool along_width) {
    Graph g;
    g.name = "line_chain";
    const auto add = [&](OpKind kind, OpAttrs attrs, int64_t len, int64_t taps, int64_t stride, int64_t pad,
                         std::vector<int> deps) {
      attrs["h"] = along_width ? 1 : len;
      attrs["w"] = along_width ? len : 1;
      attrs["r"] = along_width ? 1 : taps;
      attrs["s"] = along_width ? taps : 1;
      attrs["stride"] = along_width ? 1 : stride;
      attrs["stride_w"] = along_width ? stride : 1;
      attrs["pad"] = along_width ? 0 : pad;
      attrs["pad_w"] = along_width ? pad : 0;
      return add_bf16_op(g, kind, std::move(attrs), std::move(deps));
    };
    const int a = add(OpKind::conv2d, {{"n", 1}, {"cin", 4}, {"cout", 8}}, 9, 7, 1, 3, {});
    const int b = add(OpKind::conv2d, {{"n", 1}, {"cin", 8}, {"cout", 8}}, 9, 3, 2, 1, {a});
    const int p = add(OpKind::maxpool, {{"n", 1}, {"c", 8}}, 5, 3, 2, 1, {b});
    add(OpKind::conv2d, {{"n", 1}, {"cin", 4}, {"cout", 8}, {"grad", 1}, {"transposed", 1}}, 5, 3, 2, 1, {p});
    validate_graph(g, "test");
    return g;
  };
  const Graph w = chain(true), h = chain(false);
  CHECK(op_out_elems(w.ops[1]) == 8 * 5);
  CHECK(op_out_elems(w.ops[2]) == 8 * 3);
  CHECK(op_out_elems(w.ops[3]) == 4 * 5);
  const auto rw = propagate_error(w, *hw, {256, 1, "normal"});
  const auto rh = propagate_error(h, *hw, {256, 1, "normal"});
  INFO(rw.dump());
  CHECK(rw["output"].dump() == rh["output"].dump());
  // bf16 operands with fp32 accumulation: a few bf16 roundings (2^-9 each), below 1 %.
  const double e = rw["output"]["normwise_rel_err"].get<double>();
  CHECK(e > 0);
  CHECK(e < 0.01);
  CHECK(rw["output"]["nan"].get<double>() == 0);
}

namespace {

// propagate_error's report for one bf16 embedding of 64 random rows of a 100 x 8
// table with `extra` attributes (bags, bag_max), on h100-sxm.
nlohmann::json embedding_error(const OpAttrs& extra) {
  auto hw = load_hardware("h100-sxm", {});
  OpAttrs attrs = {{"tokens", 64}, {"dim", 8}, {"vocab", 100}, {"order", 2}};
  attrs.insert(extra.begin(), extra.end());
  Graph g;
  g.name = "embedding";
  add_bf16_op(g, OpKind::embedding, attrs, {});
  validate_graph(g, "test");
  return propagate_error(g, *hw, {256, 1, "normal"});
}

}  // namespace

TEST_CASE("an EmbeddingBag emulates its bag sums in fp32 with one rounding", "[numerics][propagate]") {
  // 64 random rows of a 100 x 8 bf16 table summed into 8 bags of 8: the table's
  // rounding to bf16 (2^-9 relative at most) and one bf16 rounding of each fp32 sum
  // (2^-9): a normwise error above 0 and below 2^-8. The rows copied without bags
  // carry the table's rounding only, also below 2^-8.
  const auto r = embedding_error({{"bags", 8}});
  INFO(r.dump());
  const double e = r["output"]["normwise_rel_err"].get<double>();
  CHECK(e > 0);
  CHECK(e < std::ldexp(1.0, -8));
  const double copied = embedding_error({})["output"]["normwise_rel_err"].get<double>();
  CHECK(copied > 0);
  CHECK(copied < std::ldexp(1.0, -8));
  CHECK(copied != e);
}

TEST_CASE("an EmbeddingBag with mode max picks table values: only the table's rounding",
          "[numerics][propagate]") {
  // The same 64 rows into 8 bags, max instead of sum: each output is one bf16 table
  // entry, so its error is the table's rounding alone (2^-9 relative at most), the
  // same bound as the rows copied without bags. 100 bags for 64 tokens leave 36
  // empty, which output 0, never -inf.
  const auto r = embedding_error({{"bags", 8}, {"bag_max", 1}});
  INFO(r.dump());
  const double e = r["output"]["normwise_rel_err"].get<double>();
  CHECK(e > 0);
  CHECK(e < std::ldexp(1.0, -8));
  const auto empty = embedding_error({{"bags", 100}, {"bag_max", 1}});
  INFO(empty.dump());
  CHECK(empty["output"]["nan"].get<double>() == 0);
  CHECK(std::isfinite(empty["output"]["normwise_rel_err"].get<double>()));
}
