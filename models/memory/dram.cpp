#include "models/memory/dram.h"

namespace tessera {

double DramMemory::transfer_time_s(const Instr& in, const Kernel&, const KernelContext&) const {
  if (in.bytes <= 0) return 0;
  const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count);
  return m_params.real("latency") + bytes / (bandwidth_bps() * m_params.real("efficiency"));
}

double DramMemory::transfer_energy_j(const Instr& in, const Kernel&) const {
  return static_cast<double>(in.bytes) * static_cast<double>(in.count) *
         m_params.real("energy_per_byte");
}

void register_dram(Registry& r) {
  r.add(make_impl<DramMemory>(
      "memory", "dram", "off-chip DRAM or an on-chip buffer: peak bandwidth, latency, pJ/B",
      {p_qty("bandwidth", Unit::bytes_per_second, "", "peak transfer rate").positive(),
       p_qty("capacity", Unit::bytes, "", "size of the memory").positive(),
       p_qty("latency", Unit::seconds, "0s", "fixed time added to every transfer (one per stage)").non_negative(),
       p_real("efficiency", "1.0", "fraction of the peak bandwidth that transfers achieve").fraction(),
       // Horowitz, ISSCC 2014 (45 nm): DRAM access 1.3-2.6 nJ per 64-bit word,
       // i.e. 160-320 pJ/B; the lower end is the default.
       p_qty("energy_per_byte", Unit::joules, "160pJ", "dynamic energy per byte moved").non_negative()}));
}

}  // namespace tessera
