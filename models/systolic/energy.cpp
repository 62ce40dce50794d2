#include "models/systolic/systolic.h"

#include <cmath>

namespace tessera::systolic {

// 45 nm energies from M. Horowitz, "Computing's energy problem (and what we can
// do about it)", ISSCC 2014, Fig. 1.1.9 (the figures the issue lists):
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

EnergyBreakdown energy_of(const EnergyParams& p, const ArrayConfig& cfg, const LayerResult& r) {
  const double s = node_scale(p);
  const double wb = static_cast<double>(cfg.word_bytes);
  EnergyBreakdown e;
  const double mac = p.mac_pj_override >= 0 ? p.mac_pj_override : mac_energy_45nm_pj(cfg.dtype) * s;
  e.mac_pj = mac * static_cast<double>(r.macs);
  const auto sram_read = [&](std::int64_t bytes) {
    return p.sram_read_pj_per_byte >= 0 ? p.sram_read_pj_per_byte
                                        : sram_energy_45nm_pj_per_byte(bytes) * s;
  };
  const auto sram_write = [&](std::int64_t bytes) {
    return p.sram_write_pj_per_byte >= 0 ? p.sram_write_pj_per_byte : sram_read(bytes);
  };
  // Array-side requests plus the DRAM-side fills/drains of each scratchpad.
  e.sram_pj =
      wb * (static_cast<double>(r.ifmap_sram_reads) * sram_read(cfg.ifmap_sram_bytes) +
            static_cast<double>(r.ifmap_dram_reads) * sram_write(cfg.ifmap_sram_bytes) +
            static_cast<double>(r.filter_sram_reads) * sram_read(cfg.filter_sram_bytes) +
            static_cast<double>(r.filter_dram_reads) * sram_write(cfg.filter_sram_bytes) +
            static_cast<double>(r.ofmap_sram_writes) * sram_write(cfg.ofmap_sram_bytes) +
            static_cast<double>(r.ofmap_dram_writes) * sram_read(cfg.ofmap_sram_bytes));
  e.dram_pj = wb * p.dram_pj_per_byte *
              static_cast<double>(r.ifmap_dram_reads + r.filter_dram_reads + r.ofmap_dram_writes);
  e.leakage_pj = p.leakage_pj_per_pe_cycle * s * static_cast<double>(cfg.rows * cfg.cols) *
                 static_cast<double>(cfg.cores) * static_cast<double>(r.total_cycles);
  return e;
}

}  // namespace tessera::systolic
