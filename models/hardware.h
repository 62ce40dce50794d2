#pragma once
// A hardware description: a YAML tree shaped like the component tree.
//
//   name: h100-sxm
//   description: ...
//   compute: {impl: tensorcore, ...}      one compute component
//   memory:                               memory levels, outermost last
//     l2:   {impl: cache, ...}
//     dram: {impl: hbm, ...}
//   power: {impl: board, ...}
//
// Presets live in configs/hw/<name>.yaml; `--hw` takes a preset name or a path.
// `--set path.to.key=value` overrides a key before the components are built.
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/compute/compute.h"
#include "models/memory/memory.h"
#include "models/power/power.h"

namespace tessera {

class Hardware {
 public:
  std::string name;
  std::string description;
  std::string source;                 // file it was loaded from
  YAML::Node tree;                    // resolved tree (after --set)

  const ComputeModel& compute() const { return *m_compute; }
  const PowerModel& power() const { return *m_power; }
  // Memory levels in the order declared (innermost first).
  const std::vector<std::pair<std::string, std::unique_ptr<MemoryModel>>>& memories() const {
    return m_memories;
  }
  const MemoryModel* memory(std::string_view level) const;   // nullptr if absent
  // Every component of the tree, in the description's order.
  std::vector<const Component*> components() const;
  std::string memory_names() const;
  const MemoryModel& outermost_memory() const { return *m_memories.back().second; }

  std::unique_ptr<ComputeModel> m_compute;
  std::vector<std::pair<std::string, std::unique_ptr<MemoryModel>>> m_memories;
  std::unique_ptr<PowerModel> m_power;
};

// Parameters of the optional `numerics:` section of a hardware description.
const std::vector<ParamSpec>& numerics_param_specs();

// Directory of the presets (configs/hw in the source tree, or $TESSERA_CONFIG_DIR).
std::string hw_preset_dir();
std::vector<std::string> hw_preset_names();
// Loads a preset name or a YAML path, applies `sets` ("a.b=c"), builds and binds
// every component. Throws InputError naming the file, key and value at fault.
std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets);
// Builds from an already-parsed tree (used by SCALE-Sim .cfg import and tests).
std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets);
// Translates a SCALE-Sim .cfg file into a hardware tree (a `systolic` compute
// component, its scratchpads and the off-chip interface).
YAML::Node scalesim_cfg_tree(const std::string& path);

}  // namespace tessera
