// --set arguments on the presets: each input line is one PATH=VALUE applied to
// the preset named by the input's first byte (h100-sxm, tpu-v1, gemmini).
#include <vector>

#include "fuzz_common.h"
#include "models/hardware.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* presets[] = {"h100-sxm", "tpu-v1", "gemmini"};
  static const std::vector<YAML::Node> trees = [] {
    std::vector<YAML::Node> t;
    for (const char* p : presets) t.push_back(tessera::load_hardware_tree(tessera::hw_preset_dir() + "/" + p + ".yaml"));
    return t;
  }();
  if (size == 0) return 0;
  const size_t which = data[0] % trees.size();
  std::vector<std::string> sets;
  std::string line;
  for (char c : tessera::fuzz::as_text(data + 1, size - 1)) {
    if (c == '\n') {
      sets.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  sets.push_back(line);
  tessera::fuzz::expect_input_errors_only(
      [&] { tessera::build_hardware(YAML::Clone(trees[which]), presets[which], sets); });
  return 0;
}
