#pragma once
// Shared by the libFuzzer targets: every parser either accepts its input or
// throws InputError (exit 2 in the CLI). Anything else -- another exception, a
// crash, a sanitizer report, a hang -- is a finding: the harness aborts so that
// libFuzzer saves the input.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <unistd.h>

#include "core/error.h"

namespace tessera::fuzz {

template <class F>
void expect_input_errors_only(F&& f) {
  try {
    f();
  } catch (const InputError&) {
    // the documented outcome of bad input
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: not an InputError: %s\n", e.what());
    std::abort();
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A per-process scratch file holding `bytes` (for the parsers that read a path).
inline std::string scratch_file(std::string_view bytes, const char* ext) {
  const std::string path = "/tmp/tessera_fuzz_" + std::to_string(getpid()) + ext;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  return path;
}

}  // namespace tessera::fuzz
