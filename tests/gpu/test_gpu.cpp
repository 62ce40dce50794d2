// Tests of the GPU model (compute "tensorcore", memories "hbm" and "cache") and of
// the compare tool against the shared H100 and A100 measurements.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "models/hardware.h"
#include "models/memory/hbm.h"
#include "models/tensorcore/tensorcore.h"
#include "sim/simulate.h"
#include "sim/tools/calibrate.h"
#include "sim/tools/compare.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

const TensorCoreModel& tc(const Hardware& hw) { return dynamic_cast<const TensorCoreModel&>(hw.compute()); }

Graph gemm(int64_t m, int64_t n, int64_t k, DType t = DType::bf16) {
  return testing::one_gemm(m, n, k, t);
}

const std::filesystem::path k_shared = TESSERA_SHARED_DIR;

// MAPE of one group of one section of a compare summary.
double group_mape(const nlohmann::json& s, const std::string& section, const std::string& group) {
  return s["sections"][section]["groups"][group]["mape"].get<double>();
}

}  // namespace

TEST_CASE("wave quantization of a 4096^3 bf16 GEMM on H100", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const GemmPlan p = TensorCoreMapper(tc(*hw)).plan_gemm({1, 4096, 4096, 4096, false, DType::bf16, DType::bf16}, *hw);
  // 128x256 tiles: (4096/128) x (4096/256) = 32 x 16 = 512 thread blocks; one per
  // SM (128x256 fp32 accumulators = 128 KiB, twice that exceeds the 256 KiB
  // register file), so ceil(512 / 132) = 4 waves, the last with 512 - 3*132 = 116.
  CHECK(p.bm == 128);
  CHECK(p.bn == 256);
  CHECK(p.bk == 64);   // 128 bytes of bf16
  CHECK(p.ctas_per_sm == 1);
  CHECK(p.split_k == 1);
  CHECK(p.tiles == 512);
  CHECK(p.waves == 4);
  CHECK(p.k_steps == 64);   // 4096 / 64
}

TEST_CASE("GEMM DRAM traffic: waves re-read their footprint only where the L2 misses", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  // bf16 4096^3 in 128x256 tiles: A and B are 2 x 33,554,432 = 67,108,864 bytes, more
  // than half of the 50 MiB L2. A wave of 132 tiles covers 17 tile rows x 8 tile
  // columns: (17*128 + 8*256) * 4096 * 2 = 34,603,008 bytes; 4 waves = 138,412,032.
  // The L2 holds 52,428,800 / 67,108,864 of the operands: miss rate 0.21875, so DRAM
  // reads 67,108,864 + (138,412,032 - 67,108,864) * 0.21875 = 82,706,432 bytes, and
  // C is written once (33,554,432): 116,260,864 bytes in all.
  const Kernel k = TensorCoreMapper(tc(*hw)).lower(gemm(4096, 4096, 4096), 0, *hw);
  REQUIRE(k.info.tile_m.value_or(0) == 128);
  REQUIRE(k.info.tile_n.value_or(0) == 256);
  CHECK(k.info.dram_bytes.value_or(0) == Approx(116260864.0).epsilon(1e-6));
  // Operands within half the L2 are read once: 2048^3 reads 2 x 8 MiB and writes 8 MiB.
  CHECK(TensorCoreMapper(tc(*hw)).lower(gemm(2048, 2048, 2048), 0, *hw).info.dram_bytes.value_or(0) == Approx(3.0 * 8388608).epsilon(1e-6));
}

TEST_CASE("small-M GEMMs split K to fill the SMs", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const GemmPlan p = TensorCoreMapper(tc(*hw)).plan_gemm({1, 16, 4096, 11008, false, DType::bf16, DType::bf16}, *hw);
  // Without split-K a 16-row GEMM has at most ceil(4096/64) = 64 tiles for 132 SMs.
  CHECK(p.split_k > 1);
  CHECK(p.tiles == (4096 + p.bn - 1) / p.bn * ((16 + p.bm - 1) / p.bm) * p.split_k);
  CHECK(p.waves == (p.tiles + 132 * p.ctas_per_sm - 1) / (132 * p.ctas_per_sm));
}

TEST_CASE("CUDA-core SGEMMs split K only when K is the longest dimension", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const TensorCoreMapper m(tc(*hw));
  // fp32 16 x 4096 x 4096: K = N, no split. 64 x 64 tiles: ceil(4096 / 64) = 64
  // blocks on 64 of the 132 SMs (the shared record: 90.4 us, 6 TFLOP/s).
  const GemmPlan same = m.plan_gemm({1, 16, 4096, 4096, false, DType::fp32, DType::fp32}, *hw);
  CHECK(same.split_k == 1);
  CHECK(same.tiles == 64);
  // K = 11008 > 4096: split, as before.
  CHECK(m.plan_gemm({1, 16, 4096, 11008, false, DType::fp32, DType::fp32}, *hw).split_k > 1);
  // bf16 (tensor cores) 16 x 4096 x 4096 still splits to fill the SMs.
  CHECK(m.plan_gemm({1, 16, 4096, 4096, false, DType::bf16, DType::bf16}, *hw).split_k > 1);
  // 512^3 fp32: 64 blocks of 64 x 64, unsplit (K = M = N).
  CHECK(m.plan_gemm({1, 512, 512, 512, false, DType::fp32, DType::fp32}, *hw).split_k == 1);
}

