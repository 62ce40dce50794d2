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

// The timing fields of Timing in the order the preset table lists them.
constexpr int Timing::*k_n_fields[] = {
    &Timing::nBL,  &Timing::nCL,  &Timing::nCWL, &Timing::nRCDRD, &Timing::nRCDWR, &Timing::nRP,
    &Timing::nRAS, &Timing::nRC,  &Timing::nWR,  &Timing::nRTP,   &Timing::nRRDS,  &Timing::nRRDL,
    &Timing::nCCDS, &Timing::nCCDL, &Timing::nFAW, &Timing::nWTRS, &Timing::nWTRL, &Timing::nRTW,
    &Timing::nRFC, &Timing::nRFCpb, &Timing::nREFI, &Timing::nREFIpb, &Timing::nRREFD};
constexpr size_t k_n_count = sizeof(k_n_fields) / sizeof(k_n_fields[0]);

// Where a preset's command energies come from: IDD currents of a datasheet
// (from_idd), HBM2's figures per bit (hbm_scaled: no public IDD sheet), or none.
enum class EnergyFrom { idd, hbm2_per_bit, none };

// One preset as data; build() turns every row into a Standard with one builder.
struct Preset {
  const char* name;
  const char* standard;
  Family family;
  Organisation org;  // channels, pseudo_channels, sids, bankgroups, banks, rows, columns, dq, burst_length
  int64_t tCK_ps;
  double rate_mtps;
  // nBL nCL nCWL nRCDRD nRCDWR nRP nRAS nRC nWR nRTP nRRDS nRRDL nCCDS nCCDL nFAW
  // nWTRS nWTRL nRTW nRFC nRFCpb nREFI nREFIpb nRREFD, in cycles of tCK
  int n[k_n_count];
  EnergyFrom energy;
  Idd idd;            // EnergyFrom::idd: the datasheet currents
  int devices;        // devices in lock step on one channel (idd)
  const char* idd_source;
  const char* source;
};

