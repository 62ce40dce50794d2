// Device timing in the standard's vocabulary: for every preset and every timing
// constraint, the earliest legal command after a given one ("a RD to another bank
// group is legal at clk + nCCDS"). Commands are placed late enough (T = 1000 and
// beyond) that only the constraint under test binds.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>

#include "core/error.h"
#include "models/memory/dram/device.h"
#include "models/memory/dram/standard.h"

using namespace tessera::dram;

namespace {

// Bank `k` of bank group `g` (SID 0).
BankAddr bank(const Standard& s, int g, int k, int64_t row = 0) {
  BankAddr a;
  a.bankgroup = g;
  a.bank = g * s.org.banks + k;
  a.row = row;
  return a;
}

constexpr int64_t T = 1000;

}  // namespace

TEST_CASE("every preset: earliest legal command per timing constraint", "[dram][timing]") {
  for (const Standard& s : standards()) {
    const Timing& t = s.timing;
    INFO(s.name);
    const BankAddr a = bank(s, 0, 0), b = bank(s, 1, 0), c = bank(s, 0, 1);

    SECTION("ACT to RD / WR, same bank: nRCDRD / nRCDWR") {
      Device d(s);
      d.issue(Cmd::ACT, a, T);
      CHECK(d.earliest(Cmd::RD, a) == T + t.nRCDRD);
      CHECK(d.earliest(Cmd::WR, a) == T + t.nRCDWR);
    }
    SECTION("ACT to ACT: other bank group nRRDS, same bank group nRRDL, same bank nRC") {
      Device d(s);
      d.issue(Cmd::ACT, a, T);
      CHECK(d.earliest(Cmd::ACT, b) == T + std::max(1, t.nRRDS));
      CHECK(d.earliest(Cmd::ACT, c) == T + std::max(t.nRRDS, t.nRRDL));
      CHECK(d.earliest(Cmd::ACT, a) == T + t.nRC);
    }
    SECTION("ACT to PRE nRAS; PRE to ACT nRP; REFab after PRE nRP") {
      Device d(s);
      d.issue(Cmd::ACT, a, T);
      CHECK(d.earliest(Cmd::PRE, a) == T + t.nRAS);
      d.issue(Cmd::PRE, a, T + t.nRAS);
      // ACT to the same bank: PRE + nRP, but never before ACT + nRC.
      CHECK(d.earliest(Cmd::ACT, a) == std::max<int64_t>(T + t.nRAS + t.nRP, T + t.nRC));
      CHECK(d.earliest(Cmd::REFab, a) == std::max<int64_t>(T + t.nRAS + t.nRP, T + t.nRC));
    }
    SECTION("RD to RD: other bank group max(nBL, nCCDS), same bank group nCCDL") {
      Device d(s);
      d.issue(Cmd::ACT, a, 0);
      d.issue(Cmd::ACT, b, 100);
      d.issue(Cmd::ACT, c, 200);
      d.issue(Cmd::RD, a, T);
      CHECK(d.earliest(Cmd::RD, b) == T + std::max(t.nBL, t.nCCDS));
      CHECK(d.earliest(Cmd::RD, c) == T + std::max({t.nBL, t.nCCDS, t.nCCDL}));
      CHECK(d.earliest(Cmd::RD, a) == T + std::max({t.nBL, t.nCCDS, t.nCCDL}));
    }
    SECTION("WR to WR: other bank group max(nBL, nCCDS), same bank group nCCDL") {
      Device d(s);
      d.issue(Cmd::ACT, a, 0);
      d.issue(Cmd::ACT, b, 100);
      d.issue(Cmd::WR, a, T);
      CHECK(d.earliest(Cmd::WR, b) == T + std::max(t.nBL, t.nCCDS));
      CHECK(d.earliest(Cmd::WR, a) == T + std::max({t.nBL, t.nCCDS, t.nCCDL}));
    }
    SECTION("RD to WR: nRTW; WR to RD: nCWL + nBL + nWTRS (other group), + nWTRL (same group)") {
      Device d(s);
      d.issue(Cmd::ACT, a, 0);
      d.issue(Cmd::ACT, b, 100);
      d.issue(Cmd::RD, a, T);
      CHECK(d.earliest(Cmd::WR, b) == T + t.nRTW);
      Device w(s);
      w.issue(Cmd::ACT, a, 0);
      w.issue(Cmd::ACT, b, 100);
      w.issue(Cmd::WR, a, T);
      CHECK(w.earliest(Cmd::RD, b) == T + t.nCWL + t.nBL + t.nWTRS);
      CHECK(w.earliest(Cmd::RD, a) == T + t.nCWL + t.nBL + t.nWTRL);
    }
    SECTION("RD to PRE nRTP; WR to PRE nCWL + nBL + nWR") {
      Device d(s);
      d.issue(Cmd::ACT, a, 0);
      d.issue(Cmd::RD, a, T);
      CHECK(d.earliest(Cmd::PRE, a) == T + t.nRTP);
      Device w(s);
      w.issue(Cmd::ACT, a, 0);
      w.issue(Cmd::WR, a, T);
      CHECK(w.earliest(Cmd::PRE, a) == T + t.nCWL + t.nBL + t.nWR);
    }
    SECTION("RDA: the bank closes; ACT at RDA + nRTP + nRP") {
      Device d(s);
      d.issue(Cmd::ACT, a, 0);
      d.issue(Cmd::RDA, a, T);
      CHECK(d.open_row(a.bank) == -1);
      CHECK(d.earliest(Cmd::ACT, a) == T + t.nRTP + t.nRP);
    }
    SECTION("four-activate window: the fifth ACT waits for the first + nFAW") {
      Device d(s);
      const int groups = s.org.bankgroups_per_pc();
      int64_t clk = T, first = T;
      for (int i = 0; i < 4; ++i) {
        const BankAddr x = bank(s, i % groups, i / groups);
        clk = d.earliest(Cmd::ACT, x);
        if (i == 0) clk = first = T;
        d.issue(Cmd::ACT, x, clk);
      }
      const BankAddr fifth = bank(s, 4 % groups, 4 / groups);
      CHECK(d.earliest(Cmd::ACT, fifth) == std::max(first + t.nFAW, clk + std::max(1, t.nRRDS)));
    }
    SECTION("REFab blocks every bank for nRFC") {
      Device d(s);
      d.issue(Cmd::REFab, a, T);
      CHECK(d.earliest(Cmd::ACT, a) == T + t.nRFC);
      CHECK(d.earliest(Cmd::ACT, b) == T + t.nRFC);
      CHECK(d.earliest(Cmd::REFab, a) == T + t.nRFC);
    }
    SECTION("REFpb blocks its bank for nRFCpb and the others' ACT for nRREFD") {
      Device d(s);
      if (s.family == Family::ddr4) {
        CHECK(d.state_problem(Cmd::REFpb, a) == "REFpb: DDR4 has no per-bank refresh");
      } else {
        d.issue(Cmd::REFpb, a, T);
        CHECK(d.earliest(Cmd::ACT, a) == T + t.nRFCpb);
        CHECK(d.earliest(Cmd::ACT, b) == T + std::max(1, t.nRREFD));
        CHECK(d.earliest(Cmd::REFpb, b) == T + std::max(1, t.nRREFD));
      }
    }
    SECTION("command bus: HBM's ACT holds the row bus two cycles, other commands one") {
      Device d(s);
      d.issue(Cmd::ACT, a, T);
      const bool hbm = s.family == Family::hbm2 || s.family == Family::hbm3;
      CHECK(d.bus().split() == hbm);
      CHECK(d.earliest(Cmd::PRE, b) == T + (hbm ? 2 : 1));
      d.issue(Cmd::PRE, b, T + (hbm ? 2 : 1));
      // PRE holds its bus one cycle: the next row command one cycle later.
      CHECK(d.earliest(Cmd::PRE, c) == T + (hbm ? 3 : 2));
    }
  }
}

