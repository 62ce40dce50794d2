// Collective names, bus factors and the NCCL-like selection of algorithm and
// protocol (plan_collective); the algorithms' stages are in collective_plans.cpp.
#include "models/interconnect/collective.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"

#include "models/interconnect/collective_plans.h"

namespace tessera {

namespace {

using namespace coll_plan;

struct KindName {
  CollKind kind;
  std::string_view ir, nccl;
};
constexpr KindName k_kinds[] = {
    {CollKind::allreduce, "allreduce", "all_reduce"},
    {CollKind::allgather, "allgather", "all_gather"},
    {CollKind::reducescatter, "reducescatter", "reduce_scatter"},
    {CollKind::alltoall, "alltoall", "alltoall"},
    {CollKind::broadcast, "broadcast", "broadcast"},
    {CollKind::reduce, "reduce_coll", "reduce"},   // IR kind reduce_coll (`reduce` is the column sum)
    {CollKind::sendrecv, "sendrecv", "sendrecv"},
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::string_view coll_kind_name(CollKind k) {
  for (const auto& e : k_kinds)
    if (e.kind == k) return e.ir;
  return "?";
}
std::string_view coll_nccl_name(CollKind k) {
  for (const auto& e : k_kinds)
    if (e.kind == k) return e.nccl;
  return "?";
}
bool parse_coll_kind(std::string_view s, CollKind& out) {
  for (const auto& e : k_kinds)
    if (s == e.ir || s == e.nccl) {
      out = e.kind;
      return true;
    }
  return false;
}

RingSteps ring_steps(CollKind k, double bytes, int64_t ranks) {
  const int64_t n = std::max<int64_t>(1, ranks);
  if (n == 1) return {};
  const double nd = static_cast<double>(n);
  switch (k) {
    case CollKind::allreduce: return {2 * (n - 1), bytes / nd};
    case CollKind::allgather:
    case CollKind::reducescatter:
    case CollKind::alltoall: return {n - 1, bytes / nd};
    case CollKind::broadcast:
    case CollKind::reduce: return {2 * n - 3, bytes / (nd - 1)};
    case CollKind::sendrecv: return {1, bytes};
  }
  return {};
}

double bus_factor(CollKind k, int64_t ranks) {
  const double n = static_cast<double>(ranks);
  if (ranks <= 1) return 1;
  switch (k) {
    case CollKind::allreduce: return 2 * (n - 1) / n;
    case CollKind::allgather:
    case CollKind::reducescatter:
    case CollKind::alltoall: return (n - 1) / n;
    default: return 1;
  }
}

double protocol_data_share(const std::string& p) {
  // NCCL src/device/prims_ll.h: an LL line is 8 bytes, 4 of data and a 4-byte flag;
  // prims_ll128.h: a 128-byte line holds 120 bytes of data and an 8-byte flag.
  if (p == "ll") return 0.5;
  if (p == "ll128") return 120.0 / 128.0;
  return 1.0;
}

const std::vector<std::string>& collective_algorithms() {
  static const std::vector<std::string> v = {"auto", "ring", "tree", "nvls", "direct", "halving_doubling",
                                             "hierarchical"};
  return v;
}
const std::vector<std::string>& collective_protocols() {
  static const std::vector<std::string> v = {"auto", "ll", "ll128", "simple"};
  return v;
}

CollectivePlan plan_collective(const Hardware& hw, const CollectiveRequest& req) {
  const SystemModel* sys = find_system(hw);
  const std::string kind(coll_nccl_name(req.kind));
  if (req.bytes < 0) throw InputError(fmt::format("{}: bytes={} is negative", kind, req.bytes));
  const int64_t devices = device_count(hw);
  if (req.ranks < 1 || req.ranks > devices)
    throw InputError(fmt::format("{}: ranks={} but {} has {} device(s){}", kind, req.ranks, hw.name, devices,
                                 devices == 1 ? " (a system preset such as dgx-h100 has more)" : ""));
  if (req.kind == CollKind::sendrecv && req.ranks != 2 && req.ranks != 1)
    throw InputError(fmt::format("sendrecv: ranks={}; a send/receive pair is 2 ranks", req.ranks));
  CollectivePlan plan;
  if (req.ranks == 1 || req.bytes == 0 || !sys) {
    plan.algo = "none";
    plan.protocol = "none";
    plan.summary = fmt::format("{} on one rank: no communication", kind);
    return plan;
  }
  Ctx c{hw, req, {}, hw.memories().back().first};
  // Map the ranks onto the levels: the scale-up dimensions first, then nodes.
  int64_t left = req.ranks;
  const int64_t dpn = sys->devices_per_node();
  if (req.stride < 1 || req.ranks > devices / req.stride)
    throw InputError(fmt::format("{}: ranks={} with stride={} need {} devices; {} has {}", kind, req.ranks,
                                 req.stride, req.ranks * std::max<int64_t>(1, req.stride), hw.name, devices));
  std::vector<int64_t> shape = sys->shape();
  if (req.stride >= dpn) shape.clear();                    // one rank per node
  else if (req.stride > 1) shape = {dpn / req.stride};     // every stride-th device of a node
  const std::string& topo = sys->topology();
  const LinkModel* up = sys->scale_up_link();
  const int64_t ndims = static_cast<int64_t>(shape.size());
  for (int64_t d : shape) {
    if (left == 1) break;
    if (d == 1) continue;
    Level lv;
    lv.size = std::min(left, d);
    if (left > d && left % d != 0)
      throw InputError(fmt::format("{}: ranks={} do not fill whole groups of {} devices of {}", kind, req.ranks, d,
                                   hw.name));
    lv.inner = req.ranks / left;
    lv.link = up;
    lv.sw = topo == "switched" ? sys->scale_up_switch() : nullptr;
    lv.lanes = std::max<int64_t>(1, up->links() / ndims);
    if (topo == "torus2d" || topo == "torus3d" || topo == "ring")
      lv.hops = std::max(1.0, static_cast<double>(lv.size) / 4.0);   // mean distance on a bidirectional ring
    if (topo == "mesh2d") {
      // A line without wrap-around: a ring laid on it crosses every link twice,
      // and two ranks are size/3 hops apart on average.
      lv.lanes = std::max<int64_t>(1, lv.lanes / 2);
      lv.hops = std::max(1.0, static_cast<double>(lv.size) / 3.0);
    }
    c.levels.push_back(lv);
    left /= lv.size;
  }
  if (left > 1) {
    const int64_t per_node = req.ranks / left;
    if (req.stride < dpn && per_node * req.stride != dpn && req.stride == 1)
      throw InputError(fmt::format("{}: ranks={} span nodes but are not a multiple of devices_per_node={}", kind,
                                   req.ranks, dpn));
    Level lv;
    lv.size = left;
    lv.inner = per_node;
    lv.link = sys->scale_out_link();
    lv.sw = sys->scale_out_switch();
    lv.lanes = lv.link->links();
    // A rail-optimised ring crosses each node once per step, over the NICs of the
    // node's ranks of this group.
    lv.nic_share = per_node;
    lv.scale_out = true;
    c.levels.push_back(lv);
  }
  const bool one_node = std::none_of(c.levels.begin(), c.levels.end(), [](const Level& l) { return l.scale_out; });
  const bool nvls_ok = one_node && topo == "switched" && sys->scale_up_switch() &&
                       sys->scale_up_switch()->reduces();
  const bool nvlink = up->technology().rfind("nvlink", 0) == 0;
  // Enabled (algorithm, protocol) pairs, NCCL's rules (collective.h).
  std::vector<std::string> algos;
  switch (req.kind) {
    case CollKind::allreduce:
      if (topo == "torus2d" || topo == "torus3d" || topo == "mesh2d") algos = {"hierarchical", "ring"};
      else algos = {"ring"};
      if (!one_node) algos.push_back("tree");
      if (nvls_ok) algos.push_back("nvls");
      break;
    case CollKind::reducescatter:
    case CollKind::allgather:
      algos = {"ring"};
      if (topo == "torus2d" || topo == "torus3d" || topo == "mesh2d") algos.push_back("hierarchical");
      if (nvls_ok) algos.push_back("nvls");
      break;
    case CollKind::broadcast:
    case CollKind::reduce: algos = {"ring"}; break;
    case CollKind::alltoall:
    case CollKind::sendrecv: algos = {"direct"}; break;
  }
  if (req.algo != "auto") {
    const auto& all = collective_algorithms();
    if (std::find(all.begin(), all.end(), req.algo) == all.end())
      throw InputError(fmt::format("{}: algo '{}' is not one of {}", kind, req.algo, join(all)));
    std::vector<std::string> can = algos;
    // Overrides may also pick what NCCL would not: any algorithm the collective and
    // the system support.
    for (const char* extra : {"ring", "direct", "halving_doubling", "hierarchical", "tree"}) {
      const std::string e = extra;
      const bool fits = (e == "ring" && req.kind != CollKind::alltoall && req.kind != CollKind::sendrecv) ||
                        (e == "direct") ||
                        (e == "halving_doubling" && (req.ranks & (req.ranks - 1)) == 0 &&
                         (req.kind == CollKind::allreduce || req.kind == CollKind::allgather ||
                          req.kind == CollKind::reducescatter)) ||
                        (e == "hierarchical" && (req.kind == CollKind::allreduce || req.kind == CollKind::allgather ||
                                                 req.kind == CollKind::reducescatter)) ||
                        (e == "tree" && req.kind == CollKind::allreduce);
      if (fits && std::find(can.begin(), can.end(), e) == can.end()) can.push_back(e);
    }
    if (std::find(can.begin(), can.end(), req.algo) == can.end())
      throw InputError(fmt::format("{}: algo '{}' cannot run {} ranks on {}{}; accepted here: {}", kind, req.algo,
                                   req.ranks, hw.name,
                                   req.algo == "nvls" ? " (NVLS needs one node behind a switch with in_switch_reduction)"
                                                      : "",
                                   join(can)));
    algos = {req.algo};
  }
  std::vector<std::string> protos = {"ll", "simple"};
  if (nvlink) protos.insert(protos.begin() + 1, "ll128");
  if (req.protocol != "auto") {
    const auto& all = collective_protocols();
    if (std::find(all.begin(), all.end(), req.protocol) == all.end())
      throw InputError(fmt::format("{}: protocol '{}' is not one of {}", kind, req.protocol, join(all)));
    protos = {req.protocol};
  }
  double best = std::numeric_limits<double>::infinity();
  for (const std::string& a : algos) {
    for (const std::string& p : protos) {
      if (a == "nvls" && p != "simple") continue;   // NVLS runs the Simple protocol only
      std::vector<Block> blocks;
      if (a == "ring") blocks = plan_ring(c, p);
      else if (a == "tree") blocks = plan_tree(c, p);
      else if (a == "nvls") blocks = plan_nvls(c);
      else if (a == "direct") blocks = plan_direct(c, p);
      else if (a == "halving_doubling") blocks = plan_halving_doubling(c, p);
      else blocks = plan_hierarchical(c, p);
      const double t = estimate(hw, blocks);
      if (t < best) {
        best = t;
        plan.algo = a;
        plan.protocol = p;
        plan.blocks = std::move(blocks);
        plan.estimate_s = t;
      }
    }
  }
  if (plan.blocks.empty())
    throw InputError(fmt::format("{}: protocol '{}' cannot run algo '{}' (nvls runs simple only)", kind,
                                 req.protocol, req.algo));
  std::string where;
  for (const Level& lv : c.levels)
    if (lv.size > 1)
      where += fmt::format("{}{} x {} over {} ({} x {})", where.empty() ? "" : ", ", lv.size,
                           lv.scale_out ? "nodes" : "ranks", lv.link->path(), lv.lanes, lv.link->technology());
  plan.summary = fmt::format("{}/{} {} over {} ranks: {}", plan.algo, plan.protocol, kind, req.ranks, where);
  return plan;
}

}  // namespace tessera
