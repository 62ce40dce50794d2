#pragma once
// Component kind `link`: one class of point-to-point links of a device (its
// NVLinks, its PCIe port, its InfiniBand NIC, its TPU ICI ports). A link is a
// transfer lane of its own in the engines (models/compute/stage_cost.h): the
// time it is busy overlaps the device's memory transfers and compute under the
// pipeline rule instead of adding to the compute phase.
//
// Rates: `bandwidth` is one link's data rate in one direction after line coding
// (e.g. NVLink 4: 2 lanes x 100 Gb/s PAM4 = 25 GB/s); `links` of them attach a
// device. Packets carry `payload` bytes behind `overhead` bytes of header, CRC
// and framing, so the payload rate of one link is
//   bandwidth x payload / (payload + overhead)            (protocol efficiency)
// Instruction semantics (send/recv/coll occupying the link):
//   busy = latency + step_latency(protocol)
//          + bytes x count / (min(count, links) x payload rate x protocol share)
// where `count` is how many of the device's links carry copies in parallel, the
// protocol is the instruction's name (ll, ll128, simple; empty = simple) and its
// share of the payload is data_share() (collective.h).
#include <string>

#include "models/interconnect/transfer.h"
#include "models/timed_unit.h"
#include "core/registry.h"

namespace tessera {

class LinkModel : public TimedUnit {
 public:
  void bind(const Hardware& hw) override;
  double busy_time_s(const Instr& in) const override { return transfer(in).time_s(); }
  double energy_j(const Instr& in) const override;
  bool is_transfer_lane() const override { return true; }
  // A send's fixed latency, bytes and rate (busy_time_s = its time_s()).
  TransferShape transfer(const Instr& in) const;

  const std::string& technology() const { return m_params.text("technology"); }
  int64_t links() const { return m_params.integer("links"); }
  // One link, one direction, after line coding (B/s).
  double link_bandwidth() const { return m_params.real("bandwidth"); }
  // payload / (payload + overhead).
  double efficiency() const;
  // Payload rate of all the device's links, one direction (B/s).
  double device_payload_bw() const { return link_bandwidth() * efficiency() * static_cast<double>(links()); }
  double latency_s() const { return m_params.real("latency"); }
  // Latency of one collective step over this link with `protocol` (ll, ll128, simple).
  double step_latency_s(const std::string& protocol) const;
  double energy_per_bit() const { return m_params.real("energy_per_bit"); }
};

void register_link(Registry& r);

}  // namespace tessera
