// ONNX through ONNX's library: opset handling. Fixtures written by
// tests/use/data/make_onnx_opsets.py with python3-onnx.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Matchers::Contains;

namespace {
const std::string kOpsetsData = std::string(TESSERA_SOURCE_DIR) + "/tests/use/data";
}

TEST_CASE("ONNX opsets: too old, operator not yet defined, version-dependent semantics", "[onnx][use]") {
  CHECK_THROWS_WITH(build_workload(kOpsetsData + "/opset6_relu.onnx"),
                    Contains("opset6_relu.onnx: opset 6 is older than 7, the oldest the importer accepts"));
  // LayerNormalization exists from opset 17.
  CHECK_THROWS_WITH(
      build_workload(kOpsetsData + "/layernorm_opset13.onnx"),
      Contains("layernorm_opset13.onnx: node 'n' (LayerNormalization): operator LayerNormalization "
               "is not defined at opset 13, the model's"));
  // Softmax over [2, 3, 4]: before opset 13 the default axis is 1 and the input is
  // flattened from it (rows 2, cols 3 x 4 = 12); from opset 13 the default axis is
  // -1 (rows 2 x 3 = 6, cols 4).
  const Graph old = build_workload(kOpsetsData + "/softmax_opset11.onnx");
  REQUIRE(old.ops.size() == 1);
  CHECK(old.ops[0].attrs.at("rows") == 2);
  CHECK(old.ops[0].attrs.at("cols") == 12);
  const Graph now = build_workload(kOpsetsData + "/softmax_opset13.onnx");
  REQUIRE(now.ops.size() == 1);
  CHECK(now.ops[0].attrs.at("rows") == 6);
  CHECK(now.ops[0].attrs.at("cols") == 4);
}
