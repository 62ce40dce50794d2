// The L2's dirty lines at a kernel's start (a benchmark's cache flush by writing)
// and what ATen launches for x.sum(): the membw read records and the skinny GEMMs
// of the shared H100 file.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "compiler/compile.h"
#include "models/hardware.h"
#include "models/memory/hbm.h"
#include "sim/simulate.h"
#include "sim/tools/compare.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

const std::filesystem::path k_state_shared = TESSERA_SHARED_DIR;

double dram_bytes(const Graph& g, const Hardware& hw) {
  const Program p = compile(g, hw);
  REQUIRE(p.kernels.size() == 1);
  return p.kernels[0].info.dram_bytes.value_or(-1);
}

Graph flushed(Graph g) {
  g.info["l2_dirty_bytes"] = 256.0 * 1024 * 1024;
  return g;
}

}  // namespace

TEST_CASE("a read after a write stream first writes back the L2's dirty lines", "[gpu][l2]") {
  const auto hw = load_hardware("h100-sxm", {"memory.l2.dirty_share=0.5"});
  // x.sum() over 64 MiB of fp32: reads R = 67108864 B and writes W, the 4-byte
  // result (W is a few hundred bytes: each SM's store of each stage is rounded to a
  // whole byte).
  const Graph sum = build_workload("strided_read:bytes=64MiB,stride=1");
  const double clean = dram_bytes(sum, *hw);
  const double w = clean - 67108864.0;
  CHECK(w >= 4.0);
  CHECK(w < 1000.0);
  // L2 C = 50 MiB = 52428800 B, half of it dirty: D = 26214400 B. Allocating
  // A = R + W bytes evicts D (1 - exp(-A / C)) dirty bytes; the result's W bytes
  // stay dirty in their place: 26214400 x (1 - exp(-67108864 / 52428800)) = 18.93 MB
  // of write-back (each store instruction rounded to whole bytes: 1e-4).
  const double extra = 26214400.0 * (1.0 - std::exp(-clean / 52428800.0)) - w;
  CHECK(dram_bytes(flushed(sum), *hw) - clean == Approx(extra).epsilon(1e-4));
  CHECK(extra == Approx(18.93e6).epsilon(1e-3));
  // Beyond the L2 the write-back saturates at D: a 1 GiB sum adds 26214400 B.
  const Graph big = build_workload("strided_read:bytes=1GiB,stride=1");
  CHECK(dram_bytes(flushed(big), *hw) - dram_bytes(big, *hw) == Approx(26214400.0).epsilon(1e-4));
  // A copy's own writes take the evicted lines' place: a 64 MiB copy (32 MiB read,
  // 32 MiB written) evicts 26214400 (1 - exp(-64 MiB / 50 MiB)) = 18.9 MB < min(W, D)
  // = 26.2 MB, so it adds nothing.
  Graph copy;
  Op op;
  op.kind = OpKind::copy;
  op.dtype = op.out_dtype = DType::fp32;
  op.attrs = {{"rows", 1}, {"cols", 8388608}};
  copy.add(op);
  CHECK(dram_bytes(flushed(copy), *hw) == dram_bytes(copy, *hw));
  // The mapping says so; without the flush, or on a later kernel, nothing changes.
  const Program p = compile(flushed(sum), *hw);
  CHECK(p.kernels[0].mapping.find("first writes back 18.9 MB of dirty L2 lines") != std::string::npos);
  const auto off = load_hardware("h100-sxm", {"memory.l2.dirty_share=0.001"});
  // dirty_share 0.001: D = 52428.8 B, evicted 37.85 kB less the W bytes.
  CHECK(dram_bytes(flushed(sum), *off) - clean == Approx(52428.8 * (1.0 - std::exp(-clean / 52428800.0)) - w).epsilon(0.02));
  // The share is a fraction of the capacity.
  CHECK_THROWS(load_hardware("h100-sxm", {"memory.l2.dirty_share=0"}));
  CHECK_THROWS(load_hardware("h100-sxm", {"memory.l2.dirty_share=1.5"}));
}

