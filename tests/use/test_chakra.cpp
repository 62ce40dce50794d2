// Chakra execution traces (.et): compute and collective nodes with their data and
// control dependencies. Fixtures: tests/use/data/tiny.{0,1}.et, written by
// tests/use/data/make_chakra.py with python3-protobuf (two ranks).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tests/support/cli_run.h"
#include "workloads/importers.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Matchers::Contains;

namespace {
const std::string kData = std::string(TESSERA_SOURCE_DIR) + "/tests/use/data";

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("Chakra: compute and collective nodes with their dependencies", "[chakra][import]") {
  const Graph g = build_workload(kData + "/tiny.0.et");
  // Six nodes, listed out of order: mm(1) -> relu(2) -> load_weights(3, MEM_LOAD:
  // no kernel) -> fused_optimizer_kernel(4) -> all_reduce(5) -ctrl-> mm(6).
  REQUIRE(g.ops.size() == 5);
  CHECK(g.ops[0].kind == OpKind::matmul);
  CHECK(g.ops[0].attrs.at("m") == 256);
  CHECK(g.ops[0].attrs.at("k") == 512);
  CHECK(g.ops[0].attrs.at("n") == 1024);
  CHECK(g.ops[0].dtype == DType::bf16);
  CHECK(g.ops[0].deps.empty());
  CHECK(g.ops[1].kind == OpKind::relu);
  CHECK(g.ops[1].attrs.at("rows") == 256);
  CHECK(g.ops[1].attrs.at("cols") == 1024);
  CHECK(g.ops[1].deps == std::vector<int>{0});
  // No shapes and no kind: a copy of its tensor_size bytes (16 MiB = 2 x 4 B x 2097152).
  CHECK(g.ops[2].kind == OpKind::copy);
  CHECK(g.ops[2].attrs.at("cols") == 2097152);
  CHECK(g.ops[2].deps == std::vector<int>{1});   // through the MEM_LOAD node
  CHECK(g.ops[3].kind == OpKind::allreduce);
  CHECK(g.ops[3].attrs.at("bytes") == 1048576);
  CHECK(g.ops[3].attrs.at("ranks") == 2);        // tiny.0.et and tiny.1.et
  CHECK(g.ops[3].deps == std::vector<int>{2});
  CHECK(g.ops[4].kind == OpKind::matmul);
  CHECK(g.ops[4].attrs.at("k") == 1024);
  CHECK(g.ops[4].deps == std::vector<int>{3});   // a control dependency
  CHECK(g.info.at("chakra_unmapped_compute") == 1);
  CHECK(g.info.at("chakra_passthrough") == 1);

  const auto r = testing::run_cli({"run", "--hw", "h100-sxm", "--workload", kData + "/tiny.0.et"});
  CHECK(r.code == 0);
  CHECK(r.out.find("allreduce") != std::string::npos);
}

TEST_CASE("Chakra: malformed traces are input errors naming the file", "[chakra][import][errors]") {
  CHECK_THROWS_WITH(parse_chakra("", "e.et", 2), "e.et: the file is empty");
  const std::string bytes = slurp(kData + "/tiny.0.et");
  REQUIRE(bytes.size() > 100);
  // The first message (GlobalMetadata) announces more bytes than follow.
  CHECK_THROWS_WITH(parse_chakra(bytes.substr(0, 3), "cut.et", 2),
                    Contains("cut.et: malformed Chakra trace at byte 0: message 0 runs past the end"));
  for (size_t cut : {bytes.size() / 2, bytes.size() - 5}) {
    INFO(cut);
    CHECK_THROWS_AS(parse_chakra(bytes.substr(0, cut), "cut.et", 2), InputError);
  }
  // Without rank files a collective cannot be sized.
  CHECK_THROWS_WITH(parse_chakra(bytes, "one.et", 0),
                    Contains("one.et: node 5 'all_reduce': a collective needs the number of ranks"));
}
