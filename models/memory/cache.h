#pragma once
// Memory impl "cache": a GPU's L2 as the SMs see it. Every byte that enters or
// leaves an SM passes through it, so the mapper charges all shared-memory fills
// (`load l2->smem`) and write-backs (`store smem->l2`) here, beside the DRAM
// transfers of the bytes that miss. The L2 runs in the SM clock domain: its
// bandwidth is bytes_per_clock x the kernel's clock (KernelContext::clock_hz),
// and one SM's port delivers at most port_bytes_per_clock. Which bytes hit (reuse
// across thread blocks) is decided by the mapper from capacity_bytes().
//
// Sliced L2 (`partitions` > 1, H100: two): addresses are spread over the slices of
// every partition; each partition also keeps copies of the far partitions' lines
// for the SMs attached to it (NVIDIA A100 whitepaper, "L2 cache": each partition
// "localizes and caches data for memory accesses from SMs in the GPCs directly
// connected to the partition"). A kernel re-reading a working set W
// (KernelInfo::l2_working_set) finds all of it near while W <= capacity /
// partitions; beyond, a cyclic sweep evicts the near copies before their reuse
// (LRU), so the (partitions - 1) / partitions of W homed elsewhere come over the
// partition crossbar (crossbar_bytes_per_clock), in parallel with the near share:
//   t = max(near bytes / (bytes_per_clock x clock), far bytes / (crossbar x clock)).
// Beyond the whole capacity nothing is left to re-read (reuse_hit_fraction 0).
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
  double access_bytes() const override { return m_sector; }
  // Cyclic re-reads of one working set: all of it hits while it fits; beyond the
  // capacity an LRU-replaced cache evicts every line before its next use (a sweep
  // larger than the cache misses on every line), so nothing hits.
  double reuse_hit_fraction(double bytes) const override { return bytes <= m_capacity ? 1.0 : 0.0; }
  double line_bytes() const { return m_line; }
  int partitions() const { return m_partitions; }
  // Share of the capacity that holds dirty lines after a long stream of writes
  // (a benchmark's cache flush by writing a large buffer): the bytes a following
  // kernel's line allocations must write back first (write-back cache).
  double dirty_share() const { return m_dirty_share; }
  // Share of a re-read working set of `bytes` served by another partition.
  double far_share(double bytes) const {
    return m_partitions > 1 && bytes > m_capacity / m_partitions
               ? static_cast<double>(m_partitions - 1) / m_partitions : 0.0;
  }

 private:
  double m_capacity = 0, m_bytes_per_clock = 0, m_port_bytes_per_clock = 0, m_energy = 0;
  double m_sector = 32, m_line = 128, m_crossbar = 0, m_dirty_share = 1;
  int m_partitions = 1;
  double m_nominal_clock = 1e9;
};

void register_cache(Registry& r);

}  // namespace tessera
