#pragma once
// The parts of the multi-device engine (parallel.h), internal to sim/engines/:
//   parallel_pass.cpp      each distinct pass compiled and timed once (Simulator),
//                          its inline and overlapped collectives (time_pass), and
//                          the same pass as the SystemC whole iteration runs it
//                          (iter_pass);
//   parallel_schedule.cpp  the pipeline schedule: each device's task order and
//                          the times it gives (run_schedule);
//   parallel.cpp           simulate_parallel: capacity, roles, gradient
//                          reduction, optimizer, the report.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/hardware.h"
#include "sim/engines/engine.h"
#include "sim/engines/result.h"
#include "sim/engines/systemc_iteration.h"
#include "workloads/ir.h"

namespace tessera::parallel_engine {

// One simulated pass: its inline ops back to back, the overlapped ops on a
// communication stream.
struct PassTiming {
  double inline_s = 0;      // inline ops (compute + inline collectives)
  double tp_comm_s = 0;     // of inline_s, tensor-parallel/expert collectives (exposed)
  double dp_after_s = 0;    // of inline_s, the gradient reduction after the backward (attr after_backward)
  // Inline collectives over the pipeline group (start, end within the pass): every
  // pipeline position must reach them (the optimizer's statistics all-reduces).
  std::vector<std::pair<double, double>> pp_meets;
  double end_s = 0;         // with the per-microbatch overlapped collectives
  double energy_j = 0;      // inline ops (static power over inline_s included)
  double inline_comm_energy_j = 0;   // dynamic energy of the inline collectives (in energy_j)
  double comm_energy_j = 0;          // dynamic energy of the per-microbatch overlapped collectives
  double flops = 0, recompute_flops = 0;
  // Last-microbatch-only overlapped collectives (DDP buckets): ready offset, time.
  std::vector<std::pair<double, double>> late;
  double late_energy_j = 0;
  double every_overlap_s = 0;   // per-microbatch overlapped collectives' total time
  double gather_wait_s = 0;     // of inline_s, waiting for prefetched parameter gathers
  double contention_s = 0;  // of inline_s, inline ops slowed by a collective holding SMs (Simulator::crowded)
  std::map<std::string, double> bytes_every, bytes_late;   // group -> bytes per execution
};

// Compiles and times each distinct run of ops once (by content: roles with
// identical ops share one simulation) with the named single-device engine.
//
// Host time (models/compute/host.h). Each device's ops of a pass are launched by
// its own PyTorch process, so run() times them as the single-device engine does,
// the host timeline included (compute.host_mode=eager, the default; none with
// graph, whose ops have no host time): a pass is timed from its first launch, the
// host starting with it, and ends no sooner than the host is done with its last
// op. A pass begins on an idle host in this model: the host running ahead across
// pass boundaries (into the next microbatch while the GPU finishes this one) is
// not modelled, at most one launch and one op's host time per pass. transfer()
// times one collective on the communication stream or a pipeline send without a
// host of its own (the pass's host launched it). Both engines charge it: with the
// systemc engine a pass holding a collective runs every rank at once, each rank
// with its own host process (systemc_system.h, host_process.h), which without
// contention gives the analytic engine's times; the whole iteration
// (systemc_iteration.h) keeps to what its passes were given, host included.
class Simulator {
 public:
  Simulator(const Hardware& hw, const std::string& engine)
      : m_hw(hw), m_engine_name(engine), m_engine(make_engine(engine)) {}

  // Times of `ops` (indices into g) run back to back: per op, its end time.
  struct Seq {
    double time_s = 0, energy_j = 0;
    std::vector<double> end;          // per op in `ops`
    std::vector<double> energy;       // per op
    std::vector<OpResult> results;
  };

  // The content of `ops` as one graph (dependencies outside it dropped), and its
  // signature in `sig`: roles with the same signature share one simulation.
  static Graph local_graph(const Graph& g, const std::vector<size_t>& ops, std::string& sig);
  static std::string signature(const Graph& g, const std::vector<size_t>& ops) {
    std::string sig;
    local_graph(g, ops, sig);
    return sig;
  }
  const Seq& run(const Graph& g, const std::vector<size_t>& ops) { return simulate(g, ops, true); }
  const Seq& transfer(const Graph& g, size_t op) { return simulate(g, {op}, false); }
  int runs() const { return m_runs; }

  // The device as its compute kernels see it while a collective of the
  // communication stream runs: NCCL's kernel holds one SM per channel
  // (system.reduce_units) for its whole run, so a GPU kernel beside it has
  // compute.sm_count - reduce_units SMs (its waves and tiles re-chosen for them).
  // nullptr where collectives take no compute units: no system, or a compute
  // other than tensorcore (TPU ICI and DMA engines run them). Built on first use.
  Simulator* crowded();

