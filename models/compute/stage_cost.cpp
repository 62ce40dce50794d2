#include "models/compute/stage_cost.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

StageCost cost_stage(const Block& b, const Kernel& k, const Hardware& hw, const KernelContext& ctx) {
  const ComputeModel& cm = hw.compute();
  StageCost st;
  for (const Instr& in : b.instrs) {
    if (in.op == Opcode::load || in.op == Opcode::store) {
      const std::string& level = in.op == Opcode::load ? in.src : in.dst;
      const MemoryModel* mem = hw.memory(level);
      if (!mem)
        throw InputError(fmt::format("kernel '{}': {} names memory level '{}', which {} does not "
                                     "have; levels: {}", k.name, opcode_name(in.op), level,
                                     hw.name, hw.memory_names()));
      LevelTransfer& lc = st.levels[level];
      lc.time_s += mem->transfer_time_s(in, k, ctx);
      lc.bytes += static_cast<double>(in.bytes) * static_cast<double>(in.count);
      st.energy_j += mem->transfer_energy_j(in, k);
    } else {
      st.compute_s += cm.instr_time_s(in, k, ctx);
      st.energy_j += cm.instr_energy_j(in, k, ctx);
      if (in.op == Opcode::mma) st.flops_mma += 2.0 * static_cast<double>(in.m * in.n * in.k * in.count);
    }
  }
  for (const auto& [name, lc] : st.levels) st.load_s = std::max(st.load_s, lc.time_s);
  return st;
}

}  // namespace tessera
