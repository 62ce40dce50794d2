#include "sim/simulate.h"

#include "sim/engines/engine.h"

namespace tessera {

Program compile(const Graph& g, const Hardware& hw) {
  Program p;
  p.target = hw.compute().impl();
  p.hardware = hw.name;
  p.workload = g.spec.empty() ? g.name : g.spec;
  p.kernels.reserve(g.ops.size());
  for (size_t i = 0; i < g.ops.size(); ++i) {
    p.kernels.push_back(hw.compute().lower(g, static_cast<int>(i), hw));
    // Every kernel after the first is queued behind its predecessor in the same
    // stream (or graph): targets may start it sooner than an isolated launch.
    if (i > 0) p.kernels.back().attrs["queued"] = 1;
  }
  return p;
}

RunResult run_program(const Program& p, const Hardware& hw, const std::string& engine) {
  return make_engine(engine)->run(p, hw);
}

RunResult simulate(const Graph& g, const Hardware& hw, const std::string& engine) {
  return run_program(compile(g, hw), hw, engine);
}

}  // namespace tessera
