// Every system preset reproduces its headline figure from its parameters.
#include <catch2/catch.hpp>

#include "models/hardware.h"
#include "models/interconnect/link.h"
#include "models/interconnect/system.h"

using namespace tessera;

namespace {
double system_peak(const std::string& hw, DType t, const std::vector<std::string>& sets = {}) {
  const auto h = load_hardware(hw, sets);
  return device_count(*h) * h->compute().peak_flops(t);
}
// One direction of all of a device's links of `path`, both directions summed.
double link_bidir(const Hardware& hw, const std::string& path) {
  const auto& l = hw.get<LinkModel>(path);
  return 2.0 * l.link_bandwidth() * static_cast<double>(l.links());
}
}  // namespace

TEST_CASE("dgx-h100: eight H100, 16 PFLOPS, NVLink 900 GB/s per GPU", "[interconnect][presets]") {
  // NVIDIA's 1979 TFLOPS dense fp8 per H100 is at the 1.83 GHz boost clock:
  // 8 x 132 SMs x 8192 FLOP/clk x 1.83 GHz = 15.83 PFLOPS ("16 petaFLOPS").
  CHECK(system_peak("dgx-h100", DType::fp8_e4m3, {"compute.max_clock=1.83GHz"}) ==
        Approx(8.0 * 132 * 8192 * 1.83e9));
  CHECK(system_peak("dgx-h100", DType::fp8_e4m3, {"compute.max_clock=1.83GHz"}) == Approx(16e15).epsilon(0.02));
  const auto hw = load_hardware("dgx-h100", {});
  CHECK(link_bidir(*hw, "fabric.nvlink") == Approx(900e9));   // 18 x 25 GB/s x 2
}

TEST_CASE("dgx-a100: 5 PFLOPS fp16 with sparsity, NVLink 600 GB/s per GPU", "[interconnect][presets]") {
  // 8 x 312 TFLOPS dense fp16 x 2 (2:4 sparsity) = 4.99 PFLOPS.
  CHECK(2 * system_peak("dgx-a100", DType::fp16) == Approx(5e15).epsilon(0.01));
  CHECK(link_bidir(*load_hardware("dgx-a100", {}), "fabric.nvlink") == Approx(600e9));
}

TEST_CASE("dgx-1: 1 PFLOPS fp16 tensor, NVLink 2 300 GB/s per GPU", "[interconnect][presets]") {
  // NVIDIA's 125 TFLOPS per V100 is at the 1.53 GHz boost: 8 x 80 x 1024 x 1.53 GHz = 1.003 PFLOPS.
  CHECK(system_peak("dgx-1", DType::fp16, {"compute.max_clock=1.53GHz"}) == Approx(1e15).epsilon(0.01));
  CHECK(link_bidir(*load_hardware("dgx-1", {}), "fabric.nvlink") == Approx(300e9));
}

TEST_CASE("gb200-nvl72: 72 GPUs, 130 TB/s of NVLink", "[interconnect][presets]") {
  const auto hw = load_hardware("gb200-nvl72", {});
  CHECK(device_count(*hw) == 72);
  // 72 x 18 links x 50 GB/s x 2 directions = 129.6 TB/s.
  CHECK(device_count(*hw) * link_bidir(*hw, "fabric.nvlink") == Approx(130e12).epsilon(0.01));
}

TEST_CASE("TPU pods: v2 11.5 PFLOPS, v3 126 PFLOPS, v4 1.1 exaFLOPS", "[interconnect][presets]") {
  // v2: 256 chips x 2 cores x 128 x 128 x 2 x 0.7 GHz = 11.74 PFLOPS (Google: 11.5).
  CHECK(system_peak("tpu-v2-pod", DType::bf16) == Approx(11.5e15).epsilon(0.025));
  // v3: 1024 chips x 4 MXUs x 16384 x 2 x 0.94 GHz = 126.2 PFLOPS.
  CHECK(system_peak("tpu-v3-pod", DType::bf16) == Approx(126e15).epsilon(0.01));
  // v4: 4096 chips x 275.3 TFLOPS = 1.128 exaFLOPS; the 64-chip slice 17.6 PFLOPS.
  CHECK(system_peak("tpu-v4-pod", DType::bf16, {"system.devices_per_node=4096", "system.shape=16x16x16"}) ==
        Approx(1.1e18).epsilon(0.03));
  CHECK(system_peak("tpu-v4-pod", DType::bf16) == Approx(17.6e15).epsilon(0.01));
  CHECK(find_system(*load_hardware("tpu-v3-pod", {}))->shape() == std::vector<int64_t>{32, 32});
}

TEST_CASE("trn1-32xl: 3.4 PFLOPS bf16, 512 GB HBM at 9.8 TB/s", "[interconnect][presets]") {
  const auto hw = load_hardware("trn1-32xl", {});
  CHECK(system_peak("trn1-32xl", DType::bf16) == Approx(3.4e15).epsilon(0.005));
  const auto& dram = *hw->memory("dram");
  CHECK(device_count(*hw) * dram.params().real("capacity") == Approx(512e9));
  CHECK(device_count(*hw) * dram.params().real("bandwidth") == Approx(9.8e12));
}

TEST_CASE("dojo-tile: 25 D1 dies of 362 TFLOPS, 4 TB/s per die edge", "[interconnect][presets]") {
  const auto hw = load_hardware("dojo-tile", {});
  CHECK(hw->compute().peak_flops(DType::bf16) == Approx(362e12).epsilon(0.005));
  CHECK(system_peak("dojo-tile", DType::bf16) == Approx(9.05e15).epsilon(0.005));
  CHECK(hw->get<LinkModel>("fabric.edge").link_bandwidth() == Approx(4e12));
}

TEST_CASE("cs2-wafer: 850,000 cores, 20 PB/s memory bandwidth", "[interconnect][presets]") {
  const auto hw = load_hardware("cs2-wafer", {});
  CHECK(hw->compute().params().integer("cores") == 850000);
  CHECK(hw->memory("dram")->params().real("bandwidth") == Approx(20e15));
}

TEST_CASE("mtia-2: 708 TOPS int8 with sparsity", "[interconnect][presets]") {
  // 64 PEs x 2048 MACs x 2 x 1.35 GHz = 353.9 TOPS dense; 2:4 sparsity doubles it.
  CHECK(2 * system_peak("mtia-2", DType::int8) == Approx(708e12).epsilon(0.002));
}
