#include "models/memory/cache.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

#include "models/hardware.h"

namespace tessera {

void CacheMemory::bind(const Hardware& hw) {
  m_capacity = m_params.real("capacity");
  m_bytes_per_clock = m_params.real("bytes_per_clock");
  m_port_bytes_per_clock = m_params.real("port_bytes_per_clock");
  m_energy = m_params.real("energy_per_byte");
  m_sector = static_cast<double>(m_params.integer("sector_bytes"));
  m_line = static_cast<double>(m_params.integer("line_bytes"));
  m_partitions = static_cast<int>(m_params.integer("partitions"));
  m_crossbar = static_cast<double>(m_params.integer("crossbar_bytes_per_clock"));
  m_dirty_share = m_params.real("dirty_share");
  if (static_cast<int64_t>(m_line) % static_cast<int64_t>(m_sector) != 0)
    throw InputError(fmt::format("{}: line_bytes = {} is not a multiple of sector_bytes = {}",
                                 path().empty() ? "memory" : path(), m_line, m_sector));
  m_nominal_clock = hw.compute().nominal_clock_hz();
}

double CacheMemory::transfer_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const {
  if (in.bytes <= 0 || in.count <= 0) return 0;
  const double clock = c.clock_hz > 0 ? c.clock_hz : m_nominal_clock;
  const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count);
  // `count` copies are served by different SM ports in parallel; the slices
  // together deliver bytes_per_clock.
  // Re-reads of a working set beyond one partition: the far share crosses over.
  const double far = (in.op == Opcode::load && k.info.l2_working_set) ? far_share(*k.info.l2_working_set) : 0.0;
  const double t_total = std::max((1.0 - far) * bytes / (m_bytes_per_clock * clock),
                                  far > 0 ? far * bytes / (m_crossbar * clock) : 0.0);
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
       // NVIDIA Nsight Compute kernel profiling guide (memory tables): L1 and L2 lines of
       // 128 B in four 32 B sectors, the unit of an L2 <-> DRAM access (Volta .. Hopper).
       p_int("sector_bytes", "32", "bytes of one sector, the unit a scattered access moves").positive().power_of_two(),
       p_int("line_bytes", "128", "bytes of one cache line (a multiple of the sector)").positive().power_of_two(),
       // NVIDIA H100 whitepaper / Chips and Cheese, "Nvidia's H100: Funny L2, and Tons of
       // Bandwidth" (2023): the L2 is two partitions; an SM sees about half of it at
       // near latency. 1 = one uniform L2 (the default for other chips).
       p_int("partitions", "1", "L2 partitions; SMs keep near copies of far lines").range(1, 64),
       // Assumption (no public figure for the link between the partitions): a quarter
       // of the slices' bandwidth, so a cyclic re-read of a working set between half and
       // all of the L2 runs at half the near rate; the l2sweep compare records of both
       // sides of the capacity/2 edge are where it is checked.
       p_int("crossbar_bytes_per_clock", "1280",
             "bytes per SM clock the partitions exchange (reads of lines homed in a far partition)").positive(),
       // Fitted (tessera calibrate, step 1): the cold read_sum records of the shared
       // H100 file, timed right after a 256 MiB fill_ of a flush buffer, need
       // 7-8 us more than a pure read stream from 64 MiB up and about half of that at
       // 32 MiB, while copies, whose own written lines stay in the L2 in place of
       // the flushed ones, need none: the write-back of the flush's dirty lines.
       // Physical range (0, 1]; 1 = every line of the L2 dirty.
       p_real("dirty_share", "1",
              "share of the capacity left dirty by a long write stream (written back by the "
              "next kernel's allocations; fitted)").positive().at_most(1),
       // Fitted: energy2 copy_l2_resident_8MiB_x50, pJ/B above idle.
       p_qty("energy_per_byte", Unit::joules, "35pJ", "dynamic energy per byte (fitted)").non_negative()}));
}

}  // namespace tessera
