// The multi-device engine (see parallel.h).
#include "sim/engines/parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/compute/stage_cost.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"
#include "sim/engines/capacity.h"
#include "sim/engines/engine.h"
#include "sim/engines/systemc_iteration.h"
#include "sim/engines/systemc_system.h"

namespace tessera {
namespace {

double info_or(const Graph& g, const std::string& key, double fallback) {
  auto it = g.info.find(key);
  return it == g.info.end() ? fallback : it->second;
}

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

// One simulated pass: its inline ops back to back, the overlapped ops on a
// communication stream.
struct PassTiming {
  double inline_s = 0;      // inline ops (compute + inline collectives)
  double tp_comm_s = 0;     // of inline_s, tensor-parallel/expert collectives (exposed)
  double end_s = 0;         // with the per-microbatch overlapped collectives
  double energy_j = 0;      // inline ops (static power over inline_s included)
  double inline_comm_energy_j = 0;   // dynamic energy of the inline collectives (in energy_j)
  double comm_energy_j = 0;          // dynamic energy of the per-microbatch overlapped collectives
  double flops = 0, recompute_flops = 0;
  // Last-microbatch-only overlapped collectives (DDP buckets): ready offset, time.
  std::vector<std::pair<double, double>> late;
  double late_energy_j = 0;
  double every_overlap_s = 0;   // per-microbatch overlapped collectives' total time
  std::map<std::string, double> bytes_every, bytes_late;   // group -> bytes per execution
};

class Simulator {
 public:
  Simulator(const Hardware& hw, const std::string& engine) : m_hw(hw), m_engine(make_engine(engine)) {}

  // Times of `ops` (indices into g) run back to back: per op, its end time.
  struct Seq {
    double time_s = 0, energy_j = 0;
    std::vector<double> end;          // per op in `ops`
    std::vector<double> energy;       // per op
    std::vector<OpResult> results;
  };

