#pragma once
// `tessera compare`: predicts measured records (JSON lines, the schema of
// reference/h100/microbench.jsonl) with the simulator and reports, per record,
// predicted vs measured and, per section, count, MAPE and worst error.
//
// Sections and the quantity compared:
//   gemm, conv, attn (fused and decode), vec, membw: median_ms
//   energy: gemm -> pj_per_flop (total), copy -> pj_per_byte_above_idle, idle -> watts
//   energy2: pj_per_byte_above_idle
//   e2eg: device_busy_us; decode: graph_median_ms; evoformer: median_ms
//   train: device_busy_us of one training step (model resnet50 | bert-base |
//          gpt2-small | llama7b-4layers, dtype, batch, seq, optimizer), predicted
//          as the model's spec with train=1
//   collective: busbw_GBps of an nccl-tests figure (sim/tools/compare_collective.h)
//   precision: normwise_rel_err, by models/numerics (predict_precision_record) on
//              hardware whose numerics family is h100; records with raw bits also
//              get bit_exact_fraction (0..1)
// A gemm record's "timing" says how it was measured: "events" (CUDA events around
// the op; the default) or "sync" (a host clock around the op and
// torch.cuda.synchronize(): the op's host time and the isolated kernel add);
// records from LLMCompass's real-hardware figures are "sync" (compare.cpp,
// timing_of). Records that cannot be predicted are listed as skipped with the reason.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "models/hardware.h"

namespace tessera {

// One record's outcome.
struct CompareRow {
  nlohmann::json record;        // measured fields + quantity, measured_value, predicted_value
  std::string section;
  bool skipped = false;
  std::string reason;           // why skipped
  double error() const;         // predicted / measured - 1
};

// Predicts one measured record on `hw`. `reference_dir` is the directory of the
// measurement file (precision records name raw-bit files relative to it).
// Throws InputError for malformed records.
CompareRow compare_record(const nlohmann::json& rec, const Hardware& hw,
                          const std::filesystem::path& reference_dir = {});
// Reads a JSONL file (InputError naming the file and line on bad JSON).
std::vector<nlohmann::json> read_jsonl(const std::string& path);
// Predicts every record; the summary is {"sections": {name: {count, mape, worst_error,
// worst_record, skipped}}, "records": [...]}.
nlohmann::json compare_records(const std::vector<nlohmann::json>& records, const Hardware& hw,
                               const std::filesystem::path& reference_dir = {});

// Warnings for records measured on another device than `hw_name`: the devices
// named by an `info` record's `name` or a record's `device` field, compared by
// their model ("NVIDIA H100 80GB HBM3" -> h100, "h100-sxm" -> h100). compare_records
// puts them under "warnings" (absent when there are none).
std::vector<std::string> device_warnings(const std::vector<nlohmann::json>& records, const std::string& hw_name);

// CLI entry: returns the exit code; an empty, unreadable or malformed file (or
// any other bad input) throws InputError.
int run_compare(const std::string& hw, const std::vector<std::string>& sets,
                const std::string& measured_path, const std::string& format, std::ostream& out);

}  // namespace tessera
