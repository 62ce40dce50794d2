#pragma once
// One-call entry points used by the CLI, compare/calibrate and tests.
#include <string>

#include "compiler/compile.h"
#include "isa/isa.h"
#include "models/hardware.h"
#include "sim/report.h"
#include "workloads/ir.h"

namespace tessera {

// Runs a compiled program on an engine ("analytic" or "systemc").
RunResult run_program(const Program& p, const Hardware& hw, const std::string& engine);
// compile + run.
RunResult simulate(const Graph& g, const Hardware& hw, const std::string& engine = "analytic");

}  // namespace tessera
