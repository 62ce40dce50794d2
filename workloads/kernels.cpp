// Generic single-kernel workloads.
#include <fmt/format.h>

#include "workloads/builtin.h"

namespace tessera {
namespace {

Graph build_gemm(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "gemm";
  Op op;
  op.name = "gemm";
  op.kind = OpKind::matmul;
  op.dtype = wl_dtype(p, "dtype");
  // Output format as the libraries produce it: int8 -> int32, fp8 -> bf16, others keep
  // their input format (the reference measurements' convention).
  switch (op.dtype) {
    case DType::int8: case DType::int4: case DType::uint8: case DType::ternary:
      op.out_dtype = DType::int32; break;
    case DType::fp8_e4m3: case DType::fp8_e5m2: case DType::fp6_e3m2: case DType::fp6_e2m3:
    case DType::fp4_e2m1: case DType::mxfp8: case DType::mxfp6: case DType::mxfp4:
    case DType::nvfp4:
      op.out_dtype = DType::bf16; break;
    default:
      op.out_dtype = op.dtype;
  }
  op.attrs = {{"batch", wl_int(p, "batch")}, {"m", wl_int(p, "m")}, {"n", wl_int(p, "n")},
              {"k", wl_int(p, "k")}};
  g.add(op);
  return g;
}

}  // namespace

void add_kernel_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"gemm", "C = A*B with A m x k and B k x n (batched when batch > 1)",
                 {{"m", "", "rows of A and C"},
                  {"n", "", "columns of B and C"},
                  {"k", "", "reduction dimension"},
                  {"batch", "1", "independent products"},
                  {"dtype", "bf16", "operand format"}},
                 build_gemm});
}

const std::vector<WorkloadInfo>& builtin_workloads() {
  static const std::vector<WorkloadInfo> table = [] {
    std::vector<WorkloadInfo> t;
    add_kernel_workloads(t);
    return t;
  }();
  return table;
}

}  // namespace tessera
