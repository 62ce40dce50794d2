// Collectives. On a system description (models/interconnect/system.h) a
// collective is planned by the interconnect model (algorithm, protocol, steps:
// models/interconnect/collective.h) and lowered to its stages: sends on the
// link units, in-switch reductions on the switch, the device-memory reads and
// writes of each step, and the reductions on the SMs. Without a system (one
// device) the GPU model's own ring formula (link_bandwidth, link_latency) times
// a single `coll` instruction.
#include <fmt/format.h>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/system.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

Kernel lower_system_collective(const Op& op, const Hardware& hw) {
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  CollectiveRequest req;
  if (!parse_coll_kind(op_kind_name(op.kind), req.kind))
    throw std::logic_error("not a collective op kind: " + k.op_kind);
  req.bytes = op.at("bytes");
  req.ranks = op.at("ranks");
  req.dtype = op.dtype;
  req.stride = op.get("stride", 1);
  const auto& algos = collective_algorithms();
  const auto& protos = collective_protocols();
  req.algo = algos.at(static_cast<size_t>(op.get("algo", 0)));
  req.protocol = protos.at(static_cast<size_t>(op.get("protocol", 0)));
  CollectivePlan plan = plan_collective(hw, req);
  // The collective call's fixed latency (SystemModel::launch_latency_s), then the stages.
  Instr launch;
  launch.op = Opcode::barrier;
  launch.unit = "system";
  k.blocks.push_back(Block{1, {launch}});
  for (Block& b : plan.blocks) k.blocks.push_back(std::move(b));
  k.mapping = plan.summary;
  return k;
}

Kernel TensorCoreMapper::lower_collective(const Op& op, const Hardware& hw) const {
  if (find_system(hw)) return lower_system_collective(op, hw);
  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  Instr in;
  in.op = Opcode::coll;
  in.name = k.op_kind;
  in.bytes = op.at("bytes");
  in.ranks = op.at("ranks");
  in.a = op.dtype;
  Block b;
  b.instrs.push_back(in);
  k.blocks.push_back(std::move(b));
  k.mapping = fmt::format("ring {} over {} ranks at {}", k.op_kind, in.ranks,
                          format_quantity(m_s.link_bw, Unit::bytes_per_second));
  return k;
}
}  // namespace tessera
