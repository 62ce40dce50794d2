// Parameter-space clones per second: a sweep copies the resolved space of a run
// and sets one value, 10^4 times a second or more; neither may read a file.
//   build/bench_param_space [iterations]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "models/hardware.h"
#include "sim/param_space.h"

int main(int argc, char** argv) {
  using namespace tessera;
  const long n = argc > 1 ? std::atol(argv[1]) : 200000;
  const auto hw = load_hardware("h100-sxm", {});
  const ParamSpace base = run_param_space(*hw, "gpt2-small:batch=1", EngineOptions{});
  const std::string seqs[] = {"128", "256", "512", "1024"};
  const std::string clocks[] = {"1.2GHz", "1.4GHz", "1.6GHz", "1.98GHz"};
  size_t check = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    ParamSpace s = base;
    if (i % 2) s.set("workload.seq", seqs[i % 4]);
    else s.set("compute.max_clock", clocks[i % 4]);
    check += s.value(static_cast<size_t>(i) % s.size()).size();
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("param_space: {} parameters (h100-sxm, gpt2-small, analytic); {} clones + one set in {:.3f} s: "
             "{:.3g} clones/s (checksum {})\n",
             base.size(), n, dt, n / dt, check);
  return 0;
}
