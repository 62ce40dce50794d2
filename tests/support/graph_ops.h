#pragma once
// Looking ops up by name in a graph, and a one-GEMM graph, for tests.
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

// A graph of one m x k by k x n matmul in format t (op "gemm").
inline Graph one_gemm(int64_t m, int64_t n, int64_t k, DType t = DType::bf16) {
  Graph g;
  g.name = "gemm";
  Op op;
  op.name = "gemm";
  op.kind = OpKind::matmul;
  op.dtype = op.out_dtype = t;
  op.attrs = {{"batch", 1}, {"m", m}, {"n", n}, {"k", k}};
  g.add(op);
  return g;
}

// Whether g has an op called `name`.
inline bool has_op(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return true;
  return false;
}

}  // namespace tessera::testing
