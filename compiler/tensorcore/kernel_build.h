#pragma once
// Small builders the tensorcore mapper files share to assemble a Kernel: load and
// store instructions between a memory level and shared memory, mma and vec
// instructions, the DRAM and L2 level names of a hardware description, and the
// kernel's total DRAM traffic (the HBM model's ramp is charged once per kernel).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "isa/isa.h"
#include "core/math.h"
#include "models/memory/cache.h"
#include "models/memory/memory.h"
#include "core/error.h"
#include "models/hardware.h"

namespace tessera::tc_build {

// Lane operations of PyTorch's accurate expf and IEEE division (no fast-math):
// expf = ex2.approx on the SFU plus ~8 lane ops (range reduction, scaling, special
// cases), x / y = rcp.approx on the SFU plus ~8 lane ops (Newton-Raphson step and
// fix-up); the row kernels (vector.cpp) and batch-norm's Welford (batchnorm.cpp).
constexpr double k_exp_lanes = 8, k_div_lanes = 8;

// Dropout's random numbers: Philox-4x32 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11), four 32-bit numbers per call. A round is two
// 32 x 32 -> 64-bit products (curand's __umulhi and low half, FlashAttention's
// mul.wide.u32: four 32-bit integer multiplies, which sm_70..sm_90 issue at 64 per
// SM and clock, i.e. two FP32-lane slots each on sm_80+'s 128-lane SMs), two
// three-input XORs (LOP3) and the two key increments: 8 + 2 + 2 = 12 lane slots.
constexpr double k_philox_round_lanes = 12;
// native_dropout's kernel (aten/src/ATen/native/cuda/Dropout.cu,
// fused_dropout_kernel_vec): curand_uniform4 (curand_Philox4x32_10: 10 rounds) per
// 4 elements = 30 lane slots per element, the uint -> float conversion and scaling
// (2), the keep test, the scaled select and the mask byte (3): 35.
constexpr double k_dropout_lanes = 10 * k_philox_round_lanes / 4 + 2 + 3;
// Dropout inside a fused attention kernel, per score:
//  * FlashAttention-2 (csrc/flash_attn/src/philox.cuh, dropout.h): a 7-round
//    Philox per 16 scores (its 128 bits compared as 16 bytes against an 8-bit
//    threshold) plus the packed half2 compare and select (1): 7 x 12 / 16 + 1 =
//    6.25 lane slots. FA2-style dropout measured on sm_121 (flash-attention PR
//    #2439, bf16, p = 0.1) costs 13-32 % of the forward and 4-17 % of the
//    backward at head dim 64, 0-16 % and 0-6 % at 128; with this count the
//    modelled FA2 kernels (a100-80gb and h100-sxm, batch 2, 16 heads, 2048
//    tokens) take +20 % / +8 % at head dim 64 and +12 % / +4 % at 128;
//  * cuDNN's fused kernels draw Philox numbers in-kernel too; their count per
//    score is not published and is taken as FlashAttention-2's;
//  * the memory-efficient kernel (mem_eff_attention kernel_forward.h /
//    kernel_backward.h) calls curand_uniform4 per 4 scores, ~34 lane slots per
//    score by count, but the kernel runs far below the tensor-core peak and
//    hides most of it: xFormers' A100 timings of the same kernel (xformers PR
//    #587, bf16, B = 8, H = 64, K = 64, backward with p = 0.3 against p = 0: +0.1
//    ms on 1.1 ms at M = 512, +0.3 ms on 4.1 ms at M = 1024) show 5.5-7.3 exposed
//    lane slots per score at A100's 64 FP32 lanes per SM: it is timed with the
//    same 6.25 (modelled backward: +8 % at head dim 64, +4.5 % at 128, against
//    the measured +7-9 % and +3-4 %).
// A backward kernel draws the same numbers again to rebuild the mask.
constexpr double k_fused_attention_dropout_lanes = 7 * k_philox_round_lanes / 16 + 1;

inline int64_t to_bytes(double b) { return static_cast<int64_t>(std::llround(std::max(0.0, b))); }

inline Instr transfer(Opcode op, const std::string& level, double bytes_per_copy, int64_t count) {
  Instr in;
  in.op = op;
  in.src = op == Opcode::load ? level : "smem";
  in.dst = op == Opcode::load ? "smem" : level;
  in.bytes = to_bytes(bytes_per_copy);
  in.count = count;
  return in;
}

// One mma instruction: `count` thread blocks each multiply m x k by k x n.
inline Instr mma(int64_t m, int64_t n, int64_t k, DType a, int64_t count) {
  Instr in;
  in.op = Opcode::mma;
  in.m = m;
  in.n = n;
  in.k = k;
  in.a = a;
  in.acc = (a == DType::int8 || a == DType::uint8 || a == DType::int4) ? DType::int32 : DType::fp32;
  in.count = count;
  return in;
}

// `elems_per_copy` lane (or SFU, by name) operations on each of `count` SMs.
inline Instr vec(const std::string& name, double elems_per_copy, int64_t count, DType t) {
  Instr in;
  in.op = Opcode::vec;
  in.name = name;
  in.elems = static_cast<int64_t>(std::llround(std::max(0.0, elems_per_copy)));
  in.count = count;
  in.a = t;
  return in;
}

// The outermost level (DRAM) and the innermost (the L2 every SM transfer passes).
struct Levels {
  std::string dram, l2;
  double l2_capacity = 0;
  double l2_dirty_share = 1;   // cache dirty_share (1 for an L2 of another impl)
};

inline Levels levels_of(const Hardware& hw) {
  Levels lv;
  const auto& mems = hw.memories();
  if (mems.empty()) throw InputError(fmt::format("{}: tensorcore needs at least one memory level", hw.source));
  lv.dram = mems.back().first;
  if (mems.size() > 1) {
    lv.l2 = mems.front().first;
    lv.l2_capacity = mems.front().second->capacity_bytes();
    if (const auto* c = dynamic_cast<const CacheMemory*>(mems.front().second.get())) lv.l2_dirty_share = c->dirty_share();
  }
  return lv;
}

// A transfer of `dram_bytes` from/to DRAM and `l2_bytes` through the L2, spread
// over `count` SMs (nothing when count or the bytes are 0).
inline void add_traffic(std::vector<Instr>& out, const Levels& lv, Opcode op, double dram_bytes, double l2_bytes,
                        int64_t count) {
  if (count <= 0) return;
  const double c = static_cast<double>(count);
  if (dram_bytes > 0) out.push_back(transfer(op, lv.dram, dram_bytes / c, count));
  if (!lv.l2.empty() && l2_bytes > 0) out.push_back(transfer(op, lv.l2, l2_bytes / c, count));
}

inline void set_dram_bytes(Kernel& k, const std::string& dram) {
  double total = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if ((in.op == Opcode::load && in.src == dram) || (in.op == Opcode::store && in.dst == dram))
        total += static_cast<double>(in.bytes) * static_cast<double>(in.count) * static_cast<double>(b.repeat);
  k.info.dram_bytes = total;
}

// The L2 is a write-back cache: when a kernel starts with `dirty_bytes` of other
// data's dirty lines in it (a write stream just before, such as a benchmark's cache
// flush by writing a large buffer), every line the kernel allocates evicts one,
// and a dirty victim goes to DRAM first. With D = min(dirty_bytes, dirty_share x C)
// dirty bytes spread over an L2 of capacity C, allocating A bytes evicts
// D (1 - exp(-A / C)) of them (each allocation hits a dirty line with probability
// dirty / C, the first-order rate of a cache replacing by address, not by age).
// The kernel's own writes W stay dirty in the L2 in place of those it evicted
// (up to D), and the mapper already charges them as DRAM writes, so the write-back
// it adds is max(0, D (1 - exp(-(R + W) / C)) - min(W, D)): a pure read stream pays
// up to D, a copy (W = R) about nothing. Added as DRAM stores spread over the
// kernel's blocks in proportion to their DRAM traffic (they share its bandwidth).
// Returns the bytes added.
inline double add_dirty_writeback(Kernel& k, const Levels& lv, double dirty_bytes) {
  if (lv.l2.empty() || lv.l2_capacity <= 0 || !(dirty_bytes > 0)) return 0;
  double reads = 0, writes = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs) {
      const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count) * static_cast<double>(b.repeat);
      if (in.op == Opcode::load && in.src == lv.dram) reads += bytes;
      if (in.op == Opcode::store && in.dst == lv.dram) writes += bytes;
    }
  const double total = reads + writes;
  if (total <= 0) return 0;
  const double c = lv.l2_capacity;
  const double d = std::min(dirty_bytes, lv.l2_dirty_share * c);
  const double extra = std::max(0.0, d * (1.0 - std::exp(-total / c)) - std::min(writes, d));
  if (extra <= 0) return 0;
  for (Block& b : k.blocks) {
    double here = 0;
    int64_t count = 1;
    for (const Instr& in : b.instrs)
      if ((in.op == Opcode::load && in.src == lv.dram) || (in.op == Opcode::store && in.dst == lv.dram)) {
        here += static_cast<double>(in.bytes) * static_cast<double>(in.count);
        count = std::max(count, in.count);
      }
    if (here > 0) b.instrs.push_back(transfer(Opcode::store, lv.dram, extra * here / total / static_cast<double>(count), count));
  }
  set_dram_bytes(k, lv.dram);
  return extra;
}

}  // namespace tessera::tc_build
