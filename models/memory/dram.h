#pragma once
// Memory impl "dram": a level with a peak bandwidth, a fixed access latency and
// an energy per byte. Transfer time = latency + bytes / (bandwidth * efficiency).
#include "models/memory/memory.h"
#include "core/registry.h"

namespace tessera {

class DramMemory : public MemoryModel {
 public:
  double transfer_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double transfer_energy_j(const Instr& in, const Kernel& k) const override;
  double bandwidth_bps() const override { return m_params.real("bandwidth"); }
  double capacity_bytes() const override { return m_params.real("capacity"); }
};

void register_dram(Registry& r);

}  // namespace tessera
