#include "sim/engines/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <utility>

#include "core/error.h"

namespace tessera {

// Each instruction is charged to its unit by the unit's kind (cost_stage,
// models/compute/stage_cost.h).
KernelPlan plan_kernel(const Kernel& k, const Hardware& hw) {
  KernelPlan plan;
  const ComputeModel& cm = hw.compute();
  plan.ctx = cm.begin_kernel(k, hw);
  plan.overhead_s = cm.kernel_overhead_s(k, plan.ctx);
  plan.idle_s = std::min(cm.launch_idle_s(k, plan.ctx), plan.overhead_s);
  plan.host_s = cm.host_time_s(k);
  plan.launch_s = cm.idle_launch_s(k, plan.ctx);
  for (const Block& b : k.blocks) {
    // The models' cost of one stage (shared with the power-capped clock search).
    plan.stages.push_back(StagePlan{cost_stage(b, k, hw, plan.ctx), b.repeat});
  }
  return plan;
}

namespace {

// Static energy each kernel carries when kernels overlap: static power shared
// equally among the kernels in flight at each moment, integrated over the
// kernel's lifetime. Empty when no two kernels overlap (then each carries
// static power x its own time).
std::vector<double> shared_static_energy(const std::vector<KernelTiming>& t, double static_w) {
  std::vector<std::pair<double, double>> by_start;
  for (const auto& k : t) by_start.emplace_back(k.start_s, k.end_s);
  std::sort(by_start.begin(), by_start.end());
  bool overlap = false;
  for (size_t i = 1; i < by_start.size() && !overlap; ++i) overlap = by_start[i].first < by_start[i - 1].second;
  if (!overlap) return {};
  // Sweep over the kernels' start and end points: F(x) = integral over [0, x] of
  // static_w / (kernels in flight), so that a kernel's share is F(end) - F(start).
  std::vector<std::pair<double, int>> ev;   // (time, +1 start / -1 end); ends first at ties
  for (const auto& k : t) {
    ev.emplace_back(k.start_s, +1);
    ev.emplace_back(k.end_s, -1);
  }
  std::sort(ev.begin(), ev.end());
  std::vector<double> xs, fs;
  int active = 0;
  double f = 0, x = ev.empty() ? 0 : ev.front().first;
  for (const auto& [time, delta] : ev) {
    if (active > 0) f += static_w * (time - x) / active;
    x = time;
    active += delta;
    if (xs.empty() || xs.back() != time) {
      xs.push_back(time);
      fs.push_back(f);
    }
  }
  const auto at = [&](double v) { return fs[std::lower_bound(xs.begin(), xs.end(), v) - xs.begin()]; };
  std::vector<double> out;
  out.reserve(t.size());
  for (const auto& k : t) out.push_back(at(k.end_s) - at(k.start_s));
  return out;
}

}  // namespace

RunResult finish_run(const Program& p, const Hardware& hw, const std::string& engine,
                     const std::vector<KernelPlan>& plans, const std::vector<KernelTiming>& t,
                     double compute_busy_s, double host_done_s) {
  RunResult r;
  r.hardware = hw.name;
  r.workload = p.workload;
  r.engine = engine;
  r.clock_hz = hw.compute().nominal_clock_hz();
  const double static_w = hw.power().static_power_w();
  Stats& s = r.stats;
  double end = 0, dyn_energy = 0, compute_busy = 0, peak_flops_sel = 0, max_op_flops = -1;
  double host_busy = 0, host_wait = 0;
  std::map<std::string, double> level_busy, level_bytes;
  std::map<std::string, LevelTransfer> link_total;   // per link/switch: busy, bytes, energy
  const std::vector<double> shared_static = shared_static_energy(t, static_w);
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    const Kernel& k = p.kernels[i];
    const KernelPlan& kp = plans[i];
    OpResult o;
    o.name = k.name;
    o.kind = k.op_kind;
    o.mapping = k.mapping;
    o.start_s = t[i].start_s;
    o.time_s = t[i].end_s - t[i].start_s;
    o.flops = k.flops;
    o.bytes = k.bytes;
    o.clock_hz = kp.ctx.clock_hz;
    o.launches = std::max<int64_t>(1, k.info.launches.value_or(1));
    // Waiting for the host (eager execution, models/compute/host.h) is launch
    // idle: before the kernel, outside it.
    o.overhead_s = kp.overhead_s + t[i].host_wait_s;
    o.idle_s = kp.idle_s + t[i].host_wait_s;
    host_busy += kp.host_s;
    host_wait += t[i].host_wait_s;
    double e = 0;
    std::map<std::string, double> busy, link_busy;
    for (const auto& st : kp.stages) {
      const double n = static_cast<double>(st.repeat);
      o.compute_s += n * st.compute_s;
      e += n * st.energy_j;
      for (const auto& [lvl, lc] : st.levels) {
        busy[lvl] += n * lc.time_s;
        level_bytes[lvl] += n * lc.bytes;
      }
      for (const auto& [path, lc] : st.links) {
        link_busy[path] += n * lc.time_s;
        link_total[path].time_s += n * lc.time_s;
        link_total[path].bytes += n * lc.bytes;
        link_total[path].energy_j += n * lc.energy_j;
      }
    }
    double link_s = 0;
    std::string busiest_link;
    for (const auto& [path, b] : link_busy)
      if (b > link_s) { link_s = b; busiest_link = path; }
    std::string busiest;
    for (const auto& [lvl, b] : busy) {
      level_busy[lvl] += b;
      if (b > o.memory_s) { o.memory_s = b; busiest = lvl; }
    }
    if (o.overhead_s >= std::max(o.compute_s, o.memory_s)) o.bound = "overhead";
    else if (link_s > std::max(o.compute_s, o.memory_s)) o.bound = "link:" + busiest_link;
    else if (o.compute_s >= o.memory_s) o.bound = "compute";
    else o.bound = "memory:" + busiest;
    o.energy_j = e + (shared_static.empty() ? static_w * o.time_s : shared_static[i]);
    dyn_energy += e;
    compute_busy += o.compute_s;
    end = std::max(end, t[i].end_s);
    for (const auto& [key, v] : kp.ctx.values) s.add("compute." + key, v, "", "model fact (summed over kernels)");
    if (k.flops > max_op_flops) {
      max_op_flops = k.flops;
      // Peak of the operand format of the heaviest op (mma instructions carry it).
      for (const auto& b : k.blocks)
        for (const auto& in : b.instrs)
          if (in.op == Opcode::mma) peak_flops_sel = hw.compute().peak_flops(in.a);
    }
    r.flops += k.flops;
    r.kernel_time_s += o.time_s - o.idle_s;
    r.ops.push_back(std::move(o));
  }
  if (compute_busy_s >= 0) compute_busy = compute_busy_s;
  // The host's time after the last launch (host.h: the end event follows it).
  r.host_done_s = host_done_s;
  if (host_done_s > end) {
    host_wait += host_done_s - end;
    end = host_done_s;
  }
  // A time or energy that is negative, infinite or NaN means the inputs took a
  // model outside what it represents (a size or a parameter far out of its
  // range): refused, naming the op, rather than reported.
  const auto check = [&](double v, const std::string& what, const std::string& op) {
    if (std::isfinite(v) && v >= 0) return;
    throw InputError(fmt::format("{}: {} of op '{}' on {} would be {}; the inputs (sizes or hardware "
                                 "parameters) are outside what the model represents", p.workload, what,
                                 op, hw.name, v));
  };
  for (const OpResult& o : r.ops) {
    check(o.time_s, "the time", o.name);
    check(o.start_s, "the start time", o.name);
    check(o.energy_j, "the energy", o.name);
    check(o.compute_s, "the compute time", o.name);
    check(o.memory_s, "the memory time", o.name);
    check(o.flops, "the FLOP count", o.name);
    check(o.bytes, "the byte count", o.name);
  }
  check(end, "the run time", "(all)");
  check(dyn_energy + static_w * end, "the energy", "(all)");
  r.time_s = end;
  r.cycles = end * r.clock_hz;
  r.energy_j = dyn_energy + static_w * end;
  r.avg_power_w = end > 0 ? r.energy_j / end : 0;
  r.peak_flops = peak_flops_sel;

