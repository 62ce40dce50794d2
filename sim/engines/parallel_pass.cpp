// The multi-device engine's passes (see parallel_parts.h).
#include <fmt/format.h>

#include <algorithm>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"
#include "sim/engines/parallel_parts.h"

namespace tessera::parallel_engine {

namespace {
// What an op costs, by content (its name left out): roles with identical ops
// share one simulation.
std::string op_signature(const Op& op) {
  std::string s = fmt::format("{}|{}|{}", op_kind_name(op.kind), static_cast<int>(op.dtype), static_cast<int>(op.out_dtype));
  for (const auto& [k, v] : op.attrs)
    if (k != "stage" && k != "layer" && k != "pass") s += fmt::format("|{}={}", k, v);
  s += "|d";
  for (int d : op.deps) s += fmt::format(",{}", d);
  return s;
}

// The link classes op i's program sends over, with the bytes one rank sends on
// each (protocol overhead included) and the switch they cross.
std::vector<IterWire> wires_of(const Graph& g, size_t i, const Hardware& hw) {
  std::string sig;
  const Graph sg = Simulator::local_graph(g, {i}, sig);
  const Program p = compile(sg, hw);
  const SystemModel* sys = find_system(hw);
  std::map<std::string, IterWire> by;
  for (const Kernel& k : p.kernels)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs) {
        const auto* link = dynamic_cast<const LinkModel*>(&instr_unit_component(in, k, hw));
        if (!link || in.bytes <= 0) continue;
        const double share = protocol_data_share(in.name.empty() ? "simple" : in.name);
        IterWire& w = by[link->path()];
        w.link = link->path();
        w.bytes += link->transfer(in).amount / share * static_cast<double>(b.repeat);
        w.port_bw = link->device_payload_bw();
        const SwitchModel* sw = !sys ? nullptr
                                : link == sys->scale_up_link()  ? sys->scale_up_switch()
                                : link == sys->scale_out_link() ? sys->scale_out_switch()
                                                                : nullptr;
        if (sw) {
          w.sw = sw->path();
          w.sw_bw = static_cast<double>(sw->chips() * sw->ports()) * sw->port_payload_bw();
          w.sw_per_node = sw == sys->scale_up_switch();
        }
      }
  std::vector<IterWire> out;
  for (auto& [k, w] : by) out.push_back(std::move(w));
  return out;
}

}  // namespace

Graph Simulator::local_graph(const Graph& g, const std::vector<size_t>& ops, std::string& sig) {
  std::map<size_t, int> local;
  for (size_t i = 0; i < ops.size(); ++i) local[ops[i]] = static_cast<int>(i);
  Graph sg;
  sg.name = g.name;
  sg.spec = g.spec;
  if (auto it = g.info.find("amp"); it != g.info.end()) sg.info["amp"] = it->second;   // compile() checks the target
  // A CUDA-graph replay (decode over a static KV cache): no host time per kernel.
  if (auto it = g.info.find("host_hidden"); it != g.info.end()) sg.info["host_hidden"] = it->second;
  if (auto it = g.info.find("graph"); it != g.info.end()) sg.info["graph"] = it->second;
  for (size_t i : ops) {
    Op op = g.ops[i];
    std::vector<int> deps;
    for (int d : op.deps)
      if (auto it = local.find(static_cast<size_t>(d)); it != local.end()) deps.push_back(it->second);
    op.deps = deps;
    sig += op_signature(op) + "\n";
    sg.add(std::move(op));
  }
  return sg;
}

Simulator* Simulator::crowded() {
  if (!m_crowded_built) {
    m_crowded_built = true;
    const SystemModel* sys = find_system(m_hw);
    if (sys && m_hw.compute().impl() == "tensorcore") {
      // SystemModel::bind refuses reduce_units >= sm_count.
      const int64_t sms = m_hw.compute().params().integer("sm_count"), units = sys->reduce_units();
      m_crowded_hw =
          build_hardware(m_hw.tree, m_hw.source, {fmt::format("compute.sm_count={}", sms - units)});
      m_crowded = std::make_unique<Simulator>(*m_crowded_hw, m_engine_name);
    }
  }
  return m_crowded.get();
}

