#include "sim/tools/sweep_report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sim/tools/sweep_expr.h"
#include "sim/tools/sweep_spec.h"
#include "sim/tools/sweep_store.h"

namespace tessera {

namespace {

struct Table {
  std::vector<std::string> cols;
  std::vector<std::vector<SweepCell>> rows;
  long col(const std::string& name) const {
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i] == name) return static_cast<long>(i);
    return -1;
  }
};

Table read_points(const SweepStore& s) {
  Table t;
  sqlite3_stmt* st = nullptr;
  sql_check(s.db(), sqlite3_prepare_v2(s.db(), "SELECT * FROM points ORDER BY seq, id", -1, &st, nullptr), s.path(),
            "reading the points");
  const int n = sqlite3_column_count(st);
  for (int i = 0; i < n; ++i) t.cols.emplace_back(sqlite3_column_name(st, i));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<SweepCell> row;
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, i))); break;
        case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(st, i)); break;
        case SQLITE_NULL: row.emplace_back(std::monostate{}); break;
        default: row.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)))); break;
      }
    }
    t.rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sql_check(s.db(), rc, s.path(), "reading the points");
  return t;
}

std::optional<double> number(const SweepCell& c) {
  if (const auto* i = std::get_if<int64_t>(&c)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&c)) return *d;
  return std::nullopt;
}

// Exact text of a cell (shortest round-trip form of doubles).
std::string exact(const SweepCell& c) {
  if (const auto* i = std::get_if<int64_t>(&c)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&c)) return fmt::format("{}", *d);
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  return "";
}

std::string brief(const SweepCell& c) {
  if (const auto* d = std::get_if<double>(&c)) return fmt::format("{:.4g}", *d);
  const std::string e = exact(c);
  return e.empty() ? "-" : e;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

nlohmann::json json_of(const SweepCell& c) {
  if (const auto* i = std::get_if<int64_t>(&c)) return *i;
  if (const auto* d = std::get_if<double>(&c)) return std::isfinite(*d) ? nlohmann::json(*d) : nlohmann::json();
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  return nullptr;
}

}  // namespace

bool sweep_metric_minimised(const std::string& m) {
  return !(m == "utilization" || m == "tops_per_w" || m == "perf_per_mm2" || m == "flops" || m == "peak_flops");
}

