// Sweep specifications (docs/sweeps.md): the YAML spec loaded (presets,
// workloads, axes, ranges, the `where` expression) and its points enumerated
// where there are few enough to enumerate in a fuzzing run (a spec may state up
// to 10^8 points; enumerating those is the sweep's job, not the parser's).
#include "fuzz_common.h"
#include "sim/tools/sweep_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera::fuzz::scratch_file(tessera::fuzz::as_text(data, size), ".yaml");
  tessera::fuzz::expect_input_errors_only([&] {
    const tessera::SweepSpec spec = tessera::load_sweep_spec(path);
    double total = static_cast<double>(spec.hws.size() * spec.workloads.size() * spec.engines.size());
    for (const auto& a : spec.axes) total *= static_cast<double>(a.values.size());
    const double n = spec.sampling == tessera::Sampling::grid ? total : static_cast<double>(spec.sample_n);
    if (n <= 20000) {
      for (const auto& p : tessera::sweep_points(spec)) tessera::point_sets(spec, p);
    }
  });
  return 0;
}