  // Raw counts, then every derived figure, here and only here.
  s.set("compute.busy_s", compute_busy, "s", "time the compute units were busy");
  s.set("compute.kernel_time", r.kernel_time_s, "s",
        "summed kernel durations without launch idle (what a profiler's kernel total shows)");
  s.set("compute.flops", r.flops, "FLOP", "floating-point operations of the workload");
  if (host_busy > 0) {
    s.set("host.busy", host_busy, "s", "host (CPU) time issuing the ops in eager execution");
    s.set("host.wait", host_wait, "s", "time the device idled waiting for the host (before a kernel, or after the last until the host was done)");
  }
  s.set("compute.utilization", end > 0 ? compute_busy / end : 0, "1", "busy time / run time");
  if (r.peak_flops > 0 && end > 0)
    s.set("compute.flops_utilization", r.flops / end / r.peak_flops, "1",
          "achieved FLOP/s / peak FLOP/s of the main format");
  for (const auto& [lvl, b] : level_busy) {
    const std::string base = "memory." + lvl;
    s.set(base + ".busy_s", b, "s", "time the level was transferring");
    s.set(base + ".bytes", level_bytes[lvl], "B", "bytes transferred");
    s.set(base + ".utilization", end > 0 ? b / end : 0, "1", "busy time / run time");
    s.set(base + ".avg_bandwidth", end > 0 ? level_bytes[lvl] / end : 0, "B/s",
          "bytes / run time");
  }
  for (const auto& [path, lt] : link_total) {
    const std::string base = "link." + path;
    s.set(base + ".busy_s", lt.time_s, "s", "time the link or switch was carrying data");
    s.set(base + ".bytes", lt.bytes, "B", "bytes one device moved over it (one direction)");
    s.set(base + ".utilization", end > 0 ? lt.time_s / end : 0, "1", "busy time / run time");
    s.set(base + ".energy", lt.energy_j, "J", "dynamic energy of its transfers");
  }
  s.set("power.static_energy", static_w * end, "J", "static power x run time");
  s.set("power.dynamic_energy", dyn_energy, "J", "energy of the instructions executed");
  s.set("power.avg_power", r.avg_power_w, "W", "total energy / run time");
  r.timeline = build_timeline(p, hw, plans, t);
  return r;
}

