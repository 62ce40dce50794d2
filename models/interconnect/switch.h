#pragma once
// Component kind `switch`: a switched fabric (the NVSwitch chips of an HGX
// board, an InfiniBand leaf/spine switch). Devices attach through their links;
// the switch adds its traversal latency and, where it reduces in the fabric
// (NVLink SHARP "NVLS" on third-generation NVSwitch, InfiniBand SHARP), it is
// the unit that times the in-switch reduction and multicast:
//   busy = latency + bytes x count / (count x port payload rate x reduction_efficiency)
// for a `coll` instruction carrying `bytes` per port over `count` ports (one
// per device link), where the port payload rate is port_bandwidth x
// port_efficiency. A `send` through the switch (a traversal; the links time its
// bytes) is busy for the switch's latency only: the switch is non-blocking.
// A switch without in-switch reduction refuses `coll`. A
// `barrier` on the switch is the fixed latency of one in-switch-reduced
// collective (reduction_latency).
#include "core/registry.h"
#include "models/interconnect/transfer.h"
#include "models/timed_unit.h"

namespace tessera {

class SwitchModel : public TimedUnit {
 public:
  double busy_time_s(const Instr& in) const override;
  // An in-switch reduction's (`coll`) fixed latency, bytes and rate; throws
  // InputError when the switch does not reduce.
  TransferShape reduction(const Instr& in) const;
  double energy_j(const Instr& in) const override;
  bool is_transfer_lane() const override { return true; }

  int64_t chips() const { return m_params.integer("chips"); }
  int64_t ports() const { return m_params.integer("ports"); }
  double port_bandwidth() const { return m_params.real("port_bandwidth"); }
  double port_payload_bw() const { return port_bandwidth() * m_params.real("port_efficiency"); }
  bool reduces() const { return m_params.flag("in_switch_reduction"); }
  double reduction_efficiency() const { return m_params.real("reduction_efficiency"); }
  double latency_s() const { return m_params.real("latency"); }
  // Aggregate one-direction bandwidth of all ports of all chips (B/s).
  double aggregate_bw() const {
    return port_bandwidth() * static_cast<double>(ports() * chips());
  }
};

void register_switch(Registry& r);

}  // namespace tessera
