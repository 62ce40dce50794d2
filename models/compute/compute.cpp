#include "models/compute/compute.h"

#include "workloads/ir.h"

namespace tessera {

DType ComputeModel::operand_dtype(const Op& op) const { return op.dtype; }

}  // namespace tessera
