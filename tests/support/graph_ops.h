#pragma once
// Looking ops up by name in a graph, for tests.
#include <catch2/catch.hpp>
#include <string>

#include "workloads/ir.h"

namespace tessera::testing {

// The op called `name` of g; fails the test when g has none.
inline const Op& find_op(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return op;
  FAIL("no op named " << name);
  return g.ops.front();
}

// Whether g has an op called `name`.
inline bool has_op(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return true;
  return false;
}

}  // namespace tessera::testing