TEST_CASE("HBM3-6400 in the standard's words", "[dram][timing]") {
  const Standard& s = standard("HBM3-6400", "test");
  Device d(s);
  const BankAddr a = bank(s, 0, 0), b = bank(s, 1, 0);
  d.issue(Cmd::ACT, a, 0);
  d.issue(Cmd::ACT, b, 4);  // nRRDS = 4
  CHECK(d.earliest(Cmd::RD, a) == 31);  // ACT + nRCDRD 31
  d.issue(Cmd::RD, a, 40);
  // "A RD to another bank group is legal at clk + nCCDS": 40 + 2.
  CHECK(d.earliest(Cmd::RD, b) == 42);
  // "A RD to the same bank group is legal at clk + nCCDL": 40 + 4.
  CHECK(d.earliest(Cmd::RD, a) == 44);
  // Data of the RD at 40 end at 40 + nCL 20 + nBL 2 = 62.
  CHECK(d.read_done(40) == 62);
  // Peak: 16 channels x 2 PCs x 32 bits x 6.4 Gb/s / 8 = 819.2 GB/s per stack.
  CHECK(s.peak_bandwidth_bps() == Approx(819.2e9));
  // 16 GiB: 32 PCs x 32 banks x 16384 rows x 1 KiB.
  CHECK(s.org.capacity_bytes() == Approx(16.0 * 1024 * 1024 * 1024));
}

