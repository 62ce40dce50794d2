// `tessera memsim` inputs (docs/memory.md): the first byte picks a request trace
// file (`<cycle> <R|W> <0xaddress> <bytes>` lines, read to the end) or a pattern
// spec (KIND:key=value,...; its first 10^5 requests generated).
#include "fuzz_common.h"
#include "models/memory/dram/source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = tessera::fuzz::as_text(data + 1, size - 1);
  tessera::fuzz::expect_input_errors_only([&] {
    tessera::dram::Request r;
    if (data[0] & 1) {
      tessera::dram::TraceSource src(tessera::fuzz::scratch_file(text, ".trace"));
      while (src.next(r)) {
      }
    } else {
      const auto spec = tessera::dram::parse_pattern(std::string(text), "--pattern");
      tessera::dram::PatternSource src(spec);
      for (int i = 0; i < 100000 && src.next(r); ++i) {
      }
    }
  });
  return 0;
}
