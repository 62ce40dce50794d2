#include "isa/isa.h"

namespace tessera {

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::load: return "load";
    case Opcode::store: return "store";
    case Opcode::mma: return "mma";
    case Opcode::vec: return "vec";
    case Opcode::barrier: return "barrier";
    case Opcode::wait: return "wait";
    case Opcode::send: return "send";
    case Opcode::recv: return "recv";
    case Opcode::coll: return "coll";
  }
  return "?";
}

std::string default_unit(const Instr& in) {
  if (in.op == Opcode::load) return "memory." + in.src;
  if (in.op == Opcode::store) return "memory." + in.dst;
  return "compute";
}

std::string instr_unit(const Instr& in) { return in.unit.empty() ? default_unit(in) : in.unit; }

double Kernel::attr(std::string_view key, double fallback) const {
  auto it = attrs.find(std::string(key));
  return it == attrs.end() ? fallback : it->second;
}

}  // namespace tessera