TEST_CASE("illegal commands are refused by the device", "[dram][timing]") {
  const Standard& s = standard("DDR4-3200", "test");
  Device d(s);
  const BankAddr a = bank(s, 0, 0);
  CHECK_THROWS_WITH(d.issue(Cmd::RD, a, 0), Catch::Contains("RD to closed bank 0"));
  d.issue(Cmd::ACT, a, 0);
  // ACT to RD needs nRCDRD = 22 cycles.
  CHECK_THROWS_WITH(d.issue(Cmd::RD, a, 21), Catch::Contains("before its earliest legal cycle 22"));
  CHECK_THROWS_WITH(d.issue(Cmd::ACT, a, 200), Catch::Contains("whose row 0 is open"));
}

TEST_CASE("data-rate rescaling keeps the nanosecond timings", "[dram][timing]") {
  const Standard& s = standard("HBM3-6400", "test");
  // H100: 3.35 TB/s over 5 stacks of 1024 pins = 5234.375 MT/s; tCK = 4 beats / rate = 764 ps.
  const Standard h = at_rate(s, 5234.375);
  CHECK(h.timing.tCK_ps == 764);
  // nRCDRD 31 x 625 ps = 19.375 ns -> ceil(19.375 / 0.76418) = 26.
  CHECK(h.timing.nRCDRD == 26);
  CHECK(h.timing.nBL == 2);
  CHECK(h.peak_bandwidth_bps() * 5 == Approx(3.35e12));
  CHECK_THROWS_WITH(at_rate(s, -1), Catch::Contains("not a positive number"));
}

TEST_CASE("unknown DRAM preset names what is accepted", "[dram]") {
  CHECK_THROWS_WITH(standard("HBM9", "--hw"),
                    Catch::Contains("--hw: unknown DRAM standard 'HBM9'") && Catch::Contains("HBM3-6400") &&
                        Catch::Contains("DDR4-3200"));
}

TEST_CASE("HBM4-8000: JESD270-4 organisation, HBM3's nanosecond timings at 8 Gb/s", "[dram][timing]") {
  const Standard& h4 = standard("HBM4", "test");
  CHECK(h4.name == "HBM4-8000");
  // 32 channels x 2 pseudo-channels x 32 bits = 2048 pins x 8 Gb/s / 8 = 2.048 TB/s per stack.
  CHECK(h4.org.pcs() * h4.org.dq == 2048);
  CHECK(h4.peak_bandwidth_bps() == Approx(2.048e12).epsilon(1e-12));
  // 64 PCs x 32 banks x 16384 rows x 1 KiB = 32 GiB (32 Gb dies, 8-high).
  CHECK(h4.org.capacity_bytes() == 32.0 * 1024 * 1024 * 1024);
  // The table's cycles are exactly HBM3-6400's rescaled: tCK 625 -> 500 ps, ceil(n x 1.25)
  // (nRCDRD 31 -> 38.75 -> 39; nRFC 560 -> 700; nREFIpb 195 -> 243.75 -> 244).
  const Standard r = at_rate(standard("HBM3-6400", "test"), 8000);
  CHECK(h4.timing.tCK_ps == 500);
  CHECK(r.timing.tCK_ps == 500);
  for (auto m : {&Timing::nBL, &Timing::nCL, &Timing::nCWL, &Timing::nRCDRD, &Timing::nRCDWR, &Timing::nRP,
                 &Timing::nRAS, &Timing::nRC, &Timing::nWR, &Timing::nRTP, &Timing::nRRDS, &Timing::nRRDL,
                 &Timing::nCCDS, &Timing::nCCDL, &Timing::nFAW, &Timing::nWTRS, &Timing::nWTRL, &Timing::nRTW,
                 &Timing::nRFC, &Timing::nRFCpb, &Timing::nREFI, &Timing::nREFIpb, &Timing::nRREFD})
    CHECK(h4.timing.*m == r.timing.*m);
  CHECK(h4.timing.nRCDRD == 39);
}