const Simulator::Seq& Simulator::simulate(const Graph& g, const std::vector<size_t>& ops, bool host) {
  std::string sig = host ? "host\n" : "";
  const Graph sg = local_graph(g, ops, sig);
  if (auto it = m_cache.find(sig); it != m_cache.end()) return it->second;
  Seq s;
  s.end.assign(ops.size(), 0);
  s.energy.assign(ops.size(), 0);
  if (!ops.empty()) {
    Program p = compile(sg, m_hw);
    // Without a host timeline (see Simulator): as a CUDA-graph node.
    if (!host)
      for (Kernel& k : p.kernels) k.info.host_hidden = 1;
    RunResult r = m_engine->run(p, m_hw);
    for (size_t k = 0; k < p.kernels.size() && k < r.ops.size(); ++k) {
      const int oi = p.kernels[k].op_index;
      if (oi < 0 || static_cast<size_t>(oi) >= ops.size()) continue;
      s.end[static_cast<size_t>(oi)] = std::max(s.end[static_cast<size_t>(oi)], r.ops[k].start_s + r.ops[k].time_s);
      s.energy[static_cast<size_t>(oi)] += r.ops[k].energy_j;
    }
    s.time_s = r.time_s;
    s.energy_j = r.energy_j;
    s.results = std::move(r.ops);
    ++m_runs;
  }
  return m_cache.emplace(sig, std::move(s)).first->second;
}

std::vector<size_t> microbatch_ops(const Graph& g, const std::vector<size_t>& ops, int64_t mb, int64_t m) {
  std::vector<size_t> out;
  for (size_t i : ops) {
    const int64_t when = g.ops[i].get("in_microbatch", 0);
    if ((when == 1 && mb == 0) || (when == 2 && mb != m - 1)) continue;
    out.push_back(i);
  }
  return out;
}

bool varies_by_microbatch(const Graph& g, const std::vector<size_t>& ops) {
  for (size_t i : ops)
    if (g.ops[i].get("in_microbatch", 0) != 0) return true;
  return false;
}

// The ops of a pass that run inline (not on the communication stream, not a
// pipeline transfer).
std::vector<size_t> inline_ops(const Graph& g, const std::vector<size_t>& ops) {
  std::vector<size_t> inl;
  for (size_t i : ops)
    if (!g.ops[i].get("overlap", 0) && !g.ops[i].get("p2p", 0)) inl.push_back(i);
  return inl;
}

IssueOrder issue_order(const Graph& g, const std::vector<size_t>& ops) {
  IssueOrder io;
  std::vector<std::pair<double, size_t>> keyed;  // (place, op): sorted stably by place
  std::vector<size_t> consumer_pos;              // per unit: its first inline op's place
  int64_t unit = -1;
  bool in_run = false;
  size_t last_gather = 0;
  for (size_t pos = 0; pos < ops.size(); ++pos) {
    const Op& op = g.ops[ops[pos]];
    const int64_t p = op.get("overlap", 0) ? op.get("prefetch", 0) : 0;
    if (p > 0) {
      if (!in_run) ++unit;
      in_run = true;
      last_gather = ops[pos];
      const int64_t anchor = unit - p;
      const bool has_anchor = anchor >= 0 && static_cast<size_t>(anchor) < consumer_pos.size();
      keyed.emplace_back(
          has_anchor ? static_cast<double>(consumer_pos[static_cast<size_t>(anchor)]) + 0.5 : -0.5, ops[pos]);
      continue;
    }
    if (in_run && !op.get("overlap", 0) && !op.get("p2p", 0)) {
      consumer_pos.push_back(pos);
      io.waits[ops[pos]] = last_gather;
      in_run = false;
    }
    keyed.emplace_back(static_cast<double>(pos), ops[pos]);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [place, i] : keyed) io.ops.push_back(i);
  return io;
}

