#include "sim/tools/sweep_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/error.h"

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "unknown"
#endif

namespace tessera {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "tessera-sweep 1";

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string col_type(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::integer: return s.choices.empty() ? "INTEGER" : "";   // words: any type
    case ParamType::real:
    case ParamType::quantity: return "REAL";
    case ParamType::boolean: return "INTEGER";
    default: return "TEXT";
  }
}

// Column names of a table, in order.
std::vector<std::string> columns(sqlite3* db, const std::string& schema, const std::string& table,
                                 const std::string& path) {
  sqlite3_stmt* st = nullptr;
  sql_check(db, sqlite3_prepare_v2(db, fmt::format("PRAGMA {}.table_info({})", schema, table).c_str(), -1, &st, nullptr),
            path, "reading the columns");
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  sqlite3_finalize(st);
  return out;
}

std::vector<std::string> string_column(sqlite3* db, const std::string& sql, const std::string& path) {
  sqlite3_stmt* st = nullptr;
  sql_check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), path, "reading");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  sqlite3_finalize(st);
  sql_check(db, rc, path, "reading");
  return out;
}

sqlite3* open_db(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw InputError(fmt::format("{}: cannot open the results database: {}", path, msg));
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

bool is_sweep_file(sqlite3* db, const std::string& path) {
  const auto t = string_column(db, "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'", path);
  if (t.empty()) return false;
  const auto f = string_column(db, "SELECT value FROM meta WHERE key='format'", path);
  return !f.empty() && f[0] == kFormat;
}

void bind_cell(sqlite3_stmt* st, int i, const SweepCell& c) {
  if (const auto* v = std::get_if<int64_t>(&c)) sqlite3_bind_int64(st, i, *v);
  else if (const auto* d = std::get_if<double>(&c)) sqlite3_bind_double(st, i, *d);
  else if (const auto* s = std::get_if<std::string>(&c)) sqlite3_bind_text(st, i, s->c_str(), -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

}  // namespace

const char* tessera_version() { return TESSERA_VERSION; }

std::string sql_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void sql_check(sqlite3* db, int rc, const std::string& path, const std::string& what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  throw InputError(fmt::format("{}: {}: {}", path, what, sqlite3_errmsg(db)));
}

void sql_exec(sqlite3* db, const std::string& sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw InputError(fmt::format("{}: {}", path, msg));
  }
}

SweepCell param_cell(const ParamSpec& spec, const std::string& text) {
  const ExprValue v = param_expr_value(spec, text);
  if (const double* d = std::get_if<double>(&v)) {
    if ((spec.type == ParamType::integer || spec.type == ParamType::boolean) && *d == static_cast<double>(static_cast<int64_t>(*d)))
      return static_cast<int64_t>(*d);
    return *d;
  }
  return std::get<std::string>(v);
}

SweepStore::~SweepStore() {
  if (m_db) sqlite3_close(m_db);
}

std::unique_ptr<SweepStore> SweepStore::open_for(const std::string& path, const SweepSpec& spec, bool append) {
  std::unique_ptr<SweepStore> s(new SweepStore());
  s->m_path = path;
  s->m_db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX);
  sqlite3* db = s->m_db;
  // WAL: a reader never blocks the writer, and a commit survives the process
  // being killed at any moment (synchronous=NORMAL syncs at checkpoints; only an
  // operating-system crash can lose the last commits).
  sql_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", path);
  const bool fresh =
      string_column(db, "SELECT name FROM sqlite_master WHERE type='table'", path).empty();
  if (!fresh && !is_sweep_file(db, path))
    throw InputError(fmt::format("{}: not a Tessera sweep database; choose another --out", path));
  for (const auto& a : spec.axes) s->m_param_cols.push_back(a.path);
  s->m_metric_cols = spec.metrics;
  s->m_spec_hash = spec.hash;
  if (fresh) {
    std::string cols = "id TEXT PRIMARY KEY, seq INTEGER, spec TEXT, hw TEXT, workload TEXT, engine TEXT, "
                       "hw_identity TEXT, workload_identity TEXT";
    for (const auto& a : spec.axes) cols += ", " + sql_ident(a.path) + " " + col_type(a.spec);
    cols += ", status TEXT, error TEXT";
    for (const auto& m : spec.metrics) cols += ", " + sql_ident(m) + " REAL";
    cols += ", version TEXT, finished_at TEXT";
    sql_exec(db,
             fmt::format("BEGIN; CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); "
                         "CREATE TABLE specs(hash TEXT PRIMARY KEY, spec TEXT); CREATE TABLE points({}); "
                         "INSERT INTO meta VALUES('format', '{}'); INSERT INTO meta VALUES('version', '{}'); COMMIT;",
                         cols, kFormat, tessera_version()),
             path);
  }
  const auto hashes = s->spec_hashes();
  if (std::find(hashes.begin(), hashes.end(), spec.hash) == hashes.end()) {
    if (!hashes.empty() && !append)
      throw InputError(fmt::format(
          "{}: holds the results of another sweep spec (spec {}; this spec {} from {}); rerun the same spec to "
          "resume, give --append to add this spec's points to the file, or choose another --out",
          path, hashes[0], spec.hash, spec.file));
    // Columns this spec adds to the file (appending).
    const auto have = columns(db, "main", "points", path);
    auto add = [&](const std::string& name, const std::string& type) {
      if (std::find(have.begin(), have.end(), name) == have.end())
        sql_exec(db, fmt::format("ALTER TABLE points ADD COLUMN {} {}", sql_ident(name), type), path);
    };
    for (const auto& a : spec.axes) add(a.path, col_type(a.spec));
    for (const auto& m : spec.metrics) add(m, "REAL");
    sqlite3_stmt* st = nullptr;
    sql_check(db, sqlite3_prepare_v2(db, "INSERT INTO specs VALUES(?, ?)", -1, &st, nullptr), path, "recording the spec");
    sqlite3_bind_text(st, 1, spec.hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, spec.canonical.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    sql_check(db, rc, path, "recording the spec");
  }
  return s;
}

std::unique_ptr<SweepStore> SweepStore::open_existing(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(fmt::format("{}: no such results database", path));
  std::unique_ptr<SweepStore> s(new SweepStore());
  s->m_path = path;
  s->m_db = open_db(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX);
  bool ok = false;
  try {
    ok = is_sweep_file(s->m_db, path);
  } catch (const InputError&) {
    ok = false;
  }
  if (!ok) throw InputError(fmt::format("{}: not a Tessera sweep database", path));
  return s;
}

std::unordered_set<std::string> SweepStore::done_ids() const {
  const auto ids = string_column(m_db, "SELECT id FROM points", m_path);
  return {ids.begin(), ids.end()};
}

std::vector<std::string> SweepStore::spec_hashes() const {
  return string_column(m_db, "SELECT hash FROM specs ORDER BY hash", m_path);
}

void SweepStore::insert(const std::vector<SweepRow>& rows) {
  if (rows.empty()) return;
  std::string cols = "id, seq, spec, hw, workload, engine, hw_identity, workload_identity";
  for (const auto& p : m_param_cols) cols += ", " + sql_ident(p);
  cols += ", status, error";
  for (const auto& m : m_metric_cols) cols += ", " + sql_ident(m);
  cols += ", version, finished_at";
  const size_t n = 12 + m_param_cols.size() + m_metric_cols.size();
  std::string q;
  for (size_t i = 0; i < n; ++i) q += i ? ", ?" : "?";
  sqlite3_stmt* st = nullptr;
  sql_exec(m_db, "BEGIN IMMEDIATE", m_path);
  sql_check(m_db, sqlite3_prepare_v2(m_db, fmt::format("INSERT OR IGNORE INTO points({}) VALUES({})", cols, q).c_str(), -1, &st, nullptr),
            m_path, "writing a point");
  const std::string stamp = now_utc();
  for (const auto& r : rows) {
    int i = 1;
    sqlite3_bind_text(st, i++, r.id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, i++, r.seq);
    sqlite3_bind_text(st, i++, m_spec_hash.c_str(), -1, SQLITE_TRANSIENT);
    for (const std::string* t : {&r.hw, &r.workload, &r.engine, &r.hw_identity, &r.workload_identity})
      sqlite3_bind_text(st, i++, t->c_str(), -1, SQLITE_TRANSIENT);
    for (const auto& c : r.params) bind_cell(st, i++, c);
    sqlite3_bind_text(st, i++, r.status.c_str(), -1, SQLITE_TRANSIENT);
    if (r.error.empty()) sqlite3_bind_null(st, i++);
    else sqlite3_bind_text(st, i++, r.error.c_str(), -1, SQLITE_TRANSIENT);
    for (const auto& c : r.metrics) bind_cell(st, i++, c);
    sqlite3_bind_text(st, i++, tessera_version(), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, stamp.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
      sqlite3_finalize(st);
      sql_check(m_db, rc, m_path, "writing a point");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  sqlite3_finalize(st);
  sql_exec(m_db, "COMMIT", m_path);
}

void merge_sweeps(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw InputError("tessera sweep merge: give OUT.db and at least one IN.db");
  std::vector<std::string> hashes, cols;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (fs::weakly_canonical(inputs[i]) == fs::weakly_canonical(out))
      throw InputError(fmt::format("tessera sweep merge: the output '{}' is also an input", out));
    auto s = SweepStore::open_existing(inputs[i]);
    const auto h = s->spec_hashes();
    const auto c = columns(s->db(), "main", "points", inputs[i]);
    if (i == 0) {
      hashes = h;
      cols = c;
    } else if (h != hashes) {
      throw InputError(fmt::format("tessera sweep merge: '{}' holds other sweep specs than '{}' ({} vs {}); "
                                   "only shards and reruns of the same spec merge",
                                   inputs[i], inputs[0], fmt::join(h, ","), fmt::join(hashes, ",")));
    } else if (c != cols) {
      throw InputError(fmt::format("tessera sweep merge: '{}' has other columns than '{}'", inputs[i], inputs[0]));
    }
  }
  const std::string tmp = out + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    sqlite3* db = open_db(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    try {
      // The schema of the first input, then every input's rows (a point present
      // in several inputs is the same point: its first copy is kept).
      sql_exec(db, fmt::format("ATTACH DATABASE '{}' AS src", [&] {
                 std::string p;
                 for (char c : inputs[0]) p += c == '\'' ? std::string("''") : std::string(1, c);
                 return p;
               }()), tmp);
      const auto sqls = string_column(db, "SELECT sql FROM src.sqlite_master WHERE type='table' ORDER BY name", tmp);
      sql_exec(db, "DETACH DATABASE src", tmp);
      sql_exec(db, "BEGIN", tmp);
      for (const auto& s : sqls) sql_exec(db, s, tmp);
      sql_exec(db, "COMMIT", tmp);
      for (const auto& in : inputs) {
        std::string p;
        for (char c : in) p += c == '\'' ? std::string("''") : std::string(1, c);
        sql_exec(db, fmt::format("ATTACH DATABASE '{}' AS src; BEGIN; "
                                 "INSERT OR IGNORE INTO main.meta SELECT * FROM src.meta; "
                                 "INSERT OR IGNORE INTO main.specs SELECT * FROM src.specs; "
                                 "INSERT OR IGNORE INTO main.points SELECT * FROM src.points; COMMIT; DETACH DATABASE src;",
                                 p),
                 tmp);
      }
    } catch (...) {
      sqlite3_close(db);
      fs::remove(tmp, ec);
      throw;
    }
    sqlite3_close(db);
  }
  fs::remove(out + "-wal", ec);   // a stale log of an older OUT must not apply to the new file
  fs::remove(out + "-shm", ec);
  fs::rename(tmp, out, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw InputError(fmt::format("tessera sweep merge: cannot write '{}'", out));
  }
}

}  // namespace tessera
