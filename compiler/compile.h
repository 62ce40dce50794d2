#pragma once
// The compiler stage: lowers a workload's graph IR to an ISA program for one
// hardware description, one kernel per op, with the dependencies between kernels
// taken from the ops' producers.
#include "isa/isa.h"
#include "models/hardware.h"
#include "workloads/ir.h"

namespace tessera {

// Compiles every op of `g` for the hardware's compute target with the mapper of
// its compute impl (compiler/mapper.h).
Program compile(const Graph& g, const Hardware& hw);

}  // namespace tessera
