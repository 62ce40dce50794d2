#pragma once
// The algorithm plans of the collectives (collective_plans.cpp): the stages one
// rank runs for ring, tree, NVLS, direct, halving-doubling and hierarchical
// algorithms over the levels of a system, and the stage timing the selection
// compares (collective.cpp, NCCL-like selection). Internal to
// models/interconnect; the contract is collective.h.
#include <string>
#include <vector>

#include "isa/isa.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"

namespace tessera {

namespace coll_plan {

// One level of the system a collective's ranks span: `size` ranks connected by
// `link` (count links of it per rank), optionally through `sw`.
struct Level {
  int64_t size = 1;
  int64_t inner = 1;             // ranks of the levels below (the spacing of this level's ranks)
  const LinkModel* link = nullptr;
  int64_t lanes = 1;             // links of `link` a rank uses at this level
  const SwitchModel* sw = nullptr;
  int64_t nic_share = 1;         // a flat ring's node crossing is spread over this many NICs
  double hops = 1;               // mean hops between two ranks (alltoall on a ring/torus)
  bool scale_out = false;
  double bw() const { return link->link_bandwidth() * link->efficiency() * static_cast<double>(lanes); }
};

struct Ctx {
  const Hardware& hw;
  const CollectiveRequest& req;
  std::vector<Level> levels;   // innermost first; product of sizes = ranks
  std::string dram;            // outermost memory level
};

std::vector<Block> plan_ring(const Ctx& c, const std::string& proto);
std::vector<Block> plan_tree(const Ctx& c, const std::string& proto);
std::vector<Block> plan_nvls(const Ctx& c);
std::vector<Block> plan_direct(const Ctx& c, const std::string& proto);
std::vector<Block> plan_halving_doubling(const Ctx& c, const std::string& proto);
std::vector<Block> plan_hierarchical(const Ctx& c, const std::string& proto);
// Stage timing of `blocks` with the engines' rule (sim/engines/pipeline.h) for
// the selection: l = largest lane sum, c = compute sum, l + c + (n-1) max(l, c).
double estimate(const Hardware& hw, const std::vector<Block>& blocks);

}  // namespace coll_plan
}  // namespace tessera
