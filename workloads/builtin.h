#pragma once
// Table of built-in workloads (generic kernels and whole models).
#include "workloads/workloads.h"

namespace tessera {
// Generic single-kernel workloads (gemm, conv2d, attention, layernorm, ...).
void add_kernel_workloads(std::vector<WorkloadInfo>& out);
}  // namespace tessera
