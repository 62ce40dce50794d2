#pragma once
// A run as a Chrome / Perfetto trace-event file ({"traceEvents": [...],
// "displayTimeUnit": "ns"}), opened by ui.perfetto.dev or chrome://tracing.
//
// One process per device (pid = device index + 1, named "device D: NAME"), and in it:
//   - one thread per engine stream ("stream S"): an X slice per kernel (args:
//     kind, mapping, bound, FLOPs, energy), nesting a "launch" slice for the
//     kernel's overhead and one slice per block for its compute phase, named by
//     its leading instruction class (MMA, else VEC, else COLL; args.classes lists
//     every class of the block, e.g. "MMA+VEC" for a GEMM with its epilogue);
//   - one thread per unit the streams share: "DMA <level>" per memory level, and
//     each non-compute unit a compute phase occupies (a link: its collectives).
//     A slice spans a block's transfers (or phase) from the first stage to the
//     last; args give the bytes, busy time and average bandwidth. When slices
//     of one unit overlap (several streams), that unit's slices are async events
//     (ph b/e, cat = the unit) instead of X slices;
//   - counters (ph C): "<level> bandwidth" (GB/s) for every memory level,
//     "<cache> hit rate" (1 - the next level's bytes / the cache's bytes, 0 where
//     the cache moves no bytes), "clock" (MHz of the kernel started last) and
//     "power" (W: static power plus each block's dynamic energy spread over it).
// A multi-device run (RunResult::parallel_timeline) instead has one process per
// row (a pipeline position, or a device with the systemc engine) and a thread per
// track: "compute" (its passes and the optimizer), "p2p" (pipeline sends or
// blocking exchanges), "comm stream", "dp reduction" (gradient buckets); an X slice
// per span (cat forward/backward/optimizer/p2p/comm/dp; args: duration, chunk,
// microbatch), async b/e events on a track whose spans overlap.
// Times are whole nanoseconds written as microseconds (ts, dur), so slices nest
// exactly. Deterministic: the same result gives the same bytes.
#include <string>

#include <nlohmann/json.hpp>

#include "sim/engines/result.h"

namespace tessera {

nlohmann::json trace_events(const RunResult& r);

// Writes trace_events(r) to `path` (temporary file + rename); errors name the
// option and the path.
void write_trace(const RunResult& r, const std::string& path);

}  // namespace tessera
