#include "models/systolic/systolic.h"

#include <cmath>

namespace tessera::systolic {

// 45 nm energies from M. Horowitz, "Computing's energy problem (and what we can
// do about it)", ISSCC 2014, Fig. 1.1.9:
//   int add 8 b 0.03 pJ, 32 b 0.1 pJ; int mult 8 b 0.2 pJ, 32 b 3.1 pJ;
//   fp add 16 b 0.4 pJ, 32 b 0.9 pJ; fp mult 16 b 1.1 pJ, 32 b 3.7 pJ.
// A MAC is one multiply plus one add at the operand width. Formats Horowitz does
// not list are placed by the usual first-order rules: an array multiplier's
// energy grows with the square of the (mantissa) width, an adder's linearly.
double mac_energy_45nm_pj(tessera::DType t) {
  using tessera::DType;
  switch (t) {
    case DType::fp64: return 4 * 3.7 + 2 * 0.9;  // 53-bit vs 24-bit mantissa: ~4x mult, 2x add
    case DType::fp32:
    case DType::tf32: return 3.7 + 0.9;  // tf32 keeps fp32 storage and adder
    case DType::fp16:
    case DType::bf16: return 1.1 + 0.4;  // bf16: same width class as fp16
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
    case DType::mxfp8: return 1.1 / 4 + 0.4 / 2;  // half the width of fp16
    case DType::fp6_e3m2:
    case DType::fp6_e2m3:
    case DType::mxfp6: return 1.1 / 7 + 0.4 * 6 / 16;  // (6/16)^2 ~ 1/7 of fp16 mult
    case DType::fp4_e2m1:
    case DType::mxfp4:
    case DType::nvfp4: return 1.1 / 16 + 0.4 / 4;  // quarter width of fp16
    case DType::int32: return 3.1 + 0.1;
    case DType::int8:
    case DType::uint8: return 0.2 + 0.03;
    case DType::int4: return 0.2 / 4 + 0.03 / 2;
    case DType::ternary: return 0.03;  // sign select + 8-bit add, no multiplier
  }
  return 0.2 + 0.03;
}

// Horowitz: 64-bit reads cost 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB), i.e.
// 1.25, 2.5 and 12.5 pJ per byte. Interpolated linearly in log2(size) between
// the points and extrapolated with the nearest segment's slope.
double sram_energy_45nm_pj_per_byte(std::int64_t bytes) {
  const double x = std::log2(static_cast<double>(bytes > 0 ? bytes : 1));
  const double x0 = 13, x1 = 15, x2 = 20;  // 8 KB, 32 KB, 1 MB
  const double y0 = 10.0 / 8, y1 = 20.0 / 8, y2 = 100.0 / 8;
  double y = 0;
  if (x <= x1)
    y = y0 + (x - x0) * (y1 - y0) / (x1 - x0);
  else
    y = y1 + (x - x1) * (y2 - y1) / (x2 - x1);
  return y > 0.1 ? y : 0.1;  // floor: a register file is not free
}

// First-order constant-field scaling (R. H. Dennard et al., "Design of
// ion-implanted MOSFETs with very small physical dimensions", IEEE JSSC SC-9(5),
// 1974): switched capacitance scales with feature size and energy with C * V^2,
// so E(node, V) = E(45 nm, 0.9 V) * (node / 45) * (V / 0.9)^2. DRAM energy is
// dominated by the interface and array, not the logic node, and is not scaled.
double node_scale(const EnergyParams& p) {
  const double v = p.supply_v / 0.9;
  return (p.node_nm / 45.0) * v * v;
}

// Energy of each action, in pJ at the configured node: the one place these
// figures are defined (energy_of and the `systolic` compute component use them).
ActionEnergies action_energies(const EnergyParams& p, const ArrayConfig& cfg) {
  const double s = node_scale(p);
  const auto sram_read = [&](std::int64_t bytes) {
    return p.sram_read_pj_per_byte >= 0 ? p.sram_read_pj_per_byte : sram_energy_45nm_pj_per_byte(bytes) * s;
  };
  const auto sram_write = [&](std::int64_t bytes) {
    return p.sram_write_pj_per_byte >= 0 ? p.sram_write_pj_per_byte : sram_read(bytes);
  };
  ActionEnergies e;
  e.mac_pj = p.mac_pj_override >= 0 ? p.mac_pj_override : mac_energy_45nm_pj(cfg.dtype) * s;
  e.ifmap_read_pj_per_byte = sram_read(cfg.ifmap_sram_bytes);
  e.ifmap_write_pj_per_byte = sram_write(cfg.ifmap_sram_bytes);
  e.filter_read_pj_per_byte = sram_read(cfg.filter_sram_bytes);
  e.filter_write_pj_per_byte = sram_write(cfg.filter_sram_bytes);
  e.ofmap_read_pj_per_byte = sram_read(cfg.ofmap_sram_bytes);
  e.ofmap_write_pj_per_byte = sram_write(cfg.ofmap_sram_bytes);
  e.dram_pj_per_byte = p.dram_pj_per_byte;
  e.leakage_pj_per_pe_cycle = p.leakage_pj_per_pe_cycle * s;
  return e;
}

ActionCounts action_counts(const ArrayConfig& cfg, const LayerResult& r) {
  ActionCounts n;
  n.macs = static_cast<double>(r.macs);
  // Array-side requests plus the DRAM-side fills/drains of each scratchpad.
  n.ifmap_sram_reads = static_cast<double>(r.ifmap_sram_reads);
  n.ifmap_sram_writes = static_cast<double>(r.ifmap_dram_reads);
  n.filter_sram_reads = static_cast<double>(r.filter_sram_reads);
  n.filter_sram_writes = static_cast<double>(r.filter_dram_reads);
  n.ofmap_sram_reads = static_cast<double>(r.ofmap_dram_writes);
  n.ofmap_sram_writes = static_cast<double>(r.ofmap_sram_writes);
  n.dram_words = static_cast<double>(r.ifmap_dram_reads + r.filter_dram_reads + r.ofmap_dram_writes);
  n.pe_cycles = static_cast<double>(cfg.rows * cfg.cols) * static_cast<double>(cfg.cores) *
                static_cast<double>(r.total_cycles);
  return n;
}

EnergyBreakdown energy_of(const EnergyParams& p, const ArrayConfig& cfg, const ActionCounts& n) {
  const ActionEnergies a = action_energies(p, cfg);
  const double wb = static_cast<double>(cfg.word_bytes);
  EnergyBreakdown e;
  e.mac_pj = a.mac_pj * n.macs;
  e.sram_pj =
      wb *
      (n.ifmap_sram_reads * a.ifmap_read_pj_per_byte + n.ifmap_sram_writes * a.ifmap_write_pj_per_byte +
       n.filter_sram_reads * a.filter_read_pj_per_byte + n.filter_sram_writes * a.filter_write_pj_per_byte +
       n.ofmap_sram_writes * a.ofmap_write_pj_per_byte + n.ofmap_sram_reads * a.ofmap_read_pj_per_byte);
  e.dram_pj = wb * a.dram_pj_per_byte * n.dram_words;
  e.leakage_pj = a.leakage_pj_per_pe_cycle * n.pe_cycles;
  return e;
}

EnergyBreakdown energy_of(const EnergyParams& p, const ArrayConfig& cfg, const LayerResult& r) {
  return energy_of(p, cfg, action_counts(cfg, r));
}

}  // namespace tessera::systolic
