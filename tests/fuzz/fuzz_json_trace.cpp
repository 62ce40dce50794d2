// JSON traces (docs/workloads.md, "JSON traces").
#include "fuzz_common.h"
#include "workloads/importers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::parse_json_trace(tessera::fuzz::as_text(data, size), "fuzz.json"); });
  return 0;
}