TEST_CASE("the fitted dirty share: a wrong value breaks the H100 read records", "[gpu][l2][accuracy]") {
  const auto path = k_state_shared / "reference/h100/microbench.jsonl";
  REQUIRE(std::filesystem::exists(path));
  std::vector<nlohmann::json> membw;
  for (const auto& r : read_jsonl(path.string()))
    if (r.value("section", std::string()) == "membw") membw.push_back(r);
  REQUIRE(membw.size() == 27);
  const auto mape = [&](const std::string& set, const char* group) {
    const auto hw = load_hardware("h100-sxm", set.empty() ? std::vector<std::string>{} : std::vector<std::string>{set});
    return compare_records(membw, *hw)["sections"]["membw"]["groups"][group]["mape"].get<double>();
  };
  // Calibrated (dirty_share 0.4695): x.sum() as ATen's memset + reduction, after the
  // flush's write-back: 2.1 % at >= 64 MiB, 2.0 % below (target 10 %; bound: one point
  // of slack). Without the write-back (share ~0) 7.9 %, with the whole L2 dirty 9.1 %.
  CHECK(mape("", "read_sum_fp32, >= 64 MiB") <= 0.03);
  CHECK(mape("", "read_sum_fp32, < 64 MiB") <= 0.03);
  CHECK(mape("memory.l2.dirty_share=0.001", "read_sum_fp32, >= 64 MiB") > 0.06);
  CHECK(mape("memory.l2.dirty_share=1", "read_sum_fp32, >= 64 MiB") > 0.06);
  // Copies keep their accuracy either way (their own writes replace the dirty lines).
  CHECK(mape("", "copy, >= 64 MiB") <= 0.02);
}

TEST_CASE("h200: a 1 GiB copy from its datasheet HBM3E, no refit", "[gpu][hbm][h200]") {
  const auto h200 = load_hardware("h200", {});
  const auto h100 = load_hardware("h100-sxm", {});
  const auto& hbm = dynamic_cast<const HbmMemory&>(*h200->memory("dram"));
  // H200 datasheet: 141 GB of HBM3E at 4.8 TB/s over six stacks of 1024 pins:
  // 4.8e12 x 8 / 6144 = 6.25 Gb/s per pin, where the DRAM cycle model (HBM3E,
  // all-bank refresh) sustains read 0.903 and write 0.906 of the pins' rate.
  CHECK(hbm.bandwidth_bps() == 4.8e12);
  // The memory CUDA can allocate: 143771 MiB in nvidia-smi less the 480 MiB
  // the driver keeps (as on the H100) = 143291 MiB.
  CHECK(hbm.capacity_bytes() == 143291.0 * 1048576.0);
  CHECK(hbm.stacks() == 6);
  const double er = hbm.characterisation().read_efficiency, ew = hbm.characterisation().write_efficiency;
  CHECK(er == Approx(0.903).epsilon(2e-3));
  CHECK(ew == Approx(0.906).epsilon(2e-3));
  // Nothing fitted for it: the launch overhead and the ramp are the H100's.
  const double launch = h200->compute().params().real("launch_overhead");
  const double ramp = hbm.params().real("ramp_bytes");
  CHECK(launch == h100->compute().params().real("launch_overhead"));
  CHECK(ramp == h100->memory("dram")->params().real("ramp_bytes"));
  // dst.copy_(src) of 512 MiB (1 GiB moved): launch + 512 MiB read at 4.8 TB/s x er
  // + 512 MiB written at 4.8 TB/s x ew, both at the ramp's 1 GiB / (1 GiB + ramp):
  // f = 1 GiB / (1 GiB + 1.124 MB) = 0.998954: 4.611 + 124.00 + 123.61 = 252.2 us
  // (H100: 358.6 us, 1.42x faster on H200; the pins' ratio is 4.8 / 3.35 = 1.43x).
  Graph copy;
  Op op;
  op.kind = OpKind::copy;
  op.dtype = op.out_dtype = DType::fp32;
  op.attrs = {{"rows", 1}, {"cols", 134217728}};
  copy.add(op);
  const double f = 1073741824.0 / (1073741824.0 + ramp);
  const double expect = launch + 536870912.0 / (4.8e12 * er * f) + 536870912.0 / (4.8e12 * ew * f);
  const double t200 = simulate(copy, *h200, "analytic").time_s;
  CHECK(t200 == Approx(expect).epsilon(1e-3));
  CHECK(t200 == Approx(252.2e-6).epsilon(2e-3));
  const double t100 = simulate(copy, *h100, "analytic").time_s;
  CHECK(t100 == Approx(358.6e-6).epsilon(2e-3));
  CHECK(t100 / t200 == Approx(1.42).epsilon(5e-3));
}
