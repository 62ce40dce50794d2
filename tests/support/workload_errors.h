#pragma once
// The input error a workload spec is refused with, for tests.
#include <string>

#include "core/error.h"
#include "workloads/workloads.h"

namespace tessera::testing {

// build_workload(spec)'s InputError message, or "(no error)" when it builds.
inline std::string workload_error(const std::string& spec) {
  try {
    build_workload(spec);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace tessera::testing