 private:
  const Seq& simulate(const Graph& g, const std::vector<size_t>& ops, bool host);
  const Hardware& m_hw;
  std::string m_engine_name;
  std::unique_ptr<Engine> m_engine;
  std::map<std::string, Seq> m_cache;
  int m_runs = 0;
  bool m_crowded_built = false;
  std::unique_ptr<Hardware> m_crowded_hw;
  std::unique_ptr<Simulator> m_crowded;
};

// The ops of a pass that run inline (not on the communication stream, not a
// pipeline transfer).
std::vector<size_t> inline_ops(const Graph& g, const std::vector<size_t>& ops);

// A pass's ops in the order its device issues them. A parameter gather with attr
// prefetch = p (a run of consecutive ones: one unit's gathers) moves to just after
// the first inline op that follows the run p units before it (to the pass's start
// when there is none); every other op keeps its place. `waits`: the first inline
// op after each run -> the run's last gather, which it waits for (the
// communication stream runs in issue order, so the run's earlier gathers and
// whatever was issued before them are done by then).
struct IssueOrder {
  std::vector<size_t> ops;
  std::map<size_t, size_t> waits;
};
IssueOrder issue_order(const Graph& g, const std::vector<size_t>& ops);
// last: the last microbatch's pass, whose DDP buckets (overlapped ops not run
// every microbatch) crowd its compute too (Simulator::crowded).
PassTiming time_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, double static_w,
                     bool last = false);
// A pass as the whole-iteration simulation runs it: its inline ops with the
// durations of the pass's simulation, its overlapped collectives, its p2p send.
IterPass iter_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, const Hardware& hw);

// The ops of a pass that microbatch `mb` of `m` runs: all but those whose attr
// in_microbatch leaves it out (1: not in the first, 2: only in the last).
std::vector<size_t> microbatch_ops(const Graph& g, const std::vector<size_t>& ops, int64_t mb, int64_t m);
// Whether any op of `ops` runs in some microbatches only (attr in_microbatch).
bool varies_by_microbatch(const Graph& g, const std::vector<size_t>& ops);

struct ChunkTiming {
  // bwd: the last microbatch's backward (its DDP buckets: `late`, crowding its
  // compute); bwd_first and bwd_middle: the first's and a middle one's where they
  // differ from it (some ops run in some microbatches only, in_microbatch, or the
  // buckets crowd the last one; otherwise unused, every one is bwd).
  PassTiming fwd, bwd, opt, bwd_first, bwd_middle;
  bool bwd_varies = false;
  const PassTiming& bwd_at(int64_t mb, int64_t m) const {
    if (!bwd_varies || mb == m - 1) return bwd;
    return mb == 0 ? bwd_first : bwd_middle;
  }
  double p2p_fwd_s = 0, p2p_bwd_s = 0;
  double p2p_fwd_bytes = 0, p2p_bwd_bytes = 0, p2p_energy_j = 0;
  double p2p_gather_bytes = 0;  // scatter/gather: the receivers' all-gathers over tp
  double p2p_fwd_gather_s = 0, p2p_bwd_gather_s = 0;  // of p2p_*_s, those all-gathers (the receiver's)
};

enum class TaskKind { fwd, bwd };
struct Task {
  TaskKind kind;
  int64_t chunk, mb;
};


// Each device's task order under the schedule (Megatron-LM's
// forward_backward_pipelining_{without,with}_interleaving).
std::vector<std::vector<Task>> schedule_tasks(int64_t p, int64_t v, int64_t m, int schedule, bool training);

// With blocking transfers: per device, the tasks of each step in its order (1, or
// a forward and a backward in the interleaved schedule's steady state, as
// Megatron-LM pairs them before one exchange).
std::vector<std::vector<int>> step_sizes(const std::vector<std::vector<Task>>& order, int64_t p, int64_t v,
                                         int schedule, bool training);

// One task as the schedule ran it; with blocking transfers also each exchange a
// device waited in (exchange = true: the span it spent there).
struct TaskSpan {
  Task task;
  double start_s = 0, end_s = 0;
  bool exchange = false;
};

struct ScheduleResult {
  std::vector<double> end;         // per device: last task's end
  std::vector<double> busy;        // per device: sum of task durations
  std::vector<std::vector<TaskSpan>> spans;          // per device, in its order
  std::vector<std::vector<double>> last_bwd_start;   // [device][local chunk]
  double makespan = 0;
};

// with_p2p: the transfers take their time (false: none, for the exposed share).
// blocking: each device exchanges with its neighbours between steps and waits for
// the exchange (Megatron-LM's p2p_communication without --overlap-p2p-comm:
// batch_isend_irecv, wait, torch.cuda.synchronize); otherwise a transfer only
// delays the task that needs it.
// The timeline rows of a multi-device run (RunResult::parallel_timeline,
// parallel_timeline.cpp). schedule_spans: one position's tasks as the schedule ran
// them, each pass on the "compute" track, with overlapped transfers each send
// after its pass on "p2p" (its duration the sender chunk's p2p time), with blocking
// ones each exchange the device waited in. iteration_timeline: the systemc
// engine's whole iteration, a row per device. sort_rows: each row by start.
void schedule_spans(const std::vector<TaskSpan>& tasks, const std::vector<ChunkTiming>& ct, int64_t v,
                    bool blocking, std::vector<ParallelSpan>& out);
ParallelTimeline iteration_timeline(const IterationResult& r, int64_t tp, int64_t dp, int64_t v);
void sort_rows(ParallelTimeline& tl);

ScheduleResult run_schedule(const std::vector<ChunkTiming>& ct, int64_t p, int64_t v, int64_t m, int schedule,
                            bool training, bool with_p2p, bool blocking = false);

}  // namespace tessera::parallel_engine
