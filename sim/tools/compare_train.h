#pragma once
// `compare` section `train`: one training step of a built-in model, the profiler's
// summed kernel time (device_busy_us). Fields: model (resnet50, bert-base,
// gpt2-small, llama7b-4layers or a LLaMA name with `layers`: record_model), batch, seq (transformers), optimizer
// (torch.optim name, default adamw), amp ("bf16": shared/reference/models/train_amp.py,
// an fp32 model under torch.autocast(bfloat16) with the loss y.float().pow(2).mean();
// "fp16": the same under torch.autocast(float16) with torch.amp.GradScaler's
// scale(loss).backward(), step(optimizer), update(); torch's names bfloat16,
// float16, half are accepted; absent, "none" or false: the model trains in `dtype`,
// default bf16, backward from a given output gradient), loss (optional, with amp:
// "pow2_mean" or the expression).
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace tessera {

// A record's `model` as the built-in it names: "resnet50", "bert-base",
// "gpt2-small" or "llama" (LLaMA-7B-shaped decoder layers; the record's `layers`,
// else the count in the name, else `llama_layers`), or "" when it names none.
// Case is ignored; accepted besides those: resnet-50, bert, bert-base-uncased,
// BertModel, gpt2, GPT2Model, llama7b-4layers, llama7b-4layers-prefill, llama-7b,
// llama7b, LlamaModel.
struct RecordModel {
  std::string name;      // "" when not modelled
  int64_t layers = 0;    // llama: decoder layers (0 elsewhere)
};
RecordModel record_model(const nlohmann::json& r, int64_t llama_layers);

// How a whole-model record (section e2eg, decode, evoformer or train) is predicted:
// the built-in workload's spec, the record's quantity and its unit (scale from
// seconds), whether it is summed kernel time (a profiler's device_busy_us or a
// CUDA-graph replay) rather than wall time, and whether the host's time per op
// shows in it (evoformer_sdpa.py timed eagerly with CUDA events). nullopt with
// `skip` when the record names nothing modelled; malformed fields: InputError.
struct ModelRecordSpec {
  std::string spec;
  std::string quantity;
  double scale = 1e3;
  bool kernel_time = false;
  bool host_visible = false;
};
std::optional<ModelRecordSpec> model_record_spec(const std::string& section, const nlohmann::json& r,
                                                 std::string& skip);

// The workload spec that predicts a `train` record (the model's spec with train=1),
// or nullopt with `skip` saying what is not modelled.
std::optional<std::string> train_record_spec(const nlohmann::json& r, std::string& skip);

}  // namespace tessera
