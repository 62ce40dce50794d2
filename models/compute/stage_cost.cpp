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

StageCost cost_stage(const Block& b, const Kernel& k, const Hardware& hw, const KernelContext& ctx) {
  StageCost st;
  for (const Instr& in : b.instrs) {
    const Component& unit = instr_unit_component(in, k, hw);
    if (const auto* mem = dynamic_cast<const MemoryModel*>(&unit)) {
      const std::string* level = hw.level_name(mem);
      if (!level)
        throw InputError(fmt::format("kernel '{}': {} occupies '{}', a memory component that is "
                                     "not a level under 'memory'; levels: {}", k.name,
                                     opcode_name(in.op), unit.path(), hw.memory_names()));
      LevelTransfer& lc = st.levels[*level];
      lc.time_s += mem->transfer_time_s(in, k, ctx);
      lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
      st.energy_j += mem->transfer_energy_j(in, k);
    } else if (const auto* compute = dynamic_cast<const ComputeModel*>(&unit)) {
      st.compute_s += compute->instr_time_s(in, k, ctx);
      st.energy_j += compute->instr_energy_j(in, k, ctx);
      if (in.op == Opcode::mma)
        st.flops_mma += 2.0 * static_cast<double>(in.m * in.n * in.k * in.count);
    } else if (const auto* timed = dynamic_cast<const TimedUnit*>(&unit)) {
      const double e = timed->energy_j(in);
      st.energy_j += e;
      if (timed->is_transfer_lane()) {
        LevelTransfer& lc = st.links[unit.path()];
        lc.time_s += timed->busy_time_s(in);
        lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
        lc.energy_j += e;
      } else {
        st.compute_s += timed->busy_time_s(in);
      }
    } else {
      throw InputError(fmt::format("kernel '{}': {} occupies '{}' ({} {}), which does not time "
                                   "instructions; units are the compute component, memory levels "
                                   "and timed units", k.name, opcode_name(in.op), unit.path(),
                                   unit.kind(), unit.impl()));
    }
  }
  for (const auto& [name, lc] : st.levels) st.load_s = std::max(st.load_s, lc.time_s);
  for (const auto& [name, lc] : st.links) st.load_s = std::max(st.load_s, lc.time_s);
  return st;
}

}  // namespace tessera
