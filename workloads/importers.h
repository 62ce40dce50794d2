#pragma once
// Importers for workload files: JSON trace (.json), SCALE-Sim topology (.csv),
// ONNX (.onnx), Chakra execution trace (.et). Chosen by extension; errors are InputError naming the file and
// the line (text formats) or node (ONNX), the bad value and what is accepted.
#include <map>
#include <string>
#include <string_view>

#include "workloads/ir.h"

namespace tessera {

// Dispatches on the extension (case-insensitive): .json, .csv, .onnx, .et.
Graph import_workload_file(const std::string& path);

// JSON trace (docs/trace-format.md). `source` names the text in error messages.
Graph import_json_trace(const std::string& path);
Graph parse_json_trace(std::string_view text, std::string_view source);

// SCALE-Sim topology CSV: convolution form ("Layer name, IFMAP Height, IFMAP
// Width, Filter Height, Filter Width, Channels, Num Filter, Strides,") becomes
// conv2d ops (no padding, as SCALE-Sim computes); GEMM form ("Layer, M, N, K,")
// becomes matmul ops. Layers run in file order, each depending on the previous.
Graph import_scalesim_csv(const std::string& path);
Graph parse_scalesim_csv(std::string_view text, std::string_view source);

// ONNX model (ModelProto): the graph's nodes in order, with static shape
// inference; shape-only operators launch nothing. One InputError lists every
// unsupported operator with its node. `dims` sets the graph inputs' symbolic
// dimensions by name (an exporter's dynamic axes: `model.onnx:batch_size=8`);
// unbound ones are 1.
Graph import_onnx(const std::string& path, const std::map<std::string, int64_t>& dims = {});
Graph parse_onnx(std::string_view bytes, std::string_view source,
                 const std::map<std::string, int64_t>& dims = {});

// Chakra execution trace (.et, mlcommons/chakra's et_def.proto: GlobalMetadata
// then Node messages, each length-delimited): compute nodes (matmul from their
// input shapes, elementwise ops, otherwise a copy of their tensor bytes) and
// collectives with their data and control dependencies (importers/chakra.cpp).
// `ranks`: ranks of the collectives (import_chakra counts the trace's rank
// files name.<rank>.et beside it).
Graph import_chakra(const std::string& path);
Graph parse_chakra(std::string_view bytes, std::string_view source, int64_t ranks);

}  // namespace tessera
