#include "models/memory/hbm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/memory/dram/address_map.h"
#include "models/memory/dram/characterise.h"

namespace tessera {

void HbmMemory::bind(const Hardware&) {
  m_bandwidth = m_params.real("bandwidth");
  m_capacity = m_params.real("capacity");
  m_ramp = m_params.real("ramp_bytes");
  m_latency = m_params.real("latency");
  m_e_read = m_params.real("energy_read");
  m_e_write = m_params.real("energy_write");
  m_stacks = static_cast<int>(m_params.integer("stacks"));
  const std::string where = fmt::format("{}: standard", path().empty() ? "memory" : path());
  const dram::Standard& base = dram::standard(m_params.text("standard"), where);
  // Data rate per pin that gives the declared bandwidth over `stacks` stacks.
  const double pins = static_cast<double>(base.org.pcs()) * base.org.dq * m_stacks;
  const double rate_mtps = m_bandwidth * 8.0 / pins / 1e6;
  m_std = dram::at_rate(base, rate_mtps);
  dram::validate(m_std, where);
  // Sustained efficiencies come from the cycle model (once per preset and rate);
  // the residuals are what the GPU adds on top (1: nothing).
  const std::string refresh = m_params.text("refresh");
  m_refresh = refresh == "per-bank" ? dram::RefreshMode::per_bank : dram::RefreshMode::all_bank;
  m_char = dram::characterise(m_std, m_refresh);
  m_mapping = m_params.text("mapping");
  (void)dram::AddressMap(m_std.org, m_stacks, m_mapping,
                         fmt::format("{}: mapping", path().empty() ? "memory" : path()));
  m_read_eff = m_char.read_efficiency * m_params.real("read_residual");
  m_write_eff = m_char.write_efficiency * m_params.real("write_residual");
  for (const char* k : {"read_residual", "write_residual"})
    if (!(m_params.real(k) > 0) || m_params.real(k) > 2)
      throw InputError(fmt::format("{}: {} = {} is not accepted; expected a factor in (0, 2]",
                                   path().empty() ? "memory" : path(), k, m_params.real(k)));
}


double HbmMemory::achieved_bandwidth(double kernel_bytes, bool write) const {
  const double sustained = m_bandwidth * (write ? m_write_eff : m_read_eff);
  if (kernel_bytes <= 0) return sustained;
  return sustained * kernel_bytes / (kernel_bytes + m_ramp);
}

double HbmMemory::transfer_time_s(const Instr& in, const Kernel& k, const KernelContext&) const {
  if (in.bytes <= 0 || in.count <= 0) return 0;
  const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count);
  const bool write = in.op == Opcode::store;
  // Scattered reads (KernelInfo::dram_read_run: gathers of rows, strided views)
  // sustain the stream's rate times the cycle model's efficiency of that access
  // pattern on these stacks (dram::access_efficiency).
  double pattern = 1;
  if (!write && k.info.dram_read_run && *k.info.dram_read_run > 0)
    pattern = dram::access_efficiency(m_std, m_stacks, m_mapping, static_cast<uint64_t>(std::ceil(*k.info.dram_read_run)),
                                      static_cast<uint64_t>(std::ceil(k.info.dram_read_pitch.value_or(0))));
  const double t_bw = bytes / (achieved_bandwidth(k.info.dram_bytes.value_or(bytes), write) * pattern);
  // Little's law per SM: `count` copies run on different SMs, each with at most
  // bytes_in_flight outstanding, so one copy's bytes need bytes/in_flight round trips.
  const double in_flight = k.info.bytes_in_flight.value_or(0);
  const double t_lat =
      (!write && in_flight > 0) ? static_cast<double>(in.bytes) / in_flight * m_latency : 0;
  return std::max(t_bw, t_lat);
}

double HbmMemory::transfer_energy_j(const Instr& in, const Kernel&) const {
  const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count);
  return bytes * (in.op == Opcode::store ? m_e_write : m_e_read);
}

void register_hbm(Registry& r) {
  // Defaults are the H100 SXM5 80GB values. The sustained read/write efficiency is
  // derived from the cycle-level DRAM model of `standard` (models/memory/dram/
  // characterise.h); the ramp and the energies are fitted by `tessera calibrate`
  // (configs/calibrated/h100-sxm.yaml).
  r.add(make_impl<HbmMemory>(
      "memory", "hbm",
      "HBM stacks: peak bandwidth, sustained read/write efficiency from the cycle-level DRAM "
      "model of the stacks' standard, size-dependent ramp, per-SM latency limit, energy per byte",
      {// NVIDIA H100 datasheet: 80 GB HBM3, 3.35 TB/s (SXM5).
       p_qty("bandwidth", Unit::bytes_per_second, "3.35TB/s", "peak (pin) bandwidth").positive(),
       p_qty("capacity", Unit::bytes, "80GB", "capacity").positive(),
       // NVIDIA H100 whitepaper: five active HBM3 stacks on H100 SXM5.
       p_text("standard", "HBM3",
              "DRAM standard preset of the stacks (HBM2, HBM2E, HBM3, HBM3E or a full preset name "
              "such as HBM3-6400; run at the data rate bandwidth / pins)"),
       [] {
         ParamSpec p = p_int("stacks", "5", "number of HBM stacks (their pins carry `bandwidth`)");
         p.min = 1;
         p.max = 64;
         return p;
       }(),
       // The H100's measured streaming peak (reference/h100 membw: 4 GiB reads at
       // 92.0 % and 8 GiB copies at 90.4 % of 3.35 TB/s) is what HBM3 keeps with
       // all-bank refresh (1 - tRFC/tREFI = 91.0 %); per-bank refresh would leave
       // 99.5 %. All-bank is the default; the choice is the only input here.
       p_choice("refresh", {"all-bank", "per-bank"}, "all-bank",
                "refresh mode of the stacks' controllers, used to derive the sustained "
                "read and write efficiency from the cycle-level DRAM model"),
       // GPUs keep a DRAM row's worth of consecutive bytes in one pseudo-channel
       // (1 KiB on HBM3) and interleave channels above it; a 64 B access then needs
       // one activate, not two. Used by `memsim --hw <gpu>` and the hbmpat records.
       p_text("mapping", "RoBaSiBgChPcCo",
              "DRAM address mapping of the stacks, fields most significant first "
              "(docs/memory.md)"),
       p_real("read_residual", "1",
              "factor on the cycle model's sustained read efficiency for what the chip adds "
              "(1: none)").positive().at_most(2),
       p_real("write_residual", "1",
              "factor on the cycle model's sustained write efficiency for what the chip adds "
              "(1: none)").positive().at_most(2),
       p_qty("ramp_bytes", Unit::bytes, "1MB",
             "bytes a kernel moves before reaching the sustained rate (loaded latency x "
             "bandwidth; fitted)").non_negative(),
       // Loaded HBM3 latency seen by an SM, ~700-900 ns in published Hopper
       // microbenchmarks (Luo et al., "Benchmarking and Dissecting the Nvidia Hopper
       // GPU Architecture", 2024); 800 ns is used.
       p_qty("latency", Unit::seconds, "800ns", "loaded round-trip latency from an SM").non_negative(),
       // Fitted: energy2 read_sum_hbm_1GiB / copy_hbm_1GiB and energy copy records
       // (above idle, minus the L2 share).
       p_qty("energy_read", Unit::joules, "95pJ", "dynamic energy per byte read (fitted)").non_negative(),
       p_qty("energy_write", Unit::joules, "45pJ", "dynamic energy per byte written (fitted)").non_negative()}));
}

}  // namespace tessera
