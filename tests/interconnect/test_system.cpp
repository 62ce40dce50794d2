// The system component: device counts (the contract other code relies on), its
// checks, and the link and switch units' timing arithmetic.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/hardware.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"

using namespace tessera;

namespace {
std::string load_error(const std::string& hw, const std::vector<std::string>& sets) {
  try {
    load_hardware(hw, sets);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("device_count: nodes x devices_per_node, 1 without a system", "[interconnect]") {
  CHECK(device_count(*load_hardware("h100-sxm", {})) == 1);
  CHECK(devices_per_node(*load_hardware("h100-sxm", {})) == 1);
  CHECK(find_system(*load_hardware("tpu-v4", {})) == nullptr);
  CHECK(device_count(*load_hardware("dgx-h100", {})) == 8);
  // --set system.nodes=4 replicates the node: 4 x 8 = 32.
  const auto four = load_hardware("dgx-h100", {"system.nodes=4"});
  CHECK(device_count(*four) == 32);
  CHECK(devices_per_node(*four) == 8);
  CHECK(device_count(*load_hardware("tpu-v4-pod", {})) == 64);
  CHECK(device_count(*load_hardware("tpu-v4-pod", {"system.devices_per_node=4096", "system.shape=16x16x16"})) == 4096);
}

TEST_CASE("system: bad descriptions name the key and what is accepted", "[interconnect]") {
  CHECK(load_error("dgx-h100", {"system.nodes=0"}).find("nodes") != std::string::npos);
  CHECK(load_error("tpu-v4-pod", {"system.shape=4x4x3"}).find("shape '4x4x3' holds 48 devices but devices_per_node is 64") !=
        std::string::npos);
  CHECK(load_error("tpu-v4-pod", {"system.shape=4x16"}).find("topology torus3d takes a shape of 3 extent(s)") !=
        std::string::npos);
  CHECK(load_error("tpu-v4-pod", {"system.shape=4xx16"}).find("expected extents such as 4x4 or 4x4x8") !=
        std::string::npos);
  // A second GB200 NVL72 rack needs a scale-out link the preset does not have.
  CHECK(load_error("gb200-nvl72", {"system.nodes=2"}).find("system.scale_out_link: nodes > 1 needs the scale-out "
                                                          "link (NIC)") != std::string::npos);
  CHECK(load_error("dgx-h100", {"system.scale_up_link=fabric.nvswitch"})
            .find("system.scale_up_link: 'fabric.nvswitch' is a switch (switch), not a link") != std::string::npos);
  CHECK(load_error("dgx-h100", {"system.scale_up_link=fabric.nope"}).find("no component 'fabric.nope'") !=
        std::string::npos);
  CHECK(load_error("dgx-h100", {"system.nodes=100000", "system.devices_per_node=1000"})
            .find("is more than 16777216 devices") != std::string::npos);
  CHECK(load_error("dgx-h100", {"fabric.nvlink.bandwidth=0GB/s"}).find("fabric.nvlink.bandwidth: must be > 0") !=
        std::string::npos);
}

TEST_CASE("link: busy time = step latency + bytes / payload rate", "[interconnect]") {
  const auto hw = load_hardware("dgx-h100", {});
  const auto& nvl = hw->get<LinkModel>("fabric.nvlink");
  // NVLink 4: 25 GB/s per link, payload 128 B behind 27.4 B: 25e9 x 128/155.4 = 20.592 GB/s.
  CHECK(nvl.efficiency() == Approx(128.0 / 155.4));
  CHECK(nvl.device_payload_bw() == Approx(18 * 25e9 * 128.0 / 155.4));
  Instr in;
  in.op = Opcode::send;
  in.bytes = 1'000'000;
  in.count = 18;
  in.name = "simple";
  // 18 copies of 1 MB over 18 links: 0.5 us hop + 4 us step + 1e6 / 20.592e9 s (48.56 us).
  CHECK(nvl.busy_time_s(in) == Approx(0.5e-6 + 4e-6 + 1e6 / (25e9 * 128.0 / 155.4)));
  // LL128: 120 of 128 bytes are data, 1.25 us per step.
  in.name = "ll128";
  CHECK(nvl.busy_time_s(in) == Approx(0.5e-6 + 1.25e-6 + 1e6 / (25e9 * 128.0 / 155.4 * 120.0 / 128.0)));
  // LL: half the wire bytes are flags, 0.6 us per step.
  in.name = "ll";
  CHECK(nvl.busy_time_s(in) == Approx(0.5e-6 + 0.6e-6 + 1e6 / (25e9 * 128.0 / 155.4 * 0.5)));
  // More copies than links: they share the 18 links.
  in.name = "simple";
  in.count = 36;
  CHECK(nvl.busy_time_s(in) == Approx(0.5e-6 + 4e-6 + 2e6 / (25e9 * 128.0 / 155.4)));
  // Energy: every wire bit (payload / efficiency) at 1.3 pJ.
  in.count = 1;
  CHECK(nvl.energy_j(in) == Approx(1e6 / (128.0 / 155.4) * 8 * 1.3e-12));
}

TEST_CASE("switch: in-switch reduction at the port payload rate x reduction efficiency", "[interconnect]") {
  const auto hw = load_hardware("dgx-h100", {});
  const auto& sw = hw->get<SwitchModel>("fabric.nvswitch");
  Instr in;
  in.op = Opcode::coll;
  in.bytes = 1'000'000;
  in.count = 18;
  // 0.2 us + 1e6 / (25e9 x 0.824 x 0.85) per port, the 18 ports in parallel.
  CHECK(sw.busy_time_s(in) == Approx(0.2e-6 + 1e6 / (25e9 * 0.824 * 0.85)));
  Instr sync;
  sync.op = Opcode::barrier;
  CHECK(sw.busy_time_s(sync) == Approx(23e-6));   // NCCL's NVLS base latency
  // A switch without in-switch reduction refuses to reduce.
  const auto a100 = load_hardware("dgx-a100", {});
  CHECK_THROWS_WITH(a100->get<SwitchModel>("fabric.nvswitch").busy_time_s(in),
                    Catch::Contains("needs in_switch_reduction: true"));
}
