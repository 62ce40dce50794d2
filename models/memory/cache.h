#pragma once
// Memory impl "cache": a GPU's L2 as the SMs see it. Every byte that enters or
// leaves an SM passes through it, so the mapper charges all shared-memory fills
// (`load l2->smem`) and write-backs (`store smem->l2`) here, beside the DRAM
// transfers of the bytes that miss. The L2 runs in the SM clock domain: its
// bandwidth is bytes_per_clock x the kernel's clock (KernelContext::clock_hz),
// and one SM's port delivers at most port_bytes_per_clock. Which bytes hit (reuse
// across thread blocks) is decided by the mapper from capacity_bytes().
#include "models/memory/memory.h"
#include "core/registry.h"

namespace tessera {

class CacheMemory : public MemoryModel {
 public:
  void bind(const Hardware& hw) override;
  double transfer_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double transfer_energy_j(const Instr& in, const Kernel& k) const override;
  // Peak at the compute model's nominal clock.
  double bandwidth_bps() const override { return m_bytes_per_clock * m_nominal_clock; }
  double capacity_bytes() const override { return m_capacity; }

 private:
  double m_capacity = 0, m_bytes_per_clock = 0, m_port_bytes_per_clock = 0, m_energy = 0;
  double m_nominal_clock = 1e9;
};

void register_cache(Registry& r);

}  // namespace tessera
