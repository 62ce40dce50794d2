#pragma once
// Checks of the accumulation models against GPU precision measurements, in the
// layout of reference/h100/microbench.jsonl (`section: "precision"` records) and
// reference/h100/precision-bits (raw operands and outputs).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/numerics/accumulation.h"
#include "core/dtype.h"

namespace tessera::numerics {

// The H100 path of one record `format`: preset and operand/output formats.
//   fp16, bf16        -> h100_fp16 / h100_bf16, output in the input type
//   tf32              -> h100_tf32, output fp32
//   fp32              -> h100_fp32_simt
//   fp8_e4m3          -> h100_fp8, e4m3 x e4m3, output fp32
//   fp8_e4m3_fastacc  -> h100_fp8_fastacc
//   fp8_e5m2xe4m3     -> h100_fp8, A e5m2, B e4m3
// Throws std::invalid_argument naming the accepted formats otherwise.
struct H100Path {
  const AccumulationModel* model;
  DType a, b, out;
};
H100Path h100_path_for_format(std::string_view format);

// Bit-level reproduction of one output file of a record's `bits`: every element of
// the 16x16 block recomputed from the A and B files with `model` and compared bit
// for bit (as the output format's pattern).
struct BitExactFile {
  std::string file;
  int64_t matched;
  int64_t total;
};
// `bits` is the record's `bits` object; files live in bits_dir. Returns one entry
// for C and, where present, one for C_f32out. Throws std::runtime_error naming the
// file when a file is missing or has the wrong size.
std::vector<BitExactFile> reproduce_precision_bits(const nlohmann::json& bits,
                                                   const std::filesystem::path& bits_dir,
                                                   const H100Path& path);

// Predicts one `precision` record: the normwise relative error of the matching H100
// preset on `samples` sampled output elements (see evaluate_matmul_precision) and,
// when the record has `bits`, the bit-exact reproduction of its files. Bits files
// are looked up in record["bits_dir"] if given (relative to reference_dir), else in
// reference_dir / "precision-bits". Returns
//   {"preset", "samples", "predicted_normwise_rel_err", "measured_normwise_rel_err",
//    and when the record has *_f32out: "predicted_normwise_rel_err_f32out",
//    "measured_normwise_rel_err_f32out"; with bits: "bit_exact_fraction" (0..1 over
//    all its files) and "bit_exact_files" {file name: fraction}}.
nlohmann::json predict_precision_record(const nlohmann::json& record,
                                        const std::filesystem::path& reference_dir,
                                        uint64_t seed, int64_t samples = 1024);

}  // namespace tessera::numerics
