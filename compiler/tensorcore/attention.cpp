// Fused attention on the tensor-core SMs (forward and split-KV decode), and
// PyTorch's math fallback when no fused SDPA backend takes the op.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "compiler/tensorcore/attention_select.h"
#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "workloads/builder.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

// Attention

Kernel TensorCoreMapper::lower_attention(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const int64_t B = op.at("batch"), H = op.at("heads"), Hkv = op.get("kv_heads", H);
  const int64_t sq = op.at("sq"), skv = op.at("skv"), D = op.at("d");
  const bool causal = op.get("causal", 0) != 0;
  const double eb = dtype_bytes(op.dtype, 1);

  // Which fused kernel (attention_select.h); the math path never gets here.
  const AttnBackend be = attention_backend(op, m_s);
  const MmaPath path = be.path;
  // Block sizes of the public kernels: FA3 hdim64 192x128, hdim128 128x128;
  // FA2 (sm80 code) hdim64 128x128, hdim128 128x64; memory-efficient 64x64.
  int64_t bq = 128, bk = 128;
  if (path == MmaPath::flash3) bq = D <= 64 ? 192 : 128;
  if (path == MmaPath::flash2) bk = D <= 64 ? 128 : 64;
  if (path == MmaPath::efficient) bq = bk = 64;

  const int64_t nq = ceil_div(sq, bq);
  const int64_t ctas = B * H * nq;
  const double tile_smem = static_cast<double>(bq * D) * eb + 4.0 * static_cast<double>(bk * D) * eb;
  const int64_t occ =
      path == MmaPath::flash3 ? 1 : std::clamp<int64_t>(static_cast<int64_t>(m_s.smem / tile_smem), 1, 2);
  const int64_t slots = std::min(ctas, m_s.sm * occ);
  // KV blocks each query block visits; causal skips blocks above the diagonal
  // (query i sees keys j <= i + skv - sq).
  double total_iters = 0;
  int64_t max_nk = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t last_key = causal ? std::min(skv, (i + 1) * bq + (skv - sq)) : skv;
    const int64_t nk = ceil_div(std::max<int64_t>(last_key, 1), bk);
    total_iters += static_cast<double>(nk);
    max_nk = std::max(max_nk, nk);
  }
  total_iters *= static_cast<double>(B * H);
  // Iterations the busiest slot runs: whole waves of equal blocks without causal
  // masking; with it the scheduler hands the longest blocks out first, so the
  // work spreads evenly, but no slot finishes before the longest block.
  const int64_t iters_per_slot =
      causal ? std::max<int64_t>(static_cast<int64_t>(std::ceil(total_iters / static_cast<double>(slots))), max_nk)
             : ceil_div(ctas, slots) * max_nk;
  const int64_t g = ceil_div(iters_per_slot, 256);
  const int64_t stages = ceil_div(iters_per_slot, g);

  const double q_bytes = static_cast<double>(B * H * sq * D) * eb;
  const double kv_bytes = 2.0 * static_cast<double>(B * Hkv * skv * D) * eb;
  const double o_bytes = static_cast<double>(B * H * sq * D) * dtype_bytes(op.out_dtype, 1);
  const int64_t sms = std::min(slots, m_s.sm);
  const double st = static_cast<double>(stages);
  const AttnBias bias = attention_bias(op, lv, path);

  Kernel k;
  k.op_kind = "attention";
  k.info.mma_path = static_cast<int64_t>(path);
  k.info.block_q = bq;
  k.info.block_kv = bk;
  k.info.thread_blocks = ctas;
  k.info.bytes_in_flight = 4.0 * static_cast<double>(bk * D) * eb * static_cast<double>(occ);
  Block b;
  b.repeat = stages;
  // Every slot streams its K and V blocks from the L2 (heads' K/V are shared by
  // the query blocks of the head); DRAM sees Q, K, V once.
  add_traffic(b.instrs, lv, Opcode::load, (q_bytes + kv_bytes + bias.dram) / st,
              static_cast<double>(slots) * 2.0 * static_cast<double>(bk * g * D) * eb + (q_bytes + bias.l2) / st, sms);
  // The memory-efficient kernel's fp32 GEMMs on sm80+ are CUTLASS tensor-op GEMMs
  // with OpMultiplyAddFastF32 (kernel_forward.h, DefaultGemmType<Sm80+, float>):
  // each product is three TF32 MMAs (big x big, big x small, small x big), so
  // they run on the tf32 pipe with three times the MMA work.
  const bool fast_f32 = path == MmaPath::efficient && op.dtype == DType::fp32 && m_s.compute_capability >= 80;
  const DType mt = fast_f32 ? DType::tf32 : op.dtype;
  const int64_t rep = fast_f32 ? 3 : 1;
  b.instrs.push_back(mma(bq, bk * g, D * rep, mt, slots));   // S = Q K^T
  b.instrs.push_back(mma(bq, D, bk * g * rep, mt, slots));   // O += P V
  const double scores = static_cast<double>(bq * bk * g);
  // Online softmax: per score scale, running max, subtract, row sum, convert (5
  // lane ops) and one exp; per row and block the output rescale (D lane ops).
  b.instrs.push_back(vec("exp", scores, slots, DType::fp32));
  // The additive bias is one more lane op per score; dropout draws its random
  // numbers per score in the kernel (attention_dropout_lanes).
  b.instrs.push_back(vec("softmax",
                         (bias.present ? 6.0 : 5.0) * scores + static_cast<double>(bq * D * g) +
                             attention_dropout_lanes(op) * scores,
                         slots, DType::fp32));
  add_traffic(b.instrs, lv, Opcode::store, o_bytes / st, o_bytes / st, sms);
  if (path == MmaPath::flash3) {
    // Two consumer warpgroups ping-pong (FlashAttention-3, Shah et al. 2024, sec.
    // 3.1): one's softmax runs while the other's GEMMs use the tensor cores, and
    // the GEMMs are issued as in a GEMM mainloop (wgmma from TMA-fed shared
    // memory), so they run at the GEMM efficiency (mma_efficiency). Within a
    // warpgroup, P.V waits on the softmax of the same block, so a share of every
    // softmax stays on the critical path: attention_softmax_exposed_flash3
    // (fitted). The softmax work per MMA FLOP is (SFU exp + ~5 lane ops) per score
    // against 4D FLOP per score, so head dim 64 spends twice the share of head
    // dim 128 on it: per score and SM, exp 1/16 clk + lanes ~5.5/128 clk against
    // 4D/4096 clk of MMA (0.0625 clk at D = 64, 0.125 clk at D = 128).
    k.info.vec_exposed = m_s.fa3_exposed;
  }
  add_bias_preparation(k, bias, lv, sms);
  k.blocks.push_back(std::move(b));
  static constexpr const char* names[] = {"gemm", "flash2", "flash3", "efficient"};
  k.mapping =
      fmt::format("{} attention{}, blocks {}x{}, {} thread blocks ({}/SM), {} KV blocks per slot{}{}{}",
                  names[static_cast<int>(path)], be.note, bq, bk, ctas, occ, iters_per_slot,
                  causal ? ", causal block skipping" : "", bias.note,
                  op.get("dropout", 0) ? ", dropout drawn in-kernel (Philox)" : "");
  set_dram_bytes(k, lv.dram);
  return k;
}

