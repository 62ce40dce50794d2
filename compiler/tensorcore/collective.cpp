// Collectives over the link on the tensor-core target.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

Kernel TensorCoreMapper::lower_collective(const Op& op) const {
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
