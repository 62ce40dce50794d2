#pragma once
// The SystemC engine on a parallel workload's whole iteration
// (systemc_iteration.cpp): every device (tp x pp x dp, at most
// k_max_systemc_devices) is a process running its pipeline task list, and every
// transfer is a flow on the fabric's shared channels (systemc_fabric.h), so
// tensor-parallel collectives, pipeline send/recv and data-parallel gradient
// buckets that overlap in time share the ports they cross.
//
// Per device (global rank g = t + tp (j + dp d) as Megatron-LM numbers them: t
// its tensor-, j its data-parallel rank, d its pipeline position):
//   main process   its tasks in the schedule's order (forward/backward of a
//                  chunk for a microbatch), each waiting for its input (the
//                  previous chunk's activation or the next chunk's gradient
//                  arriving over the fabric), then the optimizer passes once its
//                  gradient reduction has drained;
//   comm stream    the per-microbatch overlapped collectives (ZeRO gathers,
//                  ZeRO-2 reduce-scatter buckets), in issue order (a prefetched
//                  gather issued early, the op after it waiting for it); a pass
//                  ends when its own have finished;
//   dp stream      the last microbatch's DDP gradient buckets, in issue order.
// A pass's ops run in order: compute ops take their simulated time (a device's
// compute is its own); a collective waits for every member of its group (the
// `ranks` devices `stride` apart around g) to reach it, then each member sends
// its bytes to its successor in the group: a flow on its transmit port, the
// successor's receive port and the switch it crosses, after a fixed part equal
// to the op's uncontended time minus the wire time (bytes / port rate, the
// largest over the links it uses). Alone, a collective therefore takes exactly
// its simulated time; sharing a port with another flow, longer. A pipeline
// transfer is the same flow from the sending to the receiving device, started
// when the sending pass ends (with blocking transfers, once the receiver has
// posted its receive too; both wait for it).
//
// Without contention the iteration equals the analytic engine's schedule
// (sim/engines/parallel.cpp); the analytic engine gives every group and stream a
// lane of its own, so it cannot show a tensor-parallel all-reduce slowed by a
// data-parallel bucket on the same NVLink ports.
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// One link class a transfer uses: `bytes` each member sends over it (protocol
// overhead included), its port's payload rate, and the switch it crosses.
struct IterWire {
  std::string link;             // link component path: ports device<g>.<link>.tx / .rx
  double bytes = 0;
  double port_bw = 0;           // one device's port, B/s
  std::string sw;               // switch component path ("" when none)
  double sw_bw = 0;             // its capacity, B/s (per node when sw_per_node)
  bool sw_per_node = false;
};

struct IterOp {
  enum class Kind { compute, collective, overlap_every, overlap_last } kind = Kind::compute;
  double duration_s = 0;        // alone: compute time, or the collective's uncontended time
  // compute: its time while a collective of the device's communication stream runs
  // (fewer SMs: parallel_parts.h, Simulator::crowded); 0 = as alone
  double crowded_s = 0;
  int64_t ranks = 1, stride = 1;   // the group (collectives)
  std::vector<IterWire> wires;
  std::string name;
  // An inline op that first waits for a parameter gather of the comm stream: its
  // index in the pass's ops (an earlier overlap_every op); -1: none.
  int waits_for = -1;
};

struct IterPass {
  std::vector<IterOp> ops;      // in issue order (p2p excluded)
  double tail_s = 0;            // after the last inline op until the inline part ends
  bool has_p2p = false;         // a send to the next (forward) / previous (backward) chunk
  IterOp p2p;
  double p2p_extra_s = 0;  // after the send: the receiver's all-gather (p2p_scatter_gather), uncontended
};

struct IterTask {
  bool backward = false;
  int64_t chunk = 0, mb = 0;
};

struct IterationPlan {
  int64_t tp = 1, pp = 1, dp = 1, v = 1, m = 1;
  int64_t devices_per_node = 1;
  std::vector<IterPass> fwd, bwd, opt;  // per chunk (pp x v); bwd: the last microbatch's
  // Where some backward ops run in some microbatches only (in_microbatch): per
  // chunk, the first microbatch's backward and a middle one's; empty otherwise.
  std::vector<IterPass> bwd_first, bwd_middle;
  std::vector<std::vector<IterTask>> order;     // per pipeline position
  // Blocking pipeline transfers (p2p_overlap=0): per position, the tasks of each
  // step in `order` (one, or a forward and a backward); between two steps the
  // device posts the sends of the step before and the receives of the step after,
  // and waits until all have arrived (parallel_parts.h, run_schedule).
  bool blocking = false;
  std::vector<std::vector<int>> step_sizes;
};

struct IterChannel {
  std::string name;
  double busy_s = 0, utilization = 0;
};

// What a device did when (for --trace): a pass of its task list, an optimizer
// pass, a pipeline send (sender's side) or blocking exchange, a collective of its
// dp stream (DDP buckets) or its comm stream.
struct IterSpan {
  enum class Kind { forward, backward, optimizer, send, exchange, dp, comm } kind = Kind::forward;
  int64_t chunk = -1, mb = -1;  // the pass's chunk (send: the sender's)
  double start_s = 0, end_s = 0;
  std::string name;  // dp / comm: the collective's op name; send: "send F mb 3 to chunk 2"
};

struct IterationResult {
  double iteration_s = 0;
  std::vector<std::vector<IterSpan>> spans;     // per global rank, in the order recorded
  std::vector<double> device_end_s;             // per global rank
  std::vector<IterChannel> channels;            // every link port and switch used
  int64_t flows = 0;                            // transfers simulated
};

// Runs the plan; throws InputError above k_max_systemc_devices devices.
IterationResult simulate_iteration_systemc(const IterationPlan& plan);

}  // namespace tessera
