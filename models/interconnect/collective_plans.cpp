// The algorithm plans of the collectives (see collective_plans.h).
#include "models/interconnect/collective_plans.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"

namespace tessera {
namespace coll_plan {


// The ring of `lv`'s ranks (PeerPattern in collective.h).
std::string ring_of(const Ctx& c, const Level& lv) {
  return format_peer_pattern({PeerPattern::Kind::ring, lv.inner, lv.size, c.req.ranks, c.req.stride});
}

Instr link_send(const Level& lv, double bytes, const std::string& proto, const std::string& dst) {
  Instr in;
  in.op = Opcode::send;
  in.unit = lv.link->path();
  in.name = proto;
  in.dst = dst;
  in.count = lv.lanes;
  in.bytes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes / static_cast<double>(lv.lanes))));
  return in;
}

// The traversal of `lv`'s switch by a send of `bytes` (a non-blocking switch: it
// times the bytes at its port rate and adds its latency and energy).
Instr switch_pass(const Level& lv, double bytes, const std::string& dst) {
  Instr in;
  in.op = Opcode::send;
  in.unit = lv.sw->path();
  in.dst = dst;
  in.count = lv.lanes;
  in.bytes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes / static_cast<double>(lv.lanes))));
  return in;
}

Instr mem(Opcode op, const std::string& level, double bytes) {
  Instr in;
  in.op = op;
  in.src = op == Opcode::load ? level : "smem";
  in.dst = op == Opcode::load ? "smem" : level;
  in.bytes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes)));
  return in;
}

// One ring-like step that sends `bytes` over `lv`, reads `rd` and writes `wr` bytes
// of device memory and reduces `reduce_bytes` of data on the reduction units.
Block step(const Ctx& c, const Level& lv, int64_t repeat, double bytes, const std::string& proto,
           double rd, double wr, double reduce_bytes, bool through_switch = true, std::string dst = "") {
  Block b;
  b.repeat = repeat;
  if (dst.empty()) dst = ring_of(c, lv);
  if (lv.link) b.instrs.push_back(link_send(lv, bytes, proto, dst));
  if (lv.sw && through_switch) b.instrs.push_back(switch_pass(lv, bytes, dst));
  if (rd > 0) b.instrs.push_back(mem(Opcode::load, c.dram, rd));
  if (wr > 0) b.instrs.push_back(mem(Opcode::store, c.dram, wr));
  if (reduce_bytes > 0) {
    const SystemModel* sys = find_system(c.hw);
    const int64_t units = sys ? sys->reduce_units() : 1;
    Instr v;
    v.op = Opcode::vec;
    v.name = "add";
    v.a = c.req.dtype;
    v.count = units;
    v.elems = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(reduce_bytes / dtype_bytes(c.req.dtype, 1) /
                                                                  static_cast<double>(units))));
    b.instrs.push_back(v);
  }
  return b;
}

bool reduces(CollKind k) {
  return k == CollKind::allreduce || k == CollKind::reducescatter || k == CollKind::reduce;
}

// Ring phases over one level of n ranks on `data` bytes: reduce-scatter and/or
// all-gather steps of data/n each.
void ring_phase(const Ctx& c, const Level& lv, double data, bool rs, bool ag, const std::string& proto,
                std::vector<Block>& out) {
  const int64_t n = lv.size;
  if (n <= 1) return;
  const double chunk = data / static_cast<double>(n);
  // Each rank sends its chunk over its own link (across nodes: its own NIC, a rail).
  const double wire = chunk;
  if (rs) out.push_back(step(c, lv, n - 1, wire, proto, 2 * chunk, chunk, chunk));
  if (ag) out.push_back(step(c, lv, n - 1, wire, proto, chunk, chunk, 0));
}

// Adds to every block of `blocks` (a flat ring's steps, sized for the innermost
// level) the sends of the other levels: each step crosses every level, a node's
// crossing spread over its NICs (nic_share), so the slowest lane sets the pace.
void add_outer_sends(const Ctx& c, std::vector<Block>& blocks, const std::string& proto) {
  for (Block& b : blocks) {
    if (b.instrs.empty() || b.instrs.front().op != Opcode::send) continue;
    const double bytes = static_cast<double>(b.instrs.front().bytes * b.instrs.front().count);
    for (size_t i = 1; i < c.levels.size(); ++i) {
      const Level& lv = c.levels[i];
      if (lv.size > 1 && lv.link != c.levels.front().link) {
        b.instrs.push_back(link_send(lv, bytes / static_cast<double>(lv.nic_share), proto, ring_of(c, lv)));
        if (lv.sw) b.instrs.push_back(switch_pass(lv, bytes / static_cast<double>(lv.nic_share), ring_of(c, lv)));
      }
    }
  }
}

