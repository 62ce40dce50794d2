#include "sim/tools/compare_memory.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "sim/engines/capacity.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

namespace tessera {
namespace {

using nlohmann::json;

double num(const json& r, const char* key, double lo) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("record {}: field '{}' must be a number", r.dump(), key));
  const double v = r[key].get<double>();
  if (!std::isfinite(v) || v < lo)
    throw InputError(fmt::format("record {}: field '{}' = {} must be >= {}", r.dump(), key, v, lo));
  return v;
}

// A field that is a whole count (bytes, elements).
int64_t whole(const json& r, const char* key) {
  const double v = num(r, key, 1);
  if (v != std::floor(v) || v > 1099511627776.0)
    throw InputError(fmt::format("record {}: field '{}' = {} must be a whole number up to 2^40", r.dump(), key, v));
  return static_cast<int64_t>(v);
}

// hbmpat records follow the L2 flush (whose kernel hides the host's time) and
// l2sweep records replay one CUDA graph: no host time per op (models/compute/host.h).
double run_ms(const std::string& spec, const Hardware& hw) {
  Graph g = build_workload(spec);
  g.info["host_hidden"] = 1;
  check_capacity(graph_footprint(g), hw, fmt::format("workload '{}'", spec), false);  // CapacityError: skipped
  return simulate(g, hw, "analytic").time_s * 1e3;
}

}  // namespace

std::optional<MemoryPrediction> predict_memory_record(const json& r, const Hardware& hw, std::string& skip) {
  const std::string section = r.value("section", std::string());
  if (section != "hbmpat" && section != "l2sweep") return std::nullopt;
  const std::string op = r.value("op", std::string());
  MemoryPrediction p;
  p.quantity = "median_ms";
  p.measured = num(r, "median_ms", 0);
  if (section == "hbmpat" && op == "gather") {
    const std::string pattern = r.value("pattern", std::string("random"));
    if (pattern != "random" && pattern != "sequential") {
      skip = "hbmpat gather pattern '" + pattern + "' is not modelled (random|sequential)";
      return std::nullopt;
    }
    const int64_t row = whole(r, "row_bytes");
    p.spec = fmt::format("gather:table_bytes={},row_bytes={},rows={},pattern={}", whole(r, "table_bytes"), row,
                         whole(r, "rows_gathered"), pattern);
    p.predicted = run_ms(p.spec, hw);
    p.group = fmt::format("gather {}, rows {} B", pattern, row);
    return p;
  }
  if (section == "hbmpat" && op == "strided_read_sum_fp32") {
    // x holds elems x stride_elems floats; the view sums `elems` of them.
    const int64_t stride = whole(r, "stride_elems"), elems = whole(r, "elems");
    p.spec = fmt::format("strided_read:bytes={},stride={}", 4 * elems * stride, stride);
    p.predicted = run_ms(p.spec, hw);
    p.group = fmt::format("strided read, stride {}", stride);
    return p;
  }
  if (section == "l2sweep" && op == "read_sum_fp32_x20") {
    const int64_t ws = whole(r, "working_set_bytes");
    p.spec = fmt::format("read_repeat:working_set={},repeats=20", ws);
    p.predicted = run_ms(p.spec, hw);
    const MemoryModel* l2 = hw.memories().size() > 1 ? hw.memories().front().second.get() : nullptr;
    p.group = l2 && static_cast<double>(ws) <= l2->capacity_bytes() ? "working set <= L2" : "working set > L2";
    return p;
  }
  skip = section + " op '" + op + "' is not modelled";
  return std::nullopt;
}

}  // namespace tessera
