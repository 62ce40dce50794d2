// ISA text form: exact round trips and errors naming source:line.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "isa/asm.h"
#include "core/error.h"
#include "models/hardware.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Contains;

namespace {

Instr ins(Opcode op) {
  Instr i;
  i.op = op;
  return i;
}

Program hand_program() {
  Program p;
  p.target = "tensorcore";
  p.hardware = "h100-sxm";
  p.workload = "gemm:m=4096,n=4096,k=4096,dtype=bf16";
  Kernel k;
  k.name = "gemm";
  k.op_kind = "matmul";
  k.op_index = 0;
  k.mapping = "tile 128x256x64, 2 CTAs/SM, split-k 1";
  k.flops = 2.0 * 4096 * 4096 * 4096;
  k.bytes = 100663296.0;
  k.info.thread_blocks = 512;
  k.info.mma_useful = 0.8123456789012345;
  k.info.bytes_in_flight = 1.0 / 3.0;
  Block b;
  b.repeat = 64;
  Instr ld = ins(Opcode::load);
  ld.src = "hbm";
  ld.dst = "smem";
  ld.bytes = 49152;
  ld.count = 132;
  Instr mma = ins(Opcode::mma);
  mma.m = 128;
  mma.n = 256;
  mma.k = 64;
  mma.a = DType::bf16;
  mma.acc = DType::fp32;
  mma.count = 132;
  Instr v = ins(Opcode::vec);
  v.name = "exp";
  v.elems = 4096;
  v.a = DType::fp16;
  b.instrs = {ld, mma, v, ins(Opcode::wait), ins(Opcode::barrier)};
  Block tail;
  Instr st = ins(Opcode::store);
  st.src = "smem";
  st.dst = "hbm";
  st.bytes = 65536;
  tail.instrs = {st};
  k.blocks = {b, tail};
  p.kernels.push_back(k);

  Kernel c;
  c.name = "l0.allreduce";
  c.op_kind = "allreduce";
  c.op_index = 1;
  Block cb;
  Instr coll = ins(Opcode::coll);
  coll.name = "allreduce";
  coll.bytes = 1 << 20;
  coll.ranks = 8;
  Instr send = ins(Opcode::send);
  send.dst = "gpu1";
  send.bytes = 4096;
  Instr recv = ins(Opcode::recv);
  recv.dst = "gpu0";
  recv.bytes = 4096;
  cb.instrs = {coll, send, recv};
  c.blocks = {cb};
  p.kernels.push_back(c);
  return p;
}

}  // namespace

TEST_CASE("asm: hand-built program round-trips exactly", "[asm]") {
  const Program p = hand_program();
  const std::string text = disassemble(p);
  CHECK_THAT(text, Contains("  load hbm->smem bytes=49152 count=132\n"));
  CHECK_THAT(text, Contains("  mma 128x256x64 a=bf16 acc=fp32 count=132\n"));
  CHECK_THAT(text, Contains("  vec exp elems=4096 a=fp16\n"));
  CHECK_THAT(text, Contains("  coll allreduce bytes=1048576 ranks=8\n"));
  CHECK_THAT(text, Contains("  send gpu1 bytes=4096\n"));
  CHECK_THAT(text, Contains("mapping=\"tile 128x256x64, 2 CTAs/SM, split-k 1\""));
  const Program back = assemble(text, "p.tasm");
  CHECK(back == p);
  CHECK(disassemble(back) == text);
}