std::vector<Block> plan_ring(const Ctx& c, const std::string& proto) {
  const CollKind k = c.req.kind;
  const double S = static_cast<double>(c.req.bytes);
  std::vector<Block> out;
  // A flat ring over all ranks, paced by the innermost level's link here and by
  // the outer levels' links through add_outer_sends.
  Level flat = c.levels.front();
  flat.size = c.req.ranks;
  flat.inner = 1;
  flat.nic_share = 1;
  const int64_t n = c.req.ranks;
  switch (k) {
    case CollKind::allreduce: ring_phase(c, flat, S, true, true, proto, out); break;
    case CollKind::reducescatter: ring_phase(c, flat, S, true, false, proto, out); break;
    case CollKind::allgather: ring_phase(c, flat, S, false, true, proto, out); break;
    case CollKind::broadcast:
    case CollKind::reduce: {
      // Pipelined chain: n-1 hops, the buffer streamed in n-1 pieces behind them
      // (ring_steps: 2n-3 steps of S/(n-1)).
      const RingSteps rs = ring_steps(k, S, n);
      const double piece = rs.bytes;
      const double r = reduces(k) ? piece : 0;
      out.push_back(step(c, flat, rs.steps, piece / static_cast<double>(flat.nic_share), proto,
                         piece + r, piece, r));
      break;
    }
    default: break;
  }
  add_outer_sends(c, out, proto);
  return out;
}

std::vector<Block> plan_tree(const Ctx& c, const std::string& proto) {
  // Double binary tree: S up and S down through each rank; latency of the chain
  // inside a node plus log2(nodes) tree levels, both ways.
  const double S = static_cast<double>(c.req.bytes);
  const Level& inner = c.levels.front();
  const Level& outer = c.levels.back();
  int64_t hops = 0;
  for (const Level& lv : c.levels)
    hops += lv.scale_out ? static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(lv.size)))) : lv.size - 1;
  hops = std::max<int64_t>(hops, 1);
  const int64_t steps = 2 * hops;
  (void)outer;
  const double per = 2.0 * S / static_cast<double>(steps);
  // The chain through the node's ranks (and the tree across nodes, add_outer_sends).
  Level chain = inner;
  chain.inner = 1;
  std::vector<Block> out = {step(c, chain, steps, per, proto, per, per / 2, per / 2)};
  add_outer_sends(c, out, proto);
  return out;
}

std::vector<Block> plan_nvls(const Ctx& c) {
  const Level& lv = c.levels.front();
  const double S = static_cast<double>(c.req.bytes);
  const double n = static_cast<double>(c.req.ranks);
  double out_bytes = 0;   // per direction, the larger of the two
  switch (c.req.kind) {
    case CollKind::allreduce: out_bytes = S * (n + 1) / n; break;
    case CollKind::reducescatter:
    case CollKind::allgather: out_bytes = S; break;
    default: break;
  }
  // Two pipelined phases (ld_reduce, multicast store) for all_reduce, one otherwise.
  const int64_t steps = c.req.kind == CollKind::allreduce ? 2 : 1;
  const std::string dst =
      format_peer_pattern({PeerPattern::Kind::in_switch, 1, c.req.ranks, c.req.ranks, c.req.stride});
  Block b = step(c, lv, steps, out_bytes / static_cast<double>(steps), "simple",
                 S / static_cast<double>(steps), S / static_cast<double>(steps), 0, false, dst);
  Instr sw;
  sw.op = Opcode::coll;
  sw.unit = lv.sw->path();
  sw.name = std::string(coll_kind_name(c.req.kind));
  sw.ranks = c.req.ranks;
  sw.count = lv.lanes;
  sw.a = c.req.dtype;
  sw.dst = dst;
  sw.bytes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(out_bytes / static_cast<double>(steps) /
                                                                   static_cast<double>(lv.lanes))));
  b.instrs.push_back(sw);
  Instr sync;
  sync.op = Opcode::barrier;
  sync.unit = lv.sw->path();
  return {Block{1, {sync}}, b};
}

