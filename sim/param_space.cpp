#include "sim/param_space.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "models/builtin.h"
#include "workloads/workloads.h"

namespace tessera {

namespace {

// First path components of the hardware description's keys.
const std::vector<std::string>& hw_namespaces() {
  static const std::vector<std::string> names = {"compute", "memory", "power", "numerics", "name", "description",
                                                  "system", "fabric"};
  return names;
}

// The text of `map`'s scalar `key` as written; empty when absent. Const access,
// so that looking does not add keys to the description.
std::string scalar_text(const YAML::Node& map, const std::string& key) {
  if (!map || !map.IsMap()) return "";
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.as<std::string>() : "";
}

}  // namespace

RunSettings resolve_sets(const std::string& workload, const std::string& engine_spec,
                         const std::vector<std::string>& sets) {
  RunSettings r;
  r.workload = workload;
  r.engine = parse_engine_spec(engine_spec);
  for (const auto& set : sets) {
    const size_t eq = set.find('=');
    const std::string path = set.substr(0, eq);
    const size_t dot = path.find('.');
    const std::string ns = path.substr(0, dot);
    if (eq == std::string::npos ||
        std::find(hw_namespaces().begin(), hw_namespaces().end(), ns) != hw_namespaces().end()) {
      r.hw_sets.push_back(set);   // load_hardware() names the argument and key at fault
      continue;
    }
    if (ns != "workload" && ns != "engine")
      throw InputError(fmt::format("--set '{}': unknown namespace '{}'; accepted: compute, memory, power, "
                                   "numerics, system, fabric, name, description (hardware), workload, engine",
                                   set, ns));
    const std::string key = dot == std::string::npos ? "" : path.substr(dot + 1);
    const std::string value = set.substr(eq + 1);
    if (key.empty() || value.empty())
      throw InputError(fmt::format("--set '{}': expected {}.<key>=value", set, ns));
    if (ns == "engine") {
      set_engine_option(r.engine, key, value, set);
      continue;
    }
    if (r.workload.empty())
      throw InputError(fmt::format("--set '{}': needs --workload (workload.<key> sets a parameter of the "
                                   "workload spec)", set));
    r.workload = workload_spec_with(r.workload, key, value, set);
  }
  check_engine_options(r.engine);
  return r;
}

ParamSpace run_param_space(const Hardware& hw, const std::string& workload, const EngineOptions& engine) {
  ParamSpace space;
  for (const Component* c : hw.components()) {
    const ImplInfo* impl = builtin_registry().find(c->kind(), c->impl());
    if (!impl) continue;
    for (const auto& s : impl->params) {
      std::string v = scalar_text(c->node(), s.name);
      space.declare(c->path() + "." + s.name, s, v.empty() ? s.default_value : v);
    }
  }
  for (const auto& s : numerics_param_specs()) {
    std::string v = scalar_text(static_cast<const YAML::Node&>(hw.tree)["numerics"], s.name);
    space.declare("numerics." + s.name, s, v.empty() ? s.default_value : v);
  }
  if (!workload.empty())
    for (const auto& [p, v] : workload_param_values(workload)) space.declare("workload." + p.name, p.spec(), v);
  for (const auto& s : engine_param_specs())
    space.declare("engine." + s.name, s, engine_option_value(engine, s.name));
  return space;
}

RunSettings settings_of(const ParamSpace& space, const RunSettings& base) {
  RunSettings r = base;
  for (size_t i = 0; i < space.size(); ++i) {
    if (!space.changed(i)) continue;
    const std::string& path = space.path(i);
    const std::string set = path + "=" + space.value(i);
    if (path.rfind("workload.", 0) == 0)
      r.workload = workload_spec_with(r.workload, path.substr(9), space.value(i), set);
    else if (path.rfind("engine.", 0) == 0)
      set_engine_option(r.engine, path.substr(7), space.value(i), set);
    else
      r.hw_sets.push_back(set);
  }
  return r;
}

}  // namespace tessera