TEST_CASE("asm: awkward strings, doubles and odd fields round-trip", "[asm]") {
  Program p;
  p.target = "";
  p.hardware = "a \"quoted\" name\\with\ttab\nand newline; # not a comment";
  p.workload = "x=1,y=2";
  Kernel k;
  k.name = "k with spaces";
  k.op_kind = "";
  k.op_index = -1;
  k.flops = 0.1 + 0.2;  // 0.30000000000000004 needs 17 digits
  k.bytes = 1e300;
  k.info.vec_exposed = -0.0;
  k.info.mma_useful = 5e-324;
  k.info.bytes_in_flight = std::numeric_limits<double>::infinity();
  k.info.row_reductions_per_trip = 1.5;
  k.info.launches = INT64_C(9007199254740991);   // largest integer a double holds exactly
  k.info.macs = std::numeric_limits<double>::max();
  Block b;
  b.repeat = 0;
  Instr ld = ins(Opcode::load);
  ld.src = "dram bank 0";  // not a word: written as src="..."
  ld.dst = "";
  ld.bytes = INT64_MAX;
  Instr weird = ins(Opcode::barrier);  // fields a barrier does not use are still kept
  weird.bytes = 7;
  weird.m = 1;
  weird.name = "\x01\x7f";
  weird.a = DType::nvfp4;
  Instr v = ins(Opcode::vec);  // empty name
  v.elems = 3;
  Instr mma = ins(Opcode::mma);  // zero tile, default formats
  b.instrs = {ld, weird, v, mma};
  k.blocks = {b, Block{}};
  p.kernels = {k, Kernel{}};
  const std::string text = disassemble(p);
  const Program back = assemble(text, "p.tasm");
  CHECK(back == p);
  REQUIRE(back.kernels[0].info.vec_exposed.has_value());
  CHECK(std::signbit(*back.kernels[0].info.vec_exposed));
  CHECK(back.kernels[0].flops == 0.1 + 0.2);
  CHECK(disassemble(back) == text);
  // An empty program too.
  CHECK(assemble(disassemble(Program{}), "e.tasm") == Program{});
}

TEST_CASE("asm: the KernelInfo table is sorted, one member per field, and covers every field", "[asm]") {
  const auto fields = kernel_info_fields();
  REQUIRE(!fields.empty());
  KernelInfo all;
  for (size_t i = 0; i < fields.size(); ++i) {
    const KernelInfoField& f = fields[i];
    CHECK((f.real == nullptr) != (f.integer == nullptr));
    CHECK(!f.description.empty());
    if (i > 0) CHECK(fields[i - 1].name < f.name);
    CHECK(find_kernel_info_field(f.name) == &f);
    if (f.real) all.*f.real = static_cast<double>(i) + 0.5;
    if (f.integer) all.*f.integer = static_cast<int64_t>(i);
  }
  CHECK(find_kernel_info_field("tiles") == nullptr);
  // Every field is written and read back through the table.
  Program p;
  Kernel k;
  k.name = "k";
  k.info = all;
  p.kernels = {k};
  const Program back = assemble(disassemble(p), "all.tasm");
  CHECK(back.kernels.at(0).info == all);
  // Every member of KernelInfo has a table entry (all members are 16-byte optionals).
  static_assert(sizeof(std::optional<int64_t>) == sizeof(std::optional<double>));
  CHECK(sizeof(KernelInfo) == fields.size() * sizeof(std::optional<double>));
}

TEST_CASE("asm: hand-written text with comments and key=value forms", "[asm]") {
  const Program p = assemble(R"(; a comment
.program target=systolic hardware=tpu-v1 workload="gemm:m=8,n=8,k=8"
.kernel name=k0 op_kind=matmul op_index=0 flops=1024 bytes=384
.attr mma_folds 1
.block repeat=2
  load dram->sram bytes=128   # operand tile
  mma 8x8x8 a=int8 acc=int32
  store src=sram dst=dram bytes=256 count=1
)", "h.tasm");
  REQUIRE(p.kernels.size() == 1);
  const Kernel& k = p.kernels[0];
  CHECK(k.info.mma_folds == 1);
  CHECK(!k.info.macs);
  REQUIRE(k.blocks.size() == 1);
  CHECK(k.blocks[0].repeat == 2);
  REQUIRE(k.blocks[0].instrs.size() == 3);
  CHECK(k.blocks[0].instrs[1].a == DType::int8);
  CHECK(k.blocks[0].instrs[2].op == Opcode::store);
  CHECK(k.blocks[0].instrs[2].dst == "dram");
}

