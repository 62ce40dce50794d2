#include "models/parallel/device_count.h"

#include <fmt/format.h>

#include "core/error.h"

namespace tessera {
namespace {
class SystemModel : public Component {};
}  // namespace

int device_count(const Hardware& hw) {
  const Component* sys = hw.find<Component>("system");
  if (!sys) return 1;
  const int64_t n = sys->params().integer("nodes"), d = sys->params().integer("devices_per_node");
  // Largest system accepted: 2^24 devices.
  if (n < 1 || d < 1 || n > (int64_t{1} << 24) / d)
    throw InputError(fmt::format("{}: system: nodes x devices_per_node = {} x {}; accepted 1..2^24 devices",
                                 hw.source, n, d));
  return static_cast<int>(n * d);
}

void register_system(Registry& r) {
  r.add(make_impl<SystemModel>("system", "system", "how many devices the description stands for",
                               {p_int("nodes", "1", "nodes of the system"),
                                p_int("devices_per_node", "1", "devices in one node")}));
}

}  // namespace tessera
