#include "models/interconnect/switch.h"

#include <fmt/format.h>

#include "core/error.h"
#include "models/interconnect/fabric_params.h"

namespace tessera {

TransferShape SwitchModel::reduction(const Instr& in) const {
  if (!reduces())
    throw InputError(fmt::format("{} ({}): a collective reduced in the switch needs "
                                 "in_switch_reduction: true", m_path, m_params.text("technology")));
  if (in.bytes <= 0) return {};
  const double ports_used = static_cast<double>(std::max<int64_t>(1, in.count));
  return transfer_shape(latency_s(), in, ports_used * port_payload_bw() * reduction_efficiency());
}

double SwitchModel::busy_time_s(const Instr& in) const {
  if (in.op == Opcode::barrier) return m_params.real("reduction_latency");
  if (in.bytes <= 0) return 0;
  if (in.op == Opcode::coll) return reduction(in).time_s();
  // A plain traversal: cut-through and non-blocking, its ports run at the rate of
  // the links that time the bytes, so the switch adds its latency (and energy).
  return latency_s();
}

double SwitchModel::energy_j(const Instr& in) const {
  return static_cast<double>(in.bytes) * static_cast<double>(in.count) * 8.0 *
         m_params.real("energy_per_bit");
}

void register_switch(Registry& r) {
  ParamSpec chips = p_int("chips", "1", "switch chips of the fabric (e.g. 4 NVSwitch on HGX H100)");
  chips.min = 1;
  ParamSpec ports = p_int("ports", "", "ports per chip");
  ports.min = 1;
  const FabricParams f = fabric_params("switch generation, for reports (nvswitch3, quantum2, ...)", "traversal latency",
                                       "energy of one bit through the switch");
  r.add(make_impl<SwitchModel>(
      "switch", "switch",
      "a switched fabric (NVSwitch, InfiniBand switch): ports, per-port rate, traversal latency, "
      "optional in-switch reduction (NVLS, SHARP)",
      {f.technology,
       chips, ports,
       p_qty("port_bandwidth", Unit::bytes_per_second, "", "one port's data rate in one direction"),
       p_real("port_efficiency", "1.0", "payload share of a port's rate (packet overhead of its links)"),
       f.latency,
       p_bool("in_switch_reduction", "false", "reduces and multicasts in the switch (NVLS, SHARP)"),
       p_qty("reduction_latency", Unit::seconds, "0s",
             "fixed latency of one in-switch-reduced collective (multicast setup and synchronisation)"),
       p_real("reduction_efficiency", "1.0",
              "share of the port payload rate the in-switch reduction sustains"),
       f.energy_per_bit}));
}

}  // namespace tessera
