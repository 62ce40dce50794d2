// The multi-device engine (see parallel.h).
#include "sim/engines/parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "core/error.h"
#include "models/interconnect/system.h"
#include "sim/engines/capacity.h"
#include "sim/engines/parallel_parts.h"
#include "sim/engines/systemc_iteration.h"
#include "sim/engines/systemc_system.h"
#include "workloads/models/parallel.h"

namespace tessera {

using namespace parallel_engine;

RunResult simulate_parallel(const Graph& g, const Hardware& hw, const EngineOptions& engine) {
  if (engine.streams != 1)
    throw InputError(fmt::format(
        "--engine systemc:streams={}: a multi-device workload runs each device's kernels in order beside its "
        "communication streams (docs/parallel.md); streams applies to single-device workloads; use --engine "
        "systemc",
        engine.streams));
  return simulate_parallel(g, hw, engine.name, engine.allow_over_capacity);
}

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
    // The backward of the last microbatch, and of the first and a middle one where
    // they differ (ops with in_microbatch).
    const std::vector<size_t>& bw = by[static_cast<size_t>(c)][1];
    t.bwd = time_pass(sim, g, microbatch_ops(g, bw, m - 1, m), static_w, true);
    t.bwd_varies = varies_by_microbatch(g, bw) || (!t.bwd.late.empty() && sim.crowded());
    if (t.bwd_varies && m > 1) t.bwd_first = time_pass(sim, g, microbatch_ops(g, bw, 0, m), static_w);
    if (t.bwd_varies && m > 2) t.bwd_middle = time_pass(sim, g, microbatch_ops(g, bw, 1, m), static_w);
    t.opt = time_pass(sim, g, by[static_cast<size_t>(c)][2], static_w);
    for (int ps = 0; ps < 2; ++ps)
      for (size_t i : by[static_cast<size_t>(c)][static_cast<size_t>(ps)]) {
        if (!g.ops[i].get("p2p", 0)) continue;
        const auto& s = sim.transfer(g, i);
        (ps == 0 ? t.p2p_fwd_s : t.p2p_bwd_s) += s.time_s;
        // The send over pp; with scatter/gather also the receiver's all-gather over tp.
        if (g.ops[i].get("group", 0) == static_cast<int64_t>(CommGroup::pp))
          (ps == 0 ? t.p2p_fwd_bytes : t.p2p_bwd_bytes) += static_cast<double>(g.ops[i].at("bytes"));
        else {
          t.p2p_gather_bytes += static_cast<double>(g.ops[i].at("bytes"));
          (ps == 0 ? t.p2p_fwd_gather_s : t.p2p_bwd_gather_s) += s.time_s;
        }
        t.p2p_energy_j += std::max(0.0, s.energy_j - static_w * s.time_s);
      }
  }

  const bool blocking = info_or(g, "p2p_blocking", 0) != 0;
  ParallelTimeline timeline;
  timeline.spans.resize(static_cast<size_t>(pp));
  for (int64_t d = 0; d < pp; ++d)
    timeline.rows.push_back(
        fmt::format("pipeline position {}: {} device(s), tp {} x dp {}", d, tp * dp, tp, dp));
  const ScheduleResult sr = run_schedule(ct, pp, v, m, schedule, training, true, blocking);
  const ScheduleResult s0 = run_schedule(ct, pp, v, m, schedule, training, false, blocking);

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
    double opt = 0, after = 0;
    for (int64_t j = 0; j < v; ++j) {
      const ChunkTiming& t = ct[static_cast<size_t>(j * pp + d)];
      const double base = training ? sr.last_bwd_start[static_cast<size_t>(d)][static_cast<size_t>(j)] : 0;
      for (const auto& [off, dur] : t.bwd.late) late.emplace_back(base + off, dur);
      opt += t.opt.end_s;
      after += t.opt.dp_after_s;  // inside the optimizer pass, exposed
    }
    std::sort(late.begin(), late.end());
    double comm_free = 0, total = 0;
    auto& spans = timeline.spans[static_cast<size_t>(d)];
    for (const auto& [ready, dur] : late) {
      const double start = std::max(comm_free, ready);
      comm_free = start + dur;
      total += dur;
      spans.push_back(
          {"dp reduction", fmt::format("gradient bucket {}", spans.size()), "dp", start, comm_free});
    }
    const double sched_end = sr.end[static_cast<size_t>(d)];
    schedule_spans(sr.spans[static_cast<size_t>(d)], ct, v, blocking, spans);
    // Its end once the pipeline group's meeting points are placed (below).
    if (opt > 0) spans.push_back({"compute", "optimizer", "optimizer", std::max(sched_end, comm_free), 0});
    dp_exposed[static_cast<size_t>(d)] = std::max(0.0, comm_free - sched_end) + after;
    dp_total[static_cast<size_t>(d)] = total + after;
    opt_s[static_cast<size_t>(d)] = opt;
    dev_end[static_cast<size_t>(d)] = std::max(sched_end, comm_free) + opt;
  }
  // The optimizer passes' collectives over the pipeline group (Megatron-LM's
  // gradient-norm and found_inf all-reduces over tp and pp) are meeting points:
  // every position waits there for the last to arrive, then finishes its own
  // step. Each position meets them in the same order (its chunks' passes in turn).
  {
    std::vector<std::vector<std::pair<double, double>>> meets(static_cast<size_t>(pp));
    for (int64_t d = 0; d < pp; ++d) {
      double off = 0;
      for (int64_t j = 0; j < v; ++j) {
        const PassTiming& o = ct[static_cast<size_t>(j * pp + d)].opt;
        for (const auto& [a, b] : o.pp_meets) meets[static_cast<size_t>(d)].emplace_back(off + a, off + b);
        off += o.end_s;
      }
    }
    const size_t n = meets.empty() ? 0 : meets[0].size();
    bool same = true;
    for (const auto& mv : meets) same = same && mv.size() == n;
    if (same && n > 0 && pp > 1) {
      std::vector<double> t(static_cast<size_t>(pp)),
          at(static_cast<size_t>(pp), 0);  // clock, offset reached
      for (int64_t d = 0; d < pp; ++d)
        t[static_cast<size_t>(d)] = dev_end[static_cast<size_t>(d)] - opt_s[static_cast<size_t>(d)];
      for (size_t k = 0; k < n; ++k) {
        double meet = 0;
        for (int64_t d = 0; d < pp; ++d)
          meet = std::max(meet, t[static_cast<size_t>(d)] + meets[static_cast<size_t>(d)][k].first -
                                    at[static_cast<size_t>(d)]);
        for (int64_t d = 0; d < pp; ++d) {
          const auto& [a, b] = meets[static_cast<size_t>(d)][k];
          t[static_cast<size_t>(d)] = meet + (b - a);
          at[static_cast<size_t>(d)] = b;
        }
      }
      for (int64_t d = 0; d < pp; ++d)
        dev_end[static_cast<size_t>(d)] =
            t[static_cast<size_t>(d)] + opt_s[static_cast<size_t>(d)] - at[static_cast<size_t>(d)];
    }
  }
  for (int64_t d = 0; d < pp; ++d) {
    iteration = std::max(iteration, dev_end[static_cast<size_t>(d)]);
    for (ParallelSpan& s : timeline.spans[static_cast<size_t>(d)])
      if (s.cat == "optimizer") s.end_s = dev_end[static_cast<size_t>(d)];
  }
  sort_rows(timeline);

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
    // Each chunk's backward for the last, the first and a middle microbatch (the
    // last's where they are the same); the plan keeps the others only when some
    // chunk's differ.
    std::vector<IterPass> first, middle;
    bool varies = false;
    for (int64_t c = 0; c < C; ++c) {
      plan.fwd.push_back(iter_pass(sim, g, by[static_cast<size_t>(c)][0], hw));
      const std::vector<size_t>& bw = by[static_cast<size_t>(c)][1];
      plan.bwd.push_back(iter_pass(sim, g, microbatch_ops(g, bw, m - 1, m), hw));
      const bool v_c = varies_by_microbatch(g, bw);
      varies = varies || v_c;
      first.push_back(v_c && m > 1 ? iter_pass(sim, g, microbatch_ops(g, bw, 0, m), hw) : plan.bwd.back());
      middle.push_back(v_c && m > 2 ? iter_pass(sim, g, microbatch_ops(g, bw, 1, m), hw) : plan.bwd.back());
      plan.opt.push_back(iter_pass(sim, g, by[static_cast<size_t>(c)][2], hw));
    }
    if (varies) {
      plan.bwd_first = std::move(first);
      plan.bwd_middle = std::move(middle);
    }
    const auto order = schedule_tasks(pp, v, m, schedule, training);
    plan.blocking = blocking;
    if (blocking) plan.step_sizes = step_sizes(order, pp, v, schedule, training);
    for (const auto& q : order) {
      std::vector<IterTask> tasks;
      for (const Task& t : q) tasks.push_back({t.kind == TaskKind::bwd, t.chunk, t.mb});
      plan.order.push_back(std::move(tasks));
    }
    sc = simulate_iteration_systemc(plan);
    iteration = sc.iteration_s;
    timeline = iteration_timeline(sc, tp, dp, v);
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
    double contention = 0;
    std::map<std::string, double> bytes;
    for (int64_t j = 0; j < v; ++j) {
      const ChunkTiming& t = ct[static_cast<size_t>(j * pp + d)];
      // The passes of all microbatches: the forward m times; the backward m times,
      // or its first, middle and last forms where they differ.
      std::vector<std::pair<const PassTiming*, double>> runs{{&t.fwd, mbs}};
      if (!t.bwd_varies || m == 1)
        runs.emplace_back(&t.bwd, mbs);
      else
        runs.insert(runs.end(), {{&t.bwd_first, 1.0}, {&t.bwd_middle, mbs - 2}, {&t.bwd, 1.0}});
      for (const auto& [ps, n] : runs) {
        tp_comm += n * ps->tp_comm_s;
        every_overlap += n * ps->every_overlap_s;
        // Exposed: after the inline ops, and the waits for gathers inside them.
        every_exposed += n * (ps->end_s - ps->inline_s + ps->gather_wait_s);
        contention += n * ps->contention_s;
        e += n * ps->energy_j;
        ce += n * ps->comm_energy_j;
        ice += n * ps->inline_comm_energy_j;
        fl += n * ps->flops;
        rfl += n * ps->recompute_flops;
        for (const auto& [k, b] : ps->bytes_every) bytes[k] += n * b;
      }
      for (const PassTiming* ps : {&t.fwd, &t.bwd})  // once: the last microbatch's
        for (const auto& [k, b] : ps->bytes_late) bytes[k] += b;
      ce += t.bwd.late_energy_j + mbs * t.p2p_energy_j + t.opt.comm_energy_j;
      e += t.opt.energy_j;
      ice += t.opt.inline_comm_energy_j;
      fl += t.opt.flops;
      for (const auto& [k, b] : t.opt.bytes_every) bytes[k] += b;
      if (t.p2p_fwd_bytes + t.p2p_bwd_bytes > 0) bytes["pp"] += mbs * (t.p2p_fwd_bytes + t.p2p_bwd_bytes);
      if (t.p2p_gather_bytes > 0) bytes["tp"] += mbs * t.p2p_gather_bytes;
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
    roles.push_back(
        {{"pipeline_position", d},
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
         // Total less exposed, each >= 0 (a fully exposed reduction leaves a
         // rounding residue, e.g. -6.9e-18 s).
         {"overlapped_comm_s",
          std::max(0.0, every_overlap - every_exposed) +
              std::max(0.0, dp_total[static_cast<size_t>(d)] - dp_exposed[static_cast<size_t>(d)])},
         {"exposed_overlap_comm_s", every_exposed + dp_exposed[static_cast<size_t>(d)]},
         // Compute slowed by the SMs the communication stream's collectives hold.
         {"comm_contention_s", contention},
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
  r.parallel_timeline = std::move(timeline);
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
      {"tp", tp},
      {"pp", pp},
      {"dp", dp},
      {"ep", static_cast<int64_t>(info_or(g, "ep", 1))},
      {"virtual_stages", v},
      {"schedule", schedule == 0   ? "gpipe"
                   : schedule == 1 ? "1f1b"
                                   : "interleaved"},
      {"p2p_overlap", !blocking},
      {"sequence_parallel", info_or(g, "sequence_parallel", 0) != 0},
      {"zero", static_cast<int64_t>(info_or(g, "zero", 0))},
      {"recompute", k_recompute_names.at(static_cast<size_t>(info_or(g, "recompute", 0)))},
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
      {"model_flops_per_device_per_s",
       iteration > 0 ? model_flops / iteration / static_cast<double>(devices) : 0.0},
      {"tokens_per_s",
       iteration > 0 ? info_or(g, "global_batch", 1) * info_or(g, "seq", 1) / iteration : 0.0},
      {"energy_j", energy},
      {"comm_energy_j", comm_energy},
      {"bytes_by_group", gbt},
      {"max_memory_bytes", max_mem},
      {"memory_fits", fits},
      {"distinct_simulations", sim.runs()},
      {"roles", roles}};
  // amp=fp16: whose loss scaling the step runs (ScalerStack, workloads/models/
  // parallel.h) and the groups GradScaler's found_inf is all-reduced over.
  if (training && info_or(g, "amp", 0) != 0 &&
      info_or(g, "amp_dtype", 0) == static_cast<double>(static_cast<int>(DType::fp16))) {
    const int stack = static_cast<int>(info_or(g, "scaler_stack", 0));
    nlohmann::json groups = nlohmann::json::array();
    for (size_t i : by[0][2])
      if (const std::string& n = g.ops[i].name; g.ops[i].kind == OpKind::allreduce) {
        const std::string dense = "grad_scaler.found_inf.", expert = "grad_scaler.found_inf_expert.";
        if (n.rfind(dense, 0) == 0) groups.push_back(n.substr(dense.size()));
        if (n.rfind(expert, 0) == 0) groups.push_back("expert " + n.substr(expert.size()));
      }
    r.extra["parallel"]["loss_scaling"] = {
        {"stack", stack == 0 ? "megatron" : stack == 1 ? "fsdp" : "torch"}, {"found_inf_allreduces", groups}};
  }
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