std::vector<Block> plan_direct(const Ctx& c, const std::string& proto) {
  const double S = static_cast<double>(c.req.bytes);
  const double n = static_cast<double>(c.req.ranks);
  const Level& lv = c.levels.size() == 1 ? c.levels.front()
                                          : *std::min_element(c.levels.begin(), c.levels.end(),
                                                              [](const Level& a, const Level& b) { return a.bw() < b.bw(); });
  double hops = 0;
  for (const Level& l : c.levels) hops = std::max(hops, l.hops);
  const std::string all = format_peer_pattern({PeerPattern::Kind::all, 1, c.req.ranks, c.req.ranks, c.req.stride});
  switch (c.req.kind) {
    case CollKind::alltoall:
      return {step(c, lv, 1, S * (n - 1) / n * hops, proto, S, S, 0, true, all)};
    case CollKind::sendrecv:
      return {step(c, lv, 1, S, proto, S, S, 0, true, all)};
    case CollKind::allreduce:   // one-shot: read every peer's buffer, reduce locally
      return {step(c, lv, 1, S * (n - 1), proto, S * n, S, S * (n - 1), true, all)};
    case CollKind::allgather:
      return {step(c, lv, 1, S * (n - 1) / n, proto, S / n, S, 0, true, all)};
    case CollKind::reducescatter:
      return {step(c, lv, 1, S * (n - 1) / n, proto, S, S / n, S * (n - 1) / n, true, all)};
    case CollKind::broadcast:
    case CollKind::reduce:
      return {step(c, lv, 1, S, proto, S, S, reduces(c.req.kind) ? S : 0, true, all)};
  }
  return {};
}

std::vector<Block> plan_halving_doubling(const Ctx& c, const std::string& proto) {
  const int64_t n = c.req.ranks;
  const double S = static_cast<double>(c.req.bytes);
  Level lv = c.levels.front();
  for (const Level& l : c.levels)
    if (l.size > 1 && l.bw() < lv.bw()) lv = l;
  std::vector<Block> out;
  const bool rs = c.req.kind != CollKind::allgather, ag = c.req.kind != CollKind::reducescatter;
  // Partners: rank XOR 1, 2, 4, ... while halving, back down while doubling.
  const auto partner = [&](int64_t mask) {
    return format_peer_pattern({PeerPattern::Kind::xor_partner, mask, 2, c.req.ranks, c.req.stride});
  };
  int64_t mask = 1;
  if (rs)
    for (double part = S / 2; part >= S / static_cast<double>(n) - 0.5; part /= 2, mask *= 2)
      out.push_back(step(c, lv, 1, part, proto, 2 * part, part, part, true, partner(mask)));
  if (ag)
    for (double part = S / static_cast<double>(n); part <= S / 2 + 0.5; part *= 2) {
      mask = std::max<int64_t>(1, mask / 2);
      out.push_back(step(c, lv, 1, part, proto, part, part, 0, true, partner(mask)));
    }
  return out;
}

std::vector<Block> plan_hierarchical(const Ctx& c, const std::string& proto) {
  // Reduce-scatter up the levels, all-reduce (or the kind's own phase) at the
  // top, all-gather down: each level works on the data left by the ones below.
  const CollKind k = c.req.kind;
  const bool rs = k == CollKind::allreduce || k == CollKind::reducescatter;
  const bool ag = k == CollKind::allreduce || k == CollKind::allgather;
  std::vector<Block> up, down;
  double data = static_cast<double>(c.req.bytes);
  for (const Level& lv : c.levels) {
    if (lv.size <= 1) continue;
    if (rs) ring_phase(c, lv, data, true, false, proto, up);
    if (ag) {
      std::vector<Block> g;
      ring_phase(c, lv, data, false, true, proto, g);
      down.insert(down.begin(), g.begin(), g.end());
    }
    data /= static_cast<double>(lv.size);
  }
  up.insert(up.end(), down.begin(), down.end());
  return up;
}