// Sources per row (all timings are the cited preset's, in cycles of its tCK):
// HBM2-2000   DRAMSim3 configs/HBM2_8Gb_x128.ini: nRC = tRAS + tRP; nRTW = nCL + nBL + 2 -
//             nCWL (tWPRE 1 tCK, JESD235); tRFCSB 160 ns, tRREFD 8 ns (Ramulator 2
//             HBM2.cpp), tREFISB = tREFI / 16 banks. IDD [power]: VDD 1.2 V, IDD0 65,
//             IDD2N 40, IDD3N 55, IDD4R 390, IDD4W 500, IDD5AB 250 mA.
// HBM2E-3200  JESD235C/D pseudo-channel mode (8 ch x 2 PC x 64 bit, BL4 = 32 B, 16 Gb
//             8-high) at 3.2 Gb/s (Samsung Flashbolt, SK hynix HBM2E: 3.2-3.6 Gb/s); the
//             HBM2 ns timings at tCK 625 ps (ceil(n x 1000 / 625)), nCCDS = nBL = 2,
//             tRFC 350 ns (Ramulator 2 HBM2 tRFC table, 8 Gb per channel) = 560,
//             tREFISB = tREFI / 16.
// HBM3-6400   Ramulator 2.1 python/ramulator/dram/hbm3.py HBM3_6400Mbps + HBM3_16Gb_8hi
//             (JESD238): tRFC 350 ns (JESD238 Table 84), tREFI 3.9 us, tRFCpb 200 ns,
//             tRREFD 8 ns, tREFIpb = tREFI / 32 banks.
// HBM3E-9600  Ramulator 2.1 hbm3.py HBM3_9600Mbps (the HBM3 ns timings at 417 ps);
//             24 Gb dies 8-high = 24 GiB (Micron / SK hynix HBM3E 24 GB).
// HBM4-8000   JESD270-4 (JEDEC press release, 16 April 2025): 2048-bit interface,
//             32 channels x 2 pseudo-channels (32 bit each), up to 8 Gb/s (2 TB/s per
//             stack), 24/32 Gb layers 4- to 16-high, HBM3-controller compatible. No
//             JESD270-4 timing table is public: the HBM3 array timings in ns
//             (HBM3-6400 above) at tCK 500 ps (ceil(n x 625 / 500); tested equal to
//             at_rate(HBM3-6400, 8000)), HBM3's bank structure; 32 Gb 8-high = 32 GiB.
// DDR4-3200   Ramulator 2 DDR4.cpp DDR4_3200AA + DDR4_8Gb_x8 (JESD79-4C Tables 169-170,
//             tRFC1 350 ns, tREFI 7.8 us); no per-bank refresh. IDD: DRAMSim3
//             DDR4_8Gb_x8_3200.ini, VDD 1.2, IDD0 57, IDD2N 37, IDD3N 52, IDD4R 168,
//             IDD4W 150, IDD5AB 250 mA per device, 8 devices.
// LPDDR5-6400 Ramulator 2 LPDDR5.cpp LPDDR5_6400 + LPDDR5_8Gb_x16 (bank-group mode,
//             BL32); nRC = tRAS + tRPpb = 49 (JESD209-5; Ramulator lists 30 < nRAS);
//             refresh from JESD209-5: tRFCab 210 ns, tRFCpb 120 ns, tREFI 3.9 us,
//             tPBR2PBR 90 ns. No public IDD currents: energy 0.
const Preset k_presets[] = {
    {"HBM2-2000", "HBM2", Family::hbm2, {8, 1, 1, 4, 4, 32768, 16, 128, 4}, 1000, 2000,
     {2, 14, 4, 14, 14, 14, 34, 48, 16, 4, 4, 6, 1, 2, 30, 6, 8, 14, 260, 160, 3900, 3900 / 16, 8},
     EnergyFrom::idd, {1.2, 65, 40, 55, 390, 500, 250}, 1, "DRAMSim3 HBM2_8Gb_x128.ini IDD currents",
     "DRAMSim3 configs/HBM2_8Gb_x128.ini (JESD235 legacy mode: 8 x 128-bit channels, BL4, 4 GiB 4-high "
     "stack of 8 Gb dies)"},
    {"HBM2E-3200", "HBM2E", Family::hbm2, {8, 2, 1, 4, 4, 65536, 32, 64, 4}, 625, 3200,
     {2, 23, 7, 23, 23, 23, 55, 77, 26, 7, 7, 10, 2, 4, 48, 10, 13, 23, 560, 256, 6240, 6240 / 16, 13},
     EnergyFrom::hbm2_per_bit, {}, 0, "HBM2E",
     "JESD235D organisation (pseudo-channel mode, 16 Gb 8-high); DRAMSim3 HBM2 timings in ns at 3.2 Gb/s "
     "(Samsung Flashbolt / SK hynix HBM2E data rates)"},
    {"HBM3-6400", "HBM3", Family::hbm3, {16, 2, 2, 4, 4, 16384, 32, 32, 8}, 625, 6400,
     {2, 20, 10, 31, 15, 26, 45, 72, 33, 9, 4, 5, 2, 4, 24, 7, 10, 20, 560, 320, 6240, 6240 / 32, 13},
     EnergyFrom::hbm2_per_bit, {}, 0, "HBM3",
     "Ramulator 2.1 hbm3.py HBM3_6400Mbps + HBM3_16Gb_8hi (JESD238): 16 GiB 8-high stack"},
    {"HBM3E-9600", "HBM3E", Family::hbm3, {16, 2, 2, 4, 4, 24576, 32, 32, 8}, 417, 9600,
     {2, 30, 15, 47, 23, 39, 68, 108, 50, 14, 6, 8, 2, 6, 36, 11, 15, 30, 840, 480, 9360, 9360 / 32, 20},
     EnergyFrom::hbm2_per_bit, {}, 0, "HBM3E",
     "Ramulator 2.1 hbm3.py HBM3_9600Mbps (HBM3E grade); 24 Gb dies 8-high = 24 GiB stack (Micron/SK "
     "hynix HBM3E 24 GB), rows scaled from HBM3_16Gb_8hi"},
    {"HBM4-8000", "HBM4", Family::hbm3, {32, 2, 2, 4, 4, 16384, 32, 32, 8}, 500, 8000,
     {2, 25, 13, 39, 19, 33, 57, 90, 42, 12, 5, 7, 2, 5, 30, 9, 13, 25, 700, 400, 7800, 244, 17},
     EnergyFrom::hbm2_per_bit, {}, 0, "HBM4",
     "JESD270-4 organisation (JEDEC, April 2025: 32 channels x 2 pseudo-channels, 2048 bits, 8 Gb/s; "
     "32 Gb 8-high = 32 GiB); no public timing table: HBM3 (JESD238) timings in ns at 8 Gb/s"},
    {"DDR4-3200", "DDR4", Family::ddr4, {1, 1, 1, 4, 4, 65536, 128, 64, 8}, 625, 3200,
     {4, 22, 16, 22, 22, 22, 52, 74, 24, 12, 4, 8, 4, 8, 34, 4, 12, 22 + 4 + 2 - 16, 560, 0, 12480, 0, 0},
     EnergyFrom::idd, {1.2, 57, 37, 52, 168, 150, 250}, 8, "DRAMSim3 DDR4_8Gb_x8_3200.ini IDD currents",
     "Ramulator 2 DDR4.cpp DDR4_3200AA + DDR4_8Gb_x8 (JESD79-4C Tables 169-170 for nRRD/nFAW, tRFC1 350 ns, "
     "tREFI 7.8 us); one rank of 8 x8 devices on a 64-bit channel"},
    {"LPDDR5-6400", "LPDDR5", Family::lpddr5, {1, 1, 1, 4, 4, 32768, 32, 16, 32}, 1250, 6400,
     {4, 20, 11, 15, 15, 15, 34, 49, 28, 4, 4, 4, 4, 4, 16, 5, 10, 20 + 4 + 2 - 11, 168, 96, 3120, 3120 / 16, 72},
     EnergyFrom::none, {}, 0, "no public LPDDR5 IDD currents used: energy not modelled (0)",
     "Ramulator 2 LPDDR5.cpp LPDDR5_6400 + LPDDR5_8Gb_x16 (bank-group mode, BL32); refresh from JESD209-5: "
     "tRFCab 210 ns, tRFCpb 120 ns, tREFI 3.9 us, tPBR2PBR 90 ns"},
};

