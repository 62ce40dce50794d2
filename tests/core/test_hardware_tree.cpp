// The hardware description as an open tree of registered components: a kind that
// exists only in this test is registered, placed under a new top-level key and
// occupied by an instruction, with no change to the loader or the engines.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "isa/asm.h"
#include "models/builtin.h"
#include "models/hardware.h"
#include "models/timed_unit.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

using namespace tessera;
using Catch::Matchers::Contains;

namespace {

// A unit that is busy for `latency` per issue, whatever the instruction.
class DelayUnit : public TimedUnit {
 public:
  double busy_time_s(const Instr& /*in*/) const override { return m_params.real("latency"); }
  double energy_j(const Instr& /*in*/) const override { return m_params.real("energy"); }
};

Registry test_registry() {
  Registry r = builtin_registry();
  r.add(make_impl<DelayUnit>("delay", "delay", "busy for a fixed latency per instruction",
                             {p_qty("latency", Unit::seconds, "", "time per issue"),
                              p_qty("energy", Unit::joules, "0J", "energy per issue")}));
  return r;
}

// A 4x4 weight-stationary array at 1 GHz behind a DRAM so fast that transfers
// take < 1 fs, plus a delay unit under a key the loader has never heard of.
const char* k_tiny = R"(
name: tiny
compute: {impl: systolic, rows: 4, cols: 4, dataflow: ws, clock: 1GHz}
memory: {dram: {impl: dram, bandwidth: 1000PB/s, capacity: 1GiB}}
power: {impl: board, static_power: 1W}
extras: {dly: {impl: delay, latency: 50ns, energy: 2nJ}}
fabric:
  links:
    - {impl: delay, latency: 1ns}
    - {impl: delay/delay, latency: 2ns}
)";

}  // namespace

TEST_CASE("components under any key and at any depth, found by path", "[hardware][tree]") {
  const Registry reg = test_registry();
  auto hw = build_hardware(YAML::Load(k_tiny), "tiny.yaml", {}, reg);
  const TimedUnit* dly = hw->find<TimedUnit>("extras.dly");
  REQUIRE(dly);
  CHECK(dly->kind() == "delay");
  CHECK(dly->impl() == "delay");
  CHECK(hw->get<TimedUnit>("fabric.links[1]").params().real("latency") == Approx(2e-9));
  CHECK(hw->find<MemoryModel>("memory.dram") == hw->memory("dram"));
  CHECK(hw->find<MemoryModel>("extras.dly") == nullptr);   // there, but not a memory
  CHECK(&hw->get<ComputeModel>("compute") == &hw->compute());
  CHECK_THROWS_WITH(hw->get<TimedUnit>("extras.nope"),
                    Contains("tiny.yaml: no component 'extras.nope'; components: compute, "
                             "memory.dram, power, extras.dly, fabric.links[0], fabric.links[1]"));
  CHECK_THROWS_WITH(hw->get<MemoryModel>("extras.dly"),
                    Contains("component 'extras.dly' is a delay (delay)"));
  // The fixed views stay what they were.
  CHECK(hw->memories().size() == 1);
  CHECK(hw->components().size() == 6);
  // --set reaches into new keys and sequence elements.
  auto set = build_hardware(YAML::Load(k_tiny), "tiny.yaml",
                            {"extras.dly.latency=80ns", "fabric.links[0].latency=3ns"}, reg);
  CHECK(set->get<TimedUnit>("extras.dly").busy_time_s(Instr{}) == Approx(80e-9));
  CHECK(set->get<TimedUnit>("fabric.links[0]").busy_time_s(Instr{}) == Approx(3e-9));
  CHECK_THROWS_WITH(build_hardware(YAML::Load(k_tiny), "tiny.yaml", {"extras.dly.speed=1"}, reg),
                    Contains("--set 'extras.dly.speed=1': unknown key 'speed' for extras.dly (delay); "
                             "accepted keys: latency, energy, impl"));
  CHECK_THROWS_WITH(build_hardware(YAML::Load(k_tiny), "tiny.yaml", {"fabric.links[2].latency=1ns"}, reg),
                    Contains("has no component 'fabric.links[2]'; it has: [0], [1]"));
  // Without the test's registration the kind is unknown, and the message says so.
  CHECK_THROWS_WITH(build_hardware(YAML::Load(k_tiny), "tiny.yaml", {}),
                    Contains("tiny.yaml: extras.dly.impl: unknown implementation 'delay'; accepted:"));
  // A key holding no component is still a mistake.
  YAML::Node bad = YAML::Load(k_tiny);
  bad["extra"] = 3;
  CHECK_THROWS_WITH(build_hardware(bad, "tiny.yaml", {}, reg),
                    Contains("tiny.yaml: unknown top-level key 'extra'; accepted: name, description, "
                             "compute, memory, power"));
}

