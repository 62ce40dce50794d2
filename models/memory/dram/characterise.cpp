#include "models/memory/dram/characterise.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include <fmt/format.h>

#include "models/memory/dram/source.h"
#include "models/memory/dram/system.h"

namespace tessera::dram {
namespace {

double stream(const Standard& s, const char* pattern) {
  SystemConfig cfg;
  cfg.controller.refresh = RefreshMode::none;
  PatternSource src(parse_pattern(pattern, "characterisation"));
  const Result r = simulate(s, cfg, src);
  return r.bandwidth_bps() / r.peak_bps();
}

Characterisation compute(const Standard& s, RefreshMode refresh) {
  Characterisation c;
  if (refresh == RefreshMode::automatic)
    refresh = s.family == Family::ddr4 ? RefreshMode::all_bank : RefreshMode::per_bank;
  if (refresh == RefreshMode::all_bank)
    c.refresh_factor = 1.0 - static_cast<double>(s.timing.nRFC) / static_cast<double>(s.timing.nREFI);
  c.read_efficiency = stream(s, "sequential:bytes=4MiB,size=64") * c.refresh_factor;
  c.write_efficiency = stream(s, "sequential:bytes=4MiB,size=64,write_fraction=1") * c.refresh_factor;
  c.random_efficiency = stream(s, "random:bytes=1MiB,size=64,range=4GiB") * c.refresh_factor;
  c.unloaded_latency_s = static_cast<double>(s.closed_read_cycles()) * s.timing.tCK_s();
  return c;
}

}  // namespace

Characterisation characterise(const Standard& s, RefreshMode refresh) {
  // In-process cache: the cycle model is deterministic, so an entry never changes
  // once computed; the mutex makes concurrent sweeps safe.
  using Key = std::tuple<std::string, double, int64_t, int>;
  static std::mutex mu;
  static std::map<Key, Characterisation> cache;
  const Key key{s.name, s.timing.rate_mtps, s.timing.tCK_ps, static_cast<int>(refresh)};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const Characterisation c = compute(s, refresh);
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(key, c);
  return c;
}

double access_efficiency(const Standard& s, int stacks, const std::string& mapping, uint64_t run_bytes,
                         uint64_t pitch_bytes) {
  if (run_bytes == 0 || (pitch_bytes != 0 && pitch_bytes <= run_bytes)) return 1.0;
  using Key = std::tuple<std::string, int64_t, int, std::string, uint64_t, uint64_t>;
  static std::mutex mu;
  static std::map<Key, double> cache;
  const Key key{s.name, s.timing.tCK_ps, stacks, mapping, run_bytes, pitch_bytes};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const uint64_t runs = std::max<uint64_t>(1, std::min<uint64_t>(uint64_t{1} << 15, (uint64_t{16} << 20) / run_bytes));
  auto eff = [&](const std::string& pattern) {
    SystemConfig cfg;
    cfg.stacks = stacks;
    cfg.mapping = mapping;
    cfg.controller.refresh = RefreshMode::none;
    PatternSource src(parse_pattern(pattern, "access characterisation"));
    const Result r = simulate(s, cfg, src);
    return static_cast<double>(r.bytes_requested) / r.elapsed_s() / r.peak_bps();
  };
  // Random runs: a gather of `runs` rows from a 1 GiB table (in run units).
  const uint64_t table = std::max<uint64_t>(run_bytes, ((uint64_t{1} << 30) / run_bytes) * run_bytes);
  const std::string pattern =
      pitch_bytes == 0
          ? fmt::format("gather:rows={},row_bytes={},table_bytes={},order=random", runs, run_bytes, table)
          : fmt::format("strided:bytes={},size={},stride={}", runs * run_bytes, run_bytes, pitch_bytes);
  const double stream = eff("sequential:bytes=4MiB,size=64");
  const double rel = std::clamp(eff(pattern) / stream, 1e-3, 1.0);
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(key, rel);
  return rel;
}

}  // namespace tessera::dram
