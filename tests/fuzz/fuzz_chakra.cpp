// Chakra execution traces (.et: length-delimited protobuf GlobalMetadata, then
// Node messages). The first byte picks the rank count of the collectives (1..8),
// the rest is the trace.
#include "fuzz_common.h"
#include "workloads/importers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int64_t ranks = 1 + data[0] % 8;
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::parse_chakra(tessera::fuzz::as_text(data + 1, size - 1), "fuzz.et", ranks); });
  return 0;
}