namespace {
// A collective of the communication stream that runs in every microbatch (not
// only the last one's, as the DDP buckets).
bool every_microbatch(const Op& op) {
  return op.get("every_microbatch", 0) || op.get("group", 0) != static_cast<int64_t>(CommGroup::dp);
}

// Per op of a simulated sequence: its duration, the ends made monotonic (an op
// ending before the one before it takes no time of its own).
std::vector<double> durations(const Simulator::Seq& s) {
  std::vector<double> d(s.end.size());
  double prev = 0;
  for (size_t k = 0; k < s.end.size(); ++k) {
    const double end = std::max(prev, s.end[k]);
    d[k] = end - prev;
    prev = end;
  }
  return d;
}

// Whether `ops` runs a collective beside its inline ops: one on the communication
// stream every microbatch, or (last: the last microbatch's pass) a DDP bucket.
bool has_overlap(const Graph& g, const std::vector<size_t>& ops, bool last) {
  for (size_t i : ops) {
    const Op& op = g.ops[i];
    if (op.get("overlap", 0) && !op.get("p2p", 0) && (last || every_microbatch(op))) return true;
  }
  return false;
}

// The inline ops' durations alone and beside a collective (Simulator::crowded;
// both `alone` where there is no crowded device or no collective to crowd it).
void inline_durations(Simulator& sim, const Graph& g, const std::vector<size_t>& ops,
                      const std::vector<size_t>& inl, const Simulator::Seq& s, bool last,
                      std::vector<double>& alone, std::vector<double>& crowded) {
  alone = durations(s);
  crowded = alone;
  Simulator* c = has_overlap(g, ops, last) ? sim.crowded() : nullptr;
  if (!c) return;
  const std::vector<double> d = durations(c->run(g, inl));
  // Fewer SMs never make a kernel faster; a lower power draw may raise its clock
  // in the model, which the collective's own power (not modelled) would take back.
  for (size_t k = 0; k < crowded.size(); ++k) crowded[k] = std::max(alone[k], d[k]);
}

// Adds [b0, b1) to `busy`, kept sorted and disjoint (the union of the streams' runs).
void add_busy(std::vector<std::pair<double, double>>& busy, double b0, double b1) {
  if (!(b1 > b0)) return;
  busy.emplace_back(b0, b1);
  std::sort(busy.begin(), busy.end());
  std::vector<std::pair<double, double>> merged;
  for (const auto& iv : busy) {
    if (!merged.empty() && iv.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, iv.second);
    else
      merged.push_back(iv);
  }
  busy = std::move(merged);
}

// When an op of `alone` seconds (`crowded` while a collective runs beside it)
// that starts at `start` ends, `busy` the times a collective runs.
double end_beside(double start, double alone, double crowded,
                  const std::vector<std::pair<double, double>>& busy) {
  if (!(crowded > alone)) return start + alone;
  double left = 1, now = start;  // share of the op still to run
  for (const auto& [b0, b1] : busy) {
    if (b1 <= now) continue;
    if (now < b0) {
      if (now + left * alone <= b0) return now + left * alone;
      left -= (b0 - now) / alone;
      now = b0;
    }
    if (now + left * crowded <= b1) return now + left * crowded;
    left -= (b1 - now) / crowded;
    now = b1;
  }
  return now + left * alone;
}
}  // namespace

PassTiming time_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, double static_w,
                     bool last) {
  PassTiming t;
  const std::vector<size_t> inl = inline_ops(g, ops);
  const Simulator::Seq& s = sim.run(g, inl);
  std::vector<double> alone, crowded;
  inline_durations(sim, g, ops, inl, s, last, alone, crowded);
  std::map<size_t, size_t> index_of;  // op -> its place in inl
  for (size_t k = 0; k < inl.size(); ++k) index_of[inl[k]] = k;
  // The pass in issue order: the inline ops back to back as simulated, each later
  // by the waits for parameter gathers before it and by the SMs the collectives
  // running beside it hold (shift); the overlapped ops on the communication
  // stream in issue order, from when the op before them ends.
  const IssueOrder io = issue_order(g, ops);
  std::vector<double> end(inl.size());  // per inline op, with the waits
  std::map<size_t, double> gather_end;
  // The communication stream's runs, and in the last microbatch's pass those of
  // the DDP buckets' stream (their order there; the schedule places them again
  // across a device's chunks).
  std::vector<std::pair<double, double>> busy;
  double shift = 0, ready = 0, comm_free = 0, wait = 0, late_free = 0;
  for (size_t i : io.ops) {
    const Op& op = g.ops[i];
    if (auto it = index_of.find(i); it != index_of.end()) {
      const size_t k = it->second;
      double start = (k == 0 ? 0.0 : s.end[k - 1]) + shift;
      if (auto w = io.waits.find(i); w != io.waits.end()) {
        const double dw = std::max(0.0, gather_end.at(w->second) - start);
        shift += dw;
        wait += dw;
        start += dw;
      }
      shift += end_beside(start, alone[k], crowded[k], busy) - (start + alone[k]);
      end[k] = s.end[k] + shift;
      ready = end[k];
      continue;
    }
    if (!op.get("overlap", 0)) continue;
    const Simulator::Seq& c = sim.transfer(g, i);
    const double e = std::max(0.0, c.energy_j - static_w * c.time_s);
    const std::string grp(comm_group_name(op.get("group", 0)));
    if (every_microbatch(op)) {
      const double start = std::max(ready, comm_free);
      comm_free = start + c.time_s;
      add_busy(busy, start, comm_free);
      gather_end[i] = comm_free;
      t.every_overlap_s += c.time_s;
      t.comm_energy_j += e;
      t.bytes_every[grp] += static_cast<double>(op.at("bytes"));
    } else {
      t.late.emplace_back(ready, c.time_s);
      if (last) {
        const double start = std::max(ready, late_free);
        late_free = start + c.time_s;
        add_busy(busy, start, late_free);
      }
      t.late_energy_j += e;
      t.bytes_late[grp] += static_cast<double>(op.at("bytes"));
    }
  }
  // The device idles (static power) while it waits; a crowded op does the same
  // work (dynamic energy) over a longer time (static power).
  t.gather_wait_s = wait;
  t.contention_s = shift - wait;
  t.inline_s = s.time_s + shift;
  t.energy_j = s.energy_j + static_w * shift;
  t.end_s = std::max(t.inline_s, comm_free);
  for (size_t k = 0; k < inl.size(); ++k) {
    const Op& op = g.ops[inl[k]];
    const double dur = k == 0 ? s.end[k] : s.end[k] - s.end[k - 1];
    if (is_collective_kind(op.kind)) {
      t.tp_comm_s += dur;
      if (op.get("after_backward", 0)) t.dp_after_s += dur;
      if (op.get("group", 0) == static_cast<int64_t>(CommGroup::pp) && op.get("ranks", 1) > 1)
        t.pp_meets.emplace_back(end[k] - dur, end[k]);
      t.inline_comm_energy_j += std::max(0.0, s.energy[k] - static_w * dur);
      t.bytes_every[std::string(comm_group_name(op.get("group", 0)))] += static_cast<double>(op.at("bytes"));
    } else if (op.get("recompute", 0)) {
      t.recompute_flops += op_flops(op);
    } else {
      t.flops += op_flops(op);
    }
  }
  return t;
}

