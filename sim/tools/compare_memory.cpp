#include "sim/tools/compare_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.h"
#include "models/memory/dram/source.h"
#include "models/memory/dram/system.h"
#include "models/memory/hbm.h"
#include "sim/simulate.h"
#include "workloads/ir.h"

namespace tessera {
namespace {

using nlohmann::json;
constexpr double kSector = 32;  // bytes: the L2's sector, the DRAM access unit of a GPU

double num(const json& r, const char* key, double lo) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("record {}: field '{}' must be a number", r.dump(), key));
  const double v = r[key].get<double>();
  if (!std::isfinite(v) || v < lo)
    throw InputError(fmt::format("record {}: field '{}' = {} must be >= {}", r.dump(), key, v, lo));
  return v;
}

// DRAM efficiency of a request pattern relative to a sequential stream, both on
// the hardware's stacks without refresh (refresh costs both alike). Simulated once
// per (standard, stacks, pattern) in a process; at most 2^16 requests.
double relative_efficiency(const HbmMemory& hbm, const std::string& pattern) {
  using Key = std::tuple<std::string, int, std::string>;
  static std::mutex mu;
  static std::map<Key, double> cache;
  const Key key{hbm.dram_standard().name + "/" + hbm.mapping(), hbm.stacks(), pattern};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto eff = [&](const std::string& p) {
    dram::SystemConfig cfg;
    cfg.stacks = hbm.stacks();
    cfg.mapping = hbm.mapping();
    cfg.controller.refresh = dram::RefreshMode::none;
    dram::PatternSource src(dram::parse_pattern(p, "compare"));
    const dram::Result res = dram::simulate(hbm.dram_standard(), cfg, src);
    return static_cast<double>(res.bytes_requested) / res.elapsed_s() / res.peak_bps();
  };
  const double rel = std::min(1.0, eff(pattern) / eff("sequential:bytes=4MiB,size=64"));
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(key, rel);
  return rel;
}

// The GPU analytic model's time for a streaming read of `bytes` (a reduction
// kernel with a negligible output, as compare's membw read_sum).
double stream_read_s(double bytes, const Hardware& hw) {
  Op op;
  op.kind = OpKind::kv_read;
  op.dtype = op.out_dtype = DType::fp32;
  op.attrs = {{"batch", 1}, {"kv_heads", 1}, {"tokens", std::max<int64_t>(1, static_cast<int64_t>(bytes / 8.0))}, {"d", 1}};
  Graph g;
  g.name = g.spec = "read";
  op.name = "read";
  g.add(std::move(op));
  validate_graph(g, "compare");
  return simulate(g, hw, "analytic").time_s;
}

}  // namespace

std::optional<MemoryPrediction> predict_memory_record(const json& r, const Hardware& hw, std::string& skip) {
  const std::string section = r.value("section", std::string());
  if (section != "hbmpat" && section != "l2sweep") return std::nullopt;
  const auto* hbm = hw.find<HbmMemory>("memory.dram");
  if (!hbm) {
    skip = section + ": the hardware has no hbm level at memory.dram";
    return std::nullopt;
  }
  const std::string op = r.value("op", std::string());
  MemoryPrediction p;
  p.quantity = "median_ms";
  p.measured = num(r, "median_ms", 0);
  const double e_r = hbm->characterisation().read_efficiency, e_w = hbm->characterisation().write_efficiency;
  if (section == "hbmpat" && op == "gather") {
    const std::string pattern = r.value("pattern", std::string("random"));
    if (pattern != "random" && pattern != "sequential") {
      skip = "hbmpat gather pattern '" + pattern + "' is not modelled (random|sequential)";
      return std::nullopt;
    }
    const double row = num(r, "row_bytes", 1), rows = num(r, "rows_gathered", 1), table = num(r, "table_bytes", 1);
    // Each row is read in whole sectors; with the table in L2 a row read twice
    // comes from DRAM once: expected distinct rows of `rows` uniform draws.
    const double row_dram = std::ceil(row / kSector) * kSector;
    const double table_rows = std::max(1.0, std::floor(table / row));
    double distinct = rows;
    const MemoryModel* l2 = hw.memory("l2");
    if (pattern == "random" && l2 && table <= l2->capacity_bytes())
      distinct = table_rows * (1.0 - std::pow(1.0 - 1.0 / table_rows, rows));
    const uint64_t sim_rows = static_cast<uint64_t>(std::min(rows, 65536.0));
    const std::string pat = fmt::format("gather:rows={},row_bytes={},table_bytes={},order={}", sim_rows,
                                        static_cast<uint64_t>(row_dram),
                                        static_cast<uint64_t>(std::max(table, row_dram)), pattern);
    const double rel = relative_efficiency(*hbm, pat);
    // Reads at the pattern's efficiency, the output written as a stream; both as
    // the equivalent bytes of a streaming read.
    const double eq = distinct * row_dram / rel + rows * row * (e_r / e_w);
    p.predicted = stream_read_s(eq, hw) * 1e3;
    p.group = fmt::format("gather {}, rows {} B", pattern, static_cast<int64_t>(row));
    return p;
  }
  if (section == "hbmpat" && op == "strided_read_sum_fp32") {
    const double stride = num(r, "stride_elems", 1), elems = num(r, "elems", 1);
    const double stride_b = 4.0 * stride;
    // Contiguous sectors while the stride is under a sector, one sector per element beyond.
    const double traffic = stride_b < kSector ? elems * stride_b : elems * kSector;
    double rel = 1.0;
    if (stride_b >= 2 * kSector) {
      const uint64_t n = static_cast<uint64_t>(std::min(elems, 65536.0));
      rel = relative_efficiency(*hbm, fmt::format("strided:bytes={},size=32,stride={}", n * 32,
                                                  static_cast<uint64_t>(stride_b)));
    }
    p.predicted = stream_read_s(traffic / rel, hw) * 1e3;
    p.group = fmt::format("strided read, stride {}", static_cast<int64_t>(stride));
    return p;
  }
  if (section == "l2sweep" && op == "read_sum_fp32_x20") {
    const double ws = num(r, "working_set_bytes", 1);
    const auto* cache = hw.memory("l2");
    const double cap = cache ? cache->capacity_bytes() : 0;
    const double first = stream_read_s(ws, hw);
    // Later sums: from L2 while the tensor fits (LRU keeps all of it), else every
    // sum streams from HBM again (a cyclic sweep larger than an LRU cache misses
    // on every line). In a CUDA graph the later kernels pay no launch overhead:
    // their time is the L2 transfer at the L2's bandwidth.
    double later = first;
    if (cache && ws <= cap) later = ws / cache->bandwidth_bps();
    p.predicted = (first + 19 * later) * 1e3;
    p.group = ws <= cap ? "working set <= L2" : "working set > L2";
    return p;
  }
  skip = section + " op '" + op + "' is not modelled";
  return std::nullopt;
}

}  // namespace tessera
