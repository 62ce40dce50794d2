// Measurement JSON lines as `calibrate` reads them: read_jsonl, then the check
// of every field the fit reads (check_calibrate_records). The fit itself runs
// the compare predictions that fuzz_measurements covers.
#include "fuzz_common.h"
#include "sim/tools/calibrate.h"
#include "sim/tools/compare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera::fuzz::scratch_file(tessera::fuzz::as_text(data, size), ".jsonl");
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::check_calibrate_records(tessera::read_jsonl(path), path); });
  return 0;
}