std::vector<std::string> engine_names() { return {"analytic", "systemc"}; }

EngineOptions parse_engine_spec(const std::string& name) {
  const size_t colon = name.find(':');
  const std::string base = name.substr(0, colon);
  const std::string options = colon == std::string::npos ? "" : name.substr(colon + 1);
  const std::string streams_help = fmt::format("streams=N with N = 1..{}", k_max_streams);
  if (base == "analytic") {
    if (colon != std::string::npos)
      throw InputError(fmt::format("--engine analytic: takes no options, got '{}'; it runs kernels one "
                                   "after another (for concurrent kernels: systemc:{})",
                                   options, streams_help));
    return EngineOptions{"analytic", 1};
  }
  if (base != "systemc")
    throw InputError(fmt::format("--engine: unknown engine '{}'; accepted: analytic, systemc, systemc:{}",
                                 name, streams_help));
  int streams = 1;
  if (colon != std::string::npos) {
    // Options: key=value, comma-separated.
    if (options.empty()) throw InputError(fmt::format("--engine systemc: empty option list; accepted: {}", streams_help));
    size_t pos = 0;
    bool seen = false;
    while (pos <= options.size()) {
      size_t comma = options.find(',', pos);
      if (comma == std::string::npos) comma = options.size();
      const std::string opt = options.substr(pos, comma - pos);
      pos = comma + 1;
      const size_t eq = opt.find('=');
      const std::string key = opt.substr(0, eq);
      if (key != "streams" || eq == std::string::npos)
        throw InputError(fmt::format("--engine systemc: unknown option '{}'; accepted: {}", opt, streams_help));
      if (seen) throw InputError(fmt::format("--engine systemc: streams given twice; accepted: {}", streams_help));
      seen = true;
      const std::string value = opt.substr(eq + 1);
      int v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || v < 1 ||
          v > k_max_streams)
        throw InputError(fmt::format("--engine systemc: streams={} is not accepted; accepted: {}", value,
                                     streams_help));
      streams = v;
    }
  }
  return EngineOptions{"systemc", streams};
}

