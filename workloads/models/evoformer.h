#pragma once
// The Evoformer blocks of the `evoformer` built-in (evoformer.cpp registers it):
// shared/reference/models/evoformer_sdpa.py (variant=sdpa, evoformer_sdpa.cpp) and
// OpenFold's EvoformerBlock (variant=openfold, evoformer_openfold.cpp).
#include <cstdint>
#include <string>

#include "workloads/builder.h"

namespace tessera {

struct EvoformerShape {
  int64_t s = 128, r = 256, c_m = 256, c_z = 128, h_m = 8, h_z = 4, c_h = 32, c_opm = 32, c_tri = 128;
  int64_t transition = 4;   // transition widening factor
};

// Appends one block; `m` and `z` are the ops producing the MSA and pair
// representations (-1: model inputs) and are set to the block's outputs.
void build_evoformer_sdpa_block(GraphBuilder& b, const std::string& pre, const EvoformerShape& e, int& m,
                                int& z);
// The same for OpenFold's block; `fused`: one fused attention kernel per attention
// (use_deepspeed_evo_attention) instead of the stock eager one.
void build_evoformer_openfold_block(GraphBuilder& b, const std::string& pre, const EvoformerShape& e,
                                    bool fused, int& m, int& z);

}  // namespace tessera
