// The one place where every component implementation is registered. Explicit
// calls (instead of static self-registration) keep the registry immutable,
// ordered and free of link-order surprises.
#include "models/compute/systolic_array.h"
#include "models/memory/dram.h"
#include "models/power/board.h"
#include "models/builtin.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"

namespace tessera {

void register_gpu_components(Registry& r);   // models/gpu_register.cpp

const Registry& builtin_registry() {
  static const Registry registry = [] {
    Registry r;
    register_systolic_array(r);
    register_gpu_components(r);
    register_dram(r);
    register_board_power(r);
    register_link(r);
    register_switch(r);
    register_system(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera
