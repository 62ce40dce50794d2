#pragma once
// Text form of a Program (what `tessera compile --emit asm` writes and
// `tessera run --program FILE` reads). assemble(disassemble(p)) == p for every
// Program: every field is written, doubles with 17 significant digits.
//
// Grammar (one statement per line; ';' or '#' starts a comment outside quotes):
//   .program target=S hardware=S workload=S
//   .kernel name=S op_kind=S op_index=I flops=D bytes=D mapping=S
//   .attr KEY D                         a KernelInfo field (KEY: one of the names of
//                                       kernel_info_fields(), isa/isa.h; an unknown
//                                       name is an error)
//   .deps [I ...]                       indices of the earlier kernels this one waits
//                                       for (Kernel::deps); at most once per kernel,
//                                       before its first .block. Without it a kernel
//                                       depends on the previous kernel (none for the
//                                       first): files written before .deps existed
//                                       keep running as one sequential stream. The
//                                       disassembler always writes it (empty: none).
//   .block repeat=I                     following instructions belong to this block
//   load  SRC->DST bytes=I [count=I]    store likewise
//   mma   MxNxK a=FMT acc=FMT [count=I]
//   vec   OP elems=I [count=I] [a=FMT]
//   send  PEER bytes=I                  recv likewise (PEER is Instr::dst)
//   coll  KIND bytes=I ranks=I
//   barrier | wait
// Any instruction also takes key=value for every Instr field (src, dst, bytes,
// m, n, k, count, a, acc, name, elems, ranks, unit); the disassembler uses that
// form for fields its short form cannot carry, and writes unit= only where it
// differs from the opcode's default (default_unit, isa/isa.h). S is a word of [A-Za-z0-9_.:/+-] or a
// double-quoted string with \\ \" \n \t \r \xHH escapes; I is a decimal
// integer; D a decimal floating-point number (inf, nan accepted); FMT a format
// name (core/dtype.h).
#include <string>
#include <string_view>

#include "isa/isa.h"

namespace tessera {

std::string disassemble(const Program& p);
// Throws InputError "SOURCE:LINE: reason" on malformed text.
Program assemble(std::string_view text, std::string_view source_name);

}  // namespace tessera
