// Hardware descriptions: YAML text -> build_hardware (every component's declared
// parameters, ranges, the tree walk). The base: key is refused by build_hardware
// (it needs a file), so presets are not re-read on every input.
#include "fuzz_common.h"
#include "models/hardware.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::expect_input_errors_only([&] {
    YAML::Node tree;
    try {
      tree = YAML::Load(std::string(tessera::fuzz::as_text(data, size)));
    } catch (const YAML::Exception&) {
      return;   // malformed YAML: load_hardware_tree reports it with its line
    }
    tessera::build_hardware(tree, "fuzz.yaml", {});
  });
  return 0;
}