TEST_CASE("asm: errors name source:line and the reason", "[asm][errors]") {
  const std::string head = ".program target=t hardware=h workload=w\n.kernel name=k\n.block repeat=1\n";
  CHECK_THROWS_AS(assemble(head + "  mmx 1x1x1\n", "e.tasm"), InputError);
  CHECK_THROWS_WITH(assemble(head + "  mmx 1x1x1\n", "e.tasm"),
                    Contains("e.tasm:4: unknown instruction 'mmx'; accepted: load, store, mma, vec, "
                             "barrier, wait, send, recv, coll"));
  CHECK_THROWS_WITH(assemble(head + "  mma 1x1 a=bf16\n", "e.tasm"),
                    Contains("e.tasm:4: mma expects a tile MxNxK, got '1x1'"));
  CHECK_THROWS_WITH(assemble(head + "  load dram->sram bytes=12kB\n", "e.tasm"),
                    Contains("e.tasm:4: bytes = '12kB' is not an integer"));
  CHECK_THROWS_WITH(assemble(head + "  load dram->sram bytes=-4\n", "e.tasm"),
                    Contains("e.tasm:4: bytes = -4 must be >= 0"));
  CHECK_THROWS_WITH(
      assemble(".program target=t hardware=h workload=w\n.kernel name=k\n.attr loop_idle -1e-6\n", "e.tasm"),
      Contains("e.tasm:3: .attr loop_idle is the seconds the device idles between runs: >= 0, "
               "not '-1e-6'"));
  CHECK_THROWS_WITH(assemble(head + "  mma 8x8x8 a=bf17\n", "e.tasm"),
                    Contains("e.tasm:4: a = 'bf17' is not a format; accepted: fp64"));
  CHECK_THROWS_WITH(assemble(head + "  vec exp elems=4 lanes=8\n", "e.tasm"),
                    Contains("e.tasm:4: unknown field 'lanes' for vec; accepted: src, dst"));
  CHECK_THROWS_WITH(assemble(head + "  load dram bytes=4\n", "e.tasm"),
                    Contains("e.tasm:4: load expects SRC->DST, got 'dram'"));
  CHECK_THROWS_WITH(assemble(head + "  barrier now\n", "e.tasm"),
                    Contains("e.tasm:4: barrier takes no operand, got 'now'"));
  CHECK_THROWS_WITH(assemble(head + "  vec name=\"exp\n", "e.tasm"),
                    Contains("e.tasm:4: unterminated string"));
  CHECK_THROWS_WITH(assemble(".kernel name=k\n  wait\n", "e.tasm"),
                    Contains("e.tasm:2: instruction 'wait' outside a block"));
  CHECK_THROWS_WITH(assemble(".block repeat=1\n", "e.tasm"),
                    Contains("e.tasm:1: .block outside a kernel"));
  CHECK_THROWS_WITH(assemble(".kernel name=k flops=fast\n", "e.tasm"),
                    Contains("e.tasm:1: flops = 'fast' is not a number"));
  CHECK_THROWS_WITH(assemble(".kernel name=k colour=red\n", "e.tasm"),
                    Contains("e.tasm:1: .kernel: unexpected 'colour'; accepted keys: name, op_kind"));
  CHECK_THROWS_WITH(assemble(".program\n.program\n", "e.tasm"),
                    Contains("e.tasm:2: .program given twice"));
  CHECK_THROWS_WITH(assemble(".program devices=0\n", "e.tasm"),
                    Contains("e.tasm:1: devices = 0 must be >= 1"));
  CHECK_THROWS_WITH(assemble(".program devices=two\n", "e.tasm"),
                    Contains("e.tasm:1: devices = 'two' is not an integer"));
  CHECK_THROWS_WITH(assemble(".section text\n", "e.tasm"),
                    Contains("e.tasm:1: unknown directive '.section'"));
  CHECK_THROWS_WITH(assemble(".kernel name=k\n.attr x\n", "e.tasm"),
                    Contains("e.tasm:2: .attr expects a key and a number"));
  // Kernel facts are the declared KernelInfo fields only.
  CHECK_THROWS_WITH(assemble(".kernel name=k\n.attr tiles 4\n", "e.tasm"),
                    Contains("e.tasm:2: unknown .attr 'tiles'; accepted: block_kv, block_q, bytes_in_flight"));
  CHECK_THROWS_WITH(assemble(".kernel name=k\n.attr waves 4\n.attr waves 5\n", "e.tasm"),
                    Contains("e.tasm:3: .attr 'waves' given twice in kernel 'k'"));
  CHECK_THROWS_WITH(assemble(".kernel name=k\n.attr waves 1.5\n", "e.tasm"),
                    Contains("e.tasm:2: .attr 'waves' must be an integer, not '1.5'"));
}

