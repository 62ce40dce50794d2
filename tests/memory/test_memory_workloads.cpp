// The memory micro-workloads (gather, strided_read, read_repeat): their IR, what the
// tensor-core mapper moves from DRAM and through the L2 for them (whole 32 B
// sectors, distinct rows of a table that fits the L2, re-reads of an L2-resident
// tensor), and the DRAM level's charge for scattered reads (the cycle model's
// access efficiency).
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/hardware.h"
#include "models/memory/cache.h"
#include "models/memory/dram/characterise.h"
#include "models/memory/hbm.h"
#include "sim/simulate.h"
#include "workloads/ir.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

struct Traffic {
  double dram_load = 0, l2_load = 0;
};

// Bytes each kernel loads from memory.dram and memory.l2 (all copies, all repeats).
Traffic traffic(const Kernel& k) {
  Traffic t;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs) {
      if (in.op != Opcode::load) continue;
      const double bytes = static_cast<double>(in.bytes) * static_cast<double>(in.count) * static_cast<double>(b.repeat);
      (in.src == "dram" ? t.dram_load : t.l2_load) += bytes;
    }
  return t;
}

// Bytes each kernel stores to memory.dram (all copies, all repeats).
double stored(const Kernel& k) {
  double bytes = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if (in.op == Opcode::store && (in.dst == "dram" || in.src == "dram"))
        bytes +=
            static_cast<double>(in.bytes) * static_cast<double>(in.count) * static_cast<double>(b.repeat);
  return bytes;
}

// Per-copy byte counts are whole numbers: a level's total may lose up to one byte
// per copy and stage (132 SMs x 64 stages) to the truncation.
constexpr double k_trunc = 132.0 * 64;

}  // namespace

TEST_CASE("gather builds one index_select (embedding) op with the pattern", "[memory][workloads]") {
  const Graph g = build_workload("gather:table_bytes=1GiB,row_bytes=256,rows=1000,pattern=random");
  REQUIRE(g.ops.size() == 1);
  const Op& op = g.ops[0];
  CHECK(op.kind == OpKind::embedding);
  CHECK(op.dtype == DType::bf16);
  CHECK(op.at("tokens") == 1000);
  CHECK(op.at("dim") == 128);                     // 256 B of bf16
  CHECK(op.at("vocab") == (int64_t{1} << 22));    // 1 GiB / 256 B
  CHECK(op.at("order") == 2);
  CHECK(g.info.at("bytes_moved") == 2.0 * 1000 * 256);
  CHECK(build_workload("gather:table_bytes=4096,row_bytes=32,rows=8,pattern=sequential").ops[0].at("order") == 1);
}

TEST_CASE("an EmbeddingBag (bags) reads every index's row and writes one summed row per bag",
          "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  // DLRM-style: 5120 indices into a 100000 x 64 bf16 table (128 B rows), 256 bags of 20.
  const Graph g = build_workload("gather:table_bytes=12800000,row_bytes=128,rows=5120");
  Graph bag = g;
  bag.ops[0].attrs["bags"] = 256;
  validate_graph(bag, "bag");
  const Kernel k = compile(g, *hw).kernels.at(0), kb = compile(bag, *hw).kernels.at(0);
  // The same row reads; 256 rows of 128 B written instead of 5120.
  CHECK(traffic(kb).dram_load == traffic(k).dram_load);
  CHECK(traffic(kb).l2_load == traffic(k).l2_load);
  CHECK(stored(kb) == Approx(256.0 * 128).margin(k_trunc));
  CHECK(stored(k) == Approx(5120.0 * 128).margin(k_trunc));
  CHECK(op_out_elems(bag.ops[0]) == 256 * 64);
  CHECK(op_flops(bag.ops[0]) == 5120.0 * 64);  // one addition per element read
  CHECK(op_flops(g.ops[0]) == 0.0);
  // Its backward always sorts (ir.h, embedding_backward_sorts) and reads each index's
  // gradient row through the forward's int64 offset2bag: the plain backward's traffic
  // over the same 5120 indices (sorted too: above 3072) plus 8 B per index. bf16
  // gradient rows 5120 x 64 x 2 B, indices and offset2bag 16 B each, half the radix
  // sort's 8 passes of 4 x 8 B per index, fp32 partial sums 4 B x 5120 x 64.
  Graph plain = g;
  plain.ops[0].attrs["backward"] = 1;
  bag.ops[0].attrs["backward"] = 1;
  validate_graph(bag, "bag");
  CHECK(op_traffic(bag.ops[0]).read == op_traffic(plain.ops[0]).read + 8.0 * 5120);
  CHECK(op_traffic(bag.ops[0]).read == 5120.0 * 64 * 2 + 16.0 * 5120 + 0.5 * 256 * 5120 + 4.0 * 5120 * 64);
  CHECK(op_traffic(bag.ops[0]).written == op_traffic(plain.ops[0]).written);
}

