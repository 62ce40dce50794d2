#pragma once
// What one pipeline stage (one Block, run once) costs, asked of the component
// models at a kernel's clock: per memory level the summed transfer time and bytes,
// the summed compute time, the dynamic energy and the issued mma FLOPs. The
// engines (sim/engines/engine.cpp, plan_kernel) and the power-capped clock search
// (models/tensorcore/clock.cpp) both cost stages through cost_stage, so the two
// agree on what a stage is.
#include <map>
#include <string>
#include <vector>

#include "isa/isa.h"
#include "models/compute/compute.h"

namespace tessera {

class Hardware;
class MemoryModel;
class TimedUnit;

struct LevelTransfer {
  double time_s = 0;   // summed transfer time charged to the level
  double bytes = 0;    // bytes moved
  double energy_j = 0; // links and switches: their dynamic energy (memory levels: 0, in StageCost::energy_j)
};

struct StageCost {
  std::map<std::string, LevelTransfer> levels;  // per memory level
  // Per link or switch (TimedUnit::is_transfer_lane), by component path: each is
  // a lane of its own beside the memory levels.
  std::map<std::string, LevelTransfer> links;
  double load_s = 0;      // l of the pipeline rule: max over levels and links
  double compute_s = 0;   // c of the pipeline rule: summed mma/vec/coll/wait times
  double energy_j = 0;    // dynamic energy of the memory and compute instructions
  double flops_mma = 0;   // 2 m n k count over the mma instructions
};

// The component an instruction occupies (Instr::unit, or its opcode's default).
// Throws InputError naming the kernel, the unit and the components there are.
const Component& instr_unit_component(const Instr& in, const Kernel& k, const Hardware& hw);

// An instruction with its unit looked up once: exactly one of mem, compute, timed
// is set. lane >= 0 for the instructions that add to a lane of l (a memory level
// or a transfer-lane unit), numbered per block; -1 for those that add to c.
struct ResolvedInstr {
  const Instr* in = nullptr;
  const Component* unit = nullptr;
  const MemoryModel* mem = nullptr;
  const std::string* level = nullptr;  // mem: its level name
  const ComputeModel* compute = nullptr;
  const TimedUnit* timed = nullptr;
  int lane = -1;
};
struct ResolvedBlock {
  std::vector<ResolvedInstr> instrs;
  int lanes = 0;
  int64_t repeat = 1;
};
// The unit `in` occupies (as instr_unit_component) and what it is; throws
// InputError as cost_stage does. lane is -1.
ResolvedInstr resolve_instr(const Instr& in, const Kernel& k, const Hardware& hw);
// `b`'s instructions resolved as cost_stage resolves them (same errors).
ResolvedBlock resolve_block(const Block& b, const Kernel& k, const Hardware& hw);
// What cost_stage(b, ...) gives for the block `rb` resolves, without the per-level
// and per-link maps: max(load_s, compute_s) and energy_j, summed in the same order
// (so equal to the last bit). The power-capped clock search evaluates these many
// times per kernel.
double stage_time_s(const ResolvedBlock& rb, const Kernel& k, const KernelContext& ctx);
double stage_energy_j(const ResolvedBlock& rb, const Kernel& k, const KernelContext& ctx);

// Each instruction is charged to its unit by the unit's kind: a memory level adds
// a transfer to the level's lane (l of the pipeline rule), a link or switch to its
// own lane (also l: communication overlaps memory traffic and compute); the
// compute model (or another compute component) and any other TimedUnit add to
// the stage's compute phase (c).
// Cost of one run of `b` (a block of `k`) on `hw` under `ctx`. Throws InputError
// when an instruction names a memory level the hardware lacks.
StageCost cost_stage(const Block& b, const Kernel& k, const Hardware& hw, const KernelContext& ctx);

}  // namespace tessera
