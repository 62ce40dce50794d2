#pragma once
// A hardware description: a YAML tree of components addressed by path.
//
//   name: h100-sxm
//   description: ...
//   base: h100-sxm                        optional: start from another description
//   compute: {impl: tensorcore, ...}      the compute component (required)
//   memory:                               memory levels, innermost first (required)
//     l2:   {impl: cache, ...}
//     dram: {impl: hbm, ...}
//   power: {impl: board, ...}             required
//   numerics: {family: h100}              optional parameters (no impl)
//   fabric:                               any other key: more components
//     nvswitch0: {impl: ..., ...}
//   devices:
//     - compute: {impl: ..., ...}         addressed as devices[0].compute
//
// Every YAML map with `impl:` is a component, at any depth; maps and sequences
// without `impl:` group components. A component's path joins the keys leading to
// it with '.', and a sequence element is `[i]` (e.g. memory.hbm.channel[5]). The
// kind of a component is its implementation's registered kind (implementation
// names are unique across kinds; `impl: KIND/NAME` also works); under `compute`,
// `memory` and `power` the kind must be that one. The memory levels are the
// memory components under `memory`, in the order declared; a level's name is its
// path without the leading "memory." (e.g. "dram", "hbm.channel[5]").
//
// `base: NAME-or-PATH` merges this file over another description (a preset name,
// or a path relative to this file when it contains '/' or ends in .yaml): maps
// merge key by key, everything else replaces; a component whose `impl:` changes
// is replaced as a whole. Bases may have bases.
//
// Presets live in configs/hw/<name>.yaml; `--hw` takes a preset name or a path.
// `--set path.to.key=value` overrides a key before the components are built.
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/registry.h"
#include "models/compute/compute.h"
#include "models/memory/memory.h"
#include "models/power/power.h"

namespace tessera {

class Hardware {
 public:
  std::string name;
  std::string description;
  std::string source;                 // file it was loaded from
  YAML::Node tree;                    // resolved tree (after base and --set)
  // Identity of the resolved description (16 hex digits, FNV-1a 64 of the tree
  // written as YAML with its keys sorted): programs record it (Program::hw_digest)
  // and run only on hardware with the same digest.
  std::string digest;

  const ComputeModel& compute() const { return *m_compute; }
  const PowerModel& power() const { return *m_power; }
  // Memory levels in the order declared (innermost first).
  const std::vector<std::pair<std::string, std::unique_ptr<MemoryModel>>>& memories() const {
    return m_memories;
  }
  const MemoryModel* memory(std::string_view level) const;   // nullptr if absent
  // Every component of the tree, in the description's order.
  std::vector<const Component*> components() const { return m_tree; }
  std::string memory_names() const;
  const MemoryModel& outermost_memory() const { return *m_memories.back().second; }
  // Name of `m` among the memory levels; nullptr when it is not a level.
  const std::string* level_name(const Component* m) const;

  // The component at `path` if there is one and it is a T; nullptr otherwise.
  template <class T = Component>
  const T* find(std::string_view path) const {
    for (const Component* c : m_tree)
      if (c->path() == path) return dynamic_cast<const T*>(c);
    return nullptr;
  }
  // As find(), but throws InputError naming the path, the source and the paths
  // there are when there is no such component or it is not a T.
  template <class T = Component>
  const T& get(std::string_view path) const {
    if (const T* c = find<T>(path)) return *c;
    fail_get(path, find<Component>(path));
  }
  // Paths of every component, comma-separated (for messages).
  std::string component_paths() const;

  std::unique_ptr<ComputeModel> m_compute;
  std::vector<std::pair<std::string, std::unique_ptr<MemoryModel>>> m_memories;
  std::unique_ptr<PowerModel> m_power;
  std::vector<std::unique_ptr<Component>> m_others;   // every other component
  std::vector<const Component*> m_tree;               // all of them, description order

 private:
  [[noreturn]] void fail_get(std::string_view path, const Component* found) const;
};

// Parameters of the optional `numerics:` section of a hardware description.
const std::vector<ParamSpec>& numerics_param_specs();

// Directory of the presets (configs/hw in the source tree, or $TESSERA_CONFIG_DIR).
std::string hw_preset_dir();
std::vector<std::string> hw_preset_names();
// Loads a preset name or a YAML path (resolving `base:`), applies `sets`
// ("a.b=c"), builds and binds every component with the implementations of
// `registry`. Throws InputError naming the file, key and value at fault.
std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets);
std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets,
                                        const Registry& registry);
// Reads a YAML description and resolves its `base:` chain into one tree (no
// components built). Throws InputError for malformed YAML, a missing base or a cycle.
YAML::Node load_hardware_tree(const std::string& path);
// Builds from an already-parsed tree (used by SCALE-Sim .cfg import and tests).
// The tree's own `base:` is not resolved here (load_hardware_tree does that).
std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets);
std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets,
                                         const Registry& registry);
// Translates a SCALE-Sim .cfg file into a hardware tree (a `systolic` compute
// component, its scratchpads and the off-chip interface).
YAML::Node scalesim_cfg_tree(const std::string& path);

}  // namespace tessera
