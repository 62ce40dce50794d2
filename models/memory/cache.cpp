#include "models/memory/cache.h"

#include <algorithm>

#include "models/hardware.h"

namespace tessera {

void CacheMemory::bind(const Hardware& hw) {
  m_capacity = m_params.real("capacity");
  m_bytes_per_clock = m_params.real("bytes_per_clock");
  m_port_bytes_per_clock = m_params.real("port_bytes_per_clock");
  m_energy = m_params.real("energy_per_byte");
  m_nominal_clock = hw.compute().nominal_clock_hz();
}

double CacheMemory::transfer_time_s(const Instr& in, const Kernel&, const KernelContext& c) const {
  if (in.bytes <= 0 || in.count <= 0) return 0;
  const double clock = c.clock_hz > 0 ? c.clock_hz : m_nominal_clock;
  const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count);
  // `count` copies are served by different SM ports in parallel; the slices
  // together deliver bytes_per_clock.
  const double t_total = bytes / (m_bytes_per_clock * clock);
  const double t_port = static_cast<double>(in.bytes) / (m_port_bytes_per_clock * clock);
  return std::max(t_total, t_port);
}

double CacheMemory::transfer_energy_j(const Instr& in, const Kernel&) const {
  return static_cast<double>(in.bytes) * static_cast<double>(in.count) * m_energy;
}

void register_cache(Registry& r) {
  r.add(make_impl<CacheMemory>(
      "memory", "cache",
      "GPU L2: capacity (reuse across thread blocks), bytes per SM clock, per-SM port, energy "
      "per byte",
      {// NVIDIA H100 whitepaper: 50 MB L2 on H100 SXM5 (52428800 B in the info record).
       p_qty("capacity", Unit::bytes, "50MiB", "capacity").positive(),
       // NVIDIA A100 whitepaper: L2 read bandwidth 5120 B/clk; no figure is published
       // for H100, so the A100 figure is kept.
       p_int("bytes_per_clock", "5120", "bytes per SM clock all slices deliver together").positive(),
       // One SM's L1/TMA port: 64 B/clk (A100/H100 whitepapers, L1 fill bandwidth per SM).
       p_int("port_bytes_per_clock", "64", "bytes per clock one SM can receive").positive(),
       // Fitted: energy2 copy_l2_resident_8MiB_x50, pJ/B above idle.
       p_qty("energy_per_byte", Unit::joules, "35pJ", "dynamic energy per byte (fitted)").non_negative()}));
}

}  // namespace tessera
