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

double Kernel::attr(std::string_view key, double fallback) const {
  auto it = attrs.find(std::string(key));
  return it == attrs.end() ? fallback : it->second;
}

}  // namespace tessera
