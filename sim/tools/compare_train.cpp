#include "sim/tools/compare_train.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "core/error.h"
#include "sim/tools/compare_fields.h"
#include "workloads/training.h"

namespace tessera {

RecordModel record_model(const nlohmann::json& r, int64_t llama_layers) {
  if (!r.contains("model") || !r["model"].is_string())
    throw InputError(fmt::format("record {}: field 'model' must be a string", r.dump()));
  std::string m = r["model"].get<std::string>();
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  RecordModel out;
  if (m == "resnet50" || m == "resnet-50") out.name = "resnet50";
  else if (m == "r3d_18" || m == "r2plus1d_18" || m == "lstm" || m == "gru")
    out.name = m;
  else if (m == "bert-base" || m == "bert" || m == "bert-base-uncased" || m == "bertmodel") out.name = "bert-base";
  else if (m == "gpt2-small" || m == "gpt2" || m == "gpt2model") out.name = "gpt2-small";
  else if (m == "llama7b-4layers" || m == "llama7b-4layers-prefill") {
    out.name = "llama";
    out.layers = 4;
  } else if (m == "llama-7b" || m == "llama7b" || m == "llamamodel") {
    out.name = "llama";
    out.layers = llama_layers;
  }
  if (out.name == "llama" && r.contains("layers")) out.layers = record_int(r, "layers", 1);
  return out;
}

std::optional<std::string> train_record_spec(const nlohmann::json& r, std::string& skip) {
  const RecordModel rm = record_model(r, 4);
  const std::string model = rm.name;
  // amp: the autocast type (torch's names too); fp16 runs with GradScaler, as
  // train_amp.py's fp16 variant does.
  const std::string amp_field = record_text(r, "amp", "none");
  const std::string amp = amp_field == "bfloat16" ? "bf16"
                          : amp_field == "float16" || amp_field == "half" ? "fp16"
                                                                          : amp_field;
  const bool autocast = amp == "bf16" || amp == "fp16";
  if (!autocast && amp != "none" && amp != "false" && amp != "null") {
    skip = "train amp '" + amp_field + "' is not modelled (accepted: bf16, fp16, none)";
    return std::nullopt;
  }
  if (autocast) {
    const std::string loss = record_text(r, "loss", "pow2_mean");
    if (loss != "pow2_mean" && loss != "y.float().pow(2).mean()") {
      skip = "train loss '" + loss + "' is not modelled (train_amp.py's y.float().pow(2).mean() is)";
      return std::nullopt;
    }
  }
  const std::string opt = record_text(r, "optimizer", "adamw");
  Optimizer o = Optimizer::adamw;
  if (!parse_optimizer(opt, o)) {
    skip = "train optimizer '" + opt + "' is not modelled";
    return std::nullopt;
  }
  // Under autocast the model is its fp32 module (the workload's dtype is fp32).
  std::string tail = autocast
                         ? fmt::format("train=1,amp={},optimizer={}", amp, opt)
                         : fmt::format("dtype={},train=1,optimizer={}", record_text(r, "dtype", "bf16"), opt);
  // dropout: the p the record's model trained with (HF's configs: every dropout
  // of the model); absent or 0: none, as scripts/measure_gpu.py measures.
  if (r.contains("dropout")) {
    const double p = record_num(r, "dropout");
    if (!(p >= 0 && p < 1))
      throw InputError(
          fmt::format("record {}: field 'dropout' = {} must be a probability in [0, 1)", r.dump(), p));
    if (p > 0) {
      if (model != "bert-base" && model != "gpt2-small" && model != "llama") {
        skip = "train dropout on '" + r["model"].get<std::string>() +
               "' is not modelled (bert, gpt2, llama are)";
        return std::nullopt;
      }
      tail += fmt::format(",dropout={}", p);
    }
  }
  const int64_t batch = record_int(r, "batch", 1);
  if (model == "resnet50") return fmt::format("resnet50:batch={},{}", batch, tail);
  if (model == "lstm" || model == "gru")
    return fmt::format("{}:batch={},seq={},input={},hidden={},layers={},{}", model, batch,
                       record_int(r, "seq"), record_int(r, "input"), record_int(r, "hidden"),
                       record_int(r, "layers"), tail);
  if (model == "bert-base")
    return fmt::format("bert-base:batch={},seq={},{}", batch, record_int(r, "seq", 1), tail);
  if (model == "gpt2-small")
    return fmt::format("gpt2-small:batch={},seq={},{}", batch, record_int(r, "seq", 1), tail);
  if (model == "llama")
    return fmt::format("llama-7b:phase=prefill,batch={},seq={},layers={},{}", batch, record_int(r, "seq", 1),
                       rm.layers, tail);
  skip = "train model '" + r["model"].get<std::string>() + "' is not modelled";
  return std::nullopt;
}

std::optional<ModelRecordSpec> model_record_spec(const std::string& section, const nlohmann::json& r,
                                                 std::string& skip) {
  ModelRecordSpec m;
  m.quantity = "median_ms";
  if (section == "e2eg") {
    // record_model: the built-in a model name means; a LLaMA name without a layer
    // count is HF's LlamaConfig(), 32 layers.
    const RecordModel rm = record_model(r, 32);
    const std::string dt = r.value("dtype", std::string("bf16"));
    const int64_t batch = record_int(r, "batch");
    // attention_mask: the tokenizer's mask passed to the model (measure_gpu.py:
    // none, ones, padded); the bert-base built-in models HF's handling of it.
    const std::string mask = record_text(r, "attention_mask", "none");
    if (mask != "none" && (rm.name != "bert-base" || (mask != "ones" && mask != "padded"))) {
      skip = "e2eg attention_mask '" + mask + "' is not modelled (bert-base takes ones and padded)";
      return std::nullopt;
    }
    // memory_format (channels_last, the default, or contiguous) decides ResNet-50's
    // batch-norm kernels; the builder refuses any other value.
    if (rm.name == "resnet50")
      m.spec = r.contains("memory_format")
                   ? fmt::format("resnet50:batch={},dtype={},memory_format={}", batch, dt, record_str(r, "memory_format"))
                   : fmt::format("resnet50:batch={},dtype={}", batch, dt);
    else if (rm.name == "r3d_18" || rm.name == "r2plus1d_18")
      // torchvision.models.video: clips of `frames` frames of image x image pixels
      // (measure_gpu.py: 16 x 112 x 112, channels_last_3d).
      m.spec = fmt::format("{}:batch={},frames={},image={},dtype={},memory_format={}", rm.name, batch,
                           record_int(r, "frames", 1), record_int(r, "image", 1), dt,
                           record_text(r, "memory_format", "channels_last"));
    else if (rm.name == "lstm" || rm.name == "gru")
      // torch.nn.LSTM / nn.GRU over [seq, batch, input] (measure_gpu.py).
      m.spec = fmt::format("{}:batch={},seq={},input={},hidden={},layers={},dtype={}", rm.name, batch,
                           record_int(r, "seq"), record_int(r, "input"), record_int(r, "hidden"),
                           record_int(r, "layers"), dt);
    else if (rm.name == "bert-base")
      m.spec = fmt::format("bert-base:batch={},seq={},dtype={}{}", batch, record_int(r, "seq"), dt,
                           mask == "none" ? "" : ",attention_mask=" + mask);
    else if (rm.name == "gpt2-small")
      m.spec = fmt::format("gpt2-small:batch={},seq={},dtype={}", batch, record_int(r, "seq"), dt);
    else if (rm.name == "llama")
      m.spec = fmt::format("llama-7b:phase=prefill,batch={},seq={},layers={},dtype={}", batch, record_int(r, "seq"),
                           rm.layers, dt);
    else {
      skip = "e2eg model '" + record_str(r, "model") + "' is not modelled";
      return std::nullopt;
    }
    m.quantity = "device_busy_us";
    m.scale = 1e6;
    m.kernel_time = true;
  } else if (section == "train") {
    const auto t = train_record_spec(r, skip);
    if (!t) return std::nullopt;
    m.spec = *t;
    m.quantity = "device_busy_us";
    m.scale = 1e6;
    m.kernel_time = true;
  } else if (section == "decode") {
    // shared/reference/models/decode_static.py: 32 decoder layers without
    // embedding or head, fused q|k|v and gate|up projections, nn.RMSNorm (one
    // kernel), no rotary, index_copy_ into a static cache of ctx positions (the
    // new token's included: ctx - 1 cached before it). Replayed as a CUDA graph:
    // the kernels run back to back without launch idle (summed kernel time).
    const int64_t ctx = record_int(r, "ctx");
    if (ctx < 2)
      throw InputError(fmt::format("record {}: field 'ctx' = {} must be >= 2 (the context counts the new token, "
                                   "and at least one token is cached before it)", r.dump(), ctx));
    // decode_static.py's make_step(batch, ctx, layers=32): the record's `layers`
    // when it has one.
    const int64_t layers = r.contains("layers") ? record_int(r, "layers") : 32;
    if (layers < 1) throw InputError(fmt::format("record {}: field 'layers' = {} must be >= 1", r.dump(), layers));
    m.spec = fmt::format("llama-7b:phase=decode,batch={},ctx={},layers={},embed=0,kv_cache=static,fused_qkv=1,"
                         "fused_gate_up=1,rope=0,kernels=fused,dtype={}", record_int(r, "batch"), ctx - 1, layers,
                         r.value("dtype", std::string("bf16")));
    m.quantity = "graph_median_ms";
    m.kernel_time = true;
  } else {
    // evoformer. variant: sdpa (shared/reference/models/evoformer_sdpa.py, the
    // default) or openfold (OpenFold's EvoformerBlock, as scripts/measure_gpu.py
    // times it). evoformer_sdpa.py is timed with CUDA events around one eager
    // forward: the host's time per op is in the figure.
    const std::string variant = r.value("variant", std::string("sdpa"));
    if (variant != "sdpa" && variant != "openfold")
      throw InputError(fmt::format("record {}: field 'variant' = '{}' is not a modelled Evoformer; accepted: sdpa "
                                   "(evoformer_sdpa.py), openfold", r.dump(), variant));
    m.spec = fmt::format("evoformer:n_seq={},n_res={},c_m={},c_z={},variant={},dtype={}", record_int(r, "n_seq"),
                         record_int(r, "n_res"), record_int(r, "c_m"), record_int(r, "c_z"), variant,
                         r.value("dtype", std::string("bf16")));
    m.host_visible = true;
  }
  return m;
}

}  // namespace tessera
