#include "models/memory/dram/characterise.h"

#include <map>
#include <mutex>
#include <tuple>

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

}  // namespace tessera::dram
