#pragma once
// Errors caused by what the user gave us (a file, a flag, a key). The CLI turns
// every InputError into exit code 2 with its message on stderr; anything else is
// a bug in Tessera. The message must name the file (or flag), the key or line,
// the offending value and what is accepted.
#include <stdexcept>
#include <string>

namespace tessera {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tessera
