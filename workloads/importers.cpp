#include "workloads/importers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"

namespace tessera {

Graph import_workload_file(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".json") return import_json_trace(path);
  if (ext == ".csv") return import_scalesim_csv(path);
  if (ext == ".onnx") return import_onnx(path);
  if (ext == ".et") return import_chakra(path);
  throw InputError(fmt::format("{}: cannot import a '{}' file; accepted: .json (trace), .csv "
                               "(SCALE-Sim topology), .onnx, .et (Chakra execution trace)", path, ext));
}

}  // namespace tessera