// The one builder. HBM2 energies are built first: the later HBM rows scale them.
Standard from_preset(const Preset& p, const Energy& hbm2) {
  Standard s;
  s.name = p.name;
  s.standard = p.standard;
  s.family = p.family;
  s.org = p.org;
  s.source = p.source;
  s.timing.tCK_ps = p.tCK_ps;
  s.timing.rate_mtps = p.rate_mtps;
  for (size_t i = 0; i < k_n_count; ++i) s.timing.*k_n_fields[i] = p.n[i];
  switch (p.energy) {
    case EnergyFrom::idd:
      s.energy = from_idd(p.idd, s.timing, p.devices, p.idd_source);
      break;
    case EnergyFrom::hbm2_per_bit:
      s.energy = hbm_scaled(hbm2, s.org.access_bytes(), s.org.dq, p.idd_source);
      break;
    case EnergyFrom::none:
      s.energy.source = p.idd_source;
      break;
  }
  if (s.family == Family::hbm2 && p.energy == EnergyFrom::idd) {
    // No REFpb current is published: a REFpb is taken as 1/16 of a REFab (one bank of 16).
    s.energy.refpb_pj = s.energy.ref_pj / 16.0;
    // O'Connor et al., "Fine-Grained DRAM", MICRO 2017: HBM2 moves data at about
    // 3.9 pJ/bit in all; the IDD4R read energy is 804 pJ / 512 bit = 1.57 pJ/bit,
    // so the interface and on-die data path not in IDD4R take ~2.3 pJ/bit.
    s.energy.io_pj_per_bit = 2.3;
  }
  // DDR4 I/O termination: no public per-bit figure is used (0, not modelled).
  return s;
}

std::vector<Standard> build() {
  std::vector<Standard> v;
  Energy hbm2;
  for (const Preset& p : k_presets) {
    v.push_back(from_preset(p, hbm2));
    if (std::string(p.name) == "HBM2-2000") hbm2 = v.back().energy;
  }
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
  // The timing model counts whole picoseconds and int command cycles: a command
  // clock under 1 ps (a data rate thousands of times any JEDEC standard's) would
  // round to 0 and overflow the scaled cycle counts.
  if (!(tck_new >= 1.0))
    throw InputError(fmt::format("DRAM {}: data rate {:.4g} MT/s gives a command clock under 1 ps; accepted: up to "
                                 "{:.4g} MT/s (the bandwidth or data rate set is too large)",
                                 s.name, rate_mtps, beats_per_ck * 1e6));
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
