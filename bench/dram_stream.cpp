// DRAM cycle model benchmark: 1 GiB of streaming 64 B reads through every
// pseudo-channel of one HBM3 stack (HBM3-6400: 32 pseudo-channels), simulated
// request by request (open page, FR-FCFS, all-bank refresh). Prints the simulated
// bandwidth, the wall time and requests (and bursts) simulated per second.
// Target: under 10 s of wall time on one core.
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "core/error.h"
#include "models/memory/dram/source.h"
#include "models/memory/dram/system.h"

int main() {
  namespace d = tessera::dram;
  try {
    const d::Standard& s = d::standard("HBM3-6400", "bench");
    d::PatternSource src(d::parse_pattern("sequential:bytes=1GiB,size=64", "bench"));
    d::SystemConfig cfg;
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    const d::Result r = d::simulate(s, cfg, src);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    const double bursts = static_cast<double>(r.bytes_moved) / s.org.access_bytes();
    fmt::print("dram_stream: {} x1 stack, 1 GiB sequential 64 B reads\n", s.name);
    fmt::print("requests: {}, bursts: {:.0f}, simulated {:.3f} ms, {:.1f} GB/s = {:.2f} % of peak {:.1f} GB/s\n",
               r.requests, bursts, r.elapsed_s() * 1e3, r.bandwidth_bps() / 1e9,
               100.0 * r.bandwidth_bps() / r.peak_bps(), r.peak_bps() / 1e9);
    // On a shared machine the wall time includes waiting for a core; the CPU time
    // is what one core spends.
    fmt::print("wall time: {:.3f} s, CPU time: {:.3f} s (target < 10 s)\n", wall, cpu);
    fmt::print("requests/s: {:.3e}, bursts/s: {:.3e} (per CPU second)\n", static_cast<double>(r.requests) / cpu,
               bursts / cpu);
    return 0;
  } catch (const tessera::InputError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
}
