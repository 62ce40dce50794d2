// Hardware parameters out of their declared ranges (core/params.h: positive,
// fraction, non-negative ...): refused with exit 2 for --set, files and presets
// alike, naming the argument (or file and key) and the accepted range.
#include "models/hardware.h"
#include "tests/robustness/helpers.h"

using namespace tessera::testing;

namespace {

CliOutcome run_with(const std::string& hw, const std::string& set,
                    const std::string& workload = "gemm:m=64,n=64,k=64") {
  return cli({"run", "--hw", hw, "--workload", workload, "--set", set});
}

}  // namespace

TEST_CASE("values outside the declared range are refused naming the --set argument and range",
          "[robustness][params]") {
  // Each: hardware, --set argument, the accepted range as the message states it.
  const struct {
    const char* hw;
    const char* set;
    const char* range;
  } cases[] = {
      {"h100-sxm", "compute.sm_count=0", "an integer >= 1"},              // was SIGFPE (ceil_div by 0)
      {"h100-sxm", "compute.sm_count=-4", "an integer >= 1"},
      {"h100-sxm", "compute.efficiency_fp16=0", "in (0, 1]"},            // was "time inf"
      {"h100-sxm", "compute.efficiency_fp16=-0.5", "in (0, 1]"},
      {"h100-sxm", "compute.efficiency_fp16=1.5", "in (0, 1]"},
      {"h100-sxm", "memory.dram.bandwidth=0TB/s", "> 0B/s"},             // was "-nan W"
      {"h100-sxm", "memory.dram.bandwidth=-3TB/s", "> 0B/s"},            // was the default's result
      {"h100-sxm", "compute.max_clock=0GHz", "> 0Hz"},
      {"h100-sxm", "memory.dram.read_residual=0", "in (0, 2]"},
      {"h100-sxm", "compute.link_bandwidth=0B/s", "> 0B/s"},             // was a 2 us all-reduce
      {"h100-sxm", "compute.link_latency=-1s", ">= 0s"},                  // was -14 s
      {"h100-sxm", "compute.tma_multicast=0", "an integer >= 1"},        // was -1.06e13 J
      {"h100-sxm", "power.static_power=-100W", ">= 0W"},                  // was negative static energy
      {"h100-sxm", "power.power_limit=-1W", ">= 0W"},
      {"h100-sxm", "memory.l2.bytes_per_clock=0", "an integer >= 1"},    // was NaN
      {"tpu-v1", "compute.rows=0", "an integer 1..1048576"},              // was "internal error", rc 1
      {"tpu-v1", "compute.rows=-1", "an integer 1..1048576"},
      {"tpu-v1", "compute.word_bytes=0", "an integer 1..16"},
      {"tpu-v1", "compute.cores=2000000", "an integer 1..1048576"},
      {"tpu-v1", "compute.clock=0Hz", "> 0Hz"},
      {"tpu-v1", "memory.dram.efficiency=0", "in (0, 1]"},
      {"tpu-v1", "memory.dram.latency=-1ns", ">= 0s"},
  };
  for (const auto& c : cases) {
    INFO(c.hw << " --set " << c.set);
    const std::string set = c.set;
    const std::string path = set.substr(0, set.find('='));
    check_refused(run_with(c.hw, set), {"--set '" + set + "'", "for " + path, "out of range", c.range});
  }
}

TEST_CASE("an infinite or overflowing quantity is refused", "[robustness][params]") {
  check_refused(run_with("h100-sxm", "memory.dram.bandwidth=1e308TB/s"),
                {"--set 'memory.dram.bandwidth=1e308TB/s'", "not a finite number"});
  check_refused(run_with("h100-sxm", "compute.efficiency_fp16=nan"), {"compute.efficiency_fp16"});
  check_refused(run_with("h100-sxm", "compute.efficiency_fp16=inf"), {"compute.efficiency_fp16"});
}

TEST_CASE("a range is enforced for description files as for --set, naming file and key",
          "[robustness][params]") {
  const std::string f = scratch_file("neg_bw.yaml",
                                     "base: h100-sxm\nmemory:\n  dram:\n    bandwidth: -1TB/s\n");
  // The file is read through its base; the message names it and the key.
  check_refused(cli({"run", "--hw", f, "--workload", "gemm:m=64,n=64,k=64"}),
                {f, "memory.dram.bandwidth", "invalid value '-1TB/s'", "out of range", "> 0B/s"});
}

TEST_CASE("a power limit the device cannot meet is refused; 0 means no limit", "[robustness][params]") {
  // 1 W: even the 345 MHz floor draws more (the 140 W static power alone does).
  check_refused(run_with("h100-sxm", "power.power_limit=1W"),
                {"power.power_limit 1 W is not above power.static_power 140 W"});
  // 141 W: above the static power, but a large GEMM draws more at the floor clock.
  check_refused(run_with("h100-sxm", "power.power_limit=141W", "gemm:m=8192,n=8192,k=8192"),
                {"draws", "even at compute.min_clock 345 MHz", "above power.power_limit 141 W"});
  const auto ok = cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=64,n=64,k=64", "--set",
                       "power.power_limit=0W", "--format", "json"});
  check_finite_report(ok);
}

TEST_CASE("range annotations of every preset hold (each loads and runs)", "[robustness][params]") {
  for (const std::string& hw : tessera::hw_preset_names()) {
    INFO(hw);
    // int8: every preset runs it (tpu-v1, tesla-fsd and gemmini run nothing else).
    check_finite_report(cli({"run", "--hw", hw, "--workload", "gemm:m=128,n=128,k=128,dtype=int8", "--format", "json"}));
  }
}

TEST_CASE("fuzz regressions of the workload-spec parser exit 2", "[robustness][fuzz]") {
  // tests/fuzz/regressions/workload_spec/bert_batch_not_a_number: the sharded
  // transformers read `batch` with std::stoll before validating it ("internal
  // error: stoll", found by the fuzz_workload_spec replay).
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "bert-base:batch=W1,seq=64"}),
                {"workload parameter 'batch'"});  // tests/fuzz/regressions/workload_spec/slow-multi-tensor-chunks:
                                                  // a hidden size of
  // 25,665,536 gives ~10^15 parameters per layer; the multi-tensor launch count of
  // Megatron-LM's gradient norm stepped through their ~10^10 64K-element chunks one
  // by one (minutes, a replay ctest timeout) before the op-size check refused the
  // model. Counted in runs of chunks, it is refused at once.
  check_refused(
      cli({"run", "--hw", "h100-sxm", "--workload",
           "gpt:layers=2,hidden=25665536,heads=4,seq=64,vocab=1000,tp=2,pp=2,dp=2,train=1,amp=bf16"}),
      {"op 'l0.mlp.c_fc' (matmul): the product of its dimensions", "more than the 2^56"});
}
