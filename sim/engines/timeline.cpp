// The run's timeline (RunResult::timeline): what each kernel and each of its
// blocks did and when, from the engine's per-block timings and the models'
// stage costs. sim/trace_export.cpp renders it as a trace-event file.
#include <algorithm>
#include <set>

#include "models/memory/cache.h"
#include "sim/engines/engine.h"

namespace tessera {
namespace {

// "MMA", "VEC", "COLL" (joined by '+' when a block mixes them) and the unit of
// the block's compute phase (the first non-memory unit an instruction occupies).
void classify(const Block& b, const Kernel& k, const Hardware& hw, TimelineBlock& out) {
  bool mma = false, vec = false, coll = false;
  for (const Instr& in : b.instrs) {
    const ResolvedInstr r = resolve_instr(in, k, hw);
    if (r.mem) continue;  // a transfer
    if (in.op == Opcode::mma) mma = true;
    else if (in.op == Opcode::vec) vec = true;
    else if (in.op == Opcode::coll || in.op == Opcode::send || in.op == Opcode::recv) coll = true;
    else continue;
    if (out.compute_unit.empty()) out.compute_unit = r.unit->path();  // instr_unit(in)
  }
  for (const auto& [on, name] : {std::pair{mma, "MMA"}, std::pair{vec, "VEC"}, std::pair{coll, "COLL"}}) {
    if (!on) continue;
    if (!out.compute_class.empty()) out.compute_class.push_back('+');
    out.compute_class.append(name);
  }
}

}  // namespace

RunTimeline build_timeline(const Program& p, const Hardware& hw, const std::vector<KernelPlan>& plans,
                           const std::vector<KernelTiming>& t) {
  RunTimeline tl;
  tl.devices.push_back(hw.name);
  for (const auto& [name, model] : hw.memories()) {
    tl.levels.push_back(name);
    if (dynamic_cast<const CacheMemory*>(model.get())) tl.cache_levels.push_back(name);
  }
  tl.static_power_w = hw.power().static_power_w();
  for (size_t i = 0; i < p.kernels.size() && i < t.size() && i < plans.size(); ++i) {
    const Kernel& k = p.kernels[i];
    const KernelPlan& kp = plans[i];
    TimelineKernel tk;
    tk.stream = t[i].stream;
    tk.start_s = t[i].start_s;
    tk.end_s = t[i].end_s;
    tk.overhead_s = kp.overhead_s;
    tk.clock_hz = kp.ctx.clock_hz;
    for (size_t b = 0; b < k.blocks.size() && b < kp.stages.size() && b < t[i].blocks.size(); ++b) {
      const StagePlan& sp = kp.stages[b];
      if (sp.repeat <= 0) continue;
      const BlockTiming& bt = t[i].blocks[b];
      TimelineBlock tb;
      tb.repeat = sp.repeat;
      tb.load_start_s = bt.load_start_s;
      tb.load_end_s = bt.load_end_s;
      tb.compute_start_s = bt.compute_start_s;
      tb.compute_end_s = bt.compute_end_s;
      const double n = static_cast<double>(sp.repeat);
      tb.compute_busy_s = n * sp.compute_s;
      tb.energy_j = n * sp.energy_j;
      for (const auto& [lvl, lc] : sp.levels) tb.levels[lvl] = {n * lc.time_s, n * lc.bytes};
      classify(k.blocks[b], k, hw, tb);
      tk.blocks.push_back(std::move(tb));
    }
    tl.kernels.push_back(std::move(tk));
  }
  return tl;
}

}  // namespace tessera
