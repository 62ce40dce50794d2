#pragma once
// Runs the tessera command line in-process, as the `tessera` binary would, for
// tests: exit code, standard output and standard error.
#include <sstream>
#include <string>
#include <vector>

#include "sim/cli/cli.h"

namespace tessera::testing {

struct CliOutcome {
  int code = 0;
  std::string out, err;
};

// `args` without the program name, e.g. {"run", "--hw", "tpu-v1", ...}.
inline CliOutcome run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "tessera");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int code = cli_main(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace tessera::testing
