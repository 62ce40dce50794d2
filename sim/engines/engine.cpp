#include "sim/engines/engine.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/error.h"

namespace tessera {

KernelPlan plan_kernel(const Kernel& k, const Hardware& hw) {
  KernelPlan plan;
  const ComputeModel& cm = hw.compute();
  plan.ctx = cm.begin_kernel(k, hw);
  plan.overhead_s = cm.kernel_overhead_s(k, plan.ctx);
  for (const Block& b : k.blocks) {
    StagePlan st;
    st.repeat = b.repeat;
    for (const Instr& in : b.instrs) {
      if (in.op == Opcode::load || in.op == Opcode::store) {
        const std::string& level = in.op == Opcode::load ? in.src : in.dst;
        const MemoryModel* mem = hw.memory(level);
        if (!mem)
          throw InputError(fmt::format("kernel '{}': {} names memory level '{}', which {} does not "
                                       "have; levels: {}", k.name, opcode_name(in.op), level,
                                       hw.name, hw.memory_names()));
        LevelCost& lc = st.levels[level];
        lc.time_s += mem->transfer_time_s(in, k, plan.ctx);
        lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
        st.energy_j += mem->transfer_energy_j(in, k);
      } else {
        st.compute_s += cm.instr_time_s(in, k, plan.ctx);
        st.energy_j += cm.instr_energy_j(in, k, plan.ctx);
        if (in.op == Opcode::mma)
          st.flops_mma += 2.0 * static_cast<double>(in.m * in.n * in.k * in.count);
      }
    }
    for (const auto& [name, lc] : st.levels) st.load_s = std::max(st.load_s, lc.time_s);
    plan.stages.push_back(std::move(st));
  }
  return plan;
}

RunResult finish_run(const Program& p, const Hardware& hw, const std::string& engine,
                     const std::vector<KernelPlan>& plans, const std::vector<KernelTiming>& t) {
  RunResult r;
  r.hardware = hw.name;
  r.workload = p.workload;
  r.engine = engine;
  r.clock_hz = hw.compute().nominal_clock_hz();
  const double static_w = hw.power().static_power_w();
  Stats& s = r.stats;
  double end = 0, dyn_energy = 0, compute_busy = 0, peak_flops_sel = 0, max_op_flops = -1;
  std::map<std::string, double> level_busy, level_bytes;
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
    o.overhead_s = kp.overhead_s;
    double e = 0;
    std::map<std::string, double> busy;
    for (const auto& st : kp.stages) {
      const double n = static_cast<double>(st.repeat);
      o.compute_s += n * st.compute_s;
      e += n * st.energy_j;
      for (const auto& [lvl, lc] : st.levels) {
        busy[lvl] += n * lc.time_s;
        level_bytes[lvl] += n * lc.bytes;
      }
    }
    std::string busiest;
    for (const auto& [lvl, b] : busy) {
      level_busy[lvl] += b;
      if (b > o.memory_s) { o.memory_s = b; busiest = lvl; }
    }
    if (o.overhead_s >= std::max(o.compute_s, o.memory_s)) o.bound = "overhead";
    else if (o.compute_s >= o.memory_s) o.bound = "compute";
    else o.bound = "memory:" + busiest;
    o.energy_j = e + static_w * o.time_s;
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
    r.ops.push_back(std::move(o));
  }
  r.time_s = end;
  r.cycles = end * r.clock_hz;
  r.energy_j = dyn_energy + static_w * end;
  r.avg_power_w = end > 0 ? r.energy_j / end : 0;
  r.peak_flops = peak_flops_sel;

  // Raw counts, then every derived figure, here and only here.
  s.set("compute.busy_s", compute_busy, "s", "time the compute units were busy");
  s.set("compute.flops", r.flops, "FLOP", "floating-point operations of the workload");
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
  s.set("power.static_energy", static_w * end, "J", "static power x run time");
  s.set("power.dynamic_energy", dyn_energy, "J", "energy of the instructions executed");
  s.set("power.avg_power", r.avg_power_w, "W", "total energy / run time");
  return r;
}

std::vector<std::string> engine_names() { return {"analytic", "systemc"}; }

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name == "analytic") return make_analytic_engine();
  if (name == "systemc") return make_systemc_engine();
  throw InputError(fmt::format("--engine: unknown engine '{}'; accepted: analytic, systemc", name));
}

}  // namespace tessera
