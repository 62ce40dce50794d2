#pragma once
// `tessera sweep report DB`: the best point per metric, the Pareto front over
// 2 or 3 metrics, and CSV / JSON export of every column of the selected rows.
//
// Directions: time_s, energy_j, avg_power_w, area_mm2, cycles and
// precision.rel_err, dram_bytes are minimised; utilization, tops_per_w,
// perf_per_mm2, flops and peak_flops maximised. A point is on the front when no other point is at least as
// good in every metric and better in one (points with a NULL metric or an error
// are left out of the front).
#include <iosfwd>
#include <string>
#include <vector>

namespace tessera {

struct SweepReportOptions {
  std::vector<std::string> pareto;   // 2 or 3 metrics
  std::string format = "text";       // text | csv | json
  std::string where;                 // expression over the columns (sweep_expr.h)
};

// True when `metric` is better smaller.
bool sweep_metric_minimised(const std::string& metric);

void sweep_report(const std::string& db, const SweepReportOptions& o, std::ostream& out);

}  // namespace tessera