TEST_CASE("memory workloads reject sizes that make no sense", "[memory][workloads]") {
  auto msg = [](const std::string& spec) {
    try {
      build_workload(spec);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(msg("gather:table_bytes=1MiB,row_bytes=33,rows=4"),
             Catch::Contains("'row_bytes': 33 is not a whole number of bf16 elements"));
  CHECK_THAT(msg("gather:table_bytes=64,row_bytes=128,rows=4"),
             Catch::Contains("'table_bytes': 64 is smaller than row_bytes=128"));
  CHECK_THAT(msg("gather:table_bytes=-1,row_bytes=128,rows=4"), Catch::Contains("table_bytes"));
  CHECK_THAT(msg("strided_read:bytes=10,stride=2"), Catch::Contains("'bytes': 10 is not a whole number of fp32"));
  CHECK_THAT(msg("strided_read:bytes=1.5KiB,stride=0"), Catch::Contains("stride"));
  CHECK_THAT(msg("read_repeat:working_set=1GiB,repeats=100001"), Catch::Contains("more than the accepted 100000"));
  CHECK_THAT(msg("gather:table_bytes=1MiB,row_bytes=32,rows=4,pattern=zigzag"), Catch::Contains("pattern"));
}

TEST_CASE("gather of random rows: whole sectors per row, distinct rows of an L2-resident table", "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  SECTION("table larger than the L2: every row from DRAM") {
    // 2^20 rows of 48 B from a 4 GiB table: each row touches ceil(48/32) = 2 sectors
    // = 64 B; DRAM and L2 both move 2^20 x 64 B + 8 B of int64 index per row.
    const Program p = compile(build_workload("gather:table_bytes=4GiB,row_bytes=48,rows=1048576"), *hw);
    const Kernel& k = p.kernels.at(0);
    const Traffic t = traffic(k);
    CHECK(t.dram_load == Approx(1048576.0 * (64 + 8)).margin(k_trunc));
    CHECK(t.l2_load == Approx(1048576.0 * (64 + 8)).margin(k_trunc));
    CHECK(k.info.dram_read_run == 64.0);
    CHECK(k.info.dram_read_pitch == 0.0);
  }
  SECTION("table in the L2: a row drawn twice comes from DRAM once") {
    // 1 MiB table of 4096 rows of 256 B, 8192 draws: distinct rows expected
    // 4096 x (1 - (1 - 1/4096)^8192) = 4096 x 0.864700 = 3541.81.
    const Program p = compile(build_workload("gather:table_bytes=1MiB,row_bytes=256,rows=8192"), *hw);
    const Traffic t = traffic(p.kernels.at(0));
    const double distinct = 4096.0 * (1.0 - std::pow(1.0 - 1.0 / 4096, 8192));
    CHECK(distinct == Approx(3541.8).margin(0.1));
    CHECK(t.dram_load == Approx(distinct * 256 + 8192.0 * 8).margin(k_trunc));
    CHECK(t.l2_load == Approx(8192.0 * (256 + 8)).margin(k_trunc));
  }
  SECTION("consecutive rows: one stream, no scattered-read charge") {
    const Program p = compile(build_workload("gather:table_bytes=4GiB,row_bytes=48,rows=1048576,pattern=sequential"), *hw);
    const Kernel& k = p.kernels.at(0);
    CHECK(traffic(k).dram_load == Approx(1048576.0 * (48 + 8)).margin(k_trunc));
    CHECK_FALSE(k.info.dram_read_run.has_value());
  }
  SECTION("a wrong sector size changes the traffic") {
    const auto hw64 = load_hardware("h100-sxm", {"memory.l2.sector_bytes=64"});
    const Program p = compile(build_workload("gather:table_bytes=4GiB,row_bytes=32,rows=1048576"), *hw64);
    CHECK(traffic(p.kernels.at(0)).dram_load == Approx(1048576.0 * (64 + 8)).margin(k_trunc));
  }
}

TEST_CASE("strided_read: contiguous below a sector of stride, one sector per element beyond", "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  auto kernel = [&](const char* spec) { return compile(build_workload(spec), *hw).kernels.at(0); };
  // x of 64 MiB = 2^24 floats.
  const Kernel s1 = kernel("strided_read:bytes=64MiB,stride=1");
  CHECK(traffic(s1).dram_load == Approx(64.0 * 1024 * 1024).margin(k_trunc));
  CHECK_FALSE(s1.info.dram_read_run.has_value());
  // stride 4 (16 B): 2^22 elements, but every 32 B sector of x holds two: all 64 MiB.
  CHECK(traffic(kernel("strided_read:bytes=64MiB,stride=4")).dram_load == Approx(64.0 * 1024 * 1024).margin(k_trunc));
  // stride 8 (32 B): 2^21 elements, one sector each = 64 MiB, still contiguous sectors.
  const Kernel s8 = kernel("strided_read:bytes=64MiB,stride=8");
  CHECK(traffic(s8).dram_load == Approx(2097152.0 * 32).margin(k_trunc));
  CHECK_FALSE(s8.info.dram_read_run.has_value());
  // stride 64 (256 B): 2^18 elements x 32 B = 8 MiB, a 32 B run every 256 B.
  const Kernel s64 = kernel("strided_read:bytes=64MiB,stride=64");
  CHECK(traffic(s64).dram_load == Approx(262144.0 * 32).margin(k_trunc));
  CHECK(s64.info.dram_read_run == 32.0);
  CHECK(s64.info.dram_read_pitch == 256.0);
}

TEST_CASE("read_repeat: later sums hit the L2 while the tensor fits it", "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  const double mib = 1024.0 * 1024;
  // 48 MiB < 50 MiB L2: the first sum reads DRAM, the 19 others only the L2.
  const Program fits = compile(build_workload("read_repeat:working_set=48MiB,repeats=20"), *hw);
  REQUIRE(fits.kernels.size() == 20);
  CHECK(traffic(fits.kernels[0]).dram_load == Approx(48 * mib).margin(k_trunc));
  for (size_t i = 1; i < 20; ++i) {
    CHECK(traffic(fits.kernels[i]).dram_load == 0);
    CHECK(traffic(fits.kernels[i]).l2_load == Approx(48 * mib).margin(k_trunc));
  }
  // 52 MiB > 50 MiB: a cyclic sweep larger than an LRU cache misses every line.
  const Program spills = compile(build_workload("read_repeat:working_set=52MiB,repeats=20"), *hw);
  for (const Kernel& k : spills.kernels) CHECK(traffic(k).dram_load == Approx(52 * mib).margin(k_trunc));
}

TEST_CASE("a copy of an expanded view reads each input slice from DRAM once while it fits the L2",
          "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  const double mib = 1024.0 * 1024;
  auto copy = [&](int64_t rows, int64_t expand, int64_t slice) {
    Graph g;
    g.name = "repeat";
    Op op;
    op.name = "repeat_k";
    op.kind = OpKind::copy;
    op.dtype = op.out_dtype = DType::bf16;
    op.attrs = {{"rows", rows}, {"cols", 128}, {"expand", expand}, {"expand_slice", slice}};
    g.add(op);
    validate_graph(g, "test");
    return compile(g, *hw).kernels.at(0);
  };
  // repeat_kv of 8 kv heads of 4096 x 128 bf16 (1 MiB each) to 64 heads: 64 MiB
  // written; each 1 MiB slice read 8 times in a row through the L2, once from DRAM.
  const Kernel fits = copy(64 * 4096, 8, 4096 * 128);
  CHECK(traffic(fits).dram_load == Approx(8 * mib).margin(k_trunc));
  CHECK(traffic(fits).l2_load == Approx(64 * mib).margin(k_trunc));
  CHECK(stored(fits) == Approx(64 * mib).margin(k_trunc));
  // One slice of 262144 x 128 bf16 = 64 MiB, beyond the 50 MiB L2, written twice:
  // the second read misses too (128 MiB from DRAM).
  const Kernel spills = copy(2 * 262144, 2, 262144 * 128);
  CHECK(traffic(spills).dram_load == Approx(128 * mib).margin(k_trunc));
  // expand must divide the elements, expand_slice the input's; expand_slice needs expand.
  Graph bad;
  Op op;
  op.name = "c";
  op.kind = OpKind::copy;
  op.attrs = {{"rows", 6}, {"cols", 4}, {"expand", 5}};
  bad.add(op);
  CHECK_THROWS_WITH(validate_graph(bad, "g.json"),
                    "g.json: op 'c' (copy): 'expand' = 5 must divide its rows x cols = 24 elements (each "
                    "input element is written 'expand' times); not with 'param_elems'");
  bad.ops[0].attrs = {{"rows", 6}, {"cols", 4}, {"expand", 4}, {"expand_slice", 4}};
  CHECK_THROWS_WITH(validate_graph(bad, "g.json"),
                    "g.json: op 'c' (copy): 'expand_slice' = 4 (the elements of each repeated slice) must "
                    "divide the 6 input elements (rows x cols / expand)");
  bad.ops[0].attrs = {{"rows", 6}, {"cols", 4}, {"expand_slice", 4}};
  CHECK_THROWS_WITH(validate_graph(bad, "g.json"),
                    "g.json: op 'c' (copy): 'expand_slice' needs 'expand' (how often each slice is written)");
}

TEST_CASE("the hbm level charges scattered reads the cycle model's access efficiency", "[memory][workloads]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto* hbm = hw->find<HbmMemory>("memory.dram");
  REQUIRE(hbm);
  // A run at least as long as its pitch is a stream.
  CHECK(dram::access_efficiency(hbm->dram_standard(), hbm->stacks(), hbm->mapping(), 64, 64) == 1.0);
  CHECK(dram::access_efficiency(hbm->dram_standard(), hbm->stacks(), hbm->mapping(), 64, 0) < 1.0);
  const double e32 = dram::access_efficiency(hbm->dram_standard(), hbm->stacks(), hbm->mapping(), 32, 0);
  const double e1k = dram::access_efficiency(hbm->dram_standard(), hbm->stacks(), hbm->mapping(), 1024, 0);
  // Random 32 B runs: one ACT per 32 B burst, bound by the four-activate window:
  // at most 4 bursts of nBL = 2 cycles per nFAW (24 ns at 6.4 Gb/s, re-derived at
  // the H100's 5.23 Gb/s) -> about a third of a stream; a 1 KiB run fills a DRAM
  // row (one ACT per 32 bursts) but random rows still meet busy banks (tRC): the
  // cycle model gives 0.69.
  INFO("e32 " << e32 << " e1k " << e1k);
  CHECK(e32 < 0.45);
  CHECK(e32 > 0.2);
  CHECK(e1k > 0.6);
  CHECK(e1k > 1.8 * e32);
  // The load's time is the stream's time divided by that efficiency (exactly).
  Kernel k;
  k.info.dram_bytes = 64.0 * 1024 * 1024;
  Instr in;
  in.op = Opcode::load;
  in.src = "dram";
  in.bytes = 64 * 1024 * 1024;
  const KernelContext c{};
  const double stream = hbm->transfer_time_s(in, k, c);
  k.info.dram_read_run = 32;
  k.info.dram_read_pitch = 0;
  CHECK(hbm->transfer_time_s(in, k, c) == Approx(stream / e32).epsilon(1e-12));
  // Writes are not scattered reads.
  in.op = Opcode::store;
  in.dst = "dram";
  Kernel kw = k;
  kw.info.dram_read_run.reset();
  CHECK(hbm->transfer_time_s(in, k, c) == Approx(hbm->transfer_time_s(in, kw, c)).epsilon(1e-12));
}

TEST_CASE("sliced L2: re-reads beyond one partition come over the crossbar", "[memory][l2]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto* l2 = hw->find<CacheMemory>("memory.l2");
  REQUIRE(l2);
  CHECK(l2->partitions() == 2);
  CHECK(l2->access_bytes() == 32);
  CHECK(l2->line_bytes() == 128);
  const double mib = 1024.0 * 1024;
  Instr in;
  in.op = Opcode::load;
  in.src = "l2";
  in.bytes = 1 << 20;
  in.count = 132;   // 132 MiB over all SMs: the slices' bandwidth, not a port, binds
  KernelContext c;
  c.clock_hz = 1e9;
  Kernel k;
  const double bytes = 132.0 * (1 << 20);
  // No working set given (a single pass): bytes / (5120 B/clk x 1 GHz).
  CHECK(l2->transfer_time_s(in, k, c) == Approx(bytes / 5120e9).epsilon(1e-12));
  // 20 MiB <= 50 MiB / 2: all near, the same time.
  k.info.l2_working_set = 20 * mib;
  CHECK(l2->transfer_time_s(in, k, c) == Approx(bytes / 5120e9).epsilon(1e-12));
  // 30 MiB: half homed in the far partition, over 1280 B/clk:
  // max(0.5 B / 5120e9, 0.5 B / 1280e9) = B / 2560e9, twice the near time.
  k.info.l2_working_set = 30 * mib;
  CHECK(l2->transfer_time_s(in, k, c) == Approx(bytes / 2560e9).epsilon(1e-12));
  // A one-partition L2 (V100) has no far share.
  const auto v100 = load_hardware("v100", {});
  CHECK(v100->find<CacheMemory>("memory.l2")->far_share(5 * mib) == 0);
}

TEST_CASE("l2sweep through read_repeat: two edges, half the L2 and all of it", "[memory][l2]") {
  const auto hw = load_hardware("h100-sxm", {});
  auto per_byte = [&](double mib) {
    const std::string spec = fmt::format("read_repeat:working_set={}MiB,repeats=20", mib);
    return simulate(build_workload(spec), *hw, "analytic").time_s / (mib * 1024 * 1024);
  };
  const double near = per_byte(24), far = per_byte(26), hbm = per_byte(52);
  INFO("per byte: near " << near << " far " << far << " hbm " << hbm);
  CHECK(far > 1.3 * near);   // the 19 later sums read at half the near rate
  CHECK(hbm > 1.25 * far);   // and from HBM beyond 50 MiB
}
