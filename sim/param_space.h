#pragma once
// The parameter space of a run: every settable parameter under one path, as
// `--set path=value` and `tessera list params` address it.
//
//   <component path>.<key>   hardware (compute.max_clock, memory.dram.bandwidth)
//   numerics.<key>           the hardware's optional numerics section
//   workload.<key>           a built-in workload's parameters (and train, optimizer)
//   engine.<key>             engine.name, engine.streams
//
#include <string>
#include <vector>

#include "core/params.h"
#include "models/hardware.h"
#include "sim/engines/engine.h"

namespace tessera {

// What the `--set` arguments of a run resolve to: the hardware ones go to
// load_hardware(), the workload ones are folded into the workload spec (as if
// written there), the engine ones into the engine options.
struct RunSettings {
  std::string workload;              // the spec with workload.* applied
  EngineOptions engine;
  std::vector<std::string> hw_sets;  // "path.to.key=value", in the order given
};

// Routes `sets` by their first path component. Throws InputError naming the
// `--set` argument: unknown namespace, unknown key, value not of the declared
// type, workload.* on an imported workload, engine options that do not combine.
// `workload` may be empty (no workload: workload.* is an error).
RunSettings resolve_sets(const std::string& workload, const std::string& engine_spec,
                         const std::vector<std::string>& sets);

// Every parameter of `hw` (components in the description's order, each one's
// declared keys in order, then numerics.*), of the built-in workload `workload`
// (none when empty or an imported file) and of the engine, with current values.
ParamSpace run_param_space(const Hardware& hw, const std::string& workload, const EngineOptions& engine);

// The settings a space stands for: its changed hardware paths as `--set`s, its
// changed workload keys folded into `base.workload`, its engine values.
RunSettings settings_of(const ParamSpace& space, const RunSettings& base);

}  // namespace tessera
