#pragma once
// The instruction set compiled programs run on. A Program is a list of kernels
// launched in order (one per IR op, as a framework launches them); each kernel
// names the earlier kernels whose outputs it reads (Kernel::deps), so that an
// engine with several streams may overlap independent kernels. A kernel is a
// list of blocks; each block's instructions are one pipeline stage repeated
// `repeat` times. Under double buffering (every target here has it) the loads of
// stage i+1 overlap the compute of stage i; see sim/engines/pipeline.h for the
// exact timing rule both engines apply.
//
// Instructions:
//   load  SRC->DST bytes=N          DMA a tile between memory levels (e.g. dram->sram)
//   store SRC->DST bytes=N          DMA results back
//   mma   MxNxK a=FMT acc=FMT count=C   C parallel tile multiply-accumulates
//   vec   OP elems=N count=C        vector/special-function work on N elements
//   barrier                          all engines of the core synchronise
//   wait                             wait for outstanding DMA
//   send/recv PEER bytes=N           point-to-point transfer over a link
//   coll  KIND bytes=N ranks=R       collective over R ranks
//
// Every instruction occupies one unit: a component of the hardware, by path
// (Instr::unit). Left empty it is the opcode's default (instr_unit below): a load
// occupies the memory level it reads (memory.SRC), a store the level it writes
// (memory.DST), everything else the compute component. The engines ask that
// component what the instruction costs; the text form writes `unit=PATH` only
// when it differs from the default.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera {

enum class Opcode { load, store, mma, vec, barrier, wait, send, recv, coll };

std::string_view opcode_name(Opcode op);

struct Instr {
  Opcode op = Opcode::barrier;
  std::string src, dst;      // load/store: memory levels; send/recv: peer in `dst`
  int64_t bytes = 0;         // load/store/send/recv/coll; mma: on-chip buffer bytes it touches
  int64_t m = 0, n = 0, k = 0;  // mma tile shape
  int64_t count = 1;         // parallel copies (tiles in flight, cores, SMs)
  DType a = DType::fp32;     // mma operand format / vec element format
  DType acc = DType::fp32;   // mma accumulator format
  std::string name;          // vec: operation (exp, add, norm, ...); coll: kind
  int64_t elems = 0;         // vec: elements per copy
  int64_t ranks = 0;         // coll
  std::string unit;          // component path it occupies; empty = the opcode's default

  bool operator==(const Instr&) const = default;
};

// The opcode's default unit: load -> "memory." + src, store -> "memory." + dst,
// anything else -> "compute".
std::string default_unit(const Instr& in);
// The unit `in` occupies: in.unit, or default_unit(in) when that is empty.
std::string instr_unit(const Instr& in);

struct Block {
  int64_t repeat = 1;
  std::vector<Instr> instrs;
  bool operator==(const Block&) const = default;
};

struct Kernel {
  std::string name;                    // unique within the program
  std::string op_kind;                 // IR op kind it implements
  int op_index = -1;                   // index of the IR op
  // Indices (in Program::kernels) of the kernels this one waits for: its IR op's
  // producers. Each is smaller than the kernel's own index; empty = no producer.
  std::vector<int> deps;
  std::string mapping;                 // human-readable mapping summary
  double flops = 0;                    // of the IR op (reports)
  double bytes = 0;                    // minimum bytes of the IR op (reports)
  std::map<std::string, double> attrs; // mapper facts the cost models read
  std::vector<Block> blocks;

  double attr(std::string_view key, double fallback) const;
  bool operator==(const Kernel&) const = default;
};

struct Program {
  std::string target;                  // compute implementation it was compiled for
  std::string hardware;                // hardware name
  std::string workload;                // workload spec
  std::vector<Kernel> kernels;
  bool operator==(const Program&) const = default;
};

}  // namespace tessera
