#include "models/interconnect/link.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "models/hardware.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/fabric_params.h"

namespace tessera {

double LinkModel::efficiency() const {
  const double payload = m_params.real("payload");
  return payload / (payload + m_params.real("overhead"));
}

void LinkModel::bind(const Hardware& hw) {
  const auto bad = [&](const std::string& key, const std::string& why) {
    throw InputError(fmt::format("{}: {}.{}: {}", hw.source, m_path, key, why));
  };
  if (!(link_bandwidth() > 0)) bad("bandwidth", "must be > 0 (one link, one direction)");
  if (links() < 1) bad("links", "must be >= 1");
  if (!(m_params.real("payload") > 0)) bad("payload", "must be > 0 bytes");
  if (!(m_params.real("overhead") >= 0)) bad("overhead", "must be >= 0 bytes");
  for (const char* k : {"latency", "energy_per_bit", "step_latency_ll", "step_latency_ll128",
                        "step_latency_simple"})
    if (!(m_params.real(k) >= 0)) bad(k, "must be >= 0");
}

double LinkModel::step_latency_s(const std::string& protocol) const {
  if (protocol == "ll") return m_params.real("step_latency_ll");
  if (protocol == "ll128") return m_params.real("step_latency_ll128");
  return m_params.real("step_latency_simple");
}

TransferShape LinkModel::transfer(const Instr& in) const {
  if (in.bytes <= 0) return {};
  const std::string proto = in.name.empty() ? "simple" : in.name;
  const double lanes = static_cast<double>(std::clamp<int64_t>(in.count, 1, links()));
  return transfer_shape(latency_s() + step_latency_s(proto), in,
                        lanes * (link_bandwidth() * efficiency() * protocol_data_share(proto)));
}

double LinkModel::energy_j(const Instr& in) const {
  // Every bit on the wire (payload and packet overhead) costs energy_per_bit.
  const std::string proto = in.name.empty() ? "simple" : in.name;
  const double wire_bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count) /
                            (efficiency() * protocol_data_share(proto));
  return wire_bytes * 8.0 * energy_per_bit();
}

void register_link(Registry& r) {
  ParamSpec links = p_int("links", "1", "links of this kind attaching one device (e.g. 18 NVLinks on H100)");
  links.min = 1;
  const FabricParams f = fabric_params("link technology, for reports (nvlink4, pcie5, ib-ndr, ici-v4, ...)",
                                       "one hop: wire, SerDes and port latency (added to every transfer)",
                                       "energy of one bit on the wire (both ends)");
  r.add(make_impl<LinkModel>(
      "link", "link",
      "point-to-point links of a device (NVLink, PCIe, InfiniBand/Ethernet NIC, TPU ICI): "
      "per-direction rate, packet overhead, latency, energy per bit",
      {f.technology,
       p_qty("bandwidth", Unit::bytes_per_second, "", "one link's data rate in one direction, after line coding"),
       links,
       p_qty("payload", Unit::bytes, "256B", "payload bytes of one packet"),
       p_qty("overhead", Unit::bytes, "0B", "header, CRC and framing bytes per packet"),
       f.latency,
       f.energy_per_bit,
       // NCCL src/graph/tuning.cc hwLat[NVLINK][Ring] = {.6, 1.25, 4} us for LL,
       // LL128 and Simple (the time of one ring step besides its bytes); presets
       // for PCIe and network links give that table's PCI and NET rows.
       p_qty("step_latency_ll", Unit::seconds, "0.6us", "latency of one collective step, LL protocol"),
       p_qty("step_latency_ll128", Unit::seconds, "1.25us", "latency of one collective step, LL128 protocol"),
       p_qty("step_latency_simple", Unit::seconds, "4us", "latency of one collective step, Simple protocol")}));
}

}  // namespace tessera
