// Fused attention backward on the tensor-core SMs: FlashAttention-2's backward
// (Dao 2023, Algorithm 2; csrc/flash_attn/src/flash_bwd_kernel.h and
// flash_bwd_launch_template.h, which PyTorch's flash backend builds), the kernel
// PyTorch's _scaled_dot_product_flash_attention_backward runs. Three launches:
//   1. flash_bwd_dot_do_o_kernel: D = rowsum(dO * O) per query row (fp32) and the
//      fp32 dQ accumulator cleared;
//   2. the main kernel, parallel over KV blocks (seqk-parallel): each thread block
//      keeps its K_j, V_j block (and the dK_j, dV_j accumulators) on chip and
//      streams the query blocks Q_i, dO_i (with their log-sum-exp and D) from the
//      L2: S = Q_i K_j^T (recomputed), P = exp(S - LSE), dV_j += P^T dO_i,
//      dP = dO_i V_j^T, dS = P * (dP - D_i), dK_j += dS^T Q_i, dQ_i += dS K_j with
//      fp32 atomic adds into the accumulator (through the L2); causal masking skips
//      the query blocks above the diagonal;
//   3. flash_bwd_convert_dq_kernel: the fp32 accumulator to dQ in the input format.
// Grouped-query attention: the main kernel writes dK, dV per query head and
// mha_bwd sums each group (two at::sum_out calls: two more launches).
// FlashAttention-3 / cuDNN (attr backend 2, or the hardware's default `flash3`):
// the same work and block sizes (FA3's hopper/flash_bwd_launch_template.h: head
// dim 64 128 x 128, 128 64 x 128), its MMAs issued from TMA-fed shared memory as
// in a GEMM mainloop, at the GEMM efficiency times attention_backward_rate_flash3,
// and its softmax work partly hidden behind the other warpgroup's MMAs as in the
// forward (attention_softmax_exposed_flash3 of it exposed).
#include <algorithm>
#include <cmath>

#include "compiler/tensorcore/attention_select.h"
#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"

