// Energy arithmetic, and the `systolic` compute component's use of it.
#include <catch2/catch.hpp>

#include "models/compute/systolic_array.h"
#include "models/systolic/systolic.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

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

TEST_CASE("the systolic component's MAC and SRAM energy is energy_of's", "[systolic][energy]") {
  // tpu-v1 (256 x 256 ws, 28 nm, 1-byte words; ifmap 24 MiB, filter 256 KiB,
  // ofmap 4 MiB) runs conv2d 64 -> 64 channels, 16 x 16, 3 x 3, int8:
  //   P = 14*14 = 196, K = 3*3*64 = 576, N = 64; 3 row folds x 1 column fold.
  auto hw = tessera::load_hardware("tpu-v1", {});
  const tessera::Graph g = tessera::build_workload("conv2d:cin=64,cout=64,h=16,r=3,dtype=int8");
  const auto& array = dynamic_cast<const tessera::SystolicArray&>(hw->compute());
  ArrayConfig a = array.array_config();
  a.dtype = tessera::DType::int8;
  const auto layers = tessera::SystolicArray::layers_of(g.ops[0]);
  REQUIRE(layers.size() == 1);
  const LayerResult r = simulate_layer(a, layers[0].layer);
  CHECK(r.macs == 196 * 576 * 64);             // 7,225,344
  CHECK(r.ifmap_sram_reads == 196 * 576);      // 112,896
  CHECK(r.ifmap_dram_reads == 16 * 16 * 64);   // 16,384 (fills: SRAM writes)
  CHECK(r.filter_sram_reads == 576 * 64);      // 36,864
  CHECK(r.filter_dram_reads == 576 * 64);      // 36,864
  CHECK(r.ofmap_sram_writes == 3 * 196 * 64);  // 37,632 (partial sums per row fold)
  CHECK(r.ofmap_dram_writes == 196 * 64);      // 12,544 (drains: SRAM reads)
  EnergyParams p;
  p.node_nm = 28;
  const EnergyBreakdown e = energy_of(p, a, r);
  // Node scale 28/45. MAC: 0.23 pJ * 28/45 = 0.143111 pJ; 7,225,344 MACs -> 1,034,027.008 pJ.
  CHECK(e.mac_pj == Approx(1034027.008).epsilon(1e-12));
  // SRAM per byte, log-interpolated (Horowitz) and scaled:
  //   ifmap 24 MiB: (2.5 + (log2(24 Mi) - 15) * 2) * 28/45 = 13.483509 pJ
  //   filter 256 KiB: (2.5 + 3 * 2) * 28/45 = 5.288889 pJ
  //   ofmap 4 MiB: (2.5 + 7 * 2) * 28/45 = 10.266667 pJ
  //   (112,896 + 16,384) * 13.483509 + (36,864 + 36,864) * 5.288889
  //     + (37,632 + 12,544) * 10.266667 = 1,743,148.029 + 389,939.2 + 515,140.267
  //     = 2,648,227.496 pJ
  CHECK(e.sram_pj == Approx(2648227.4959382433).epsilon(1e-12));
  // The component: each of the kernel's mma instructions (one fold) times its
  // repeat adds up to the same 3,682,254.504 pJ (to rounding: the kernel's
  // figure is divided over its folds and summed again).
  const tessera::Program prog = tessera::compile(g, *hw);
  REQUIRE(prog.kernels.size() == 1);
  const tessera::Kernel& k = prog.kernels[0];
  const tessera::KernelContext ctx = hw->compute().begin_kernel(k, *hw);
  double component_j = 0;
  for (const tessera::Block& b : k.blocks)
    for (const tessera::Instr& in : b.instrs)
      if (in.op == tessera::Opcode::mma)
        component_j += static_cast<double>(b.repeat) * hw->compute().instr_energy_j(in, k, ctx);
  CHECK(component_j == Approx((e.mac_pj + e.sram_pj) * 1e-12).epsilon(1e-12));
  CHECK(component_j == Approx(3682254.5039382437e-12).epsilon(1e-12));
}