TEST_CASE("under the power limit the mapper prefers tiles with less L2 traffic per FLOP", "[gpu][gemm][power]") {
  // int8 8192^3: without a power limit 64x128 tiles at 4 blocks per SM tie with
  // 128x256 on time and win; with the 700 W limit the kernel is power-bound and
  // 128x256 moves (128 + 256/2) / (128 * 256) = 7.8e-3 L2 bytes per output-element
  // k-step against (64 + 128/2) / (64 * 128) = 15.6e-3 for 64x128, so less energy:
  // energy / (limit - static) is the bound the choice minimises.
  const GemmShape s{1, 8192, 8192, 8192, false, DType::int8, DType::int32};
  const auto capped = load_hardware("h100-sxm", {});
  const GemmPlan p = TensorCoreMapper(tc(*capped)).plan_gemm(s, *capped);
  CHECK(p.bm == 128);
  CHECK(p.bn == 256);
  const auto free = load_hardware("h100-sxm", {"power.power_limit=0W"});
  const GemmPlan q = TensorCoreMapper(tc(*free)).plan_gemm(s, *free);
  CHECK(q.bm * q.bn < p.bm * p.bn);
}

TEST_CASE("mma time: per-SM waves of tiles at the kernel clock", "[gpu][timing]") {
  const auto hw = load_hardware("h100-sxm", {"compute.efficiency_fp16=1.0"});
  Instr in;
  in.op = Opcode::mma;
  in.m = 128;
  in.n = 256;
  in.k = 64;
  in.a = DType::bf16;
  in.count = 264;
  Kernel k;
  KernelContext c;
  c.clock_hz = 1.5e9;
  // 2*128*256*64 = 4194304 FLOP / 4096 FLOP/clk = 1024 cycles per tile (smem:
  // (128+256)*64*2 B / 128 B/clk = 384 cycles, hidden); 264 blocks on 132 SMs = 2
  // tiles per SM: 2 * 1024 / 1.5 GHz = 1.3653 us.
  CHECK(hw->compute().instr_time_s(in, k, c) == Approx(2.0 * 1024 / 1.5e9).epsilon(1e-12));
  // A 64x64 tile is bound by its shared-memory operand reads:
  // (64+64)*64*2 B / 128 B/clk = 128 cycles > 2*64*64*64/4096 = 128 cycles (equal).
  in.m = in.n = 64;
  in.count = 132;
  CHECK(hw->compute().instr_time_s(in, k, c) == Approx(128.0 / 1.5e9).epsilon(1e-12));
}

TEST_CASE("HBM: ramp and direction efficiencies from the DRAM cycle model", "[gpu][hbm]") {
  const auto hw = load_hardware("h100-sxm", {"memory.dram.read_residual=0.9", "memory.dram.write_residual=0.8",
                                             "memory.dram.ramp_bytes=1MB"});
  const auto& hbm = dynamic_cast<const HbmMemory&>(*hw->memory("dram"));
  const double er = hbm.characterisation().read_efficiency, ew = hbm.characterisation().write_efficiency;
  // HBM3 at 3.35 TB/s over 5 stacks = 5.23 Gb/s, all-bank refresh: the streams keep
  // 1 - nRFC/nREFI = 1 - 459/5104 of a refresh-free ~99.5 %.
  CHECK(hbm.dram_standard().timing.nRFC == 459);
  CHECK(hbm.dram_standard().timing.nREFI == 5104);
  CHECK(er == Approx(0.9053).epsilon(1e-3));
  CHECK(ew == Approx(0.9076).epsilon(1e-3));
  // A kernel that moves 1 MB reaches half the sustained rate: residual x e x 3.35 TB/s x 1/(1+1).
  CHECK(hbm.achieved_bandwidth(1e6, false) == Approx(0.9 * er * 3.35e12 / 2));
  CHECK(hbm.achieved_bandwidth(9e6, true) == Approx(0.8 * ew * 3.35e12 * 0.9));
  // Per-bank refresh hides behind the other banks: streams near the pins' peak.
  const auto pb = load_hardware("h100-sxm", {"memory.dram.refresh=per-bank"});
  CHECK(dynamic_cast<const HbmMemory&>(*pb->memory("dram")).characterisation().read_efficiency > 0.99);
  // A residual out of range is refused by name.
  CHECK_THROWS_WITH(load_hardware("h100-sxm", {"memory.dram.read_residual=0"}),
                    Catch::Contains("--set 'memory.dram.read_residual=0': invalid value '0' for memory.dram.read_residual (hbm): out of range"));
}

TEST_CASE("row kernels wait on rounds of resident rows", "[gpu][vec]") {
  const auto hw = load_hardware("h100-sxm", {});
  const double trip = hw->compute().params().real("row_round_trip");
  const double sync = hw->compute().params().real("row_reduction");
  const double launch = hw->compute().params().real("launch_overhead");
  // softmax over 4096 bf16 columns: PyTorch's cunn_SoftMaxForwardReg<4>, 1024
  // threads per row -> 2 rows per SM (2048 threads per SM); 32768 rows on
  // 132 SMs = 125 rounds, each one 16-byte-per-thread round trip (8 KiB row) and
  // two block reductions; on the same side of the pipeline the SMs evaluate expf
  // twice and divide once per element (29 lane ops on 128 lanes + 3 SFU ops on 16
  // SFUs per clock at 1.98 GHz) and run the two reductions' instructions: per
  // reduction 1024 threads x 5 shuffle levels x (1 add + 128/32 lane slots for the
  // shuffle) = 25600, and 5 levels over the 32 warps' partials, 32 x 5 x (5 + 4) =
  // 1440: 54080 lane ops per row. Together they exceed the streaming time of
  // 512 MiB (~180 us).
  const RunResult r = simulate(build_workload("softmax:rows=32768,cols=4096,dtype=bf16"), *hw, "analytic");
  CHECK(r.ops[0].mapping.find("2 rows/SM") != std::string::npos);
  const double chain = 125 * (trip + 2 * sync);
  const double work = 32768.0 / 132 * (4096 * (29.0 / 128 + 3.0 / 16) + 54080.0 / 128) / 1.98e9;
  CHECK(r.time_s >= launch + chain + work);
  CHECK(r.time_s <= 1.02 * (launch + chain + work));
  // The same rows in fp32 need no second DRAM pass: layernorm over 768 columns keeps
  // its 16 resident rows per SM (6.3 MiB in all) in the L2 for the normalise pass.
  const RunResult ln = simulate(build_workload("layernorm:rows=32768,cols=768,dtype=fp32"), *hw, "analytic");
  CHECK(ln.ops[0].mapping.find("(1 from DRAM)") != std::string::npos);
}