namespace tessera {

Kernel TensorCoreMapper::lower_attention_backward(const Op& op, const Hardware& hw) const {
  using namespace tc_build;
  const Levels lv = levels_of(hw);
  const int64_t B = op.at("batch"), H = op.at("heads"), Hkv = op.get("kv_heads", H);
  const int64_t sq = op.at("sq"), skv = op.at("skv"), D = op.at("d");
  const bool causal = op.get("causal", 0) != 0 && sq > 1;
  const double eb = dtype_bytes(op.dtype, 1), gb = dtype_bytes(op.out_dtype, 1);

  // Block sizes of the sm80 backward kernels (flash_bwd_launch_template.h,
  // run_mha_bwd_hdim*): head dim <= 64: 128 x 128 (kBlockM x kBlockN); <= 128:
  // 64 x 128; larger: 64 x 64. kBlockM rows of queries, kBlockN keys.
  const int64_t bq = D <= 64 ? 128 : 64;
  const int64_t bk = D <= 128 ? 128 : 64;
  const int64_t nq = ceil_div(sq, bq), nk = ceil_div(skv, bk);
  const int64_t ctas = B * H * nk;
  // Shared memory per thread block: K_j and V_j, Q_i and dO_i double-buffered, and
  // the P / dS tile: occupancy 1 or 2.
  const double tile_smem = 2.0 * static_cast<double>(bk * D) * eb + 4.0 * static_cast<double>(bq * D) * eb +
                           static_cast<double>(bq * bk) * eb;
  const int64_t occ = std::clamp<int64_t>(static_cast<int64_t>(m_s.smem / tile_smem), 1, 2);
  const int64_t slots = std::min(ctas, m_s.sm * occ);
  const int64_t sms = std::min(slots, m_s.sm);

  // Query blocks each KV block visits: all, or with a causal mask those at or
  // below the diagonal (query q sees key t when t <= q + skv - sq).
  double total_iters = 0;
  int64_t max_iters = 0;
  for (int64_t j = 0; j < nk; ++j) {
    int64_t first = 0;
    if (causal) first = std::max<int64_t>(0, j * bk - (skv - sq)) / bq;
    const int64_t it = std::max<int64_t>(0, nq - first);
    total_iters += static_cast<double>(it);
    max_iters = std::max(max_iters, it);
  }
  total_iters *= static_cast<double>(B * H);
  max_iters = std::max<int64_t>(max_iters, 1);
  // Iterations of the busiest slot (as the forward: the longest blocks first).
  const int64_t iters_per_slot =
      causal ? std::max<int64_t>(static_cast<int64_t>(std::ceil(total_iters / static_cast<double>(slots))), max_iters)
             : ceil_div(ctas, slots) * max_iters;
  const int64_t g = ceil_div(iters_per_slot, 256);
  const int64_t stages = ceil_div(iters_per_slot, g);
  const double st = static_cast<double>(stages);

  const double q_elems = static_cast<double>(B * H * sq * D);
  const double kv_elems = 2.0 * static_cast<double>(B * Hkv * skv * D);
  const double rows = static_cast<double>(B * H * sq);
  const double dkv_elems = 2.0 * static_cast<double>(B * H * skv * D);   // per query head (GQA: expanded)
  const double dq_accum = 4.0 * q_elems;                                  // fp32

  // The forward's kernel family (attention_select.h; requires_grad is set for a
  // backward op). The memory-efficient backward is timed as FlashAttention-2's;
  // the math path's backward is its own chain (lower_attention_math).
  const bool fa3 = attention_backend(op, m_s).path == MmaPath::flash3;
  Kernel k;
  k.op_kind = "attention";
  k.info.mma_path = static_cast<int64_t>(fa3 ? MmaPath::flash3_backward : MmaPath::flash2_backward);
  if (fa3) k.info.vec_exposed = m_s.fa3_exposed;
  k.info.block_q = bq;
  k.info.block_kv = bk;
  k.info.thread_blocks = ctas;
  k.info.launches = Hkv < H ? 5 : 3;
  k.info.bytes_in_flight = m_s.in_flight;

  // Memory-bound launches: stages of at most 4 MiB, as the streaming kernels.
  const auto streaming = [&](double reads, double writes, double lane_ops) {
    const int64_t n = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((reads + writes) / (4.0 * 1024 * 1024))), 1, 64);
    Block b;
    b.repeat = n;
    const double per = static_cast<double>(n);
    add_traffic(b.instrs, lv, Opcode::load, reads / per, reads / per, m_s.sm);
    b.instrs.push_back(vec("attention_backward", lane_ops / per / static_cast<double>(m_s.sm), m_s.sm, DType::fp32));
    add_traffic(b.instrs, lv, Opcode::store, writes / per, writes / per, m_s.sm);
    return b;
  };
  // 1. D = rowsum(dO * O): reads O and dO, writes D; clears the dQ accumulator.
  k.blocks.push_back(streaming(2.0 * q_elems * gb, 4.0 * rows + dq_accum, 2.0 * q_elems));

  // 2. Main kernel. DRAM: Q, dO, LSE and D once (the query blocks of a head are
  // reused from the L2 by all its KV blocks, which run together), K and V once;
  // dK, dV written once; the dQ accumulator lives in the L2 and is written back
  // once. L2 -> SM: every iteration loads Q_i, dO_i (and LSE_i, D_i); every thread
  // block loads its K_j, V_j once; the dQ atomics go to the L2 (4 bytes each).
  Block m;
  m.repeat = stages;
  const double gd = static_cast<double>(g);
  const double dram_in = (q_elems * eb + q_elems * gb + kv_elems * eb + 8.0 * rows) / st;
  const double l2_in = static_cast<double>(slots) * gd * (2.0 * static_cast<double>(bq * D) * eb + 8.0 * static_cast<double>(bq)) +
                       static_cast<double>(ctas) * 2.0 * static_cast<double>(bk * D) * eb / st;
  add_traffic(m.instrs, lv, Opcode::load, dram_in, l2_in, sms);
  const int64_t qg = bq * g;   // query rows one slot handles per stage
  m.instrs.push_back(mma(qg, bk, D, op.dtype, slots));   // S = Q K^T (recomputed)
  m.instrs.push_back(mma(bk, D, qg, op.dtype, slots));   // dV += P^T dO
  m.instrs.push_back(mma(qg, bk, D, op.dtype, slots));   // dP = dO V^T
  m.instrs.push_back(mma(bk, D, qg, op.dtype, slots));   // dK += dS^T Q
  m.instrs.push_back(mma(qg, D, bk, op.dtype, slots));   // dQ += dS K
  // Per score: exp of the recomputed P on the SFU; scale and subtract the LSE,
  // dP - D, times P, and the conversions of P and dS to 16 bits on the lanes (6);
  // with dropout the mask drawn again (attention_dropout_lanes).
  const double scores = static_cast<double>(qg * bk);
  m.instrs.push_back(vec("exp", scores, slots, DType::fp32));
  m.instrs.push_back(
      vec("attention_backward", (6.0 + attention_dropout_lanes(op)) * scores, slots, DType::fp32));
  const double atomics = static_cast<double>(slots) * gd * 4.0 * static_cast<double>(bq * D);
  const double dram_out = (dkv_elems * gb + dq_accum) / st;
  add_traffic(m.instrs, lv, Opcode::store, dram_out, atomics + dkv_elems * gb / st, sms);
  k.blocks.push_back(std::move(m));

  // 3. dQ from the fp32 accumulator.
  k.blocks.push_back(streaming(dq_accum, q_elems * gb, q_elems));
  // GQA: dK and dV summed over the query heads of each KV head.
  if (Hkv < H) k.blocks.push_back(streaming(dkv_elems * gb, kv_elems * gb, dkv_elems));

  k.mapping = fmt::format(
      "{} attention backward (dot(dO,O), KV-parallel main loop, dQ convert{}), blocks {}x{}, "
      "{} thread blocks ({}/SM), {} query blocks per slot{}{}",
      fa3 ? "flash3" : "flash2", Hkv < H ? ", GQA dK/dV sums" : "", bq, bk, ctas, occ, iters_per_slot,
      causal ? ", causal block skipping" : "",
      op.get("dropout", 0) ? ", dropout mask drawn again (Philox)" : "");
  set_dram_bytes(k, lv.dram);
  return k;
}

}  // namespace tessera
