#pragma once
// What the transformer model builders share (workloads/models/transformers.cpp,
// encoder_decoder_moe.cpp).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/builder.h"
#include "workloads/workloads.h"

namespace tessera {

// attn=sdpa (one fused attention kernel) or eager (the unfused math path).
bool fused_attention(const std::map<std::string, std::string>& p);
// The `attn` parameter fused_attention reads.
WorkloadParam attn_param();
// Rotary position embedding of one projection; returns the output op.
int rope(GraphBuilder& b, const std::string& pre, int x, int64_t rows, int64_t cols);
// A workload's own parameters followed by the parallelism parameters.
std::vector<WorkloadParam> with_parallel(std::vector<WorkloadParam> own);
// transformer-base and moe, registered after the decoders and BERT.
void add_encoder_decoder_moe_workloads(std::vector<WorkloadInfo>& out);

}  // namespace tessera
