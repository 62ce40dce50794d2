#pragma once
// What the analytic memory model needs from the cycle-level DRAM model, per
// preset and data rate: streaming efficiencies by direction, random-access
// efficiency and the unloaded latency. Computed by running the cycle model
// (system.h) on one stack, once per (preset, data rate, refresh mode) in a
// process, and cached: later calls cost a map lookup.
//
// Streams run without refresh (4 MiB, well past the queues' fill) and the
// refresh cost is applied in closed form, so the figures do not depend on where
// in a refresh interval a short stream ends:
//   all-bank: each pseudo-channel stops for nRFC every nREFI, so a stream keeps
//             1 - nRFC / nREFI of its refresh-free rate;
//   per-bank: the other banks keep serving during a REFpb; with 64-entry queues
//             the loss is under 0.5 % (tests/memory), taken as none.
#include "models/memory/dram/controller.h"
#include "models/memory/dram/standard.h"

namespace tessera::dram {

struct Characterisation {
  double read_efficiency = 1;     // sustained sequential reads / peak
  double write_efficiency = 1;    // sustained sequential writes / peak
  double random_efficiency = 1;   // random 64 B reads / peak (activate-rate bound)
  double refresh_factor = 1;      // what refresh leaves of a stream
  double unloaded_latency_s = 0;  // closed-bank read: (nRCDRD + nCL + nBL) x tCK
};

// `refresh` must be all_bank, per_bank or none (automatic is resolved by the family).
Characterisation characterise(const Standard& s, RefreshMode refresh);

}  // namespace tessera::dram
