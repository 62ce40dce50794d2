#include "workloads/importers.h"

#include <fmt/format.h>

#include <filesystem>

#include "sim/error.h"

namespace tessera {

Graph import_workload_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  throw InputError(fmt::format("{}: cannot import a '{}' file; accepted: .json (trace), .csv "
                               "(SCALE-Sim topology), .onnx", path, ext));
}

}  // namespace tessera