TEST_CASE("softmax forward takes PyTorch 2.11's kernel for the row length, type and alignment",
          "[gpu][vec]") {
  // host_softmax (aten/src/ATen/native/cuda/SoftMax.cu). The mapping names the
  // threads per row, resident rows, memory round trips per row and passes.
  const auto hw = load_hardware("h100-sxm", {});
  const auto mapping = [&](const std::string& spec, bool widen = false) {
    Graph g = build_workload(spec);
    if (widen) g.ops[0].out_dtype = DType::fp32;  // softmax(x, dtype=torch.float32)
    return simulate(g, *hw, "analytic").ops[0].mapping;
  };
  const auto has = [](const std::string& m, const std::string& part) {
    return m.find(part) != std::string::npos;
  };
  // softmax_warp_forward up to 2048 elements and 8 KiB: 2048 bf16 (4 KiB) and 2048
  // fp32 (8 KiB); 2049 bf16 is past the element limit.
  CHECK(has(mapping("softmax:rows=32768,cols=2048,dtype=bf16"), "32 threads per row"));
  CHECK(has(mapping("softmax:rows=32768,cols=2048,dtype=fp32"), "32 threads per row"));
  // A widened output keeps the 2.1-era limit (1024 elements, 4 KiB of input).
  CHECK(has(mapping("softmax:rows=32768,cols=1024,dtype=bf16", true), "32 threads per row"));
  CHECK(has(mapping("softmax:rows=32768,cols=2048,dtype=bf16", true), "1024 threads per row"));
  // cunn_SoftMaxForwardReg while ceil(cols / 1024) < 10: one round trip, 2 rows
  // per SM, one pass, whatever the alignment (9215 is no multiple of ILP = 8 or 4).
  const std::string reg = mapping("softmax:rows=32768,cols=2049,dtype=bf16");
  CHECK(has(reg, "1024 threads per row, 2 rows/SM"));
  CHECK(has(reg, "of 1 memory round trips and 2 block reduction(s), 1 pass(es)"));
  CHECK(has(mapping("softmax:rows=32768,cols=9215,dtype=fp32"),
            "of 1 memory round trips and 2 block reduction(s), 1 pass(es)"));
  // ceil(9217 / 1024) = 10: the shared-memory kernel for an aligned row under 48 KiB
  // (9224 bf16 = 18,448 B: ceil(18448 / (1024 x 16 B)) = 2 round trips, one pass);
  // 9217 is no multiple of 8, so cunn_SoftMaxForward reads the row three times
  // (3 x 2 round trips).
  CHECK(has(mapping("softmax:rows=32768,cols=9224,dtype=bf16"),
            "of 2 memory round trips and 2 block reduction(s), 1 pass(es)"));
  CHECK(has(mapping("softmax:rows=32768,cols=9217,dtype=bf16"),
            "of 6 memory round trips and 2 block reduction(s), 3 pass(es)"));
  // The widened output has no register kernel: 2049 bf16 (no multiple of 8) ->
  // cunn_SoftMaxForward, three passes; 2056 bf16 -> the shared-memory kernel.
  CHECK(has(mapping("softmax:rows=32768,cols=2049,dtype=bf16", true), "3 pass(es)"));
  CHECK(has(mapping("softmax:rows=32768,cols=2056,dtype=bf16", true),
            "of 1 memory round trips and 2 block reduction(s), 1 pass(es)"));
}

TEST_CASE("LayerNorm's Welford reductions cost more issue work than RMSNorm's sums", "[gpu][vec]") {
  const auto hw = load_hardware("h100-sxm", {});
  // Same rows, same kernel structure (16 rows/SM, 4 round trips, 1 block
  // reduction: the same latency chain and traffic), both compute-bound. Per row of
  // 768 columns LayerNorm issues, beyond RMSNorm:
  //   elements: (8 + 8 - 5) = 11 lane ops and 1 SFU reciprocal each;
  //   warp levels: 128 threads x 5 levels x (19 - 1) lane ops (the three shuffles
  //     cost both kernels 3 x 128/32 lane slots) = 11520 lane ops, 640 SFU ops;
  //   block levels (4 warps: 2): 32 x 2 x 18 = 1152 lane ops, 64 SFU ops.
  // (11 x 768 + 12672) / 128 + (768 + 704) / 16 = 165 + 92 = 257 clk per row,
  // x 32768 / 132 rows per SM at 1.98 GHz = 32.22 us.
  const RunResult ln = simulate(build_workload("layernorm:rows=32768,cols=768,dtype=bf16"), *hw, "analytic");
  const RunResult rms = simulate(build_workload("rmsnorm:rows=32768,cols=768,dtype=bf16"), *hw, "analytic");
  CHECK(ln.ops[0].bound == "compute");
  CHECK(rms.ops[0].bound == "compute");
  CHECK(ln.ops[0].mapping == rms.ops[0].mapping);
  CHECK(ln.time_s - rms.time_s == Approx(32768.0 / 132 * 257 / 1.98e9).epsilon(1e-3));
}

TEST_CASE("the fitted row-kernel latencies: a wrong value breaks the vec records", "[gpu][vec][accuracy]") {
  const auto path = k_shared / "reference/h100/microbench.jsonl";
  REQUIRE(std::filesystem::exists(path));
  std::vector<nlohmann::json> records;
  for (auto& r : read_jsonl(path.string()))
    if (r.value("section", std::string()) == "vec") records.push_back(std::move(r));
  REQUIRE(records.size() == 90);
  const auto vec_mape = [&](const std::vector<std::string>& set) {
    const auto hw = load_hardware("h100-sxm", set);
    return compare_records(records, *hw, path.parent_path())["sections"]["vec"]["mape"].get<double>();
  };
  // The preset (row_round_trip 397.5 ns, row_reduction 377.7 ns, fitted by
  // calibrate): 7.4 %. About twice either latency: 15.3 % and 10.4 %.
  CHECK(vec_mape({}) <= 0.085);
  CHECK(vec_mape({"compute.row_round_trip=800ns"}) > 0.12);
  CHECK(vec_mape({"compute.row_reduction=1us"}) > 0.095);
}