// A pass as the whole-iteration simulation runs it: its inline ops with the
// durations of the pass's simulation, its overlapped collectives, its p2p send.
IterPass iter_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, const Hardware& hw) {
  IterPass out;
  const std::vector<size_t> inl = inline_ops(g, ops);
  const Simulator::Seq& s = sim.run(g, inl);
  std::vector<double> alone, crowded;
  // Crowded times wherever a collective may run beside the pass (the whole
  // iteration decides when one does).
  inline_durations(sim, g, ops, inl, s, true, alone, crowded);
  std::map<size_t, std::pair<double, double>> dur;  // op -> (alone, crowded)
  double prev = 0;
  for (size_t k = 0; k < inl.size(); ++k) {
    dur[inl[k]] = {alone[k], crowded[k]};
    prev = std::max(prev, s.end[k]);
  }
  out.tail_s = std::max(0.0, s.time_s - prev);
  auto coll = [&](size_t i, IterOp::Kind kind, double d) {
    const Op& op = g.ops[i];
    IterOp o;
    o.kind = kind;
    o.duration_s = d;
    o.name = op.name;
    o.ranks = op.get("ranks", 1);
    o.stride = op.get("stride", 1);
    o.wires = wires_of(g, i, hw);
    return o;
  };
  const IssueOrder io = issue_order(g, ops);
  std::map<size_t, int> index_in_pass;  // overlapped op -> its index in out.ops
  for (size_t i : io.ops) {
    const Op& op = g.ops[i];
    if (op.get("p2p", 0) && op.get("group", 0) != static_cast<int64_t>(CommGroup::pp)) {
      out.p2p_extra_s += sim.transfer(g, i).time_s;  // scatter/gather: the receiver's all-gather
    } else if (op.get("p2p", 0)) {
      out.has_p2p = true;
      out.p2p = coll(i, IterOp::Kind::collective, sim.transfer(g, i).time_s);
    } else if (op.get("overlap", 0)) {
      const bool every = every_microbatch(op);
      index_in_pass[i] = static_cast<int>(out.ops.size());
      out.ops.push_back(coll(i, every ? IterOp::Kind::overlap_every : IterOp::Kind::overlap_last,
                             sim.transfer(g, i).time_s));
    } else {
      if (is_collective_kind(op.kind)) {
        out.ops.push_back(coll(i, IterOp::Kind::collective, dur.at(i).first));
      } else {
        IterOp o;
        o.duration_s = dur.at(i).first;
        o.crowded_s = dur.at(i).second;
        o.name = op.name;
        out.ops.push_back(std::move(o));
      }
      if (auto w = io.waits.find(i); w != io.waits.end())
        out.ops.back().waits_for = index_in_pass.at(w->second);
    }
  }
  return out;
}

}  // namespace tessera::parallel_engine
