#include "sim/simulate.h"

#include "sim/engines/engine.h"

namespace tessera {

RunResult run_program(const Program& p, const Hardware& hw, const std::string& engine) {
  return make_engine(engine)->run(p, hw);
}

RunResult simulate(const Graph& g, const Hardware& hw, const std::string& engine) {
  return run_program(compile(g, hw), hw, engine);
}

}  // namespace tessera
