#pragma once
// The number of devices a hardware description holds: nodes x devices_per_node
// of the component at path `system` (integer parameters), 1 for a single-device
// description without one. The `system` component registered here holds only
// those two parameters (links, switches and topology are the interconnect's).
#include "core/registry.h"
#include "models/hardware.h"

namespace tessera {
int device_count(const Hardware& hw);
void register_system(Registry& r);
}  // namespace tessera