TEST_CASE("asm: .deps carries each kernel's producers", "[asm][deps]") {
  // Written for every kernel, empty when it has none.
  Program p = hand_program();
  p.kernels[1].deps = {0};
  const std::string text = disassemble(p);
  CHECK_THAT(text, Contains(".attr thread_blocks 512\n.deps\n.block repeat=64\n"));
  CHECK_THAT(text, Contains("op_index=1 flops=0 bytes=0 mapping=\"\"\n.deps 0\n.block repeat=1\n"));
  CHECK(assemble(text, "p.tasm") == p);
  p.kernels[1].deps = {};
  CHECK(assemble(disassemble(p), "p.tasm") == p);

  // A compiled program: q, k and v projections of a LLaMA layer all read the
  // normalised input (op 18), the attention reads both rotary chains' ends.
  auto hw = load_hardware("h100-sxm", {});
  const Program llama = compile(build_workload("llama-7b:layers=1"), *hw);
  const std::string asm_text = disassemble(llama);
  CHECK_THAT(asm_text, Contains(".kernel name=\"l0.attn.k_proj#20\""));
  CHECK(llama.kernels[20].deps == std::vector<int>{18});
  CHECK(llama.kernels[21].deps == std::vector<int>{18});
  CHECK(assemble(asm_text, "llama.tasm") == llama);

  // Files from before .deps: each kernel depends on the previous one (one
  // sequential stream), the first on none; an empty .deps means none.
  const Program old = assemble(R"(.program target=systolic hardware=tpu-v1 workload=w
.kernel name=a
.block repeat=1
  wait
.kernel name=b
.block repeat=1
.kernel name=c
.deps
.kernel name=d
.deps 0 2
.attr launches 1
.block repeat=1
)", "old.tasm");
  REQUIRE(old.kernels.size() == 4);
  CHECK(old.kernels[0].deps.empty());
  CHECK(old.kernels[1].deps == std::vector<int>{0});
  CHECK(old.kernels[2].deps.empty());
  CHECK(old.kernels[3].deps == std::vector<int>{0, 2});

  const std::string two = ".kernel name=a\n.kernel name=b\n";
  CHECK_THROWS_WITH(assemble(two + ".deps 1\n", "e.tasm"),
                    "e.tasm:3: .deps: kernel 1 ('b') can only depend on earlier kernels (0..0), got 1");
  CHECK_THROWS_WITH(assemble(two + ".deps 0 0\n", "e.tasm"), "e.tasm:3: .deps: 0 given twice");
  CHECK_THROWS_WITH(assemble(two + ".deps -1\n", "e.tasm"), "e.tasm:3: .deps index = -1 must be >= 0");
  CHECK_THROWS_WITH(assemble(two + ".deps x\n", "e.tasm"), "e.tasm:3: .deps index = 'x' is not an integer");
  CHECK_THROWS_WITH(assemble(two + ".deps 0\n.deps 0\n", "e.tasm"), "e.tasm:4: .deps given twice in kernel 'b'");
  CHECK_THROWS_WITH(assemble(two + ".block repeat=1\n.deps 0\n", "e.tasm"),
                    "e.tasm:4: .deps must come before the kernel's first .block");
  CHECK_THROWS_WITH(assemble(".deps\n", "e.tasm"), "e.tasm:1: .deps outside a kernel (it must follow a .kernel line)");
  CHECK_THROWS_WITH(assemble(two + ".deps k=0\n", "e.tasm"),
                    "e.tasm:3: .deps expects kernel indices: .deps I I ..., got 'k='");
}

TEST_CASE("asm: compiled programs of several workloads round-trip", "[asm][compile]") {
  int compiled = 0;
  for (const std::string& hw_name : hw_preset_names()) {
    std::unique_ptr<Hardware> hw;
    try {
      hw = load_hardware(hw_name, {});
    } catch (const std::exception& e) {
      WARN("hardware preset " << hw_name << " did not load: " << e.what());
      continue;
    }
    for (const char* spec : {"gemm:m=512,n=512,k=512", "resnet50", "bert-base:layers=2",
                             "llama-7b:layers=2,seq=256", "llama-7b:phase=decode,layers=2",
                             "evoformer:n_seq=16,n_res=32", "attention:fused=0,sq=128"}) {
      const Graph g = build_workload(spec);
      Program p;
      try {
        p = compile(g, *hw);
      } catch (const std::exception& e) {
        WARN(hw_name << " cannot compile " << spec << ": " << e.what());
        continue;
      }
      INFO(hw_name << " " << spec);
      const std::string text = disassemble(p);
      CHECK(assemble(text, "compiled.tasm") == p);
      ++compiled;
    }
  }
  if (compiled == 0) WARN("no program was compiled (no hardware preset loads yet)");
}
