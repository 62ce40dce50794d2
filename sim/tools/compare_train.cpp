#include "sim/tools/compare_train.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "core/error.h"
#include "workloads/training.h"

namespace tessera {
namespace {

std::string field_text(const nlohmann::json& r, const char* key, const std::string& fallback) {
  if (!r.contains(key) || r[key].is_null()) return fallback;
  return r[key].is_string() ? r[key].get<std::string>() : r[key].dump();
}

// A size: a whole number in 1..2^48 (validate_graph's limit), checked before any
// conversion.
int64_t field_int(const nlohmann::json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("record {}: field '{}' must be a number", r.dump(), key));
  const double d = r[key].get<double>();
  if (!(d >= 1 && d <= 0x1p48 && d == std::trunc(d)))
    throw InputError(fmt::format("record {}: field '{}' = {} must be a whole number in 1..2^48", r.dump(), key,
                                 r[key].dump()));
  return static_cast<int64_t>(d);
}

}  // namespace

RecordModel record_model(const nlohmann::json& r, int64_t llama_layers) {
  if (!r.contains("model") || !r["model"].is_string())
    throw InputError(fmt::format("record {}: field 'model' must be a string", r.dump()));
  std::string m = r["model"].get<std::string>();
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  RecordModel out;
  if (m == "resnet50" || m == "resnet-50") out.name = "resnet50";
  else if (m == "bert-base" || m == "bert" || m == "bert-base-uncased" || m == "bertmodel") out.name = "bert-base";
  else if (m == "gpt2-small" || m == "gpt2" || m == "gpt2model") out.name = "gpt2-small";
  else if (m == "llama7b-4layers" || m == "llama7b-4layers-prefill") {
    out.name = "llama";
    out.layers = 4;
  } else if (m == "llama-7b" || m == "llama7b" || m == "llamamodel") {
    out.name = "llama";
    out.layers = llama_layers;
  }
  if (out.name == "llama" && r.contains("layers")) out.layers = field_int(r, "layers");
  return out;
}

std::optional<std::string> train_record_spec(const nlohmann::json& r, std::string& skip) {
  const RecordModel rm = record_model(r, 4);
  const std::string model = rm.name;
  // amp: the autocast type (torch's names too); fp16 runs with GradScaler, as
  // train_amp.py's fp16 variant does.
  const std::string amp_field = field_text(r, "amp", "none");
  const std::string amp = amp_field == "bfloat16" ? "bf16"
                          : amp_field == "float16" || amp_field == "half" ? "fp16"
                                                                          : amp_field;
  const bool autocast = amp == "bf16" || amp == "fp16";
  if (!autocast && amp != "none" && amp != "false" && amp != "null") {
    skip = "train amp '" + amp_field + "' is not modelled (accepted: bf16, fp16, none)";
    return std::nullopt;
  }
  if (autocast) {
    const std::string loss = field_text(r, "loss", "pow2_mean");
    if (loss != "pow2_mean" && loss != "y.float().pow(2).mean()") {
      skip = "train loss '" + loss + "' is not modelled (train_amp.py's y.float().pow(2).mean() is)";
      return std::nullopt;
    }
  }
  const std::string opt = field_text(r, "optimizer", "adamw");
  Optimizer o = Optimizer::adamw;
  if (!parse_optimizer(opt, o)) {
    skip = "train optimizer '" + opt + "' is not modelled";
    return std::nullopt;
  }
  // Under autocast the model is its fp32 module (the workload's dtype is fp32).
  const std::string tail = autocast ? fmt::format("train=1,amp={},optimizer={}", amp, opt)
                                    : fmt::format("dtype={},train=1,optimizer={}", field_text(r, "dtype", "bf16"), opt);
  const int64_t batch = field_int(r, "batch");
  if (model == "resnet50") return fmt::format("resnet50:batch={},{}", batch, tail);
  if (model == "bert-base") return fmt::format("bert-base:batch={},seq={},{}", batch, field_int(r, "seq"), tail);
  if (model == "gpt2-small") return fmt::format("gpt2-small:batch={},seq={},{}", batch, field_int(r, "seq"), tail);
  if (model == "llama")
    return fmt::format("llama-7b:phase=prefill,batch={},seq={},layers={},{}", batch, field_int(r, "seq"), rm.layers,
                       tail);
  skip = "train model '" + r["model"].get<std::string>() + "' is not modelled";
  return std::nullopt;
}

}  // namespace tessera
