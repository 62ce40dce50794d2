#include "models/numerics/precision.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "models/numerics/format.h"

namespace tessera::numerics {

namespace {

// Element format and byte width of a torch dtype string in a `bits` entry.
struct FileType {
  DType type;
  size_t bytes;
};
FileType file_type(const std::string& torch_dtype) {
  if (torch_dtype == "torch.float32") return {DType::fp32, 4};
  if (torch_dtype == "torch.float16") return {DType::fp16, 2};
  if (torch_dtype == "torch.bfloat16") return {DType::bf16, 2};
  if (torch_dtype == "torch.float8_e4m3fn") return {DType::fp8_e4m3, 1};
  if (torch_dtype == "torch.float8_e5m2") return {DType::fp8_e5m2, 1};
  throw std::invalid_argument("precision bits: dtype '" + torch_dtype +
                              "' unknown; accepted: torch.float32, torch.float16, "
                              "torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2");
}

struct RawFile {
  FileType type;
  std::vector<uint64_t> codes;  // little-endian element patterns
};

RawFile read_raw(const nlohmann::json& entry, const std::filesystem::path& dir) {
  const std::string name = entry.at("file").get<std::string>();
  const std::filesystem::path p = dir / name;
  RawFile f{file_type(entry.at("dtype").get<std::string>()), {}};
  size_t n = 1;
  for (const auto& d : entry.at("shape")) n *= d.get<size_t>();
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("precision bits: cannot open " + p.string());
  const std::vector<unsigned char> raw((std::istreambuf_iterator<char>(in)), {});
  if (raw.size() != n * f.type.bytes)
    throw std::runtime_error("precision bits: " + p.string() + " has " +
                             std::to_string(raw.size()) + " bytes, shape needs " +
                             std::to_string(n * f.type.bytes));
  f.codes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t c = 0;
    for (size_t b = 0; b < f.type.bytes; ++b) c |= uint64_t{raw[i * f.type.bytes + b]} << (8 * b);
    f.codes[i] = c;
  }
  return f;
}

double value_of(const RawFile& f, size_t i) { return decode(float_format(f.type.type), f.codes[i]); }

}  // namespace

H100Path h100_path_for_format(std::string_view format) {
  if (format == "fp16") return {&accumulation_preset("h100_fp16"), DType::fp16, DType::fp16, DType::fp16};
  if (format == "bf16") return {&accumulation_preset("h100_bf16"), DType::bf16, DType::bf16, DType::bf16};
  if (format == "tf32") return {&accumulation_preset("h100_tf32"), DType::tf32, DType::tf32, DType::fp32};
  if (format == "fp32")
    return {&accumulation_preset("h100_fp32_simt"), DType::fp32, DType::fp32, DType::fp32};
  if (format == "fp8_e4m3")
    return {&accumulation_preset("h100_fp8"), DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32};
  if (format == "fp8_e4m3_fastacc")
    return {&accumulation_preset("h100_fp8_fastacc"), DType::fp8_e4m3, DType::fp8_e4m3, DType::fp32};
  if (format == "fp8_e5m2xe4m3")
    return {&accumulation_preset("h100_fp8"), DType::fp8_e5m2, DType::fp8_e4m3, DType::fp32};
  throw std::invalid_argument("h100_path_for_format: format '" + std::string(format) +
                              "' unknown; accepted: fp16, bf16, tf32, fp32, fp8_e4m3, "
                              "fp8_e4m3_fastacc, fp8_e5m2xe4m3");
}

std::vector<BitExactFile> reproduce_precision_bits(const nlohmann::json& bits,
                                                   const std::filesystem::path& bits_dir,
                                                   const H100Path& path) {
  const RawFile a = read_raw(bits.at("A"), bits_dir);
  const RawFile b = read_raw(bits.at("B"), bits_dir);
  const auto& sa = bits.at("A").at("shape");
  const auto& sb = bits.at("B").at("shape");
  const size_t rows = sa.at(0).get<size_t>(), k = sa.at(1).get<size_t>();
  const size_t cols = sb.at(1).get<size_t>();
  if (sb.at(0).get<size_t>() != k)
    throw std::runtime_error("precision bits: A and B inner dimensions differ");
  // A is rows x K row-major; B is K x cols row-major (the first columns of B).
  std::vector<std::vector<double>> ar(rows, std::vector<double>(k)), bc(cols, std::vector<double>(k));
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < k; ++i) ar[r][i] = value_of(a, r * k + i);
  for (size_t c = 0; c < cols; ++c)
    for (size_t i = 0; i < k; ++i) bc[c][i] = value_of(b, i * cols + c);

  std::vector<BitExactFile> out;
  for (const char* key : {"C", "C_f32out"}) {
    if (!bits.contains(key)) continue;
    const RawFile c = read_raw(bits.at(key), bits_dir);
    const FloatFormat& cf = float_format(c.type.type);
    BitExactFile res{bits.at(key).at("file").get<std::string>(), 0,
                     static_cast<int64_t>(rows * cols)};
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < cols; ++j) {
        const double v = dot(*path.model, ar[r], bc[j], c.type.type);
        if (encode(cf, v) == c.codes[r * cols + j]) ++res.matched;
      }
    }
    out.push_back(res);
  }
  return out;
}

nlohmann::json predict_precision_record(const nlohmann::json& record,
                                        const std::filesystem::path& reference_dir,
                                        uint64_t seed, int64_t samples) {
  const std::string format = record.at("format").get<std::string>();
  const std::string dist = record.at("dist").get<std::string>();
  const int64_t k = record.at("K").get<int64_t>();
  const H100Path path = h100_path_for_format(format);

  nlohmann::json out;
  out["preset"] = path.model->name;
  out["samples"] = samples;
  out["measured_normwise_rel_err"] = record.at("normwise_rel_err").get<double>();
  std::vector<DType> outs = {path.out};
  const bool f32out = record.contains("normwise_rel_err_f32out");
  if (f32out) outs.push_back(DType::fp32);
  const auto pred =
      evaluate_matmul_precision_outputs(*path.model, path.a, path.b, outs, k, dist, samples, seed);
  out["predicted_normwise_rel_err"] = pred[0].normwise_rel_err;
  if (f32out) {
    out["measured_normwise_rel_err_f32out"] = record.at("normwise_rel_err_f32out").get<double>();
    out["predicted_normwise_rel_err_f32out"] = pred[1].normwise_rel_err;
  }
  if (record.contains("bits")) {
    const std::filesystem::path dir = record.contains("bits_dir")
                                          ? reference_dir / record.at("bits_dir").get<std::string>()
                                          : reference_dir / "precision-bits";
    int64_t matched = 0, total = 0;
    nlohmann::json files = nlohmann::json::object();
    for (const auto& f : reproduce_precision_bits(record.at("bits"), dir, path)) {
      matched += f.matched;
      total += f.total;
      files[f.file] = static_cast<double>(f.matched) / static_cast<double>(f.total);
    }
    out["bit_exact_fraction"] = total > 0 ? static_cast<double>(matched) / total : 0.0;
    out["bit_exact_files"] = files;
  }
  return out;
}

}  // namespace tessera::numerics