TEST_CASE("an instruction occupying a new kind of unit adds exactly its time", "[hardware][tree][engine]") {
  const Registry reg = test_registry();
  auto hw = build_hardware(YAML::Load(k_tiny), "tiny.yaml", {}, reg);
  const Program base = compile(build_workload("gemm:m=8,n=8,k=8,dtype=int8"), *hw);
  REQUIRE(base.kernels.size() == 1);
  Program p = base;
  Instr wait_dly{.op = Opcode::barrier, .unit = "extras.dly"};
  int64_t stages = 0;
  for (Block& b : p.kernels[0].blocks) {
    b.instrs.push_back(wait_dly);
    stages += b.repeat;
  }
  // The text form carries the unit (and only where it is not the default) and
  // reads it back.
  const std::string text = disassemble(p);
  CHECK_THAT(text, Contains("barrier unit=extras.dly"));
  CHECK(disassemble(base).find("unit=") == std::string::npos);
  const Program q = assemble(text, "dly.tasm");
  CHECK(q == p);
  for (const char* engine : {"analytic", "systemc"}) {
    INFO(engine);
    const RunResult r0 = run_program(base, *hw, engine);
    const RunResult r1 = run_program(q, *hw, engine);
    // The gemm is compute bound with loads of < 1 fs (ws: 4 folds, one stage
    // each; tests/core/test_engines.cpp has the cycle arithmetic), so every stage
    // computes for 50 ns longer: 4 stages x 50 ns = 200 ns more, and 4 x 2 nJ of
    // dynamic energy plus 1 W x 200 ns of static energy.
    CHECK(stages == 4);
    CHECK(r1.time_s - r0.time_s == Approx(4 * 50e-9).epsilon(1e-9));
    CHECK(r1.energy_j - r0.energy_j == Approx(4 * 2e-9 + 1.0 * 200e-9).epsilon(1e-9));
  }
  // A unit the hardware lacks is named, with the paths it has.
  Program missing = base;
  missing.kernels[0].blocks[0].instrs.push_back(Instr{.op = Opcode::barrier, .unit = "extras.dlx"});
  CHECK_THROWS_WITH(run_program(missing, *hw, "analytic"),
                    Contains("names unit 'extras.dlx', which tiny does not have; components: compute,"));
}

TEST_CASE("base: a description derived from another", "[hardware][tree][base]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "tessera_test_base";
  fs::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  write("root.yaml", R"(
name: root
compute: {impl: systolic, rows: 4, cols: 4, dataflow: ws, clock: 1GHz}
memory:
  sram: {impl: dram, bandwidth: 1TB/s, capacity: 1MiB}
  dram: {impl: dram, bandwidth: 10GB/s, capacity: 1GiB, latency: 100ns}
power: {impl: board, static_power: 1W}
)");
  const std::string child = write("child.yaml", R"(
name: child
base: root.yaml
compute: {clock: 2GHz}
memory: {dram: {bandwidth: 20GB/s}}
)");
  auto hw = load_hardware(child, {});
  CHECK(hw->name == "child");
  CHECK(hw->compute().params().real("clock") == Approx(2e9));
  CHECK(hw->compute().params().integer("rows") == 4);                 // from the base
  CHECK(hw->memory_names() == "sram, dram");                           // the base's order
  CHECK(hw->memory("dram")->bandwidth_bps() == Approx(20e9));         // overridden
  CHECK(hw->memory("dram")->params().real("latency") == Approx(100e-9));  // kept
  CHECK(hw->tree["base"].IsDefined() == false);

  write("a.yaml", "base: b.yaml\n");
  write("b.yaml", "base: a.yaml\n");
  CHECK_THROWS_WITH(load_hardware((dir / "a.yaml").string(), {}),
                    Contains("b.yaml: base: 'a.yaml' makes a cycle"));
  const std::string lost = write("lost.yaml", "base: nowhere.yaml\n");
  CHECK_THROWS_WITH(load_hardware(lost, {}), Contains("lost.yaml: base: file '"));
  const std::string lost2 = write("lost2.yaml", "base: no-such-preset\n");
  CHECK_THROWS_WITH(load_hardware(lost2, {}),
                    Contains("lost2.yaml: base: unknown hardware preset 'no-such-preset'; accepted: "));
  fs::remove_all(dir);
}

