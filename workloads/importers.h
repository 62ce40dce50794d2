#pragma once
// Importers for workload files: JSON trace (.json), SCALE-Sim topology (.csv),
// ONNX (.onnx). Chosen by extension; errors name the file and line or node.
#include <string>

#include "workloads/ir.h"

namespace tessera {
Graph import_workload_file(const std::string& path);
}  // namespace tessera