void sweep_report(const std::string& db, const SweepReportOptions& o, std::ostream& out) {
  if (o.format != "text" && o.format != "csv" && o.format != "json")
    throw InputError(fmt::format("--format: unknown format '{}'; accepted: text, csv, json", o.format));
  auto store = SweepStore::open_existing(db);
  Table t = read_points(*store);
  const auto& known = sweep_metric_names();
  std::vector<std::string> metrics;   // metric columns present, in column order
  for (const auto& c : t.cols)
    if (std::find(known.begin(), known.end(), c) != known.end()) metrics.push_back(c);
  // Parameter columns: between workload_identity and status.
  std::vector<std::string> params;
  {
    const long a = t.col("workload_identity"), b = t.col("status");
    for (long i = a + 1; i < b; ++i) params.push_back(t.cols[static_cast<size_t>(i)]);
    for (size_t i = static_cast<size_t>(t.col("finished_at")) + 1; i < t.cols.size(); ++i)
      if (std::find(metrics.begin(), metrics.end(), t.cols[i]) == metrics.end()) params.push_back(t.cols[i]);
  }
  if (!o.where.empty()) {
    const Expr e = Expr::parse(o.where, "--where");
    for (const auto& p : e.paths())
      if (t.col(p) < 0) {
        std::string acc;
        for (const auto& c : t.cols) acc += (acc.empty() ? "" : ", ") + c;
        throw InputError(fmt::format("--where: unknown column '{}'; the file has: {}", p, acc));
      }
    std::vector<std::vector<SweepCell>> kept;
    for (auto& r : t.rows) {
      auto lookup = [&](const std::string& p) -> std::optional<ExprValue> {
        const SweepCell& c = r[static_cast<size_t>(t.col(p))];
        if (auto v = number(c)) return *v;
        if (const auto* s = std::get_if<std::string>(&c)) return *s;
        return std::nan("");
      };
      if (e.test(lookup)) kept.push_back(std::move(r));
    }
    t.rows.swap(kept);
  }
  if (!o.pareto.empty() && (o.pareto.size() < 2 || o.pareto.size() > 3))
    throw InputError(fmt::format("--pareto: give 2 or 3 metrics separated by commas; got {}", o.pareto.size()));
  std::vector<long> pcol;
  for (const auto& m : o.pareto) {
    if (t.col(m) < 0 || std::find(metrics.begin(), metrics.end(), m) == metrics.end()) {
      std::string acc;
      for (const auto& c : metrics) acc += (acc.empty() ? "" : ", ") + c;
      throw InputError(fmt::format("--pareto: '{}' is not a metric of {}; it has: {}", m, db, acc));
    }
    pcol.push_back(t.col(m));
  }
  const long status = t.col("status");
  auto ok = [&](const std::vector<SweepCell>& r) { return exact(r[static_cast<size_t>(status)]) == "ok"; };
  // Pareto membership: minimisation after flipping maximised metrics.
  std::vector<char> front(t.rows.size(), 0);
  if (!pcol.empty()) {
    std::vector<std::vector<double>> v(t.rows.size());
    std::vector<char> usable(t.rows.size(), 0);
    for (size_t i = 0; i < t.rows.size(); ++i) {
      usable[i] = ok(t.rows[i]);
      for (size_t k = 0; k < pcol.size(); ++k) {
        auto x = number(t.rows[i][static_cast<size_t>(pcol[k])]);
        if (!x || !std::isfinite(*x)) usable[i] = 0;
        v[i].push_back(x ? (sweep_metric_minimised(o.pareto[k]) ? *x : -*x) : 0);
      }
    }
    for (size_t i = 0; i < t.rows.size(); ++i) {
      if (!usable[i]) continue;
      bool dominated = false;
      for (size_t j = 0; j < t.rows.size() && !dominated; ++j) {
        if (j == i || !usable[j]) continue;
        bool le = true, lt = false;
        for (size_t k = 0; k < pcol.size(); ++k) {
          le = le && v[j][k] <= v[i][k];
          lt = lt || v[j][k] < v[i][k];
        }
        dominated = le && lt;
      }
      front[i] = !dominated;
    }
  }

  if (o.format == "csv") {
    for (size_t i = 0; i < t.cols.size(); ++i) out << (i ? "," : "") << csv_field(t.cols[i]);
    if (!pcol.empty()) out << ",pareto";
    out << "\n";
    for (size_t r = 0; r < t.rows.size(); ++r) {
      for (size_t i = 0; i < t.cols.size(); ++i) out << (i ? "," : "") << csv_field(exact(t.rows[r][i]));
      if (!pcol.empty()) out << "," << (front[r] ? 1 : 0);
      out << "\n";
    }
    return;
  }
  if (o.format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t r = 0; r < t.rows.size(); ++r) {
      nlohmann::json j = nlohmann::json::object();
      for (size_t i = 0; i < t.cols.size(); ++i) j[t.cols[i]] = json_of(t.rows[r][i]);
      if (!pcol.empty()) j["pareto"] = front[r] != 0;
      rows.push_back(j);
    }
    nlohmann::json j = {{"database", db}, {"specs", store->spec_hashes()}, {"points", rows}};
    if (!pcol.empty()) j["pareto_metrics"] = o.pareto;
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  size_t n_ok = 0;
  for (const auto& r : t.rows) n_ok += ok(r);
  fmt::print(out, "Sweep report: {}\n  points {} ({} ok, {} errors){}\n", db, t.rows.size(), n_ok, t.rows.size() - n_ok,
             o.where.empty() ? "" : fmt::format(" where {}", o.where));
  auto describe = [&](const std::vector<SweepCell>& r) {
    std::string s = fmt::format("hw={} workload={}", exact(r[static_cast<size_t>(t.col("hw"))]),
                                exact(r[static_cast<size_t>(t.col("workload"))]));
    const std::string eng = exact(r[static_cast<size_t>(t.col("engine"))]);
    if (eng != "analytic") s += " engine=" + eng;
    for (const auto& p : params) s += fmt::format(" {}={}", p, brief(r[static_cast<size_t>(t.col(p))]));
    return s;
  };
  if (n_ok > 0 && !metrics.empty()) {
    fmt::print(out, "\n  best point per metric:\n");
    for (const auto& m : metrics) {
      const size_t c = static_cast<size_t>(t.col(m));
      long best = -1;
      double bv = 0;
      for (size_t i = 0; i < t.rows.size(); ++i) {
        if (!ok(t.rows[i])) continue;
        auto x = number(t.rows[i][c]);
        if (!x || !std::isfinite(*x)) continue;
        const bool better = best < 0 || (sweep_metric_minimised(m) ? *x < bv : *x > bv);
        if (better) {
          best = static_cast<long>(i);
          bv = *x;
        }
      }
      if (best < 0) continue;
      fmt::print(out, "    {:<18} {:>12.6g} ({})  {}\n", m, bv, sweep_metric_minimised(m) ? "min" : "max",
                 describe(t.rows[static_cast<size_t>(best)]));
    }
  }
  if (!pcol.empty()) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < t.rows.size(); ++i)
      if (front[i]) idx.push_back(i);
    const size_t c0 = static_cast<size_t>(pcol[0]);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return *number(t.rows[a][c0]) < *number(t.rows[b][c0]);
    });
    std::string dirs;
    for (const auto& m : o.pareto) dirs += fmt::format("{}{} ({})", dirs.empty() ? "" : ", ", m, sweep_metric_minimised(m) ? "min" : "max");
    fmt::print(out, "\n  Pareto front over {}: {} points\n", dirs, idx.size());
    for (size_t i : idx) {
      std::string vals;
      for (long c : pcol) vals += fmt::format("{:>12.6g}", *number(t.rows[i][static_cast<size_t>(c)]));
      fmt::print(out, "  {}  {}\n", vals, describe(t.rows[i]));
    }
  }
  if (n_ok < t.rows.size()) {
    std::map<std::string, size_t> errs;
    for (const auto& r : t.rows)
      if (!ok(r)) ++errs[exact(r[static_cast<size_t>(t.col("error"))])];
    fmt::print(out, "\n  errors:\n");
    for (const auto& [e, n] : errs) fmt::print(out, "    {:>6} x {}\n", n, e);
  }
}

}  // namespace tessera
