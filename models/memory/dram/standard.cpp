#include "models/memory/dram/standard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"

namespace tessera::dram {
namespace {

// Energy per command from the datasheet currents, the way DRAMSim3 and Micron's
// TN-41-01 compute them (currents in mA, VDD in V, times in ns -> pJ), for
// `devices` devices that work in lock step on one channel:
//   ACT+PRE = VDD x (IDD0 x tRC - (IDD3N x tRAS + IDD2N x (tRC - tRAS)))
//   RD      = VDD x (IDD4R - IDD3N) x tBL        WR = VDD x (IDD4W - IDD3N) x tBL
//   REFab   = VDD x (IDD5AB - IDD3N) x tRFC      background = VDD x IDD3N
struct Idd {
  double vdd, idd0, idd2n, idd3n, idd4r, idd4w, idd5ab;
};

Energy from_idd(const Idd& c, const Timing& t, int devices, std::string source) {
  const double tck = static_cast<double>(t.tCK_ps) * 1e-3;  // ns
  Energy e;
  e.act_pj = devices * c.vdd *
             (c.idd0 * t.nRC - (c.idd3n * t.nRAS + c.idd2n * (t.nRC - t.nRAS))) * tck;
  e.rd_pj = devices * c.vdd * (c.idd4r - c.idd3n) * t.nBL * tck;
  e.wr_pj = devices * c.vdd * (c.idd4w - c.idd3n) * t.nBL * tck;
  e.ref_pj = devices * c.vdd * (c.idd5ab - c.idd3n) * t.nRFC * tck;
  e.background_mw = devices * c.vdd * c.idd3n;
  e.source = std::move(source);
  return e;
}

// The HBM2 energies of DRAMSim3's HBM2_8Gb_x128 (one 128-bit legacy channel,
// 64 B per burst), re-expressed per pseudo-channel of another HBM generation with
// `access_bytes` per burst: array read/write energy per bit, activation per
// 1 KiB row and background per bit of interface width are kept. No HBM2E/HBM3/
// HBM3E IDD currents are public; this is the stated assumption.
Energy hbm_scaled(const Energy& hbm2, int access_bytes, int dq, const std::string& what) {
  Energy e = hbm2;
  const double per_bit = static_cast<double>(access_bytes) / 64.0;
  e.rd_pj = hbm2.rd_pj * per_bit;
  e.wr_pj = hbm2.wr_pj * per_bit;
  e.ref_pj = hbm2.ref_pj * dq / 128.0;
  e.refpb_pj = hbm2.refpb_pj;
  e.background_mw = hbm2.background_mw * dq / 128.0;
  e.source = "HBM2 IDD energies of DRAMSim3 HBM2_8Gb_x128 scaled per bit to " + what +
             " (no public IDD currents for it)";
  return e;
}

Standard make_hbm2() {
  Standard s;
  s.name = "HBM2-2000";
  s.standard = "HBM2";
  s.family = Family::hbm2;
  s.source = "DRAMSim3 configs/HBM2_8Gb_x128.ini (JESD235 legacy mode: 8 x 128-bit channels, "
             "BL4, 4 GiB 4-high stack of 8 Gb dies)";
  s.org = {8, 1, 1, 4, 4, 32768, 16, 128, 4};  // 16 bursts of 64 B = 1 KiB rows
  Timing& t = s.timing;
  t.tCK_ps = 1000;
  t.rate_mtps = 2000;
  t.nBL = 2;  // BL4 at double data rate
  t.nCL = 14, t.nCWL = 4, t.nRCDRD = 14, t.nRCDWR = 14, t.nRP = 14, t.nRAS = 34;
  t.nRC = 48;  // tRAS + tRP
  t.nWR = 16, t.nRTP = 4, t.nRRDS = 4, t.nRRDL = 6, t.nCCDS = 1, t.nCCDL = 2, t.nFAW = 30;
  t.nWTRS = 6, t.nWTRL = 8;
  t.nRTW = t.nCL + t.nBL + 2 - t.nCWL;  // read-to-write turnaround, tWPRE = 1 tCK (JESD235)
  t.nRFC = 260, t.nREFI = 3900;
  // Per-bank refresh: tRFCSB = 160 ns and tRREFD = 8 ns (Ramulator 2 HBM2.cpp);
  // tREFISB = tREFI / 16 banks.
  t.nRFCpb = 160, t.nRREFD = 8, t.nREFIpb = 3900 / 16;
  // DRAMSim3 HBM2_8Gb_x128.ini [power]: VDD 1.2 V, IDD0 65, IDD2N 40, IDD3N 55,
  // IDD4R 390, IDD4W 500, IDD5AB 250 mA.
  s.energy = from_idd({1.2, 65, 40, 55, 390, 500, 250}, t, 1, "DRAMSim3 HBM2_8Gb_x128.ini IDD currents");
  // No REFpb current is published: a REFpb is taken as 1/16 of a REFab (one bank of 16).
  s.energy.refpb_pj = s.energy.ref_pj / 16.0;
  // O'Connor et al., "Fine-Grained DRAM", MICRO 2017: HBM2 moves data at about
  // 3.9 pJ/bit in all; the IDD4R read energy above is 804 pJ / 512 bit = 1.57
  // pJ/bit, so the interface and on-die data path not in IDD4R take ~2.3 pJ/bit.
  s.energy.io_pj_per_bit = 2.3;
  return s;
}

Standard make_hbm2e(const Standard& hbm2) {
  // HBM2E (JESD235C/D) in pseudo-channel mode: 8 channels x 2 PCs x 64 bits, BL4
  // (32 B per access), 16 Gb dies, 8-high 16 GiB stacks at 3.2 Gb/s (Samsung
  // Flashbolt, SK hynix HBM2E datasheets: 3.2-3.6 Gb/s, 410-460 GB/s per stack).
  // Core timings are HBM2's in nanoseconds (DRAMSim3), re-derived at tCK = 625 ps.
  Standard s = at_rate(hbm2, 3200);
  s.name = "HBM2E-3200";
  s.standard = "HBM2E";
  s.source = "JESD235D organisation (pseudo-channel mode, 16 Gb 8-high); DRAMSim3 HBM2 timings in ns "
             "at 3.2 Gb/s (Samsung Flashbolt / SK hynix HBM2E data rates)";
  s.org = {8, 2, 1, 4, 4, 65536, 32, 64, 4};  // 32 bursts of 32 B = 1 KiB rows per PC
  s.timing.nCCDS = 2;  // = nBL: back-to-back bursts on the pseudo-channel's bus
  // tRFC 350 ns for 8 Gb per channel (Ramulator 2 HBM2 tRFC table), tREFISB over 16 banks.
  s.timing.nRFC = static_cast<int>(std::ceil(350000.0 / s.timing.tCK_ps));
  s.timing.nREFIpb = s.timing.nREFI / 16;
  s.energy = hbm_scaled(hbm2.energy, s.org.access_bytes(), s.org.dq, "HBM2E");
  return s;
}

Standard make_hbm3(const std::string& name, const std::string& standard_name, double rate,
                   const Timing& t, int64_t rows, const std::string& source, const Energy& hbm2) {
  Standard s;
  s.name = name;
  s.standard = standard_name;
  s.family = Family::hbm3;
  // JESD238 (Ramulator 2.1 hbm3.py, HBM3_16Gb_8hi): 16 channels x 2 PCs x 32 bits,
  // 2 SIDs of 4 bank groups x 4 banks, BL8 (32 B per access), 1 KiB rows.
  s.org = {16, 2, 2, 4, 4, rows, 32, 32, 8};
  s.timing = t;
  s.timing.rate_mtps = rate;
  s.source = source;
  s.energy = hbm_scaled(hbm2, s.org.access_bytes(), s.org.dq, standard_name);
  return s;
}

Timing hbm3_6400() {
  // Ramulator 2.1 python/ramulator/dram/hbm3.py, "HBM3_6400Mbps" (JESD238 values
  // at tCK = 625 ps); refresh from the same file's resolvers: tRFC 350 ns for an
  // 8 Gb channel (JESD238 Table 84), tREFI 3.9 us, tRFCpb 200 ns, tRREFD 8 ns,
  // tREFIpb = tREFI / 32 banks.
  Timing t;
  t.tCK_ps = 625, t.nBL = 2, t.nCL = 20, t.nCWL = 10, t.nRCDRD = 31, t.nRCDWR = 15;
  t.nRP = 26, t.nRAS = 45, t.nRC = 72, t.nWR = 33, t.nRTP = 9;
  t.nCCDS = 2, t.nCCDL = 4, t.nRRDS = 4, t.nRRDL = 5, t.nFAW = 24;
  t.nWTRS = 7, t.nWTRL = 10, t.nRTW = 20;
  t.nRFC = 560, t.nRFCpb = 320, t.nRREFD = 13, t.nREFI = 6240, t.nREFIpb = 6240 / 32;
  return t;
}

Timing hbm3e_9600() {
  // Ramulator 2.1 hbm3.py, "HBM3_9600Mbps" (HBM3E speed grade: the JEDEC HBM3 ns
  // timings at tCK = 417 ps); tRFC 350 ns -> 840, tREFI 3.9 us -> 9360.
  Timing t;
  t.tCK_ps = 417, t.nBL = 2, t.nCL = 30, t.nCWL = 15, t.nRCDRD = 47, t.nRCDWR = 23;
  t.nRP = 39, t.nRAS = 68, t.nRC = 108, t.nWR = 50, t.nRTP = 14;
  t.nCCDS = 2, t.nCCDL = 6, t.nRRDS = 6, t.nRRDL = 8, t.nFAW = 36;
  t.nWTRS = 11, t.nWTRL = 15, t.nRTW = 30;
  t.nRFC = 840, t.nRFCpb = 480, t.nRREFD = 20, t.nREFI = 9360, t.nREFIpb = 9360 / 32;
  return t;
}

Standard make_ddr4() {
  Standard s;
  s.name = "DDR4-3200";
  s.standard = "DDR4";
  s.family = Family::ddr4;
  s.source = "Ramulator 2 DDR4.cpp DDR4_3200AA + DDR4_8Gb_x8 (JESD79-4C Tables 169-170 for nRRD/nFAW, "
             "tRFC1 350 ns, tREFI 7.8 us); one rank of 8 x8 devices on a 64-bit channel";
  s.org = {1, 1, 1, 4, 4, 65536, 128, 64, 8};  // 8 KiB rows (8 devices x 1 KiB), 64 B bursts
  Timing& t = s.timing;
  t.tCK_ps = 625, t.rate_mtps = 3200;
  t.nBL = 4, t.nCL = 22, t.nCWL = 16, t.nRCDRD = 22, t.nRCDWR = 22, t.nRP = 22, t.nRAS = 52;
  t.nRC = 74, t.nWR = 24, t.nRTP = 12, t.nCCDS = 4, t.nCCDL = 8, t.nRRDS = 4, t.nRRDL = 8;
  t.nFAW = 34, t.nWTRS = 4, t.nWTRL = 12;
  t.nRTW = t.nCL + t.nBL + 2 - t.nCWL;
  t.nRFC = 560, t.nREFI = 12480;
  // DDR4 has no per-bank refresh: REFpb is refused for this family (device.cpp).
  t.nRFCpb = 0, t.nREFIpb = 0, t.nRREFD = 0;
  // DRAMSim3 DDR4_8Gb_x8_3200.ini [power]: VDD 1.2, IDD0 57, IDD2N 37, IDD3N 52,
  // IDD4R 168, IDD4W 150, IDD5AB 250 mA per device, 8 devices.
  s.energy = from_idd({1.2, 57, 37, 52, 168, 150, 250}, t, 8, "DRAMSim3 DDR4_8Gb_x8_3200.ini IDD currents");
  s.energy.io_pj_per_bit = 0;  // no public per-bit termination figure is used: not modelled
  return s;
}

Standard make_lpddr5() {
  Standard s;
  s.name = "LPDDR5-6400";
  s.standard = "LPDDR5";
  s.family = Family::lpddr5;
  s.source = "Ramulator 2 LPDDR5.cpp LPDDR5_6400 + LPDDR5_8Gb_x16 (bank-group mode, BL32); refresh "
             "from JESD209-5: tRFCab 210 ns, tRFCpb 120 ns, tREFI 3.9 us, tPBR2PBR 90 ns";
  s.org = {1, 1, 1, 4, 4, 32768, 32, 16, 32};  // 2 KiB rows, 64 B per BL32 access
  Timing& t = s.timing;
  t.tCK_ps = 1250, t.rate_mtps = 6400;
  t.nBL = 4, t.nCL = 20, t.nCWL = 11, t.nRCDRD = 15, t.nRCDWR = 15, t.nRP = 15, t.nRAS = 34;
  // Ramulator's preset lists nRC 30 < nRAS; JESD209-5 tRC = tRAS + tRPpb: 34 + 15.
  t.nRC = 49, t.nWR = 28, t.nRTP = 4, t.nCCDS = 4, t.nCCDL = 4, t.nRRDS = 4, t.nRRDL = 4;
  t.nFAW = 16, t.nWTRS = 5, t.nWTRL = 10;
  t.nRTW = t.nCL + t.nBL + 2 - t.nCWL;
  t.nRFC = 168, t.nRFCpb = 96, t.nRREFD = 72, t.nREFI = 3120, t.nREFIpb = 3120 / 16;
  s.energy.source = "no public LPDDR5 IDD currents used: energy not modelled (0)";
  return s;
}

std::vector<Standard> build() {
  std::vector<Standard> v;
  const Standard hbm2 = make_hbm2();
  v.push_back(hbm2);
  v.push_back(make_hbm2e(hbm2));
  v.push_back(make_hbm3("HBM3-6400", "HBM3", 6400, hbm3_6400(), 16384,
                        "Ramulator 2.1 hbm3.py HBM3_6400Mbps + HBM3_16Gb_8hi (JESD238): 16 GiB 8-high stack",
                        hbm2.energy));
  v.push_back(make_hbm3("HBM3E-9600", "HBM3E", 9600, hbm3e_9600(), 24576,
                        "Ramulator 2.1 hbm3.py HBM3_9600Mbps (HBM3E grade); 24 Gb dies 8-high = 24 GiB "
                        "stack (Micron/SK hynix HBM3E 24 GB), rows scaled from HBM3_16Gb_8hi",
                        hbm2.energy));
  v.push_back(make_ddr4());
  v.push_back(make_lpddr5());
  for (const Standard& s : v) validate(s, "built-in DRAM preset " + s.name);
  return v;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::vector<Standard>& standards() {
  static const std::vector<Standard> all = build();  // immutable after first use
  return all;
}

const Standard& standard(const std::string& name, const std::string& where) {
  std::string names;
  for (const Standard& s : standards()) {
    if (lower(s.name) == lower(name) || lower(s.standard) == lower(name)) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw InputError(fmt::format("{}: unknown DRAM standard '{}'; accepted: {} (or the family name alone)",
                               where, name, names));
}

Standard at_rate(const Standard& s, double rate_mtps) {
  Standard r = s;
  if (!(rate_mtps > 0) || !std::isfinite(rate_mtps))
    throw InputError(fmt::format("DRAM {}: data rate {} MT/s is not a positive number", s.name, rate_mtps));
  // Data beats per command clock (2 for DDR/HBM2, 4 for HBM3's and LPDDR5's
  // faster data clocks) are a property of the interface and stay.
  const double beats_per_ck = s.timing.rate_mtps * 1e-6 * static_cast<double>(s.timing.tCK_ps);
  const double tck_new = beats_per_ck / (rate_mtps * 1e-6);  // ps
  const double k = static_cast<double>(s.timing.tCK_ps) / tck_new;
  auto scale = [k](int n) { return n <= 0 ? n : static_cast<int>(std::ceil(n * k - 1e-9)); };
  Timing& t = r.timing;
  const Timing& o = s.timing;
  t.tCK_ps = static_cast<int64_t>(std::llround(tck_new));
  t.rate_mtps = rate_mtps;
  for (auto m : {&Timing::nCL, &Timing::nCWL, &Timing::nRCDRD, &Timing::nRCDWR, &Timing::nRP,
                 &Timing::nRAS, &Timing::nRC, &Timing::nWR, &Timing::nRTP, &Timing::nRRDS,
                 &Timing::nRRDL, &Timing::nCCDL, &Timing::nFAW, &Timing::nWTRS, &Timing::nWTRL,
                 &Timing::nRTW, &Timing::nRFC, &Timing::nRFCpb, &Timing::nREFI, &Timing::nREFIpb,
                 &Timing::nRREFD})
    t.*m = scale(o.*m);
  t.nCCDL = std::max(t.nCCDL, t.nCCDS);
  if (rate_mtps != s.timing.rate_mtps)
    r.name = fmt::format("{}@{:g}", s.name, rate_mtps);
  return r;
}

void validate(const Standard& s, const std::string& where) {
  const Organisation& o = s.org;
  auto bad = [&](const char* field, double v, const char* accepted) {
    throw InputError(fmt::format("{}: {} = {} is not accepted; expected {}", where, field, v, accepted));
  };
  if (o.channels < 1) bad("channels", o.channels, "an integer >= 1");
  if (o.pseudo_channels < 1) bad("pseudo_channels", o.pseudo_channels, "an integer >= 1");
  if (o.sids < 1) bad("sids", o.sids, "an integer >= 1");
  if (o.bankgroups < 1) bad("bankgroups", o.bankgroups, "an integer >= 1");
  if (o.banks < 1) bad("banks", o.banks, "an integer >= 1");
  if (o.rows < 1) bad("rows", static_cast<double>(o.rows), "an integer >= 1");
  if (o.columns < 1) bad("columns", o.columns, "an integer >= 1");
  if (o.dq < 8 || o.dq % 8 != 0) bad("dq", o.dq, "a multiple of 8 bits");
  if (o.burst_length < 1) bad("burst_length", o.burst_length, "an integer >= 1");
  const Timing& t = s.timing;
  if (t.tCK_ps <= 0) bad("tCK", static_cast<double>(t.tCK_ps), "a positive clock period");
  if (!(t.rate_mtps > 0)) bad("data rate", t.rate_mtps, "a positive number of MT/s");
  if (t.nBL < 1) bad("nBL", t.nBL, "an integer >= 1");
  for (auto [name, v] : {std::pair{"nCL", t.nCL}, {"nRCDRD", t.nRCDRD}, {"nRCDWR", t.nRCDWR},
                         {"nRP", t.nRP}, {"nRAS", t.nRAS}, {"nRC", t.nRC}, {"nRFC", t.nRFC},
                         {"nREFI", t.nREFI}})
    if (v < 1) bad(name, v, "an integer >= 1 cycle");
  if (t.nRC < t.nRAS) bad("nRC", t.nRC, "at least nRAS");
  if (t.nREFI <= t.nRFC) bad("nREFI", t.nREFI, "more than nRFC");
}

}  // namespace tessera::dram
