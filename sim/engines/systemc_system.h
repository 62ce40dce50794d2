#pragma once
// The SystemC engine on a multi-device system: every rank a set of concurrent
// processes, every link port and switch a shared channel (systemc_system.cpp).
//
// A program whose kernels send over the links or switches of a system
// (models/interconnect/system.h) is one rank's program; the engine runs it on
// every rank of its collectives at once. Each rank has its own memory levels
// (transfers booked in issue order, as the single-device engine does), its own
// compute units (shared by its concurrent kernels) and, per link component, a
// transmit and a receive port of the link's payload rate x its link count. A
// switch is a component whose ports all of its attached devices share: per node
// (scale-up) or for the whole system (scale-out), its capacity is chips x ports
// x port payload rate, and its in-switch reduction (NVLS) has chips x ports x
// port payload rate x reduction_efficiency. A transfer is a TLM-2.0 transaction
// from the rank to the fabric (nb_transport_fw, BEGIN_REQ, its fixed latency --
// link latency + step latency, switch latency -- as the annotated delay; the
// fabric answers BEGIN_RESP through nb_transport_bw when it is done) and, inside
// the fabric, a flow: it moves its bytes at the largest rate the channels it
// crosses allow, the channels shared max-min fairly among the flows crossing
// them at that moment (a flow never exceeds the rate of the links it uses). Peers come from the planner's
// pattern in Instr::dst (PeerPattern, models/interconnect/collective.h): a ring
// step loads the sender's transmit and the successor's receive port, an
// all-to-all spreads its bytes over every peer's receive port. A rank starts a
// stage once the ranks that send to it have finished the previous stage's
// transfers (data dependencies), so a slow rank holds up the ring.
//
// Without contention (one collective at a time, switches with a port per
// attached link) every flow runs at its own rate and every rank at the same
// pace: the time equals the analytic engine's (the rule of pipeline.h on one
// rank's stages). Contention appears when flows share a channel: two
// collectives in concurrent streams share the ports, an all-to-all through a
// switch with fewer ports than attached links waits for its ports.
//
// At most k_max_systemc_devices ranks are simulated; larger systems take the
// analytic engine, which simulates each distinct role once.
#include "isa/isa.h"
#include "models/hardware.h"
#include "sim/engines/result.h"

namespace tessera {

inline constexpr int k_max_systemc_devices = 64;

// True when `hw` has more than one device and a kernel of `p` sends over a
// link or switch (a transfer-lane unit).
bool is_system_program(const Program& p, const Hardware& hw);

// Ranks the program's collectives span (the largest `ranks` of their patterns).
int64_t system_program_ranks(const Program& p, const Hardware& hw);

// Runs `p` on every rank; `streams` kernels in flight per rank. Throws
// InputError above k_max_systemc_devices ranks (naming the analytic engine).
RunResult run_system_systemc(const Program& p, const Hardware& hw, int streams);

}  // namespace tessera