TEST_CASE("GPU presets derive from the H100 preset", "[hardware][tree][base]") {
  for (const char* preset : {"h200", "a100-80gb", "v100", "b200"}) {
    INFO(preset);
    auto hw = load_hardware(preset, {});
    auto h100 = load_hardware("h100-sxm", {});
    CHECK(hw->name == preset);
    // The fitted efficiencies are the H100's.
    CHECK(hw->compute().params().real("efficiency_fp16") ==
          h100->compute().params().real("efficiency_fp16"));
    CHECK(hw->memory("dram")->params().real("ramp_bytes") == h100->memory("dram")->params().real("ramp_bytes"));
  }
}

TEST_CASE("memory levels may be grouped: the levels are the memory components under memory",
          "[hardware][tree]") {
  auto hw = build_hardware(YAML::Load(R"(
compute: {impl: systolic, rows: 4, cols: 4, dataflow: ws, clock: 1GHz}
memory:
  sram: {impl: dram, bandwidth: 1TB/s, capacity: 1MiB}
  hbm:
    channel:
      - {impl: dram, bandwidth: 10GB/s, capacity: 1GiB}
      - {impl: dram, bandwidth: 20GB/s, capacity: 1GiB}
power: {impl: board, static_power: 1W}
)"), "grouped.yaml", {"memory.hbm.channel[1].bandwidth=30GB/s"});
  CHECK(hw->memory_names() == "sram, hbm.channel[0], hbm.channel[1]");
  CHECK(hw->outermost_memory().path() == "memory.hbm.channel[1]");
  CHECK(hw->outermost_memory().bandwidth_bps() == Approx(30e9));
  // A load from a grouped level occupies it by default.
  Program p = compile(build_workload("gemm:m=8,n=8,k=8,dtype=int8"), *hw);
  const RunResult a = run_program(p, *hw, "analytic");
  const RunResult s = run_program(p, *hw, "systemc");
  CHECK(a.time_s == Approx(s.time_s).epsilon(1e-12));
  CHECK(a.stats.get("memory.hbm.channel[1].bytes") > 0);
}

TEST_CASE("an implementation name belongs to one kind", "[hardware][tree][registry]") {
  Registry r = builtin_registry();
  CHECK_THROWS_AS(r.add(make_impl<DelayUnit>("link", "hbm", "clash", {})), std::logic_error);
  CHECK(r.find_impl("memory/hbm") == r.find_impl("hbm"));
  CHECK(r.find_impl("compute/hbm") == nullptr);
}

namespace {

// A compute component no mapper knows: it loads like any component, and the
// compiler refuses it by name instead of guessing a mapping.
class BareCompute : public ComputeModel {
 public:
  KernelContext begin_kernel(const Kernel&, const Hardware&) const override { return {}; }
  double instr_time_s(const Instr&, const Kernel&, const KernelContext&) const override { return 0; }
  double instr_energy_j(const Instr&, const Kernel&, const KernelContext&) const override { return 0; }
  double kernel_overhead_s(const Kernel&, const KernelContext&) const override { return 0; }
  double peak_flops(DType) const override { return 0; }
  double nominal_clock_hz() const override { return 1e9; }
};

}  // namespace

TEST_CASE("a compute impl without a mapper is refused by name", "[hardware][compiler]") {
  Registry reg = builtin_registry();
  reg.add(make_impl<BareCompute>("compute", "bare", "a compute unit no mapper knows", {}));
  auto hw = build_hardware(YAML::Load(R"(
name: bare
compute: {impl: bare}
memory: {dram: {impl: dram, bandwidth: 1TB/s, capacity: 1GiB}}
power: {impl: board, static_power: 1W}
)"), "bare.yaml", {}, reg);
  CHECK_THROWS_MATCHES(compile(build_workload("gemm:m=64,n=64,k=64"), *hw), InputError,
                       Catch::Matchers::Message("compute impl 'bare' has no mapper; mapped impls: "
                                                "systolic, tensorcore"));
}
