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
#include <cstdint>
#include <string>

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

// Efficiency of reads that come in runs of `run_bytes` contiguous bytes, a run
// starting every `pitch_bytes` (a strided view, one L2 sector per element) or, with
// pitch 0, at random run-aligned places in a 1 GiB range (a gather of random
// rows), relative to a sequential stream on the same `stacks` and `mapping`; both
// without refresh (refresh costs both alike). In (0, 1]; a pitch <= run is a stream
// (1). What the analytic `hbm` level charges a kernel's scattered reads: access
// granularity (a run shorter than a burst still moves the burst) and row locality
// (runs in one DRAM row share its activate) come from the cycle model. At most 2^15
// runs and 16 MiB are simulated per entry (enough to spread over every pseudo-
// channel of 5 HBM3 stacks ~200 times); cached per (standard, rate, stacks,
// mapping, run, pitch).
double access_efficiency(const Standard& s, int stacks, const std::string& mapping, uint64_t run_bytes,
                         uint64_t pitch_bytes);

}  // namespace tessera::dram