TEST_CASE("GEMM waves pay the thread-block start-up once each", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  const double startup = hw->compute().params().real("gemm_wave_startup");
  CHECK(startup > 0);
  // One wave at the maximum clock (1024^3 bf16: far below the power limit): the
  // kernel takes the start-up once on top of the launch and the mainloop.
  const auto with = simulate(gemm(1024, 1024, 1024), *hw);
  const auto zero = load_hardware("h100-sxm", {"compute.gemm_wave_startup=0us"});
  const auto without = simulate(gemm(1024, 1024, 1024), *zero);
  CHECK(with.ops[0].mapping.find("1 wave(s)") != std::string::npos);
  CHECK(with.ops[0].time_s - without.ops[0].time_s == Approx(startup).epsilon(0.02));
  // A power-capped kernel spends no dynamic energy during the start-up, so its
  // clock rises and its time stays that of its energy at the power limit.
  const auto big = simulate(gemm(8192, 8192, 8192), *hw);
  const auto big0 = simulate(gemm(8192, 8192, 8192), *zero);
  CHECK(big.ops[0].clock_hz > big0.ops[0].clock_hz);
  CHECK(big.ops[0].time_s == Approx(big0.ops[0].time_s).epsilon(0.005));
}

TEST_CASE("torch._int_mm gives cuBLASLt no workspace: int8 GEMMs never split K", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  // 256 x 256 output, K = 65536. bf16 splits K 16 ways over 64 blocks of 128 x 128;
  // int8 cannot, so its smallest tile (64 x 64) gives 16 blocks that each run the
  // whole reduction: 2 x 64 x 64 x 65536 = 536.9 M operations per SM at 8192 int8
  // operations per clock x the mma.sync issue fraction 0.5 x efficiency_int8, at
  // 1.98 GHz (a 16-SM kernel stays far below the power limit).
  const auto bf = simulate(build_workload("gemm:m=256,n=256,k=65536,dtype=bf16"), *hw);
  CHECK(bf.ops[0].mapping.find("64 blocks (2/SM), 1 wave(s), split-k 16") != std::string::npos);
  const auto i8 = simulate(build_workload("gemm:m=256,n=256,k=65536,dtype=int8"), *hw);
  CHECK(i8.ops[0].mapping.find("tile 64x64x128, 16 blocks (4/SM), 1 wave(s), split-k 1,") != std::string::npos);
  CHECK(i8.ops[0].clock_hz == 1.98e9);
  const double eff = hw->compute().params().real("efficiency_int8");
  // (plus the epilogue's two lane operations per output, 0.05 %)
  CHECK(i8.ops[0].compute_s == Approx(2.0 * 64 * 64 * 65536 / (8192 * 0.5 * eff) / 1.98e9).epsilon(0.001));
  CHECK(i8.ops[0].bound == "compute");
  // An int8 convolution goes through cuDNN, which has its workspace: it still
  // splits (ResNet-50's last 3x3 at batch 1: M = 49, K = 4608).
  const auto conv = simulate(build_workload("conv2d:n=1,cin=512,cout=512,h=7,r=3,pad=1,dtype=int8"), *hw);
  CHECK(conv.ops[0].mapping.find("split-k 9") != std::string::npos);
}

TEST_CASE("GEMM waves: the first start-up is exposed, the later ones are SM time a memory-bound kernel hides",
          "[gpu][gemm][conv]") {
  // No power limit, so the clock stays at its maximum with and without start-ups.
  const auto hw = load_hardware("h100-sxm", {"power.power_limit=0W"});
  const auto zero = load_hardware("h100-sxm", {"power.power_limit=0W", "compute.gemm_wave_startup=0us"});
  const double startup = hw->compute().params().real("gemm_wave_startup");
  const auto added = [&](const Graph& g, const std::string& waves, const std::string& bound) {
    const auto with = simulate(g, *hw), without = simulate(g, *zero);
    CHECK(with.ops[0].mapping.find(waves) != std::string::npos);
    CHECK(with.ops[0].bound == bound);
    CHECK(with.ops[0].clock_hz == without.ops[0].clock_hz);
    return with.ops[0].time_s - without.ops[0].time_s;
  };
  // Compute-bound, 16 waves (8192^3 bf16, tile 128x256: 2048 blocks on 132 SMs):
  // every stage is SM-bound, so the first wave's start-up before the stages and
  // the 15 later ones inside them all add up: 16 x startup.
  CHECK(added(gemm(8192, 8192, 8192), "16 wave(s)", "compute") == Approx(16 * startup).epsilon(1e-6));
  // Memory-bound, 48 waves: ResNet-50's layer1 1x1 expansion at batch 256 (M =
  // 256 x 56 x 56 = 802816, N = 256, K = 64; 6272 blocks of 128x256) streams
  // 103 MB in and 411 MB out. Each stage (one wave) carries 47/48 of a start-up on
  // the SMs beside 1/48 of the transfers, which take longer, so only the first
  // wave's start-up and the pipeline's ends show: the first stage's SM time and the
  // last, partial wave (68 blocks: 68/132 of a wave's transfers, a whole wave's SM
  // time). Between one and three start-ups, not 48.
  const double conv =
      added(build_workload("conv2d:n=256,cin=64,cout=256,h=56,r=1,dtype=bf16"), "48 wave(s)", "memory:dram");
  CHECK(conv > startup);
  CHECK(conv < 3 * startup);
}

