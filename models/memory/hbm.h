#pragma once
// Memory impl "hbm": high-bandwidth DRAM stacks as a GPU's kernels see them.
//
// Achieved bandwidth depends on direction and on how much a kernel moves:
//  - reads and writes sustain fractions of the pin bandwidth that the cycle-level
//    DRAM model of the stacks' standard gives at their data rate (refresh, activates,
//    bank-group spacing; characterise.h), times a residual for what the chip adds
//    (read_residual, write_residual; 1 = none). A copy pays each direction's
//    streaming efficiency: a GPU's writes reach DRAM as L2 write-backs in long
//    batches, so read/write turnarounds are amortised;
//  - a kernel reaches the sustained rate only after its first `ramp_bytes` are in
//    flight (Little's law: loaded latency x bandwidth). A kernel that moves D bytes
//    therefore sees bandwidth bw_sustained * D / (D + ramp_bytes); every transfer of
//    that kernel is charged at that rate, so the kernel pays ramp_bytes/bw once in total;
//  - one SM cannot have more than `bytes_in_flight` (KernelInfo, set by the mapper)
//    outstanding, so a transfer of B bytes per SM takes at least B * latency / in_flight.
// Loads name the level as their source (reads), stores as their destination (writes).
// KernelInfo::dram_bytes is the total DRAM traffic of the kernel (the mapper sets it).
#include "models/memory/memory.h"
#include "core/registry.h"
#include "models/memory/dram/characterise.h"
#include "models/memory/dram/standard.h"

namespace tessera {

class HbmMemory : public MemoryModel {
 public:
  void bind(const Hardware& hw) override;
  double transfer_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double transfer_energy_j(const Instr& in, const Kernel& k) const override;
  double bandwidth_bps() const override { return m_bandwidth; }
  double capacity_bytes() const override { return m_capacity; }
  // Sustained bandwidth of a kernel that moves `kernel_bytes` in total, for reads
  // (`write` false) or writes, before the per-SM latency limit.
  double achieved_bandwidth(double kernel_bytes, bool write) const;
  double latency_s() const { return m_latency; }
  // The DRAM device behind this level: the `standard` preset run at the data rate
  // that gives `bandwidth` over `stacks` stacks (bandwidth / (stacks x pins / 8)).
  const dram::Standard& dram_standard() const { return m_std; }
  int stacks() const { return m_stacks; }
  const dram::Characterisation& characterisation() const { return m_char; }
  dram::RefreshMode refresh() const { return m_refresh; }
  const std::string& mapping() const { return m_mapping; }

 private:
  double m_bandwidth = 0, m_capacity = 0, m_read_eff = 1, m_write_eff = 1, m_ramp = 0;
  double m_latency = 0, m_e_read = 0, m_e_write = 0;
  dram::Standard m_std;
  int m_stacks = 1;
  dram::RefreshMode m_refresh = dram::RefreshMode::all_bank;
  dram::Characterisation m_char;
  std::string m_mapping;
};

void register_hbm(Registry& r);

}  // namespace tessera
