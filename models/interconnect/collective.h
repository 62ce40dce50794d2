#pragma once
// Collectives over a system's links and switches: which algorithm and protocol,
// and the pipeline stages (ISA blocks) one rank runs. The compiler lowers a
// collective op to the blocks plan_collective returns (compiler/tensorcore/
// collective.cpp); the engines time them like any kernel, each link and switch
// in a transfer lane of its own (models/compute/stage_cost.h).
//
// Semantics follow nccl-tests: `bytes` is its "size" (all_reduce, broadcast,
// reduce, sendrecv, alltoall: the buffer per rank; all_gather: the gathered
// output; reduce_scatter: the input), algbw = bytes / time and
//   busbw = algbw x bus_factor:  2(n-1)/n all_reduce;  (n-1)/n all_gather,
//   reduce_scatter, alltoall;  1 broadcast, reduce, sendrecv
// (nccl-tests doc/PERFORMANCE.md).
//
// Algorithms (bytes per rank and direction, n ranks, S bytes, B the payload rate
// of the rank's links; every step also pays the link's step latency for the
// protocol):
//   ring      all_reduce 2(n-1) steps of S/n; all_gather/reduce_scatter n-1
//             steps of S/n; broadcast/reduce n-1 pipelined steps of S/(n-1).
//             Across nodes one ring per rail: a node's NICs carry S/n per step
//             shared by devices_per_node NICs.
//   tree      all_reduce: NCCL's double binary tree (chains inside a node): S up
//             and S down, 2 x (intra-node hops + log2 nodes) latency steps.
//   nvls      NVLink SHARP on a switch with in_switch_reduction: all_reduce sends
//             S and receives S/n (multimem.ld_reduce), sends S/n and receives S
//             (multimem.st): S(n+1)/n each way; the switch reduces at its
//             reduction_efficiency. reduce_scatter S out, all_gather S in.
//   direct    every rank exchanges with every peer at once (alltoall, sendrecv;
//             all_reduce one-shot: (n-1)S in, one step).
//   halving_doubling  Rabenseifner: 2 log2 n steps, 2(n-1)/n S (n a power of 2).
//   hierarchical  per level of the system (torus dimensions, or node then
//             scale-out): reduce-scatter up the levels, all-reduce at the top,
//             all-gather down (S shrinks by each level's size).
// Protocols (NCCL): simple carries data only; ll128 carries 120 data bytes per
// 128-byte line; ll 4 data bytes per 8-byte line (data_share). Each link gives
// the step latency of each protocol (link.h).
//
// Selection (algo=auto, protocol=auto), as NCCL's tuner does
// (src/graph/tuning.cc, ncclTopoGetAlgoTime): every enabled (algorithm,
// protocol) pair is timed (latency + size / bandwidth, here the stage timing
// the engines use) and the fastest wins. Enabled as in NCCL: tree and nvls for
// all_reduce (nvls also reduce_scatter/all_gather) on one node with an
// in-switch-reducing switch, tree only across nodes (NCCL's in-node tree is a
// chain), ll128 only on NVLink, ring otherwise; alltoall and sendrecv are direct.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "isa/isa.h"

namespace tessera {

class Hardware;

enum class CollKind { allreduce, allgather, reducescatter, alltoall, broadcast, reduce, sendrecv };

std::string_view coll_kind_name(CollKind k);
// nccl-tests' name (all_reduce, all_gather, reduce_scatter, alltoall, broadcast, reduce, sendrecv).
std::string_view coll_nccl_name(CollKind k);
bool parse_coll_kind(std::string_view s, CollKind& out);   // either spelling
// nccl-tests' bus bandwidth factor (see above).
double bus_factor(CollKind k, int64_t ranks);
// Share of a protocol's bytes on the wire that are data: simple 1, ll128 120/128, ll 1/2.
double protocol_data_share(const std::string& protocol);
// The ring algorithm's critical path on one ring of `ranks` ranks: its steps and
// the bytes each rank sends per step (buffer `bytes`, nccl-tests' size).
//   all_reduce 2(n-1) steps of S/n; all_gather, reduce_scatter, alltoall n-1
//   steps of S/n; broadcast, reduce a chain streaming S in n-1 pieces behind
//   n-1 hops, 2n-3 steps of S/(n-1); sendrecv one step of S.
// plan_ring lays its stages out this way; a device without a system times a
// collective as these steps over its own link (compute.link_bandwidth, B, and
// compute.link_latency, L): steps x (bytes / B + L) (models/tensorcore).
struct RingSteps {
  int64_t steps = 0;
  double bytes = 0;
};
RingSteps ring_steps(CollKind k, double bytes, int64_t ranks);

// Accepted values of algo= and protocol=.
const std::vector<std::string>& collective_algorithms();   // auto, ring, tree, nvls, ...
const std::vector<std::string>& collective_protocols();    // auto, ll, ll128, simple

struct CollectiveRequest {
  CollKind kind = CollKind::allreduce;
  int64_t bytes = 0;
  int64_t ranks = 1;
  DType dtype = DType::fp32;
  std::string algo = "auto";
  std::string protocol = "auto";
  // Consecutive ranks are `stride` devices apart (1: neighbours, filling a node
  // first; >= devices_per_node: one rank per node, as a data-parallel group).
  int64_t stride = 1;
};

struct CollectivePlan {
  std::string algo, protocol;
  std::vector<Block> blocks;     // the stages one rank runs
  double estimate_s = 0;         // stage timing of the blocks (launch overhead excluded)
  std::string summary;           // e.g. "ring/simple, 14 steps over fabric.nvlink (18 x nvlink4)"
};

// Where a fabric instruction's bytes go, for an engine that runs every rank
// (sim/engines/systemc_system.cpp). The planner writes it in Instr::dst of each
// link send and switch collective as "KIND:INNER:GROUP:RANKS:STRIDE":
//   ring    rank r sends to its successor on a ring of GROUP ranks spaced INNER
//           apart (the level's ranks: r = base + pos x INNER + r mod INNER, the
//           successor has pos + 1 mod GROUP);
//   all     rank r sends an equal share to every other rank of that group;
//   xor     rank r exchanges with rank r XOR INNER (halving-doubling);
//   switch  rank r sends to and receives from the switch (NVLS): its peers are
//           the group, for synchronisation only.
// RANKS ranks take part; rank r runs on device r x STRIDE.
struct PeerPattern {
  enum class Kind { ring, all, xor_partner, in_switch } kind = Kind::ring;
  int64_t inner = 1, group = 1, ranks = 1, stride = 1;
};
std::string format_peer_pattern(const PeerPattern& p);
// nullopt when `dst` is not such a pattern (e.g. "peer" in a hand-written program).
std::optional<PeerPattern> parse_peer_pattern(std::string_view dst);
// Ranks rank r sends to (each with the share of its bytes) and receives from.
std::vector<std::pair<int64_t, double>> pattern_receivers(const PeerPattern& p, int64_t r);
std::vector<int64_t> pattern_senders(const PeerPattern& p, int64_t r);

// Plans `req` on `hw`. Throws InputError naming the problem: more ranks than the
// system has devices, an algorithm the system or collective cannot run (with
// what can), bytes < 0.
CollectivePlan plan_collective(const Hardware& hw, const CollectiveRequest& req);

}  // namespace tessera
