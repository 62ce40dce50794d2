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
#include "models/memory/memory.h"
#include "core/error.h"
#include "models/hardware.h"

namespace tessera::tc_build {

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
};

inline Levels levels_of(const Hardware& hw) {
  Levels lv;
  const auto& mems = hw.memories();
  if (mems.empty()) throw InputError(fmt::format("{}: tensorcore needs at least one memory level", hw.source));
  lv.dram = mems.back().first;
  if (mems.size() > 1) {
    lv.l2 = mems.front().first;
    lv.l2_capacity = mems.front().second->capacity_bytes();
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

}  // namespace tessera::tc_build
