// SCALE-Sim topology CSVs.
#include "fuzz_common.h"
#include "workloads/importers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::parse_scalesim_csv(tessera::fuzz::as_text(data, size), "fuzz.csv"); });
  return 0;
}