// Stage timing of `blocks` with the engines' rule (sim/engines/pipeline.h) for
// the selection: l = largest lane sum, c = compute sum, l + c + (n-1) max(l, c).
double estimate(const Hardware& hw, const std::vector<Block>& blocks) {
  Kernel k;
  k.name = "collective";
  k.blocks = blocks;
  KernelContext ctx = hw.compute().begin_kernel(k, hw);
  double t = 0;
  for (const Block& b : blocks) {
    std::map<std::string, double> lanes;
    double comp = 0;
    for (const Instr& in : b.instrs) {
      const std::string unit = instr_unit(in);
      const Component* u = hw.find(unit);
      if (const auto* tu = dynamic_cast<const TimedUnit*>(u)) lanes[unit] += tu->busy_time_s(in);
      else if (const auto* m = dynamic_cast<const MemoryModel*>(u)) lanes[unit] += m->transfer_time_s(in, k, ctx);
      else comp += hw.compute().instr_time_s(in, k, ctx);
    }
    double l = 0;
    for (const auto& [u, v] : lanes) l = std::max(l, v);
    t += l + comp + static_cast<double>(b.repeat - 1) * std::max(l, comp);
  }
  return t;
}

}  // namespace coll_plan

std::string format_peer_pattern(const PeerPattern& p) {
  const char* kind = p.kind == PeerPattern::Kind::ring          ? "ring"
                     : p.kind == PeerPattern::Kind::all         ? "all"
                     : p.kind == PeerPattern::Kind::xor_partner ? "xor"
                                                                : "switch";
  return fmt::format("{}:{}:{}:{}:{}", kind, p.inner, p.group, p.ranks, p.stride);
}

std::optional<PeerPattern> parse_peer_pattern(std::string_view dst) {
  PeerPattern p;
  const size_t colon = dst.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view kind = dst.substr(0, colon);
  if (kind == "ring") p.kind = PeerPattern::Kind::ring;
  else if (kind == "all") p.kind = PeerPattern::Kind::all;
  else if (kind == "xor") p.kind = PeerPattern::Kind::xor_partner;
  else if (kind == "switch") p.kind = PeerPattern::Kind::in_switch;
  else return std::nullopt;
  int64_t* fields[] = {&p.inner, &p.group, &p.ranks, &p.stride};
  size_t pos = colon + 1;
  for (size_t i = 0; i < 4; ++i) {
    size_t end = dst.find(':', pos);
    if (end == std::string_view::npos) end = dst.size();
    if ((i < 3) != (end < dst.size())) return std::nullopt;
    const std::string_view part = dst.substr(pos, end - pos);
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), *fields[i]);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || *fields[i] < 1) return std::nullopt;
    pos = end + 1;
  }
  if (p.kind != PeerPattern::Kind::xor_partner && p.inner * p.group > p.ranks) return std::nullopt;
  return p;
}

namespace {
// The members of rank r's group at the pattern's level, in ring order.
std::vector<int64_t> group_of(const PeerPattern& p, int64_t r) {
  const int64_t span = p.inner * p.group;
  const int64_t base = (r / span) * span + r % p.inner;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < p.group; ++i) out.push_back(base + i * p.inner);
  return out;
}
int64_t position(const PeerPattern& p, int64_t r) { return (r / p.inner) % p.group; }
}  // namespace

std::vector<std::pair<int64_t, double>> pattern_receivers(const PeerPattern& p, int64_t r) {
  switch (p.kind) {
    case PeerPattern::Kind::ring: {
      if (p.group < 2) return {};
      const auto g = group_of(p, r);
      return {{g[static_cast<size_t>((position(p, r) + 1) % p.group)], 1.0}};
    }
    case PeerPattern::Kind::xor_partner: {
      const int64_t q = r ^ p.inner;
      if (q >= p.ranks) return {};
      return {{q, 1.0}};
    }
    case PeerPattern::Kind::all: {
      std::vector<std::pair<int64_t, double>> out;
      for (int64_t q : group_of(p, r))
        if (q != r) out.emplace_back(q, 1.0 / static_cast<double>(p.group - 1));
      return out;
    }
    case PeerPattern::Kind::in_switch: return {};
  }
  return {};
}

std::vector<int64_t> pattern_senders(const PeerPattern& p, int64_t r) {
  switch (p.kind) {
    case PeerPattern::Kind::ring: {
      if (p.group < 2) return {};
      const auto g = group_of(p, r);
      return {g[static_cast<size_t>((position(p, r) + p.group - 1) % p.group)]};
    }
    case PeerPattern::Kind::xor_partner: {
      const int64_t q = r ^ p.inner;
      if (q >= p.ranks) return {};
      return {q};
    }
    case PeerPattern::Kind::all:
    case PeerPattern::Kind::in_switch: {
      std::vector<int64_t> out;
      for (int64_t q : group_of(p, r))
        if (q != r) out.push_back(q);
      return out;
    }
  }
  return {};
}

}  // namespace tessera
