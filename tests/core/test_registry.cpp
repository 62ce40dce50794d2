#include <catch2/catch.hpp>

#include "models/memory/dram.h"
#include "models/builtin.h"

using namespace tessera;

TEST_CASE("the builtin registry holds every component kind", "[registry]") {
  const Registry& r = builtin_registry();
  const auto kinds = r.kinds();
  CHECK(std::find(kinds.begin(), kinds.end(), "compute") != kinds.end());
  CHECK(std::find(kinds.begin(), kinds.end(), "memory") != kinds.end());
  CHECK(std::find(kinds.begin(), kinds.end(), "power") != kinds.end());
  const ImplInfo* dram = r.find("memory", "dram");
  REQUIRE(dram);
  // Every parameter is declared with a description; required ones have no default.
  for (const auto& impl : r.all())
    for (const auto& p : impl.params) {
      INFO(impl.kind << "/" << impl.name << "." << p.name);
      CHECK_FALSE(p.description.empty());
    }
  CHECK(dram->params.front().name == "bandwidth");
  CHECK(dram->params.front().required());
  CHECK(r.find("memory", "no-such") == nullptr);
  CHECK(r.find("compute", "systolic") != nullptr);
}

TEST_CASE("a duplicate registration is a programming error", "[registry]") {
  Registry r;
  register_dram(r);
  CHECK_THROWS_AS(register_dram(r), std::logic_error);
}
