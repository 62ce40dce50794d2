#pragma once
// The compiler stage: lowers a workload's graph IR to an ISA program for one
// hardware description, one kernel per op, with the dependencies between kernels
// taken from the ops' producers.
#include <string_view>

#include "isa/isa.h"
#include "models/hardware.h"
#include "workloads/ir.h"

namespace tessera {

// Compiles every op of `g` for the hardware's compute target with the mapper of
// its compute impl (compiler/mapper.h).
Program compile(const Graph& g, const Hardware& hw);

// Throws InputError (naming `source`, both identities and how to recompile)
// unless `p` was compiled for `hw`: the same compute target and hardware name,
// and, when the program records one, the same description digest
// (Hardware::digest; a program without it is checked by target and name).
void check_program_hardware(const Program& p, const Hardware& hw, std::string_view source);

}  // namespace tessera