TEST_CASE("GEMM tensor energy counts the products inside the matrix only", "[gpu][gemm][power]") {
  const auto hw = load_hardware("h100-sxm", {"power.power_limit=0W", "compute.energy_fp32=10pJ"});
  // fp32 16 x 4096 x 4096 on the CUDA cores: the smallest tile has 64 rows, so the
  // issued MACs are 4x the useful ones (16 of 64 rows). The zero-filled rows do not
  // switch: the mma energy is 2 * 16 * 4096 * 4096 FLOP * 10 pJ = 5.36870912 mJ.
  const Graph g = gemm(16, 4096, 4096, DType::fp32);
  const Kernel k = TensorCoreMapper(tc(*hw)).lower(g, 0, *hw);
  CHECK(k.info.mma_useful.value_or(0) == Approx(16.0 / static_cast<double>(k.info.tile_m.value_or(0))));
  double e = 0;
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if (in.op == Opcode::mma) e += static_cast<double>(b.repeat) * tc(*hw).instr_energy_j(in, k, KernelContext{});
  CHECK(e == Approx(2.0 * 16 * 4096 * 4096 * 10e-12).epsilon(1e-9));
}

TEST_CASE("a matrix-vector product runs as gemv: no padded tile rows, bound by reading the matrix", "[gpu][gemm]") {
  const auto hw = load_hardware("h100-sxm", {});
  // fp32 1 x 11008 x 4096: the 64-row SIMT tile holds 1 useful row. As a gemv only
  // the useful products take issue slots, and reading B (11008 * 4096 * 4 B =
  // 180 MB) from DRAM bounds the kernel (measured 72.8 us on the shared H100).
  const Graph g = gemm(1, 11008, 4096, DType::fp32);
  const Kernel k = TensorCoreMapper(tc(*hw)).lower(g, 0, *hw);
  CHECK(k.info.gemv.value_or(0) == 1);
  Kernel tiled = k;
  tiled.info.gemv.reset();
  for (const Block& b : k.blocks)
    for (const Instr& in : b.instrs)
      if (in.op == Opcode::mma)
        CHECK(tc(*hw).instr_time_s(in, k, KernelContext{}) < tc(*hw).instr_time_s(in, tiled, KernelContext{}) / 5);
  const RunResult r = simulate(g, *hw);
  CHECK(r.ops[0].bound == "memory:dram");
  // A 16-row GEMM is no gemv: cuBLAS runs it in whole tiles.
  CHECK(TensorCoreMapper(tc(*hw)).lower(gemm(16, 11008, 4096, DType::fp32), 0, *hw).info.gemv.value_or(0) == 0);
}

TEST_CASE("fp8 GEMMs spend energy on the fp32 promotion unless fast accumulation is on", "[gpu][gemm][power]") {
  // Without a power limit both run at the maximum clock with the same plan; the
  // promotion (one fp32 lane op per accumulator every 128 products) is hidden in
  // time and costs 4096 x 4096 outputs x 4096/128 promotions x 10 pJ = 5.36870912 mJ.
  const auto hw = load_hardware("h100-sxm", {"power.power_limit=0W", "compute.energy_fp32=10pJ"});
  const RunResult normal = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=fp8_e4m3"), *hw);
  const RunResult fast = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=fp8_e4m3,fast_accum=1"), *hw);
  CHECK(normal.time_s == fast.time_s);
  CHECK(normal.energy_j - fast.energy_j == Approx(4096.0 * 4096 * 32 * 10e-12).epsilon(1e-9));
  // bf16 has no promotion step: the flag changes nothing.
  const RunResult b0 = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=bf16"), *hw);
  const RunResult b1 = simulate(build_workload("gemm:m=4096,n=4096,k=4096,dtype=bf16,fast_accum=1"), *hw);
  CHECK(b0.energy_j == b1.energy_j);
  // Under the 700 W limit the fast-accumulation kernel is power-capped at a higher clock.
  const auto capped = load_hardware("h100-sxm", {});
  CHECK(simulate(build_workload("gemm:m=8192,n=8192,k=8192,dtype=fp8_e4m3,fast_accum=1"), *capped).time_s <
        simulate(build_workload("gemm:m=8192,n=8192,k=8192,dtype=fp8_e4m3"), *capped).time_s);
}

TEST_CASE("a kernel queued behind another pays the back-to-back gap, not a launch", "[gpu][launch]") {
  // As a CUDA graph replays them (no host time; tests/gpu/test_host.cpp has eager).
  const auto hw = load_hardware("h100-sxm", {"compute.launch_overhead=4us", "compute.kernel_gap=1.5us",
                                             "compute.host_mode=graph"});
  // Two element-wise kernels in one workload: the first is launched alone (4 us, as
  // a microbenchmark times it), the second is queued behind it (1.5 us).
  Graph g;
  g.name = "two";
  for (int i = 0; i < 2; ++i) {
    Op op;
    op.name = fmt::format("add{}", i);
    op.kind = OpKind::add;
    op.dtype = op.out_dtype = DType::bf16;
    op.attrs = {{"rows", 1024}, {"cols", 1024}, {"inputs", 2}};
    if (i > 0) op.deps = {0};
    g.add(op);
  }
  const RunResult r = simulate(g, *hw);
  CHECK(r.ops[0].overhead_s == Approx(4e-6));
  CHECK(r.ops[1].overhead_s == Approx(1.5e-6));
  // Same kernel body: the times differ by the overheads alone.
  CHECK(r.ops[0].time_s - r.ops[1].time_s == Approx(2.5e-6).epsilon(1e-6));
}