const std::vector<ParamSpec>& engine_param_specs() {
  static const std::vector<ParamSpec> specs = [] {
    std::vector<ParamSpec> s = {
        p_choice("name", {"analytic", "systemc"}, "analytic",
                 "analytic: closed-form pipeline timing; systemc: SystemC processes and TLM-2.0 memories"),
        p_int("streams", "1", "systemc: most independent kernels in flight (analytic: 1)"),
        p_bool("allow_over_capacity", "false",
               "a run whose resident memory (weights, gradients, optimizer state, activations, KV cache) "
               "exceeds a device's memory is reported with a warning instead of refused"),
        // Bounded cost: a run answers in about a second whatever the sizes; the
        // estimate is numerics::emulation_ns_per_mac times the products emulated.
        p_qty("emulation_budget", Unit::seconds, "1s",
              "most estimated CPU time `run --precision` spends emulating arithmetic bit by bit; a per-op "
              "report over it is refused, an end-to-end emulation over it is left out (estimate: "
              "sampled products x the accumulation path's cost per product)")
            .positive()};
    s[1].min = 1;
    s[1].max = k_max_streams;
    return s;
  }();
  return specs;
}

std::string engine_option_value(const EngineOptions& o, const std::string& key) {
  if (key == "name") return o.name;
  if (key == "streams") return std::to_string(o.streams);
  if (key == "allow_over_capacity") return o.allow_over_capacity ? "true" : "false";
  if (key == "emulation_budget") return fmt::format("{:g}s", o.emulation_budget_s);
  throw std::logic_error("engine option '" + key + "' was not declared");
}

void set_engine_option(EngineOptions& o, const std::string& key, const std::string& value,
                       const std::string& set_arg) {
  const ParamSpec* spec = nullptr;
  std::string accepted;
  for (const auto& s : engine_param_specs()) {
    if (s.name == key) spec = &s;
    accepted += (accepted.empty() ? "" : ", ") + s.name;
  }
  if (!spec)
    throw InputError(fmt::format("--set '{}': unknown key '{}' for engine; accepted: {}", set_arg, key, accepted));
  if (const std::string why = param_value_problem(*spec, value); !why.empty())
    throw InputError(fmt::format("--set '{}': invalid value '{}' for engine.{}: {}", set_arg, value, key, why));
  if (key == "name") o.name = value;
  else if (key == "allow_over_capacity") o.allow_over_capacity = value == "true" || value == "1" || value == "yes" || value == "on";
  else if (key == "emulation_budget") o.emulation_budget_s = *parse_quantity(value, Unit::seconds);
  else o.streams = std::stoi(value);
}

void check_engine_options(const EngineOptions& o) {
  if (o.name == "analytic" && o.streams != 1)
    throw InputError(fmt::format("--set 'engine.streams={}': the analytic engine runs kernels one after "
                                 "another; streams applies to engine.name=systemc (--engine systemc)",
                                 o.streams));
}

std::unique_ptr<Engine> make_engine(const EngineOptions& o) {
  check_engine_options(o);
  if (o.name == "systemc") return make_systemc_engine(o.streams);
  return make_analytic_engine();
}

std::unique_ptr<Engine> make_engine(const std::string& spec) { return make_engine(parse_engine_spec(spec)); }


}  // namespace tessera
