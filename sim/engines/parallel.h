#pragma once
// The multi-device engine: runs a parallel workload (workloads/models/parallel.h)
// on a system of tp x pp x dp devices by simulating each distinct role once.
//
// Roles. Every device of a pipeline chunk does the same work at the same time
// whatever its tensor- or data-parallel rank, so a chunk is one computation; chunks
// whose ops are identical (all but the first and last of a uniform model) are
// simulated once in all. Each pass of a chunk (forward, backward, optimizer) is
// compiled and timed on the device's hardware by the named single-device engine;
// the work of the whole system follows from the pipeline schedule. The cost of
// the simulation grows with the number of distinct chunks and with pp x
// microbatches (the schedule), not with the device count.
//
// Time. A pass's inline ops (compute and the tensor-parallel collectives on its
// critical path) run back to back; ops marked overlap=1 run on a communication
// stream, each ready when the inline op before it ends, one at a time; the pass
// ends with whichever finishes last. The schedule (gpipe, 1f1b, interleaved)
// orders each device's forward and backward tasks; a forward waits for the
// previous chunk's forward of the same microbatch plus its sendrecv, a backward
// for the next chunk's backward (or the last chunk's forward) plus its sendrecv.
// DDP buckets (and ZeRO-1's allreduces) run in the last microbatch's backward on
// the device's communication stream; the optimizer follows the schedule and the
// gradient reduction. The iteration ends with the last device.
//
// Closed form it reproduces (uniform stages, free transfers): gpipe and 1f1b take
// (m + p - 1)(F + B), a bubble fraction (p - 1)/(m + p - 1).
#include <string>

#include "models/hardware.h"
#include "sim/engines/engine.h"
#include "sim/engines/result.h"
#include "workloads/ir.h"

namespace tessera {

// Throws InputError when tp x pp x dp differs from the hardware's device count,
// and when a device's memory footprint exceeds its capacity unless
// allow_over_capacity (then the report warns; sim/engines/capacity.h).
RunResult simulate_parallel(const Graph& g, const Hardware& hw, const std::string& engine,
                            bool allow_over_capacity = false);
// The same with a run's engine options: refuses systemc streams above 1 (each
// device runs its passes' kernels in order beside its communication streams;
// kernels in flight within a pass are the single-device engine's).
RunResult simulate_parallel(const Graph& g, const Hardware& hw, const EngineOptions& engine);

}  // namespace tessera
