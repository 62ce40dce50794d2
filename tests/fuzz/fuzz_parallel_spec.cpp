// Multi-device workload specs ("gpt:layers=2,hidden=256,heads=4,tp=2,pp=2,dp=2,
// train=1") through the multi-device analytic engine, on a DGX H100 system sized
// to the spec's device count (8 per node when it divides, else one node of that
// many): every spec is simulated or refused with an InputError (a configuration
// that does not fit the devices' memory included). Specs too big for a fuzzing
// run (more than 1500 ops, or 1024 devices) are skipped; files are the importers'.
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "models/hardware.h"
#include "sim/engines/parallel.h"
#include "workloads/models/parallel.h"
#include "workloads/workloads.h"

namespace {

// The DGX H100 system with `devices` devices, loaded once per count.
const tessera::Hardware& system_of(int64_t devices) {
  static std::map<int64_t, std::unique_ptr<tessera::Hardware>> cache;
  auto& hw = cache[devices];
  if (!hw) {
    const int64_t per_node = devices % 8 == 0 ? 8 : devices, nodes = devices / per_node;
    hw = tessera::load_hardware("dgx-h100", {"system.nodes=" + std::to_string(nodes),
                                             "system.devices_per_node=" + std::to_string(per_node)});
  }
  return *hw;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(tessera::fuzz::as_text(data, size));
  std::error_code ec;
  if (spec.find('/') != std::string::npos || std::filesystem::exists(spec, ec)) return 0;
  tessera::fuzz::expect_input_errors_only([&] {
    const tessera::Graph g = tessera::build_workload(spec);
    if (!tessera::is_parallel_graph(g) || g.ops.size() > 1500) return;
    const double devices =
        tessera::info_or(g, "tp", 1) * tessera::info_or(g, "pp", 1) * tessera::info_or(g, "dp", 1);
    if (!(devices >= 1 && devices <= 1024)) return;
    tessera::simulate_parallel(g, system_of(static_cast<int64_t>(devices)), "analytic", false);
  });
  return 0;
}
