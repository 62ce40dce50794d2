#include "models/compute/stage_cost.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "models/hardware.h"
#include "models/memory/memory.h"
#include "models/timed_unit.h"

namespace tessera {

const Component& instr_unit_component(const Instr& in, const Kernel& k, const Hardware& hw) {
  const std::string unit = instr_unit(in);
  if (const Component* c = hw.find(unit)) return *c;
  if ((in.op == Opcode::load || in.op == Opcode::store) && in.unit.empty()) {
    const std::string& level = in.op == Opcode::load ? in.src : in.dst;
    throw InputError(fmt::format("kernel '{}': {} names memory level '{}', which {} does not "
                                 "have; levels: {}", k.name, opcode_name(in.op), level,
                                 hw.name, hw.memory_names()));
  }
  throw InputError(fmt::format("kernel '{}': {} names unit '{}', which {} does not have; "
                               "components: {}", k.name, opcode_name(in.op), unit, hw.name,
                               hw.component_paths()));
}

// The unit of `in` and what it is. The instructions that name no unit (almost
// all) are found without building their path: a load or store's level among the
// memory levels (whose paths are memory.<level>), anything else the compute
// component (path "compute").
ResolvedInstr resolve_instr(const Instr& in, const Kernel& k, const Hardware& hw) {
  ResolvedInstr r;
  r.in = &in;
  if (in.unit.empty()) {
    if (in.op == Opcode::load || in.op == Opcode::store) {
      const std::string& level = in.op == Opcode::load ? in.src : in.dst;
      for (const auto& [name, m] : hw.memories())
        if (name == level) {
          r.unit = r.mem = m.get();
          r.level = &name;
          return r;
        }
    } else {
      r.unit = r.compute = &hw.compute();
      return r;
    }
  }
  const Component& unit = instr_unit_component(in, k, hw);
  r.unit = &unit;
  if (const auto* mem = dynamic_cast<const MemoryModel*>(&unit)) {
    r.mem = mem;
    r.level = hw.level_name(mem);
    if (!r.level)
      throw InputError(
          fmt::format("kernel '{}': {} occupies '{}', a memory component that is "
                      "not a level under 'memory'; levels: {}",
                      k.name, opcode_name(in.op), unit.path(), hw.memory_names()));
  } else if (const auto* compute = dynamic_cast<const ComputeModel*>(&unit)) {
    r.compute = compute;
  } else if (const auto* timed = dynamic_cast<const TimedUnit*>(&unit)) {
    r.timed = timed;
  } else {
    throw InputError(
        fmt::format("kernel '{}': {} occupies '{}' ({} {}), which does not time "
                    "instructions; units are the compute component, memory levels "
                    "and timed units",
                    k.name, opcode_name(in.op), unit.path(), unit.kind(), unit.impl()));
  }
  return r;
}

ResolvedBlock resolve_block(const Block& b, const Kernel& k, const Hardware& hw) {
  ResolvedBlock rb;
  rb.repeat = b.repeat;
  rb.instrs.reserve(b.instrs.size());
  // Lanes: one per memory level (by name) and one per transfer-lane unit.
  std::vector<const void*> lanes;
  for (const Instr& in : b.instrs) {
    ResolvedInstr r = resolve_instr(in, k, hw);
    const void* key = r.mem                                      ? static_cast<const void*>(r.level)
                      : (r.timed && r.timed->is_transfer_lane()) ? static_cast<const void*>(r.unit)
                                                                 : nullptr;
    if (key) {
      const auto it = std::find(lanes.begin(), lanes.end(), key);
      r.lane = static_cast<int>(it - lanes.begin());
      if (it == lanes.end()) lanes.push_back(key);
    }
    rb.instrs.push_back(r);
  }
  rb.lanes = static_cast<int>(lanes.size());
  return rb;
}

double stage_time_s(const ResolvedBlock& rb, const Kernel& k, const KernelContext& ctx) {
  // Up to a few lanes per block (memory levels and links): on the stack.
  double small[8] = {};
  std::vector<double> big;
  double* lane = small;
  if (rb.lanes > 8) {
    big.assign(static_cast<size_t>(rb.lanes), 0.0);
    lane = big.data();
  }
  double compute_s = 0;
  for (const ResolvedInstr& r : rb.instrs) {
    if (r.mem)
      lane[r.lane] += r.mem->transfer_time_s(*r.in, k, ctx);
    else if (r.compute)
      compute_s += r.compute->instr_time_s(*r.in, k, ctx);
    else if (r.lane >= 0)
      lane[r.lane] += r.timed->busy_time_s(*r.in);
    else
      compute_s += r.timed->busy_time_s(*r.in);
  }
  double load_s = 0;
  for (int i = 0; i < rb.lanes; ++i) load_s = std::max(load_s, lane[i]);
  return std::max(load_s, compute_s);
}

double stage_energy_j(const ResolvedBlock& rb, const Kernel& k, const KernelContext& ctx) {
  double e = 0;
  for (const ResolvedInstr& r : rb.instrs) {
    if (r.mem)
      e += r.mem->transfer_energy_j(*r.in, k);
    else if (r.compute)
      e += r.compute->instr_energy_j(*r.in, k, ctx);
    else
      e += r.timed->energy_j(*r.in);
  }
  return e;
}

StageCost cost_stage(const Block& b, const Kernel& k, const Hardware& hw, const KernelContext& ctx) {
  StageCost st;
  for (const Instr& in : b.instrs) {
    const ResolvedInstr r = resolve_instr(in, k, hw);
    if (r.mem) {
      LevelTransfer& lc = st.levels[*r.level];
      lc.time_s += r.mem->transfer_time_s(in, k, ctx);
      lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
      st.energy_j += r.mem->transfer_energy_j(in, k);
    } else if (r.compute) {
      st.compute_s += r.compute->instr_time_s(in, k, ctx);
      st.energy_j += r.compute->instr_energy_j(in, k, ctx);
      if (in.op == Opcode::mma)
        st.flops_mma += 2.0 * static_cast<double>(in.m * in.n * in.k * in.count);
    } else {
      const double e = r.timed->energy_j(in);
      st.energy_j += e;
      if (r.timed->is_transfer_lane()) {
        LevelTransfer& lc = st.links[r.unit->path()];
        lc.time_s += r.timed->busy_time_s(in);
        lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
        lc.energy_j += e;
      } else {
        st.compute_s += r.timed->busy_time_s(in);
      }
    }
  }
  for (const auto& [name, lc] : st.levels) st.load_s = std::max(st.load_s, lc.time_s);
  for (const auto& [name, lc] : st.links) st.load_s = std::max(st.load_s, lc.time_s);
  return st;
}

}  // namespace tessera