TEST_CASE("every preset loads and runs a GEMM", "[gpu][presets]") {
  for (const char* name : {"h100-sxm", "h200", "a100-80gb", "v100", "b200"}) {
    const auto hw = load_hardware(name, {});
    const RunResult r = simulate(gemm(4096, 4096, 4096), *hw);
    INFO(name);
    CHECK(r.time_s > 0);
    // Achieved rate below the nominal dense peak.
    CHECK(r.flops / r.time_s < hw->compute().peak_flops(DType::bf16));
  }
  // fp4 runs on B200's fp4 pipe at twice its fp8 rate, and as fp8 on H100.
  const auto b200 = load_hardware("b200", {});
  CHECK(b200->compute().peak_flops(DType::fp4_e2m1) == Approx(2 * b200->compute().peak_flops(DType::fp8_e4m3)));
  CHECK(tc(*load_hardware("h100-sxm", {})).flops_per_clock(DType::fp4_e2m1) == 8192);
}

TEST_CASE("Ampere-style attention kernels run at the mma.sync rate: half the H100's, all the A100's",
          "[gpu][presets][attention]") {
  // The FA2 and memory-efficient efficiencies are fitted on H100 records as
  // fractions of the mma.sync rate; on the A100 mma.sync is the whole tensor rate.
  const auto h100 = load_hardware("h100-sxm", {});
  const auto a100 = load_hardware("a100-80gb", {});
  for (const MmaPath path : {MmaPath::flash2, MmaPath::efficient, MmaPath::flash2_backward}) {
    INFO(static_cast<int>(path));
    CHECK(tc(*a100).mma_efficiency(DType::bf16, path) == Approx(2.0 * tc(*h100).mma_efficiency(DType::bf16, path)));
  }
  // The GEMM mainloop (wgmma on Hopper) does not change.
  CHECK(tc(*a100).mma_efficiency(DType::bf16, MmaPath::gemm) == tc(*h100).mma_efficiency(DType::bf16, MmaPath::gemm));
  // FA2 forward (the A100 preset's default backend), B4 H32 S4096 D64 (4 B H S^2 D =
  // 549.8 GFLOP): within the
  // 50-73 % of the A100's 312 TFLOP/s peak that FlashAttention-2 reaches (Dao 2023).
  const RunResult r = simulate(build_workload("attention:batch=4,heads=32,sq=4096,d=64"), *a100);
  const double share = 549.8e9 / r.time_s / 312e12;
  CHECK(share > 0.50);
  CHECK(share < 0.73);
}

TEST_CASE("llama-7b prefill simulates in well under a second", "[gpu][speed]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = simulate(build_workload("llama-7b:phase=prefill,batch=1,seq=2048"), *hw);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.time_s > 0);
  CHECK(wall < 1.0);
}

TEST_CASE("accuracy on the shared H100 microbenchmarks", "[gpu][accuracy]") {
  const auto path = k_shared / "reference/h100/microbench.jsonl";
  // Missing reference data is a failure, not a pass.
  REQUIRE(std::filesystem::exists(path));
  const auto hw = load_hardware("h100-sxm", {});
  const auto s = compare_records(read_jsonl(path.string()), *hw, path.parent_path());
  // Bounds are the figures the calibrated preset achieves (docs/gpu-model.md), with
  // about one point of slack so that a regression fails; where the target
  // is tighter the comment says so.
  // Copies >= 64 MiB: target 5 %.
  CHECK(group_mape(s, "membw", "copy, >= 64 MiB") <= 0.05);
  // Fused attention per backend and decode: target 10 %. cuDNN achieved 7.8 %
  // (FA3 MMAs at the GEMM efficiency, a fitted share of the softmax exposed).
  CHECK(group_mape(s, "attn", "flash") <= 0.10);
  CHECK(group_mape(s, "attn", "efficient") <= 0.10);
  CHECK(group_mape(s, "attn", "decode") <= 0.105);
  CHECK(group_mape(s, "attn", "cudnn") <= 0.085);
  // vec: target 10 %; achieved bf16 7.0 %, fp32 7.9 % (row kernels: rounds of
  // resident rows, dependent round trips and block reductions, accurate expf/div,
  // the reductions' shuffles and Welford combines as issue work).
  CHECK(group_mape(s, "vec", "bf16") <= 0.08);
  CHECK(group_mape(s, "vec", "fp32") <= 0.09);
  CHECK(s["sections"]["vec"]["mape"].get<double>() <= 0.085);
  // Unfused (math backend) attention, predicted as the kernels PyTorch's
  // _scaled_dot_product_attention_math launches (attention path=sdpa_math: fp32
  // upcasts, q/k scale, causal mask, safe softmax, fp32 matmuls, casts back);
  // target 10 %, achieved 4.2 %.
  CHECK(group_mape(s, "attn", "math") <= 0.052);
  // GEMM energy per format (pj_per_flop): target 10 %; achieved 0.1 % (fitted on
  // these records).
  CHECK(group_mape(s, "energy", "gemm") <= 0.02);
  // GEMM >= 1 GFLOP, cold L2: target 8 %, the bound this suite held before the DRAM
  // cycle model replaced the fitted HBM efficiencies; achieved 7.8 %. The cold
  // records start after the harness's 256 MiB flush, whose dirty L2 lines the
  // skinny GEMMs' weight streams write back first (compare: after_flush; 9.6 %
  // without, the M = 1/16/128 GEMMs 15-27 % too fast).
  CHECK(group_mape(s, "gemm", "cold, >= 1 GFLOP") <= 0.08);
  // Sub-GFLOP GEMMs (no target; 12 % bound before): achieved 8.9 % (per-wave start-up;
  // matrix-vector products as gemv; the flush's write-back), one point of slack.
  CHECK(group_mape(s, "gemm", "cold, < 1 GFLOP") <= 0.10);
  // Hot-L2 records (start event, op, end event on an idle GPU): the host's time of
  // the op (host_matmul, host_scaled_mm, host_int_mm, host_copy fitted per API) and
  // the event timing (host_timer) set a floor under short kernels (models/compute/
  // host.h). Achieved 11.4 % (21.2 % without the host model) and 2.2 % (37.6 %).
  CHECK(group_mape(s, "gemm", "hot L2") <= 0.125);
  CHECK(group_mape(s, "membw", "copy, hot, < 64 MiB") <= 0.032);
  CHECK(group_mape(s, "membw", "copy, hot, >= 64 MiB") <= 0.02);
  // Reads: x.sum() as ATen launches it (memset + reduction) after the flush's
  // write-back; target 10 %, achieved 2.1 % at >= 64 MiB (tests/gpu/test_memory_state.cpp).
  CHECK(group_mape(s, "membw", "read_sum_fp32, >= 64 MiB") <= 0.03);
  // Precision records (issue target: every record within 10 %): 1024 sampled
  // outputs per record leave about 3 % sampling noise on top of the model error;
  // tests/numerics checks every record at 4096 samples against the 10 % bound.
  CHECK(s["sections"]["precision"]["count"].get<int>() == 84);
  CHECK(s["sections"]["precision"]["worst_error"].get<double>() <= 0.10);
  for (const auto& rec : s["records"])
    if (rec.value("section", std::string()) == "precision" && rec.contains("bit_exact_fraction"))
      CHECK(rec["bit_exact_fraction"].get<double>() >= 0.99);
}