Kernel TensorCoreMapper::lower_decode_attention(const Op& op, const Hardware& hw) const {
  // Flash-decoding: few query rows, so the KV cache read dominates. K/V are split
  // along the sequence so that at least two blocks per SM stream it; a second
  // kernel combines the partial results. The memory-efficient kernel (PyTorch's
  // CUTLASS AttentionKernel, aten/src/ATen/native/transformers/cuda/mem_eff_attention)
  // has no split: one thread block per (batch, head, 64 query rows) reads that head's
  // whole cache, so few heads leave SMs idle (SDPA sends a decode step there with an
  // attn_mask where flash is preferred, on an A100).
  const Levels lv = levels_of(hw);
  const int64_t B = op.at("batch"), H = op.at("heads"), Hkv = op.get("kv_heads", H);
  const int64_t sq = op.at("sq"), skv = op.at("skv"), D = op.at("d");
  const double eb = dtype_bytes(op.dtype, 1);
  const AttnBackend be = attention_backend(op, m_s);
  const bool unsplit = be.path == MmaPath::efficient;
  // Query rows sharing one KV head (GQA packing); the efficient kernel runs each
  // query head on its own.
  const int64_t rows = unsplit ? sq : sq * (H / Hkv);
  const int64_t bk = 128;
  const int64_t splits = unsplit ? 1
                                 : std::clamp<int64_t>(ceil_div(2 * m_s.sm, B * Hkv), 1,
                                                       std::max<int64_t>(1, ceil_div(skv, 256)));
  const int64_t ctas = unsplit ? B * H * ceil_div(sq, 64) : B * Hkv * splits;
  const int64_t slots = std::min(ctas, 2 * m_s.sm);
  const int64_t sms = std::min(slots, m_s.sm);
  const int64_t tokens = ceil_div(skv, splits);
  const int64_t iters = ceil_div(ctas, slots) * ceil_div(tokens, bk);
  const int64_t g = ceil_div(iters, 256);
  const int64_t stages = ceil_div(iters, g);
  const double st = static_cast<double>(stages);
  const double q_bytes = static_cast<double>(B * H * sq * D) * eb;
  const double kv_bytes = 2.0 * static_cast<double>(B * Hkv * skv * D) * eb;
  const double o_bytes = static_cast<double>(B * H * sq * D) * dtype_bytes(op.out_dtype, 1);
  const double partials = splits > 1 ? static_cast<double>(B * H * sq * splits * (D + 2)) * 4.0 : 0;
  // Tensor-core m granularity is 16 rows (mma.sync m16n8k16).
  const int64_t mrows = ceil_div(rows, 16) * 16;
  const AttnBias bias = attention_bias(op, lv, unsplit ? MmaPath::efficient : MmaPath::flash2);

  Kernel k;
  k.op_kind = "attention";
  k.info.mma_path = static_cast<int64_t>(MmaPath::flash2);
  k.info.splits = splits;
  k.info.thread_blocks = ctas;
  k.info.launches = splits > 1 ? 2 : 1;
  k.info.bytes_in_flight = m_s.in_flight;
  Block b;
  b.repeat = stages;
  add_traffic(b.instrs, lv, Opcode::load, (kv_bytes + q_bytes + bias.dram) / st,
              (kv_bytes + q_bytes + bias.l2) / st, sms);
  b.instrs.push_back(mma(mrows, bk * g, D, op.dtype, slots));
  b.instrs.push_back(mma(mrows, D, bk * g, op.dtype, slots));
  const double scores = static_cast<double>(rows * bk * g);
  b.instrs.push_back(vec("exp", scores, slots, DType::fp32));
  b.instrs.push_back(vec("softmax",
                         (bias.present ? 6.0 : 5.0) * scores + static_cast<double>(rows * D * g) +
                             attention_dropout_lanes(op) * scores,
                         slots, DType::fp32));
  add_traffic(b.instrs, lv, Opcode::store, (o_bytes + (lv.l2.empty() ? partials : 0)) / st,
              (o_bytes + partials) / st, sms);
  add_bias_preparation(k, bias, lv, sms);
  k.blocks.push_back(std::move(b));
  if (splits > 1) {
    Block c;
    add_traffic(c.instrs, lv, Opcode::load, lv.l2.empty() ? partials : 0, partials, sms);
    c.instrs.push_back(vec("combine", 3.0 * partials / 4.0 / static_cast<double>(sms), sms, DType::fp32));
    k.blocks.push_back(std::move(c));
  }
  k.mapping = fmt::format("decode attention ({}){}, {} KV splits, {} thread blocks, {} stages{}",
                          unsplit ? "memory-efficient, no KV split" : "flash-decoding", be.note, splits, ctas,
                          stages, bias.note);
  set_dram_bytes(k, lv.dram);
  return k;
}
}  // namespace tessera

