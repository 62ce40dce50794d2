// Registration of the GPU components: compute "tensorcore", memories "hbm" and
// "cache". Called once by builtin_registry() (models/builtin.cpp).
#include "models/memory/cache.h"
#include "models/memory/hbm.h"
#include "models/tensorcore/tensorcore.h"
#include "core/registry.h"

namespace tessera {

void register_gpu_components(Registry& r) {
  register_tensorcore(r);
  register_hbm(r);
  register_cache(r);
}

}  // namespace tessera
