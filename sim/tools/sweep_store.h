#pragma once
// The results of a sweep in one SQLite file (WAL mode): one row per point,
// keyed by the point's id (a hash of its resolved parameters), so that reruns,
// shards and merges never duplicate a point. Schema:
//
//   meta(key, value)      format, version of the writer
//   specs(hash, spec)     every spec whose points the file holds (canonical JSON)
//   points(id TEXT PRIMARY KEY, seq, spec, hw, workload, engine, hw_identity,
//          workload_identity, "<axis path>"..., status, error, "<metric>"...,
//          version, finished_at)
//
// Axis columns are typed: INTEGER for integer parameters, REAL for real and
// quantity parameters (in SI base units: Hz, B, B/s, s, W, J), TEXT otherwise.
// Metrics are REAL (NULL where a point has none: an error, or no area).
// `finished_at` (UTC) is the only column that differs between two runs of a spec.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "sim/tools/sweep_spec.h"

struct sqlite3;

namespace tessera {

using SweepCell = std::variant<std::monostate, int64_t, double, std::string>;

struct SweepRow {
  std::string id;
  int64_t seq = 0;
  std::string hw, workload, engine, hw_identity, workload_identity;
  std::vector<SweepCell> params;    // one per axis, typed
  std::string status;               // ok | error
  std::string error;
  std::vector<SweepCell> metrics;   // one per spec metric
};

// Tessera's version as recorded in every row.
const char* tessera_version();

class SweepStore {
 public:
  ~SweepStore();
  SweepStore(const SweepStore&) = delete;
  SweepStore& operator=(const SweepStore&) = delete;

  // Opens (or creates) `path` to record `spec`'s points. A file holding another
  // spec's points is refused (InputError naming both) unless `append`.
  static std::unique_ptr<SweepStore> open_for(const std::string& path, const SweepSpec& spec, bool append);
  // Opens an existing file read-only (report, merge). InputError if it is not a sweep file.
  static std::unique_ptr<SweepStore> open_existing(const std::string& path);

  std::unordered_set<std::string> done_ids() const;
  // Writes rows in one transaction (committed when this returns).
  void insert(const std::vector<SweepRow>& rows);
  // Spec hashes the file holds, sorted.
  std::vector<std::string> spec_hashes() const;
  sqlite3* db() const { return m_db; }
  const std::string& path() const { return m_path; }

 private:
  SweepStore() = default;
  sqlite3* m_db = nullptr;
  std::string m_path;
  std::vector<std::string> m_param_cols, m_metric_cols;
  std::string m_spec_hash;
};

// A typed cell of a parameter value (see the header comment).
SweepCell param_cell(const ParamSpec& spec, const std::string& text);

// `tessera sweep merge OUT IN...`: every row of the inputs into OUT (written to
// a temporary file and renamed). Inputs must hold the same specs and columns.
void merge_sweeps(const std::string& out, const std::vector<std::string>& inputs);

// SQL identifier quoting ("compute.rows").
std::string sql_ident(const std::string& name);
// Throws InputError "<path>: <what>: <sqlite message>" when rc is not OK/DONE/ROW.
void sql_check(sqlite3* db, int rc, const std::string& path, const std::string& what);
void sql_exec(sqlite3* db, const std::string& sql, const std::string& path);

}  // namespace tessera