TEST_CASE("pseudo-channels of one HBM channel share its row and column command buses", "[dram][timing][bus]") {
  // JESD235 (HBM2/HBM2E) and JESD238 (HBM3/HBM3E): the two pseudo-channels of a
  // channel have their own banks and data bus but share the channel's row command
  // bus (ACT, PRE, PREA, REFab, REFpb; ACT takes two cycles) and column command bus
  // (RD, WR, RDA, WRA). Commands are placed at T = 1000 so that no other timing binds.
  for (const Standard& s : standards()) {
    if (s.org.pseudo_channels < 2) continue;  // HBM2-2000 (legacy mode), DDR4, LPDDR5
    INFO(s.name);
    auto bus = std::make_shared<CommandBus>(s);
    Device pc0(s, bus), pc1(s, bus);
    const BankAddr a = bank(s, 0, 0), b = bank(s, 1, 0);
    SECTION("a RD on the other pseudo-channel is legal at clk + 1 (the column bus), on the same at clk + nCCDS") {
      pc0.issue(Cmd::ACT, a, 0);
      pc0.issue(Cmd::ACT, b, 100);
      pc1.issue(Cmd::ACT, a, 200);
      pc0.issue(Cmd::RD, a, T);
      CHECK(pc1.earliest(Cmd::RD, a, T) == T + 1);
      CHECK(pc0.earliest(Cmd::RD, b) == T + std::max(s.timing.nBL, s.timing.nCCDS));
      // The row bus is free: an ACT on the other pseudo-channel in the same cycle.
      CHECK(pc1.earliest(Cmd::ACT, b, T) == T);
    }
    SECTION("an ACT on the other pseudo-channel is legal at clk + 2; a RD in the same cycle") {
      pc1.issue(Cmd::ACT, a, 0);
      pc0.issue(Cmd::ACT, a, T);
      CHECK(pc1.earliest(Cmd::ACT, b, T) == T + 2);
      CHECK(pc1.earliest(Cmd::PRE, a, T) == T + 2);
      CHECK(pc1.earliest(Cmd::REFpb, b, T) == T + 2);
      CHECK(pc1.earliest(Cmd::RD, a, T) == T);
    }
    SECTION("a command issued later in simulation order but earlier in time still sees the bus") {
      pc0.issue(Cmd::ACT, a, T + 10);  // row bus busy T+10, T+11
      CHECK(pc1.earliest(Cmd::ACT, a) == 0);
      CHECK(pc1.earliest(Cmd::ACT, a, T + 9) == T + 12);  // T+9 would overlap T+10
      CHECK_THROWS_AS(pc1.issue(Cmd::ACT, a, T + 11), std::logic_error);
      CHECK_NOTHROW(pc1.issue(Cmd::ACT, a, T + 8));  // T+8, T+9: free
    }
  }
}

TEST_CASE("HBM3-6400: two pseudo-channels share the column bus, streaming still reaches its peak", "[dram][timing][bus]") {
  const Standard& s = standard("HBM3-6400", "test");
  auto bus = std::make_shared<CommandBus>(s);
  Device pc0(s, bus), pc1(s, bus);
  const BankAddr a = bank(s, 0, 0), b = bank(s, 1, 0);
  for (Device* d : {&pc0, &pc1}) {
    d->issue(Cmd::ACT, a, d == &pc0 ? 0 : 2);
    d->issue(Cmd::ACT, b, d == &pc0 ? 10 : 12);
  }
  // Each pseudo-channel needs one RD every nBL = 2 cycles (alternating bank groups,
  // nCCDS = 2): the two interleave on the one column bus, RD every cycle in all.
  int64_t clk = 100;
  for (int k = 0; k < 8; ++k) {
    Device& d = k % 2 == 0 ? pc0 : pc1;
    const BankAddr& x = (k / 2) % 2 == 0 ? a : b;
    CHECK(d.earliest(Cmd::RD, x, clk) == clk);
    d.issue(Cmd::RD, x, clk);
    ++clk;
  }
}