  // The content of `ops` as one graph (dependencies outside it dropped), and its
  // signature in `sig`: roles with the same signature share one simulation.
  static Graph local_graph(const Graph& g, const std::vector<size_t>& ops, std::string& sig) {
    std::map<size_t, int> local;
    for (size_t i = 0; i < ops.size(); ++i) local[ops[i]] = static_cast<int>(i);
    Graph sg;
    sg.name = g.name;
    sg.spec = g.spec;
    if (auto it = g.info.find("amp"); it != g.info.end()) sg.info["amp"] = it->second;   // compile() checks the target
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
  static std::string signature(const Graph& g, const std::vector<size_t>& ops) {
    std::string sig;
    local_graph(g, ops, sig);
    return sig;
  }

  const Seq& run(const Graph& g, const std::vector<size_t>& ops) {
    std::string sig;
    const Graph sg = local_graph(g, ops, sig);
    if (auto it = m_cache.find(sig); it != m_cache.end()) return it->second;
    Seq s;
    s.end.assign(ops.size(), 0);
    s.energy.assign(ops.size(), 0);
    if (!ops.empty()) {
      Program p = compile(sg, m_hw);
      // The multi-device engines carry no host timeline (the systemc whole
      // iteration has none either; docs/gpu-model.md, "Host time").
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
  int runs() const { return m_runs; }

 private:
  const Hardware& m_hw;
  std::unique_ptr<Engine> m_engine;
  std::map<std::string, Seq> m_cache;
  int m_runs = 0;
};

// The ops of a pass that run inline (not on the communication stream, not a
// pipeline transfer).
std::vector<size_t> inline_ops(const Graph& g, const std::vector<size_t>& ops) {
  std::vector<size_t> inl;
  for (size_t i : ops)
    if (!g.ops[i].get("overlap", 0) && !g.ops[i].get("p2p", 0)) inl.push_back(i);
  return inl;
}

PassTiming time_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, double static_w) {
  PassTiming t;
  const std::vector<size_t> inl = inline_ops(g, ops);
  const Simulator::Seq& s = sim.run(g, inl);
  t.inline_s = s.time_s;
  t.energy_j = s.energy_j;
  std::map<size_t, double> end_of;
  for (size_t k = 0; k < inl.size(); ++k) {
    end_of[inl[k]] = s.end[k];
    const Op& op = g.ops[inl[k]];
    const double dur = k == 0 ? s.end[k] : s.end[k] - s.end[k - 1];
    if (is_collective_kind(op.kind)) {
      t.tp_comm_s += dur;
      t.inline_comm_energy_j += std::max(0.0, s.energy[k] - static_w * dur);
      t.bytes_every[std::string(comm_group_name(op.get("group", 0)))] += static_cast<double>(op.at("bytes"));
    } else if (op.get("recompute", 0)) {
      t.recompute_flops += op_flops(op);
    } else {
      t.flops += op_flops(op);
    }
  }
  // Overlapped ops on the communication stream.
  double ready = 0, comm_free = 0;
  t.end_s = t.inline_s;
  for (size_t i : ops) {
    const Op& op = g.ops[i];
    if (auto it = end_of.find(i); it != end_of.end()) {
      ready = it->second;
      continue;
    }
    if (!op.get("overlap", 0)) continue;
    const Simulator::Seq& c = sim.run(g, {i});
    const double e = std::max(0.0, c.energy_j - static_w * c.time_s);
    const std::string grp(comm_group_name(op.get("group", 0)));
    const bool every = op.get("every_microbatch", 0) || op.get("group", 0) != static_cast<int64_t>(CommGroup::dp);
    if (every) {
      const double start = std::max(ready, comm_free);
      comm_free = start + c.time_s;
      t.end_s = std::max(t.end_s, comm_free);
      t.every_overlap_s += c.time_s;
      t.comm_energy_j += e;
      t.bytes_every[grp] += static_cast<double>(op.at("bytes"));
    } else {
      t.late.emplace_back(ready, c.time_s);
      t.late_energy_j += e;
      t.bytes_late[grp] += static_cast<double>(op.at("bytes"));
    }
  }
  return t;
}

struct ChunkTiming {
  PassTiming fwd, bwd, opt;
  double p2p_fwd_s = 0, p2p_bwd_s = 0;
  double p2p_fwd_bytes = 0, p2p_bwd_bytes = 0, p2p_energy_j = 0;
};

enum class TaskKind { fwd, bwd };
struct Task {
  TaskKind kind;
  int64_t chunk, mb;
};

// Each device's task order under the schedule (Megatron-LM's
// forward_backward_pipelining_{without,with}_interleaving).
std::vector<std::vector<Task>> schedule_tasks(int64_t p, int64_t v, int64_t m, int schedule, bool training) {
  std::vector<std::vector<Task>> out(static_cast<size_t>(p));
  for (int64_t d = 0; d < p; ++d) {
    auto& q = out[static_cast<size_t>(d)];
    const int64_t total = m * v;
    auto fwd_k = [&](int64_t k) {
      const int64_t chunk_local = (k % (p * v)) / p;
      const int64_t mb = (k / (p * v)) * p + k % p;
      return Task{TaskKind::fwd, chunk_local * p + d, v == 1 ? k : mb};
    };
    auto bwd_k = [&](int64_t k) {
      const int64_t chunk_local = v - 1 - (k % (p * v)) / p;
      const int64_t mb = (k / (p * v)) * p + k % p;
      return Task{TaskKind::bwd, chunk_local * p + d, v == 1 ? k : mb};
    };
    if (!training) {
      for (int64_t k = 0; k < total; ++k) q.push_back(fwd_k(k));
      continue;
    }
    if (schedule == 0) {   // gpipe: every forward, then every backward
      for (int64_t k = 0; k < total; ++k) q.push_back(fwd_k(k));
      for (int64_t k = 0; k < total; ++k) q.push_back(bwd_k(k));
      continue;
    }
    const int64_t warm = schedule == 2 ? std::min(total, (p - d - 1) * 2 + (v - 1) * p) : std::min(total, p - d - 1);
    int64_t f = 0, b = 0;
    for (; f < warm; ++f) q.push_back(fwd_k(f));
    while (f < total) {
      q.push_back(fwd_k(f++));
      q.push_back(bwd_k(b++));
    }
    while (b < total) q.push_back(bwd_k(b++));
  }
  return out;
}

struct ScheduleResult {
  std::vector<double> end;         // per device: last task's end
  std::vector<double> busy;        // per device: sum of task durations
  std::vector<std::vector<double>> last_bwd_start;   // [device][local chunk]
  double makespan = 0;
};

ScheduleResult run_schedule(const std::vector<ChunkTiming>& ct, int64_t p, int64_t v, int64_t m, int schedule,
                            bool training, bool with_p2p) {
  const int64_t C = p * v;
  const auto order = schedule_tasks(p, v, m, schedule, training);
  // Completion times of F(c, mb) and B(c, mb).
  std::vector<double> fend(static_cast<size_t>(C * m), -1), bend(static_cast<size_t>(C * m), -1);
  ScheduleResult r;
  r.end.assign(static_cast<size_t>(p), 0);
  r.busy.assign(static_cast<size_t>(p), 0);
  r.last_bwd_start.assign(static_cast<size_t>(p), std::vector<double>(static_cast<size_t>(v), 0));
  std::vector<size_t> next(static_cast<size_t>(p), 0);
  std::vector<double> free_at(static_cast<size_t>(p), 0);
  size_t remaining = 0;
  for (const auto& q : order) remaining += q.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int64_t d = 0; d < p; ++d) {
      auto& n = next[static_cast<size_t>(d)];
      while (n < order[static_cast<size_t>(d)].size()) {
        const Task& t = order[static_cast<size_t>(d)][n];
        const size_t at = static_cast<size_t>(t.chunk * m + t.mb);
        double ready = 0;
        if (t.kind == TaskKind::fwd) {
          if (t.chunk > 0) {
            const double dep = fend[static_cast<size_t>((t.chunk - 1) * m + t.mb)];
            if (dep < 0) break;
            ready = dep + (with_p2p ? ct[static_cast<size_t>(t.chunk - 1)].p2p_fwd_s : 0);
          }
        } else if (t.chunk + 1 < C) {
          const double dep = bend[static_cast<size_t>((t.chunk + 1) * m + t.mb)];
          if (dep < 0) break;
          ready = dep + (with_p2p ? ct[static_cast<size_t>(t.chunk + 1)].p2p_bwd_s : 0);
        } else {
          const double dep = fend[at];
          if (dep < 0) break;
          ready = dep;
        }
        const ChunkTiming& c = ct[static_cast<size_t>(t.chunk)];
        const double dur = t.kind == TaskKind::fwd ? c.fwd.end_s : c.bwd.end_s;
        const double start = std::max(ready, free_at[static_cast<size_t>(d)]);
        free_at[static_cast<size_t>(d)] = start + dur;
        r.busy[static_cast<size_t>(d)] += dur;
        (t.kind == TaskKind::fwd ? fend : bend)[at] = start + dur;
        if (t.kind == TaskKind::bwd && t.mb == m - 1) r.last_bwd_start[static_cast<size_t>(d)][static_cast<size_t>(t.chunk / p)] = start;
        ++n;
        --remaining;
        progressed = true;
      }
    }
    if (!progressed) throw std::logic_error("pipeline schedule deadlocked");
  }
  for (int64_t d = 0; d < p; ++d) {
    r.end[static_cast<size_t>(d)] = free_at[static_cast<size_t>(d)];
    r.makespan = std::max(r.makespan, free_at[static_cast<size_t>(d)]);
  }
  return r;
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

// A pass as the whole-iteration simulation runs it: its inline ops with the
// durations of the pass's simulation, its overlapped collectives, its p2p send.
IterPass iter_pass(Simulator& sim, const Graph& g, const std::vector<size_t>& ops, const Hardware& hw) {
  IterPass out;
  const std::vector<size_t> inl = inline_ops(g, ops);
  const Simulator::Seq& s = sim.run(g, inl);
  std::map<size_t, double> dur;
  double prev = 0;
  for (size_t k = 0; k < inl.size(); ++k) {
    const double end = std::max(prev, s.end[k]);
    dur[inl[k]] = end - prev;
    prev = end;
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
  for (size_t i : ops) {
    const Op& op = g.ops[i];
    if (op.get("p2p", 0)) {
      out.has_p2p = true;
      out.p2p = coll(i, IterOp::Kind::collective, sim.run(g, {i}).time_s);
    } else if (op.get("overlap", 0)) {
      const bool every = op.get("every_microbatch", 0) || op.get("group", 0) != static_cast<int64_t>(CommGroup::dp);
      out.ops.push_back(coll(i, every ? IterOp::Kind::overlap_every : IterOp::Kind::overlap_last, sim.run(g, {i}).time_s));
    } else if (is_collective_kind(op.kind)) {
      out.ops.push_back(coll(i, IterOp::Kind::collective, dur.at(i)));
    } else {
      IterOp o;
      o.duration_s = dur.at(i);
      o.name = op.name;
      out.ops.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace

RunResult simulate_parallel(const Graph& g, const Hardware& hw, const std::string& engine,
                            bool allow_over_capacity) {
  const int64_t tp = static_cast<int64_t>(info_or(g, "tp", 1)), pp = static_cast<int64_t>(info_or(g, "pp", 1));
  const int64_t dp = static_cast<int64_t>(info_or(g, "dp", 1)), v = static_cast<int64_t>(info_or(g, "virtual_stages", 1));
  const int64_t m = static_cast<int64_t>(info_or(g, "microbatches", 1));
  const int schedule = static_cast<int>(info_or(g, "schedule", 1));
  const bool training = info_or(g, "train_step", 0) != 0;
  const int64_t devices = device_count(hw);
  if (tp * pp * dp != devices)
    throw InputError(fmt::format(
        "--workload '{}': tp x pp x dp = {} x {} x {} = {} devices, but hardware '{}' has {} device{}; "
        "change tp, pp or dp{}", g.spec, tp, pp, dp, tp * pp * dp, hw.name, devices, devices == 1 ? "" : "s",
        hw.find<Component>("system") ? " or system.nodes" : " or use a system description (e.g. several nodes)"));
  // Capacity first: a configuration that does not fit is refused before any time is spent.
  std::vector<Footprint> footprint(static_cast<size_t>(pp));
  for (int64_t d = 0; d < pp; ++d) {
    const std::string pre = fmt::format("device{}.", d);
    Footprint& f = footprint[static_cast<size_t>(d)];
    f.weights = info_or(g, pre + "weights_bytes", 0);
    f.gradients = info_or(g, pre + "grads_bytes", 0);
    f.optimizer = info_or(g, pre + "optimizer_bytes", 0);
    f.activations = info_or(g, pre + "activations_bytes", 0);
    f.kv_cache = info_or(g, pre + "kv_cache_bytes", 0);
    check_capacity(f, hw,
                   fmt::format("--workload '{}' on '{}': each device at pipeline position {} ({} devices: tp x dp)",
                               g.spec, hw.name, d, tp * dp),
                   allow_over_capacity);
  }
  if (engine.rfind("systemc", 0) == 0 && devices > k_max_systemc_devices)
    throw InputError(fmt::format(
        "--workload '{}': the systemc engine simulates at most {} devices one by one; '{}' has {}; use --engine "
        "analytic (it simulates each distinct role once, any device count)", g.spec, k_max_systemc_devices,
        hw.name, devices));
  const int64_t C = pp * v;
  const double static_w = hw.power().static_power_w();
  Simulator sim(hw, engine);

  // Per chunk: its passes, timed (identical chunks from the cache).
  std::vector<std::vector<std::vector<size_t>>> by(static_cast<size_t>(C), std::vector<std::vector<size_t>>(3));
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const int64_t c = g.ops[i].get("stage", 0), ps = g.ops[i].get("pass", 0);
    if (c < 0 || c >= C || ps < 0 || ps > 2) throw std::logic_error("parallel graph: op outside its chunks");
    by[static_cast<size_t>(c)][static_cast<size_t>(ps)].push_back(i);
  }
  std::vector<ChunkTiming> ct(static_cast<size_t>(C));
  std::map<std::string, double> group_bytes_total;
  for (int64_t c = 0; c < C; ++c) {
    ChunkTiming& t = ct[static_cast<size_t>(c)];
    t.fwd = time_pass(sim, g, by[static_cast<size_t>(c)][0], static_w);
    t.bwd = time_pass(sim, g, by[static_cast<size_t>(c)][1], static_w);
    t.opt = time_pass(sim, g, by[static_cast<size_t>(c)][2], static_w);
    for (int ps = 0; ps < 2; ++ps)
      for (size_t i : by[static_cast<size_t>(c)][static_cast<size_t>(ps)]) {
        if (!g.ops[i].get("p2p", 0)) continue;
        const auto& s = sim.run(g, {i});
        (ps == 0 ? t.p2p_fwd_s : t.p2p_bwd_s) += s.time_s;
        (ps == 0 ? t.p2p_fwd_bytes : t.p2p_bwd_bytes) += static_cast<double>(g.ops[i].at("bytes"));
        t.p2p_energy_j += std::max(0.0, s.energy_j - static_w * s.time_s);
      }
  }

  const ScheduleResult sr = run_schedule(ct, pp, v, m, schedule, training, true);
  const ScheduleResult s0 = run_schedule(ct, pp, v, m, schedule, training, false);

  // Per device position: gradient reduction after the schedule, optimizer.
  // Under autocast the products run in the 16-bit type (the model is fp32).
  const DType peak_t = info_or(g, "amp", 0) != 0 ? static_cast<DType>(static_cast<int>(info_or(g, "amp_dtype", 0)))
                                                 : g.ops.front().dtype;
  const double peak = hw.compute().peak_flops(peak_t);
  nlohmann::json roles = nlohmann::json::array();
  double iteration = 0, energy = 0, comm_energy = 0, executed_flops = 0;
  std::vector<double> dev_end(static_cast<size_t>(pp)), dp_exposed(static_cast<size_t>(pp)), dp_total(static_cast<size_t>(pp));
  std::vector<double> opt_s(static_cast<size_t>(pp));
  for (int64_t d = 0; d < pp; ++d) {
    std::vector<std::pair<double, double>> late;
    double opt = 0;
    for (int64_t j = 0; j < v; ++j) {
      const ChunkTiming& t = ct[static_cast<size_t>(j * pp + d)];
      const double base = training ? sr.last_bwd_start[static_cast<size_t>(d)][static_cast<size_t>(j)] : 0;
      for (const auto& [off, dur] : t.bwd.late) late.emplace_back(base + off, dur);
      opt += t.opt.end_s;
    }
    std::sort(late.begin(), late.end());
    double comm_free = 0, total = 0;
    for (const auto& [ready, dur] : late) {
      comm_free = std::max(comm_free, ready) + dur;
      total += dur;
    }
    const double sched_end = sr.end[static_cast<size_t>(d)];
    dp_exposed[static_cast<size_t>(d)] = std::max(0.0, comm_free - sched_end);
    dp_total[static_cast<size_t>(d)] = total;
    opt_s[static_cast<size_t>(d)] = opt;
    dev_end[static_cast<size_t>(d)] = std::max(sched_end, comm_free) + opt;
    iteration = std::max(iteration, dev_end[static_cast<size_t>(d)]);
  }

  // The SystemC engine: the whole iteration again, every device a process and
  // every transfer a flow on the shared ports (systemc_iteration.h).
  const bool whole = engine.rfind("systemc", 0) == 0;
  const double analytic_iteration = iteration;
  IterationResult sc;
  if (whole) {
    IterationPlan plan;
    plan.tp = tp;
    plan.pp = pp;
    plan.dp = dp;
    plan.v = v;
    plan.m = m;
    const SystemModel* sys = find_system(hw);
    plan.devices_per_node = sys ? sys->devices_per_node() : 1;
    for (int64_t c = 0; c < C; ++c) {
      plan.fwd.push_back(iter_pass(sim, g, by[static_cast<size_t>(c)][0], hw));
      plan.bwd.push_back(iter_pass(sim, g, by[static_cast<size_t>(c)][1], hw));
      plan.opt.push_back(iter_pass(sim, g, by[static_cast<size_t>(c)][2], hw));
    }
    for (const auto& q : schedule_tasks(pp, v, m, schedule, training)) {
      std::vector<IterTask> tasks;
      for (const Task& t : q) tasks.push_back({t.kind == TaskKind::bwd, t.chunk, t.mb});
      plan.order.push_back(std::move(tasks));
    }
    sc = simulate_iteration_systemc(plan);
    iteration = sc.iteration_s;
    for (int64_t d = 0; d < pp; ++d) {
      double e = 0;
      for (int64_t rep = 0; rep < tp * dp; ++rep) e = std::max(e, sc.device_end_s[static_cast<size_t>(rep + d * tp * dp)]);
      dev_end[static_cast<size_t>(d)] = e;
    }
  }

  const double mbs = static_cast<double>(m);
  const double replicas = static_cast<double>(tp * dp);   // devices per pipeline position
  std::map<std::string, double> sys_bytes;
  for (int64_t d = 0; d < pp; ++d) {
    double tp_comm = 0, every_overlap = 0, every_exposed = 0, e = 0, ce = 0, ice = 0, fl = 0, rfl = 0, p2p_s = 0;
    std::map<std::string, double> bytes;
    for (int64_t j = 0; j < v; ++j) {
      const ChunkTiming& t = ct[static_cast<size_t>(j * pp + d)];
      for (const PassTiming* ps : {&t.fwd, &t.bwd}) {
        tp_comm += mbs * ps->tp_comm_s;
        every_overlap += mbs * ps->every_overlap_s;
        every_exposed += mbs * (ps->end_s - ps->inline_s);
        e += mbs * ps->energy_j;
        ce += mbs * ps->comm_energy_j;
        ice += mbs * ps->inline_comm_energy_j;
        fl += mbs * ps->flops;
        rfl += mbs * ps->recompute_flops;
        for (const auto& [k, b] : ps->bytes_every) bytes[k] += mbs * b;
        for (const auto& [k, b] : ps->bytes_late) bytes[k] += b;
      }
      ce += t.bwd.late_energy_j + mbs * t.p2p_energy_j + t.opt.comm_energy_j;
      e += t.opt.energy_j;
      ice += t.opt.inline_comm_energy_j;
      fl += t.opt.flops;
      for (const auto& [k, b] : t.opt.bytes_every) bytes[k] += b;
      if (t.p2p_fwd_bytes + t.p2p_bwd_bytes > 0) bytes["pp"] += mbs * (t.p2p_fwd_bytes + t.p2p_bwd_bytes);
      p2p_s += mbs * (t.p2p_fwd_s + t.p2p_bwd_s);
    }
    const double busy = sr.busy[static_cast<size_t>(d)] + opt_s[static_cast<size_t>(d)];
    // Static power while the device waits (bubble, exposed gradient reduction, the
    // end of the iteration); the passes' energies already hold it while they run.
    const double dev_energy = e + ce + static_w * std::max(0.0, iteration - busy);
    energy += replicas * dev_energy;
    comm_energy += replicas * (ce + ice);
    executed_flops += replicas * (fl + rfl);
    for (const auto& [k, b] : bytes) sys_bytes[k] += replicas * b;
    const double span = sr.makespan;
    const nlohmann::json mem = footprint_json(footprint[static_cast<size_t>(d)], hw);
    nlohmann::json chunks = nlohmann::json::array();
    for (int64_t j = 0; j < v; ++j) chunks.push_back(j * pp + d);
    nlohmann::json gb = nlohmann::json::object();
    for (const auto& [k, b] : bytes) gb[k] = b;
    roles.push_back({{"pipeline_position", d},
                     {"devices", tp * dp},
                     {"chunks", chunks},
                     {"busy_s", busy},
                     {"end_s", dev_end[static_cast<size_t>(d)]},
                     {"forward_s", ct[static_cast<size_t>(d)].fwd.end_s},
                     {"backward_s", ct[static_cast<size_t>(d)].bwd.end_s},
                     {"optimizer_s", opt_s[static_cast<size_t>(d)]},
                     {"bubble_s", std::max(0.0, span - sr.busy[static_cast<size_t>(d)])},
                     {"bubble_fraction", span > 0 ? std::max(0.0, span - sr.busy[static_cast<size_t>(d)]) / span : 0.0},
                     {"tp_comm_exposed_s", tp_comm},
                     {"overlapped_comm_s", every_overlap - every_exposed + dp_total[static_cast<size_t>(d)] -
                                               dp_exposed[static_cast<size_t>(d)]},
                     {"exposed_overlap_comm_s", every_exposed + dp_exposed[static_cast<size_t>(d)]},
                     {"dp_comm_s", dp_total[static_cast<size_t>(d)]},
                     {"dp_comm_exposed_s", dp_exposed[static_cast<size_t>(d)]},
                     {"p2p_s", p2p_s},
                     {"energy_j", dev_energy},
                     {"comm_energy_j", ce + ice},
                     {"bytes_by_group", gb},
                     {"memory", mem}});
  }

  RunResult r;
  r.hardware = hw.name;
  r.workload = g.spec;
  r.engine = engine + " (multi-device)";
  r.time_s = iteration;
  r.clock_hz = hw.compute().nominal_clock_hz();
  r.cycles = iteration * r.clock_hz;
  r.energy_j = energy;
  r.avg_power_w = iteration > 0 ? energy / iteration : 0;
  r.flops = executed_flops;
  r.peak_flops = peak * static_cast<double>(devices);
  r.kernel_time_s = iteration;
  // The ops of each distinct role once (chunk c's passes, names prefixed).
  std::map<std::string, bool> shown;
  for (int64_t c = 0; c < C; ++c)
    for (int ps = 0; ps < 3; ++ps) {
      const std::vector<size_t> inl = inline_ops(g, by[static_cast<size_t>(c)][static_cast<size_t>(ps)]);
      const std::string key = Simulator::signature(g, inl);
      if (inl.empty() || shown[key]) continue;
      shown[key] = true;
      for (OpResult o : sim.run(g, inl).results) {
        o.name = fmt::format("c{}.{}", c, o.name);
        r.ops.push_back(std::move(o));
      }
    }
  const double model_flops = info_or(g, "model_flops", 0);
  const double mfu = iteration > 0 && r.peak_flops > 0 ? model_flops / iteration / r.peak_flops : 0;
  nlohmann::json gbt = nlohmann::json::object();
  for (const auto& [k, b] : sys_bytes) gbt[k] = b;
  double max_mem = 0;
  bool fits = true;
  for (const auto& ro : roles) {
    max_mem = std::max(max_mem, ro["memory"]["total_bytes"].get<double>());
    fits = fits && ro["memory"]["fits"].get<bool>();
  }
  r.extra["parallel"] = {
      {"devices", devices},
      {"tp", tp}, {"pp", pp}, {"dp", dp}, {"ep", static_cast<int64_t>(info_or(g, "ep", 1))},
      {"virtual_stages", v},
      {"schedule", schedule == 0 ? "gpipe" : schedule == 1 ? "1f1b" : "interleaved"},
      {"sequence_parallel", info_or(g, "sequence_parallel", 0) != 0},
      {"zero", static_cast<int64_t>(info_or(g, "zero", 0))},
      {"recompute", std::array<const char*, 3>{"none", "selective", "full"}[static_cast<size_t>(info_or(g, "recompute", 0))]},
      {"training", training},
      {"microbatch", static_cast<int64_t>(info_or(g, "microbatch", 1))},
      {"microbatches", m},
      {"global_batch", static_cast<int64_t>(info_or(g, "global_batch", 1))},
      {"iteration_s", iteration},
      {"pipeline_s", sr.makespan},
      {"p2p_exposed_s", sr.makespan - s0.makespan},
      {"pipeline_without_p2p_s", s0.makespan},
      {"bubble_fraction", roles[0]["bubble_fraction"]},
      {"model_flops", model_flops},
      {"executed_flops", executed_flops},
      {"mfu", mfu},
      {"hfu", iteration > 0 && r.peak_flops > 0 ? executed_flops / iteration / r.peak_flops : 0.0},
      {"model_flops_per_device_per_s", iteration > 0 ? model_flops / iteration / static_cast<double>(devices) : 0.0},
      {"tokens_per_s", iteration > 0 ? info_or(g, "global_batch", 1) * info_or(g, "seq", 1) / iteration : 0.0},
      {"energy_j", energy},
      {"comm_energy_j", comm_energy},
      {"bytes_by_group", gbt},
      {"max_memory_bytes", max_mem},
      {"memory_fits", fits},
      {"distinct_simulations", sim.runs()},
      {"roles", roles}};
  if (whole) {
    nlohmann::json ch = nlohmann::json::array();
    const IterChannel* busiest = nullptr;
    for (const IterChannel& c : sc.channels) {
      ch.push_back({{"channel", c.name}, {"busy_s", c.busy_s}, {"utilization", c.utilization}});
      if (!busiest || c.utilization > busiest->utilization) busiest = &c;
    }
    // SystemC rounds every wait to its 1 ps time resolution; a difference within
    // 1e-7 of the iteration (100 ps per ms: thousands of rounded waits) is that
    // rounding, not contention.
    const double contention =
        std::abs(iteration - analytic_iteration) <= std::max(1e-12, 1e-7 * analytic_iteration)
            ? 0.0
            : iteration - analytic_iteration;
    double first = iteration;
    for (double e : sc.device_end_s) first = std::min(first, e);
    r.extra["system_simulation"] = {{"devices", devices},
                                    {"whole_iteration", true},
                                    {"transfers", sc.flows},
                                    {"first_device_end_s", first},
                                    {"last_device_end_s", iteration},
                                    {"analytic_iteration_s", analytic_iteration},
                                    {"contention_s", contention},
                                    {"busiest_channel", busiest ? busiest->name : std::string()},
                                    {"busiest_utilization", busiest ? busiest->utilization : 0.0},
                                    {"channels", ch}};
    r.stats.set("system.devices_simulated", static_cast<double>(devices), "1",
                "devices the systemc engine ran as concurrent processes");
    r.stats.set("system.contention_delay", contention, "s",
                "iteration time minus the analytic engine's (transfers sharing ports)");
  }
  r.stats.set("parallel.iteration_time", iteration, "s", "one iteration (all microbatches, optimizer)");
  r.stats.set("parallel.mfu", mfu, "1", "model FLOPs utilization (model FLOPs / time / peak of all devices)");
  r.stats.set("parallel.comm_energy", comm_energy, "J", "dynamic energy of the collectives (all devices)");
  for (const auto& [k, b] : sys_bytes)
    r.stats.set("parallel.group." + k + ".bytes", b, "B", "collective bytes (nccl-tests size) summed over devices");
  return r;
}

}  // namespace tessera
