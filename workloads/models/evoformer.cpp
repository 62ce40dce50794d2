// AlphaFold-2 Evoformer blocks (Jumper et al. 2021, supplementary Algorithms
// 6-15) in inference:
//   MSA representation m: n_seq x n_res x c_m;  pair representation z: n_res x n_res x c_z.
// Per block (Algorithm 6):
//   m += MSARowAttentionWithPairBias(m, z)     Alg. 7
//   m += MSAColumnAttention(m)                  Alg. 8
//   m += MSATransition(m)                       Alg. 9
//   z += OuterProductMean(m)                    Alg. 10
//   z += TriangleMultiplicationOutgoing(z)      Alg. 11
//   z += TriangleMultiplicationIncoming(z)      Alg. 12
//   z += TriangleAttentionStartingNode(z)       Alg. 13
//   z += TriangleAttentionEndingNode(z)         Alg. 14
//   z += PairTransition(z)                      Alg. 15
// Two implementations, kernel for kernel as PyTorch eager launches them:
// variant=sdpa (the default) is the torch.nn block of
// shared/reference/models/evoformer_sdpa.py (evoformer_sdpa.cpp); variant=openfold
// is OpenFold's EvoformerBlock with its masks on its default attention path
// (evoformer_openfold.cpp).
#include "workloads/models/evoformer.h"

#include <fmt/format.h>

#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {
namespace {

using Params = std::map<std::string, std::string>;

Graph build_evoformer(const Params& p) {
  Graph g;
  g.name = "evoformer";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  EvoformerShape e;
  e.s = wl_int(p, "n_seq");
  e.r = wl_int(p, "n_res");
  e.c_m = wl_int(p, "c_m");
  e.c_z = wl_int(p, "c_z");
  e.h_m = wl_int(p, "heads_msa");
  e.h_z = wl_int(p, "heads_pair");
  e.c_h = wl_int(p, "c_hidden");
  e.c_opm = wl_int(p, "c_opm");
  e.c_tri = wl_int(p, "c_tri");
  e.transition = wl_int(p, "transition");
  const bool fused = wl_choice(p, "attn", {"eager", "fused"}) == "fused";
  const int64_t blocks = wl_int(p, "blocks");
  const std::string variant = wl_choice(p, "variant", {"sdpa", "openfold"});
  int m = -1, z = -1;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const std::string pre = fmt::format("b{}.", blk);
    if (variant == "sdpa")
      build_evoformer_sdpa_block(b, pre, e, m, z);
    else
      build_evoformer_openfold_block(b, pre, e, fused, m, z);
  }
  // EvoformerBlock returns both representations (training seeds both).
  g.ops[static_cast<size_t>(m)].attrs["output"] = 1;
  g.ops[static_cast<size_t>(z)].attrs["output"] = 1;
  g.info["blocks"] = static_cast<double>(blocks);
  g.info["n_seq"] = static_cast<double>(e.s);
  g.info["n_res"] = static_cast<double>(e.r);
  return g;
}

}  // namespace

void add_evoformer_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back(
      {"evoformer",
       "AlphaFold-2 Evoformer blocks (supplement Alg. 6-15): MSA row/column "
       "gated attention, transitions, outer product mean, triangle updates and attention",
       {{"n_seq", "128", "MSA sequences (N_seq)"},
        {"n_res", "256", "residues (N_res)"},
        {"blocks", "1", "Evoformer blocks (48 = the full trunk)"},
        {"c_m", "256", "MSA channels"},
        {"c_z", "128", "pair channels"},
        {"heads_msa", "8", "MSA attention heads"},
        {"heads_pair", "4", "triangle attention heads"},
        {"c_hidden", "32", "attention head dimension"},
        {"c_opm", "32", "outer product mean channels"},
        {"c_tri", "128", "triangle multiplication channels"},
        {"transition", "4", "transition widening factor"},
        {"variant",
         "sdpa",
         "sdpa: the torch.nn block with F.scaled_dot_product_attention and a float pair-bias mask "
         "(shared/reference/models/evoformer_sdpa.py); openfold: OpenFold's EvoformerBlock with its masks",
         ParamType::choice,
         {"sdpa", "openfold"}},
        {"attn",
         "eager",
         "variant=openfold: eager (OpenFold's stock attention: bmm, bias adds, softmax, bmm; its "
         "default) or fused (one attention kernel with the biases, as use_deepspeed_evo_attention)",
         ParamType::choice,
         {"eager", "fused"}},
        {"dtype", "bf16", "operand format", ParamType::dtype}},
       build_evoformer});
}

}  // namespace tessera
