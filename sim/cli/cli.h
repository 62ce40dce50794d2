#pragma once
// The `tessera` command line. Returns the process exit code: 0 on success, 2 on
// bad input (message on stderr naming what is wrong and what is accepted), 1 on
// an internal error.
#include <iosfwd>

namespace tessera {
int cli_main(int argc, char** argv, std::ostream& out, std::ostream& err);
}  // namespace tessera
