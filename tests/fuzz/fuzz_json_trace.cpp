// JSON traces (docs/workloads.md, "JSON traces"), and a training step of every
// trace that imports (`trace.json:train=1` runs the autograd rules on whatever
// graph a trace describes).
#include "fuzz_common.h"
#include "workloads/importers.h"
#include "workloads/training.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::expect_input_errors_only([&] {
    tessera::Graph g = tessera::parse_json_trace(tessera::fuzz::as_text(data, size), "fuzz.json");
    tessera::validate_graph(g, "fuzz.json");
    if (!tessera::has_parameters(g)) return;
    tessera::append_training_step(g, tessera::TrainingOptions{});
    tessera::validate_graph(g, "fuzz.json:train=1");
  });
  return 0;
}
