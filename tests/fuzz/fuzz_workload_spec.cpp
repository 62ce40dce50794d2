// Built-in workload specs ("gemm:m=64,n=64,k=64", "llama-7b:layers=2,train=1").
// A spec naming an existing file would be imported: such inputs are skipped
// (the importers have targets of their own).
#include <filesystem>

#include "fuzz_common.h"
#include "workloads/workloads.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(tessera::fuzz::as_text(data, size));
  std::error_code ec;
  if (spec.find('/') != std::string::npos || std::filesystem::exists(spec, ec)) return 0;
  tessera::fuzz::expect_input_errors_only([&] { tessera::build_workload(spec); });
  return 0;
}
