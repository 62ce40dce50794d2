#pragma once
// The `system` component: how many devices a hardware description stands for
// and how they are wired. CONTRACT (relied on by the compiler, the engines and
// the parallel workloads): a multi-device description has a top-level component
// at path `system` (impl `system`) with integer parameters `nodes` and
// `devices_per_node`; its device count is their product. The rest of the tree
// describes ONE device (compute, memory, power) and the fabric components the
// system names (links and switches, models/interconnect/link.h, switch.h).
// `--set system.nodes=N` replicates a node N times on its scale-out network.
// A description without `system` (every single-device preset) is 1 node x 1
// device. device_count() below is the one way to ask.
#include <string>
#include <vector>

#include "models/timed_unit.h"
#include "core/registry.h"

namespace tessera {

class Hardware;
class LinkModel;
class SwitchModel;

class SystemModel : public TimedUnit {
 public:
  void bind(const Hardware& hw) override;
  // A `barrier` on the system is the launch of one collective (launch_latency).
  double busy_time_s(const Instr& in) const override {
    return in.op == Opcode::barrier ? launch_latency_s() : 0;
  }

  int64_t nodes() const { return m_params.integer("nodes"); }
  int64_t devices_per_node() const { return m_params.integer("devices_per_node"); }
  int64_t devices() const { return nodes() * devices_per_node(); }
  // Scale-up (inside a node) topology: switched, cube-mesh, ring, torus2d, torus3d.
  const std::string& topology() const { return m_params.text("topology"); }
  // Torus/mesh extents of the scale-up network (product = devices_per_node);
  // {devices_per_node} for the other topologies.
  const std::vector<int64_t>& shape() const { return m_shape; }
  // Components the system names (nullptr when the description names none).
  const LinkModel* scale_up_link() const { return m_up_link; }
  const SwitchModel* scale_up_switch() const { return m_up_switch; }
  const LinkModel* scale_out_link() const { return m_out_link; }
  const SwitchModel* scale_out_switch() const { return m_out_switch; }
  // Streaming multiprocessors (or cores) a collective's reductions run on.
  int64_t reduce_units() const { return m_params.integer("reduce_units"); }
  // Fixed software latency of launching one collective (NCCL baseLat), seconds.
  double launch_latency_s() const { return m_params.real("launch_latency"); }

 private:
  std::vector<int64_t> m_shape;
  const LinkModel* m_up_link = nullptr;
  const SwitchModel* m_up_switch = nullptr;
  const LinkModel* m_out_link = nullptr;
  const SwitchModel* m_out_switch = nullptr;
};

// Devices the description stands for: system.nodes x system.devices_per_node,
// or 1 when there is no `system` component.
int device_count(const Hardware& hw);
// Devices per node (1 without a `system` component).
int devices_per_node(const Hardware& hw);
// The `system` component, or nullptr for a single-device description.
const SystemModel* find_system(const Hardware& hw);

void register_system(Registry& r);

}  // namespace tessera
