#pragma once
// The Evoformer block of shared/reference/models/evoformer_sdpa.py
// (evoformer_sdpa.cpp); evoformer.cpp registers the `evoformer` built-in with it
// (variant=sdpa) and OpenFold's structure (variant=openfold).
#include <cstdint>
#include <string>

#include "workloads/builder.h"

namespace tessera {

struct EvoSdpaShape {
  int64_t s = 128, r = 256, c_m = 256, c_z = 128, h_m = 8, h_z = 4, c_h = 32, c_opm = 32, c_tri = 128;
  int64_t transition = 4;   // transition widening factor
};

// Appends one block; `m` and `z` are the ops producing the MSA and pair
// representations (-1: model inputs) and are set to the block's outputs.
void build_evoformer_sdpa_block(GraphBuilder& b, const std::string& pre, const EvoSdpaShape& e, int& m, int& z);

}  // namespace tessera
