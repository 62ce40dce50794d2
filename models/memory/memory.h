#pragma once
// Component kind "memory": one level of the memory system outside the compute
// units (DRAM, HBM, an L2 or a shared scratchpad). Loads name it as their
// source and stores as their destination; the engine charges the transfer to it.
#include "isa/isa.h"
#include "models/compute/compute.h"
#include "core/component.h"

namespace tessera {

class MemoryModel : public Component {
 public:
  // Time the level needs to serve one load/store (all `count` copies), in seconds,
  // when it is otherwise idle.
  virtual double transfer_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const = 0;
  virtual double transfer_energy_j(const Instr& in, const Kernel& k) const = 0;
  virtual double bandwidth_bps() const = 0;   // peak, bytes per second
  virtual double capacity_bytes() const = 0;
  // Smallest unit the level moves for a scattered access (a cache's sector), bytes;
  // 1: byte-addressed (a DRAM level's own burst granularity is in its model).
  virtual double access_bytes() const { return 1; }
  // Share of a working set of `bytes` read again right after it was read once
  // (no flush between, as in a loop over one tensor) that the level still holds:
  // 0 for a level that caches nothing.
  virtual double reuse_hit_fraction(double /*bytes*/) const { return 0; }
};

}  // namespace tessera
