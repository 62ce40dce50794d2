// ISA text form (isa/asm.h); what assembles also disassembles and reassembles to
// the same program.
#include "fuzz_common.h"
#include "isa/asm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::expect_input_errors_only([&] {
    const tessera::Program p = tessera::assemble(tessera::fuzz::as_text(data, size), "fuzz.tasm");
    if (!(tessera::assemble(tessera::disassemble(p), "again.tasm") == p)) {
      std::fprintf(stderr, "fuzz: disassemble/assemble does not round-trip\n");
      std::abort();
    }
  });
  return 0;
}