TEST_CASE("accuracy on the A100 GEMMs (not fitted)", "[gpu][accuracy]") {
  const auto path = k_shared / "peer-data/llmcompass/a100_gemm.jsonl";
  REQUIRE(std::filesystem::exists(path));
  const auto hw = load_hardware("a100-80gb", {});
  const auto records = read_jsonl(path.string());
  // LLMCompass timed these with a host clock: time.time() around torch.matmul and
  // torch.cuda.synchronize() (software_model/matmul.py, run_on_gpu), so the host's
  // op time (host_matmul, fitted on the H100's hot records, not on these) and the
  // isolated kernel add (compare.cpp, timing_of), and the device idles for the
  // host's time between runs (the power limit holds for the loop's average).
  // Target 10 % per row on data not fitted; achieved 2.5 % on the rows >= 1 GFLOP
  // (worst 8192 x 1024 x 1024: +5.7 %), 11.7 % on the two sub-GFLOP rows (8192 x
  // 64^2 and 128^2: +12 %, +11 %: this host's path is a little shorter than the
  // H100 machine's).
  const auto s = compare_records(records, *hw);
  CHECK(group_mape(s, "gemm", "host clock, >= 1 GFLOP") <= 0.03);
  CHECK(group_mape(s, "gemm", "host clock, < 1 GFLOP") <= 0.13);
  int big = 0;
  for (const auto& rec : s["records"])
    if (rec.value("group", std::string()) == "host clock, >= 1 GFLOP") {
      ++big;
      CHECK(std::abs(rec["error"].get<double>()) <= 0.10);
    }
  CHECK(big == 18);
  // 128 x 12288 x 12288 draws 444 W back to back at 1.41 GHz (66.6 mJ in 173.6
  // us + 60 W static) and would run at 1.13 GHz (+10.3 %); with the host's 24.67 us
  // idle after each run the loop averages 396 W, within the 400 W limit.
  nlohmann::json r128 = records.at(1);
  REQUIRE(r128["M"] == 128);
  CHECK(compare_record(r128, *hw).record.at("predicted_clock_mhz").get<double>() == 1410);
  r128["timing"] = "events";
  CHECK(compare_record(r128, *hw).record.at("predicted_clock_mhz").get<double>() < 1200);
  // The tile choice's power bound takes the idle too: 64 x 12288 x 12288 is not
  // power-bound in the loop, so its 64-row tiles (no padded rows) win; back to back
  // the bound prefers 128 x 256 tiles, which move fewer L2 bytes per FLOP.
  nlohmann::json r64 = records.at(0);
  REQUIRE(r64["M"] == 64);
  CHECK(compare_record(r64, *hw).record.at("mapping").get<std::string>().find("tile 64x128x64") !=
        std::string::npos);
  r64["timing"] = "events";
  CHECK(compare_record(r64, *hw).record.at("mapping").get<std::string>().find("tile 128x256x64") !=
        std::string::npos);
  // Read as CUDA-event times (no host in the interval) the small rows are 47-71 %
  // too fast: 9.8 % on the rows >= 1 GFLOP, 69.8 % below.
  std::vector<nlohmann::json> events = records;
  for (auto& r : events) r["timing"] = "events";
  const auto e = compare_records(events, *hw);
  CHECK(group_mape(e, "gemm", "cold, >= 1 GFLOP") > 0.09);
  CHECK(group_mape(e, "gemm", "cold, < 1 GFLOP") > 0.6);
  // The host time is what closes the gap: without it the sync rows read as events.
  const auto no_host = load_hardware("a100-80gb", {"compute.host_matmul=0us"});
  CHECK(group_mape(compare_records(records, *no_host), "gemm", "host clock, < 1 GFLOP") ==
        Approx(group_mape(e, "gemm", "cold, < 1 GFLOP")).epsilon(1e-9));
}

TEST_CASE("compare: a record's timing is events or sync", "[gpu][compare]") {
  const auto hw = load_hardware("a100-80gb", {});
  nlohmann::json r = {{"section", "gemm"}, {"dtype", "fp16"}, {"M", 256}, {"N", 256}, {"K", 256},
                      {"median_ms", 0.03}, {"timing", "wall"}};
  try {
    compare_record(r, *hw);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("field 'timing' must be \"events\"") != std::string::npos);
  }
  // sync = the host's op time + the isolated kernel: 24.67 us (host_matmul) more
  // than the same record timed with events (its host hidden: a cold record).
  r["timing"] = "sync";
  const double sync = compare_record(r, *hw).record.at("predicted_value").get<double>();
  r["timing"] = "events";
  const double events = compare_record(r, *hw).record.at("predicted_value").get<double>();
  CHECK(sync - events == Approx(24.67e-3).epsilon(1e-9));
  // Any record of one op timed alone: a layer norm adds host_norm, 7 us.
  nlohmann::json v = {{"section", "vec"}, {"op", "layernorm"}, {"dtype", "bf16"}, {"T", 4096}, {"d", 1024},
                      {"median_ms", 0.02}};
  const double v_events = compare_record(v, *hw).record.at("predicted_value").get<double>();
  v["timing"] = "sync";
  CHECK(compare_record(v, *hw).record.at("predicted_value").get<double>() - v_events ==
        Approx(7e-3).epsilon(1e-9));
  // Not where the record is a whole module's kernel time or several ops.
  nlohmann::json t = {{"section", "train"}, {"model", "resnet50"}, {"dtype", "bf16"}, {"batch", 1},
                      {"device_busy_us", 1000.0}, {"timing", "sync"}};
  try {
    compare_record(t, *hw);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("timing \"sync\" is modelled for records of one op timed alone") !=
          std::string::npos);
  }
}

