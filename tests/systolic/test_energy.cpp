// Energy arithmetic.
#include <catch2/catch.hpp>

#include "models/systolic/systolic.h"

using namespace tessera::systolic;

TEST_CASE("Horowitz 45 nm defaults", "[systolic][energy]") {
  // int8 MAC = 0.2 pJ mult + 0.03 pJ add; fp16 = 1.1 + 0.4; fp32 = 3.7 + 0.9; int32 = 3.1 + 0.1
  CHECK(mac_energy_45nm_pj(tessera::DType::int8) == Approx(0.23));
  CHECK(mac_energy_45nm_pj(tessera::DType::fp16) == Approx(1.5));
  CHECK(mac_energy_45nm_pj(tessera::DType::fp32) == Approx(4.6));
  CHECK(mac_energy_45nm_pj(tessera::DType::int32) == Approx(3.2));
  // SRAM: 10 pJ / 8 B at 8 KB, 20 pJ / 8 B at 32 KB, 100 pJ / 8 B at 1 MB.
  CHECK(sram_energy_45nm_pj_per_byte(8 * 1024) == Approx(1.25));
  CHECK(sram_energy_45nm_pj_per_byte(32 * 1024) == Approx(2.5));
  CHECK(sram_energy_45nm_pj_per_byte(1024 * 1024) == Approx(12.5));
  // 16 KB: halfway in log2 between 8 KB and 32 KB -> 1.875 pJ/B
  CHECK(sram_energy_45nm_pj_per_byte(16 * 1024) == Approx(1.875));
  EnergyParams p;
  CHECK(node_scale(p) == Approx(1.0));
  p.node_nm = 7;
  p.supply_v = 0.7;
  // (7 / 45) * (0.7 / 0.9)^2 = 0.0941015...
  CHECK(node_scale(p) == Approx(7.0 / 45 * (0.7 / 0.9) * (0.7 / 0.9)));
}

TEST_CASE("energy_of adds compute, SRAM, DRAM and leakage", "[systolic][energy]") {
  ArrayConfig a;
  a.rows = 4;
  a.cols = 4;
  a.ifmap_sram_bytes = a.filter_sram_bytes = a.ofmap_sram_bytes = 32 * 1024;
  a.dtype = tessera::DType::int8;
  LayerResult r;
  r.macs = 1000;
  r.ifmap_sram_reads = 100;
  r.filter_sram_reads = 50;
  r.ofmap_sram_writes = 10;
  r.ifmap_dram_reads = 20;
  r.filter_dram_reads = 5;
  r.ofmap_dram_writes = 10;
  r.total_cycles = 200;
  EnergyParams p;
  const EnergyBreakdown e = energy_of(p, a, r);
  // MAC: 1000 * 0.23 = 230 pJ
  CHECK(e.mac_pj == Approx(230));
  // SRAM (32 KB, 2.5 pJ/B, 1-byte words): (100 + 20 + 50 + 5 + 10 + 10) * 2.5 = 487.5 pJ
  CHECK(e.sram_pj == Approx(487.5));
  // DRAM: (20 + 5 + 10) B * 243.75 pJ/B = 8531.25 pJ
  CHECK(e.dram_pj == Approx(8531.25));
  // Leakage: 0.01 pJ * 16 PEs * 200 cycles = 32 pJ
  CHECK(e.leakage_pj == Approx(32));
  CHECK(e.total_pj() == Approx(230 + 487.5 + 8531.25 + 32));
  // Overrides win.
  p.mac_pj_override = 1;
  p.sram_read_pj_per_byte = 1;
  p.sram_write_pj_per_byte = 2;
  const EnergyBreakdown o = energy_of(p, a, r);
  CHECK(o.mac_pj == Approx(1000));
  // reads: 100 + 50 + 10 (ofmap drained) = 160 * 1; writes: 20 + 5 + 10 = 35 * 2
  CHECK(o.sram_pj == Approx(160 + 70));
}
