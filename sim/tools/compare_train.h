#pragma once
// `compare` section `train`: one training step of a built-in model, the profiler's
// summed kernel time (device_busy_us). Fields: model (resnet50, bert-base,
// gpt2-small, llama7b-4layers with `layers`), batch, seq (transformers), optimizer
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

// The workload spec that predicts a `train` record (the model's spec with train=1),
// or nullopt with `skip` saying what is not modelled.
std::optional<std::string> train_record_spec(const nlohmann::json& r, std::string& skip);

}  // namespace tessera
