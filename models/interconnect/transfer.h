#pragma once
// The shape every link and switch transfer shares: a fixed latency, then the
// bytes of all parallel copies at the rate of the channels carrying them,
//   time = fixed + bytes x count / rate
// (LinkModel::transfer, SwitchModel::reduction). The analytic engine uses the
// time; the SystemC engine on a system (sim/engines/systemc_system.h) waits the
// fixed part and moves `amount` as a flow capped at `rate`.
#include <cstdint>

#include "isa/isa.h"

namespace tessera {

struct TransferShape {
  double fixed_s = 0;   // latency before the first byte
  double amount = 0;    // bytes, all copies
  double rate = 0;      // bytes per second, all lanes together
  double time_s() const { return amount > 0 ? fixed_s + amount / rate : 0; }
};

// `in.bytes` on each of `in.count` copies at `rate` after `fixed_s`.
inline TransferShape transfer_shape(double fixed_s, const Instr& in, double rate) {
  return {fixed_s, static_cast<double>(in.bytes) * static_cast<double>(in.count), rate};
}

}  // namespace tessera
