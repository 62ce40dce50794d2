#pragma once
// Building blocks of the parallel graph (parallel.cpp), internal to
// workloads/models/: the collectives with their device groups, the gradient
// buffer kernels, and the all-reduces of the optimizer's statistics.
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/ir.h"
#include "workloads/models/parallel.h"

namespace tessera::parallel_ops {

// Device stride of a group (Megatron-LM's rank order; below).
int64_t group_stride(CommGroup g, int64_t tp, int64_t dp);

// The tp and dp sizes for group_stride (set once per graph by finish_parallel_graph).
struct Layout {
  int64_t tp = 1, dp = 1;
};

// A collective of `bytes` (nccl-tests size) over `ranks` devices of `group`.
Op collective(const Layout& lay, OpKind kind, const std::string& name, DType t, int64_t bytes, int64_t ranks,
              CommGroup group);

// A memory-bound kernel over gradient buffers (below).
Op gradient_kernel(std::string name, DType in, DType out, double elems, int64_t reads, int64_t launches);

// An all-reduce of the optimizer's statistics over one group.
struct StatsReduce {
  std::string name;
  CommGroup group;
  int64_t ranks, stride;
};
// The gradient norm's (and found_inf's) all-reduces, named prefix + group.
std::vector<StatsReduce> grad_stats_reduces(const ParallelConfig& c, const std::string& prefix);
// found_inf's all-reduces (amp=fp16) for the scaler stack that runs.
std::vector<StatsReduce> found_inf_reduces(const ParallelConfig& c);

}  // namespace tessera::parallel_ops