namespace tessera {

// No fused backend takes the op: at::_scaled_dot_product_attention_math's kernels
// (GraphBuilder::attention_sdpa_math, the same chain the `attention` workload's
// path=sdpa_math builds op by op), each lowered as its own kernel and laid end to
// end in one kernel of several launches. The kernel facts the models read per
// kernel (tiles, occupancy, thread blocks, mma path) are the Q.K^T GEMM's, so the
// memory-bound steps are timed as streaming blocks without their row-kernel
// latency chains; path=sdpa_math on the workload times every kernel on its own.
// A backward op (attr backward) lays out the kernels autograd runs through that
// chain (GraphBuilder::attention_sdpa_math_backward) the same way.
Kernel TensorCoreMapper::lower_attention_math(const Op& op, const Hardware& hw, const std::string& why) const {
  Graph g;
  GraphBuilder b(g, op.dtype);
  AttnShape a;
  a.batch = op.at("batch");
  a.heads = op.at("heads");
  a.kv_heads = op.get("kv_heads", a.heads);
  a.sq = op.at("sq");
  a.skv = op.at("skv");
  a.d = op.at("d");
  a.causal = op.get("causal", 0) != 0;
  a.bias = op.get("bias", 0) != 0;
  a.bias_shared = op.get("bias_shared", 0) != 0;
  a.bias_head_shared = op.get("bias_head_shared", 0) != 0;
  a.bias_strided = op.get("bias_strided", 0) != 0;
  a.dropout = op.get("dropout", 0) != 0;
  a.qkv_packed = op.get("qkv_packed", 0) != 0;
  const bool backward = op.get("backward", 0) != 0;
  const std::string name = op.name.empty() ? "attention" : op.name;
  if (backward)
    b.attention_sdpa_math_backward(name, a);
  else
    b.attention_sdpa_math(name, {}, a);
  Kernel k;
  int64_t launches = 0, exposed_startups = 0;
  double dram = 0, later_startups = 0, mma_stages = 0;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    Kernel part = lower(g, static_cast<int>(i), hw);
    launches += part.info.launches.value_or(1);
    dram += part.info.dram_bytes.value_or(0);
    // Each GEMM's wave start-ups (TensorCoreModel::kernel_overhead_s): its first
    // wave's exposed, its later waves' spread evenly over the mma stages of all.
    exposed_startups += part.info.startup_waves.value_or(0);
    double stages = 0;
    for (const Block& blk : part.blocks)
      for (const Instr& in : blk.instrs)
        if (in.op == Opcode::mma) {
          stages += static_cast<double>(blk.repeat);
          break;
        }
    later_startups += part.info.startup_per_stage.value_or(0) * stages;
    mma_stages += stages;
    if (g.ops[i].name.ends_with(backward ? ".grad_p" : ".qk")) k.info = part.info;
    for (Block& blk : part.blocks) k.blocks.push_back(std::move(blk));
  }
  k.op_kind = "attention";
  k.info.launches = launches;
  k.info.dram_bytes = dram;
  k.info.startup_waves = exposed_startups;
  k.info.startup_per_stage.reset();
  if (later_startups > 0 && mma_stages > 0) k.info.startup_per_stage = later_startups / mma_stages;
  const bool upcast = op.dtype == DType::bf16 || op.dtype == DType::fp16;
  if (backward)
    k.mapping =
        fmt::format("math attention backward{}, {} kernels: {}dP and dV, softmax backward, dQ and dK{}", why,
                    launches, upcast ? "dO to fp32, " : "", upcast ? ", casts back" : "");
  else
    k.mapping = fmt::format("math attention{}, {} kernels: {}Q.K^T, {}softmax, {}P.V", why, launches,
                            upcast ? "fp32 upcast, " : "", a.bias || a.causal ? "mask add, " : "",
                            a.dropout ? "dropout, " : "");
  return k;
}

}  // namespace tessera
