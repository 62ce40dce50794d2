// Measurement records (JSON lines) as compare reads them, predicted on h100-sxm.
// calibrate selects records by the same fields before fitting.
#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "models/hardware.h"
#include "sim/tools/compare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto hw = tessera::load_hardware("h100-sxm", {});
  const std::string path = tessera::fuzz::scratch_file(tessera::fuzz::as_text(data, size), ".jsonl");
  tessera::fuzz::expect_input_errors_only([&] {
    const auto records = tessera::read_jsonl(path);
    tessera::compare_records(records, *hw, "/nonexistent-reference-dir");
  });
  return 0;
}