TEST_CASE("attention against the FlashAttention-3 paper's H100 figures", "[gpu][accuracy][attention]") {
  // Published speeds (Shah et al. 2024, sec. 4.1: H100 SXM5, bf16, non-causal,
  // batch x seqlen = 16k, hidden 2048), converted to times in tests/gpu/data.
  const std::filesystem::path data = std::filesystem::path(TESSERA_SOURCE_DIR) / "tests/gpu/data";
  const auto hw = load_hardware("h100-sxm", {});
  // Forward: not fitted (the forward efficiencies come from the shared PyTorch
  // measurements). cuDNN 9.8 %; FA2 12.2 %, all too slow: the paper's standalone
  // FlashAttention-2 runs ~8 % faster than PyTorch's copy does on the shared data
  // (head dim 128, S = 16k: 370 against 343 TFLOP/s). Bounds: about one point of slack.
  const auto fwd = compare_records(read_jsonl((data / "h100_attention_fwd_fa3_paper.jsonl").string()), *hw);
  CHECK(group_mape(fwd, "attn", "cudnn") <= 0.105);
  CHECK(group_mape(fwd, "attn", "flash") <= 0.13);
  // Backward: attention_backward_rate_flash2 and _flash3 are fitted on these records
  // (one scalar per backend, 12 records each): FA2 3.8 %, cuDNN 4.7 %.
  const auto bwd = compare_records(read_jsonl((data / "h100_attention_bwd_fa3_paper.jsonl").string()), *hw);
  CHECK(group_mape(bwd, "attn", "flash backward") <= 0.05);
  CHECK(group_mape(bwd, "attn", "cudnn backward") <= 0.055);
  CHECK(bwd["sections"]["attn"]["skipped"].get<int>() == 0);
}

TEST_CASE("calibrate reproduces the committed calibrated H100 description", "[gpu][calibrate]") {
  const auto shared = k_shared / "reference/h100/microbench.jsonl";
  REQUIRE(std::filesystem::exists(shared));
  const std::filesystem::path src(TESSERA_SOURCE_DIR);
  std::ostringstream log;
  const YAML::Node tree = calibrate_tree(
      "h100-sxm", {}, {shared.string(), (src / "tests/gpu/data/h100_attention_bwd_fa3_paper.jsonl").string()}, log);
  // configs/calibrated/h100-sxm.yaml was written by this command; the fit is
  // deterministic, so every fitted value comes out the same.
  const YAML::Node committed = YAML::LoadFile((src / "configs/calibrated/h100-sxm.yaml").string());
  for (const char* section : {"compute", "power"})
    for (const auto& kv : committed[section]) {
      const auto key = kv.first.as<std::string>();
      INFO(section << "." << key);
      CHECK(tree[section][key].as<std::string>() == kv.second.as<std::string>());
    }
  for (const auto& level : committed["memory"])
    for (const auto& kv : level.second) {
      const auto key = kv.first.as<std::string>();
      INFO("memory." << level.first.as<std::string>() << "." << key);
      CHECK(tree["memory"][level.first.as<std::string>()][key].as<std::string>() == kv.second.as<std::string>());
    }
  CHECK(log.str().find("attention_backward_rate_flash2: 0.7426 (12 attn backward records") != std::string::npos);
  CHECK(log.str().find("attention_backward_rate_flash3: 0.5795 (12 attn backward records") != std::string::npos);
  // The host costs, each from its API's hot records (models/compute/host.h).
  CHECK(log.str().find("host_matmul: 24.58 us (139 records: hot gemm bf16/fp16/tf32/fp32") != std::string::npos);
  CHECK(log.str().find("host_scaled_mm: 24.55 us (35 records: hot gemm fp8_e4m3/fp8_e4m3_fastacc") != std::string::npos);
  CHECK(log.str().find("host_int_mm: 12.01 us (25 records: hot gemm int8") != std::string::npos);
  CHECK(log.str().find("host_copy: 7.33 us (9 records: hot membw copy") != std::string::npos);
}

TEST_CASE("FA3 attention: head dim 64 spends twice the softmax share of head dim 128", "[gpu][attention]") {
  // Same FLOPs (4 B H S^2 D) with H x D fixed at 2048: head dim 64 has twice the
  // scores per MMA FLOP, so its exposed softmax (exp on 16 SFUs/clk/SM, ~5 lane ops
  // per score) makes it slower per FLOP, as measured (cuDNN at S = 16384: 447
  // TFLOP/s at D = 64, 593 TFLOP/s at D = 128).
  const auto hw = load_hardware("h100-sxm", {});
  const RunResult d64 = simulate(
      build_workload("attention:batch=1,heads=32,sq=16384,skv=16384,d=64,causal=0,dtype=bf16"), *hw);
  const RunResult d128 = simulate(
      build_workload("attention:batch=1,heads=16,sq=16384,skv=16384,d=128,causal=0,dtype=bf16"), *hw);
  REQUIRE(d64.flops == Approx(d128.flops));
  CHECK(d64.time_s > 1.2 * d128.time_s);
  CHECK(d64.time_s < 1.5 * d128.time_s);
}
