#pragma once
// The interface the engines ask of a unit that is neither the compute model nor a
// memory level (a link, a switch, an accelerator block, ...). An instruction whose
// unit (Instr::unit, see instr_unit() in isa/isa.h) is such a component spends
// busy_time_s on it, inside the stage's compute phase (c of the pipeline rule in
// sim/engines/pipeline.h: the stage's compute finishes after it), and adds
// energy_j to the stage's dynamic energy. A unit whose is_transfer_lane() is true
// (links and switches, models/interconnect/) is instead a transfer lane of its
// own: its busy time goes to l of the pipeline rule beside the memory levels, so
// communication overlaps compute and memory traffic rather than adding to them.
// A new kind of component derives from TimedUnit, registers itself under its own
// kind, and needs no engine change.
#include "core/component.h"
#include "isa/isa.h"

namespace tessera {

class TimedUnit : public Component {
 public:
  // Seconds the unit is busy with one issue of `in` (all `in.count` copies).
  virtual double busy_time_s(const Instr& in) const = 0;
  // Dynamic energy of one issue of `in`, joules; none unless the unit says so.
  virtual double energy_j(const Instr& /*in*/) const { return 0; }
  // True for units that move data between devices (their own lane in l).
  virtual bool is_transfer_lane() const { return false; }
};

}  // namespace tessera
