#pragma once
// Test helper of the parallel suites: a graph's collectives counted by
// "kind/group/pass" with the bytes they move.
#include <fmt/format.h>

#include <map>
#include <string>

#include "workloads/ir.h"

namespace tessera::testing {

struct CollCount {
  int n = 0;
  double bytes = 0;
};

inline std::map<std::string, CollCount> collectives(const Graph& g) {
  std::map<std::string, CollCount> out;
  for (const auto& op : g.ops) {
    if (!is_collective_kind(op.kind)) continue;
    auto& c = out[fmt::format("{}/{}/{}", op_kind_name(op.kind), comm_group_name(op.get("group", 0)),
                              op.get("pass", 0))];
    ++c.n;
    c.bytes += static_cast<double>(op.at("bytes"));
  }
  return out;
}

}  // namespace tessera::testing
