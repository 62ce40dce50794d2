// Programs carry the hardware they were compiled for (.program target= hardware=
// hw_digest=) and run only there; a program from before hw_digest is checked by
// target and hardware name.
#include "tests/robustness/helpers.h"

using namespace tessera::testing;

namespace {

std::string compiled(const std::string& hw, const std::vector<std::string>& sets = {}) {
  std::vector<std::string> args = {"compile", "--hw", hw, "--workload", "gemm:m=64,n=64,k=64,dtype=int8"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  const auto o = cli(args);
  REQUIRE(o.code == 0);
  return o.out;
}

}  // namespace

TEST_CASE("a program runs on the hardware it was compiled for", "[robustness][programs]") {
  const std::string text = compiled("tpu-v1");
  CHECK(text.find(" hw_digest=") != std::string::npos);
  const std::string f = scratch_file("tpu.tasm", text);
  check_finite_report(cli({"run", "--hw", "tpu-v1", "--program", f, "--format", "json"}));
}

TEST_CASE("a program compiled for another target is refused", "[robustness][programs]") {
  // Was: an H100 reporting "ws 2x2 folds".
  const std::string f = scratch_file("tpu_on_h100.tasm", compiled("tpu-v1"));
  check_refused(cli({"run", "--hw", "h100-sxm", "--program", f}),
                {f, "compiled for a 'systolic' target (hardware 'tpu-v1')", "'tensorcore' compute component",
                 "tessera compile --hw h100-sxm"});
}

TEST_CASE("a program compiled for another description of the same hardware is refused",
          "[robustness][programs]") {
  const std::string f = scratch_file("tpu_rows.tasm", compiled("tpu-v1", {"compute.rows=128"}));
  check_refused(cli({"run", "--hw", "tpu-v1", "--program", f}),
                {f, "compiled for a different description of 'tpu-v1'"});
  // The same --set at run time is the same description.
  check_finite_report(
      cli({"run", "--hw", "tpu-v1", "--set", "compute.rows=128", "--program", f, "--format", "json"}));
}

TEST_CASE("a program compiled from a multi-device workload is refused by run --program",
          "[robustness][programs]") {
  // Its kernels are every pipeline chunk's, collectives included, without the
  // schedule: one device's engine gave 4.251 ms for an iteration `run --workload`
  // simulates as 5.763 ms.
  const std::string wl = "gpt:layers=2,hidden=1024,heads=16,seq=512,tp=2,dp=4,global_batch=8,train=1";
  const auto o = cli({"compile", "--hw", "dgx-h100", "--workload", wl});
  REQUIRE(o.code == 0);
  // tp 2 x pp 1 x dp 4 = 8 devices, on the program line; no single-device footprint.
  CHECK(o.out.find(" devices=8\n") != std::string::npos);
  CHECK(o.out.find(".resident") == std::string::npos);
  const std::string f = scratch_file("parallel.tasm", o.out);
  check_refused(cli({"run", "--hw", "dgx-h100", "--program", f}),
                {f, "compiled from a multi-device workload", "8 devices",
                 "tessera run --hw dgx-h100 --workload '" + wl + "'"});
  // A single-device program says nothing of devices.
  CHECK(compiled("tpu-v1").find("devices=") == std::string::npos);
  // systemc streams (kernels in flight on one device) do not apply: refused (they
  // were ignored: streams=4 gave the streams=1 time).
  check_refused(cli({"run", "--hw", "dgx-h100", "--workload", wl, "--engine", "systemc:streams=4"}),
                {"--engine systemc:streams=4: a multi-device workload", "use --engine systemc"});
}

TEST_CASE("a program without hw_digest is checked by target and hardware name", "[robustness][programs]") {
  std::string text = compiled("tpu-v1");
  const size_t at = text.find(" hw_digest=");
  text.erase(at, text.find('\n', at) - at);
  const std::string f = scratch_file("old.tasm", text);
  check_finite_report(cli({"run", "--hw", "tpu-v1", "--program", f, "--format", "json"}));
  check_refused(cli({"run", "--hw", "tpu-v4", "--program", f}), {"compiled for hardware 'tpu-v1', not 'tpu-v4'"});
}
