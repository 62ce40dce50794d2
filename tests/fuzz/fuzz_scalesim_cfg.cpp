// SCALE-Sim .cfg files, read and built as hardware (the cfg parser reads a path).
#include "fuzz_common.h"
#include "models/hardware.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera::fuzz::scratch_file(tessera::fuzz::as_text(data, size), ".cfg");
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::build_hardware(tessera::scalesim_cfg_tree(path), path, {}); });
  return 0;
}
