#pragma once
// DRAM standards as data: the organisation of one device (or HBM stack) and its
// timing parameters in the standard's own names, in command-clock cycles (tCK).
// The device model (device.h) derives every command rule from these numbers, so
// a new speed grade or standard is a new table entry, not new code.
//
// Vocabulary (JEDEC): a *channel* has its own command bus; an HBM channel may be
// split into two *pseudo-channels* (PCs) that share the command bus but have
// their own data bus and banks; a PC (or a DDR rank) holds *stack IDs* (SIDs,
// HBM3) or ranks, each with *bank groups* of *banks*; a bank holds *rows* of
// *columns*. One column access moves `access_bytes` = dq x BL / 8 bytes and
// holds the data bus for nBL cycles.
//
// Here the unit a controller schedules is the pseudo-channel (or the channel
// where there are none): each has its own data bus, banks and queues. HBM's two
// PCs of one channel share the channel's row and column command buses
// (CommandBus, device.h).
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::dram {

enum class Family { hbm2, hbm3, ddr4, lpddr5 };

struct Organisation {
  int channels = 1;         // independent channels per stack (HBM) or per device group (DDR)
  int pseudo_channels = 1;  // per channel (1: none)
  int sids = 1;             // stack IDs (HBM3) or ranks per pseudo-channel
  int bankgroups = 1;       // per SID / rank
  int banks = 1;            // per bank group
  int64_t rows = 1;         // per bank
  int columns = 1;          // column accesses (bursts) per row
  int dq = 64;              // data bits of one pseudo-channel (channel)
  int burst_length = 8;     // beats per column access
  int access_bytes() const { return dq * burst_length / 8; }
  int banks_per_pc() const { return sids * bankgroups * banks; }
  int bankgroups_per_pc() const { return sids * bankgroups; }
  int pcs() const { return channels * pseudo_channels; }  // schedulable units per stack
  int64_t row_bytes() const { return static_cast<int64_t>(columns) * access_bytes(); }
  // Bytes of one stack (device group).
  double capacity_bytes() const {
    return static_cast<double>(pcs()) * banks_per_pc() * static_cast<double>(rows) *
           static_cast<double>(row_bytes());
  }
};

// Timing in command-clock cycles (n...) plus the clock itself.
struct Timing {
  int64_t tCK_ps = 1000;  // command clock period
  double rate_mtps = 0;   // data rate per pin, MT/s
  int nBL = 4;     // data-bus cycles of one column access (burst)
  int nCL = 0;     // RD to first data
  int nCWL = 0;    // WR to first data
  int nRCDRD = 0;  // ACT to RD, same bank
  int nRCDWR = 0;  // ACT to WR, same bank
  int nRP = 0;     // PRE to ACT, same bank
  int nRAS = 0;    // ACT to PRE, same bank
  int nRC = 0;     // ACT to ACT, same bank
  int nWR = 0;     // end of write data to PRE (write recovery)
  int nRTP = 0;    // RD to PRE
  int nRRDS = 0;   // ACT to ACT, different bank group
  int nRRDL = 0;   // ACT to ACT, same bank group
  int nCCDS = 0;   // RD to RD (WR to WR), different bank group
  int nCCDL = 0;   // RD to RD (WR to WR), same bank group
  int nFAW = 0;    // window holding at most four ACTs
  int nWTRS = 0;   // end of write data to RD, different bank group
  int nWTRL = 0;   // end of write data to RD, same bank group
  int nRTW = 0;    // RD to WR (bus turnaround)
  int nRFC = 0;    // all-bank refresh: REFab blocks every bank this long
  int nRFCpb = 0;  // per-bank refresh: REFpb blocks its bank this long
  int nREFI = 0;   // average interval between REFab commands
  int nREFIpb = 0; // average interval between REFpb commands (one bank each)
  int nRREFD = 0;  // REFpb to REFpb / ACT of another bank
  double tCK_s() const { return static_cast<double>(tCK_ps) * 1e-12; }
};

// Energy per command and background power, per pseudo-channel (channel).
struct Energy {
  double act_pj = 0;        // one ACT and its PRE
  double rd_pj = 0;         // one RD burst (array and on-die path)
  double wr_pj = 0;         // one WR burst
  double ref_pj = 0;        // one REFab of the pseudo-channel
  double refpb_pj = 0;      // one REFpb
  double io_pj_per_bit = 0; // interface energy per bit moved on the pins
  double background_mw = 0; // active-standby power of one pseudo-channel
  std::string source;       // where the figures come from
};

struct Standard {
  std::string name;        // preset name, e.g. "HBM3-6400"
  std::string standard;    // JEDEC family name, e.g. "HBM3"
  Family family = Family::hbm3;
  Organisation org;
  Timing timing;
  Energy energy;
  std::string source;      // where organisation and timings come from
  // Peak data bandwidth of one stack / device group: pcs x dq x rate / 8.
  double peak_bandwidth_bps() const {
    return static_cast<double>(org.pcs()) * org.dq * timing.rate_mtps * 1e6 / 8.0;
  }
  // Unloaded read latency of a row miss to a closed bank, in cycles:
  // ACT, nRCDRD later RD, nCL later the first beat, nBL later the last.
  int64_t closed_read_cycles() const { return timing.nRCDRD + timing.nCL + timing.nBL; }
};

// Every preset, in a fixed order.
const std::vector<Standard>& standards();
// The preset called `name` (case-insensitive); InputError naming `where` and
// listing the accepted names otherwise.
const Standard& standard(const std::string& name, const std::string& where);
// The same device run at another data rate (MT/s): timings are fixed in
// nanoseconds by the standards, so each n-value is re-derived as
// ceil(n x tCK_old / tCK_new); nBL (a burst is BL beats whatever the clock) and
// nCCDS (the standard's floor) stay as they are. Energy per command is kept.
Standard at_rate(const Standard& s, double rate_mtps);
// Checks a standard (hand-written or overridden) for values that make no
// sense; InputError naming `where` and the field.
void validate(const Standard& s, const std::string& where);

}  // namespace tessera::dram
