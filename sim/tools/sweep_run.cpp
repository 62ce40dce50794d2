#include "sim/tools/sweep_run.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/hardware.h"
#include "sim/engines/capacity.h"
#include "sim/engines/engine.h"
#include "sim/engines/parallel.h"
#include "sim/param_space.h"
#include "sim/precision.h"
#include "workloads/models/parallel.h"
#include "workloads/workloads.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// The types PointEvaluator::Shared holds: not in an anonymous namespace, since
// Shared itself is not (a unity build compiles this file inside another).
namespace sweep_run_detail {

// A cache of pure functions of a text key, filled once per key (concurrent
// callers of one key wait for the first).
template <class V>
class OnceCache {
 public:
  std::shared_future<V> get(const std::string& key, const std::function<V()>& make) {
    std::promise<V> pr;
    std::shared_future<V> f;
    {
      std::lock_guard lk(m_mu);
      auto it = m_map.find(key);
      if (it != m_map.end()) return it->second;
      f = pr.get_future().share();
      m_map.emplace(key, f);
    }
    try {
      pr.set_value(make());
    } catch (...) {
      pr.set_exception(std::current_exception());
    }
    return f;
  }

 private:
  std::mutex m_mu;
  std::map<std::string, std::shared_future<V>> m_map;
};

struct BuiltWorkload {
  std::shared_ptr<const Graph> graph;
  std::string identity;
};

}  // namespace sweep_run_detail

using sweep_run_detail::BuiltWorkload;
using sweep_run_detail::OnceCache;

struct PointEvaluator::Shared {
  std::vector<YAML::Node> trees;          // resolved hardware descriptions, one per spec hw
  std::vector<std::string> sources;
  std::mutex clone_mu;                    // yaml-cpp nodes are not safe to read concurrently
  std::mutex systemc_mu;                  // one SystemC simulation at a time per process
  OnceCache<BuiltWorkload> workloads;     // per workload setting: parsed once, never per point
  OnceCache<double> precision;            // per workload and accumulation path of every op
  bool want_precision = false;
};

struct PointEvaluator::Worker {
  std::vector<YAML::Node> trees;
};

PointEvaluator::PointEvaluator(const SweepSpec& spec) : m_spec(spec), m_shared(std::make_unique<Shared>()) {
  for (const auto& h : spec.hws) {
    auto hw = load_hardware(h, {});
    m_shared->trees.push_back(YAML::Clone(hw->tree));
    m_shared->sources.push_back(hw->source);
  }
  for (const auto& m : spec.metrics) m_shared->want_precision = m_shared->want_precision || m == "precision.rel_err";
}

PointEvaluator::~PointEvaluator() = default;

std::unique_ptr<PointEvaluator::Worker> PointEvaluator::make_worker() const {
  auto w = std::make_unique<Worker>();
  std::lock_guard lk(m_shared->clone_mu);
  for (const auto& t : m_shared->trees) w->trees.push_back(YAML::Clone(t));
  return w;
}

SweepRow PointEvaluator::evaluate(const SweepPoint& p, Worker& w) const {
  const SweepSpec& s = m_spec;
  SweepRow row;
  row.id = p.id;
  row.seq = p.seq;
  row.hw = s.hws[p.hw];
  row.workload = s.workloads[p.workload];
  row.engine = s.engines[p.engine];
  for (size_t i = 0; i < s.axes.size(); ++i) row.params.push_back(param_cell(s.axes[i].spec, s.axes[i].values[p.value[i]]));
  row.metrics.assign(s.metrics.size(), std::monostate{});
  try {
    const RunSettings st = resolve_sets(row.workload, row.engine, point_sets(s, p));
    const auto hw = build_hardware(YAML::Clone(w.trees[p.hw]), m_shared->sources[p.hw], st.hw_sets);
    row.hw_identity = fmt::format("{}:{}", hw->name, hash_hex(YAML::Dump(hw->tree)));
    const BuiltWorkload bw = m_shared->workloads
                                 .get(st.workload,
                                      [&] {
                                        BuiltWorkload b;
                                        b.graph = std::make_shared<const Graph>(build_workload(st.workload));
                                        b.identity = st.workload;
                                        std::error_code ec;
                                        if (fs::is_regular_file(st.workload, ec)) {
                                          std::ifstream f(st.workload, std::ios::binary);
                                          std::stringstream ss;
                                          ss << f.rdbuf();
                                          b.identity += ":" + hash_hex(ss.str());
                                        }
                                        return b;
                                      })
                                 .get();
    row.workload_identity = bw.identity;
    const Graph& g = *bw.graph;
    const bool parallel = is_parallel_graph(g);
    if (!parallel)  // what stays resident must fit, as in `run` (sim/engines/capacity.h)
      check_capacity(graph_footprint(g), *hw, fmt::format("workload '{}' on '{}'", st.workload, hw->name),
                     st.engine.allow_over_capacity);
    // A multi-device workload runs its whole iteration as `run` does
    // (sim/engines/parallel.h: every role's passes, the pipeline schedule, the
    // collectives; it checks each device's footprint itself).
    const auto run = [&] {
      return parallel ? simulate_parallel(g, *hw, st.engine)
                      : make_engine(st.engine)->run(compile(g, *hw), *hw);
    };
    RunResult r;
    if (st.engine.name == "systemc") {
      std::lock_guard lk(m_shared->systemc_mu);
      r = run();
    } else {
      r = run();
    }
    const double area = hw->compute().area_mm2();
    const double achieved = r.time_s > 0 ? r.flops / r.time_s : 0;
    for (size_t i = 0; i < s.metrics.size(); ++i) {
      const std::string& m = s.metrics[i];
      SweepCell& c = row.metrics[i];
      if (m == "time_s") c = r.time_s;
      else if (m == "energy_j") c = r.energy_j;
      else if (m == "avg_power_w") c = r.avg_power_w;
      else if (m == "utilization") c = r.peak_flops > 0 ? achieved / r.peak_flops : 0.0;
      else if (m == "tops_per_w") { if (r.energy_j > 0) c = r.flops / r.energy_j / 1e12; }
      else if (m == "area_mm2") { if (area > 0) c = area; }
      else if (m == "perf_per_mm2") { if (area > 0) c = achieved / 1e12 / area; }
      else if (m == "flops") c = r.flops;
      else if (m == "cycles") c = r.cycles;
      else if (m == "peak_flops") c = r.peak_flops;
      else if (m == "dram_bytes") {
        const auto& all = r.stats.all();
        auto it = all.find("memory." + hw->memories().back().first + ".bytes");
        if (it != all.end()) c = it->second.value;
      } else if (m == "precision.rel_err" && !parallel) {  // `run --precision` is single-device only
        // Keyed by everything the precision report reads: the workload and each
        // op's operand format and accumulation path on this hardware.
        std::string key = st.workload;
        for (const Op& op : g.ops) {
          const DType operand = hw->compute().operand_dtype(op);
          key += fmt::format("|{}:{}", dtype_name(operand), accumulation_model_for(*hw, op, operand).name);
        }
        c = m_shared->precision
                .get(key,
                     [&] {
                       return precision_report(g, *hw, PrecisionOptions{})["total"]["flop_weighted_rms_rel_err"]
                           .get<double>();
                     })
                .get();
      }
    }
    row.status = "ok";
  } catch (const InputError& e) {
    row.status = "error";
    row.error = e.what();
    row.metrics.assign(s.metrics.size(), std::monostate{});
  } catch (const std::exception& e) {
    row.status = "error";
    row.error = fmt::format("internal error: {}", e.what());
    row.metrics.assign(s.metrics.size(), std::monostate{});
  }
  return row;
}

void run_points(const PointEvaluator& ev, const std::vector<const SweepPoint*>& todo, int jobs,
                const std::function<void(std::vector<SweepRow>&)>& sink, const std::function<bool()>& poll) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SweepRow> ready;
  std::atomic<size_t> next{0};
  size_t finished = 0;
  std::exception_ptr failure;
  const int n = std::max(1, std::min<int>(jobs, static_cast<int>(std::max<size_t>(1, todo.size()))));
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&] {
      try {
        auto w = ev.make_worker();
        for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
          SweepRow r = ev.evaluate(*todo[i], *w);
          std::lock_guard lk(mu);
          ready.push_back(std::move(r));
          cv.notify_one();
        }
      } catch (...) {
        std::lock_guard lk(mu);
        if (!failure) failure = std::current_exception();
        next = todo.size();
      }
      std::lock_guard lk(mu);
      ++finished;
      cv.notify_one();
    });
  bool remote = static_cast<bool>(poll);
  try {
  for (;;) {
    std::vector<SweepRow> batch;
    bool all_local;
    {
      std::unique_lock lk(mu);
      cv.wait_for(lk, std::chrono::milliseconds(remote ? 2 : 200),
                  [&] { return !ready.empty() || finished == threads.size(); });
      batch.swap(ready);
      all_local = finished == threads.size() && ready.empty();
    }
    if (!batch.empty()) sink(batch);
    if (remote) remote = poll();
    if (all_local && batch.empty() && !remote) break;
  }
  } catch (...) {
    next = todo.size();   // the workers stop after their current point
    for (auto& t : threads) t.join();
    throw;
  }
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

SweepProgress::SweepProgress(int64_t total, std::ostream& err, bool quiet)
    : m_total(total), m_err(err), m_quiet(quiet), m_tty(isatty(2) != 0), m_t0(now_s()) {}

void SweepProgress::add(int64_t n) {
  m_done += n;
  if (m_quiet || m_total <= 0) return;
  const double t = now_s() - m_t0;
  const double rate = t > 0 ? static_cast<double>(m_done) / t : 0;
  const double eta = rate > 0 ? static_cast<double>(m_total - m_done) / rate : 0;
  if (m_tty) {
    if (m_done < m_total && t - m_last_draw < 0.1) return;
    m_last_draw = t;
    const int width = 30;
    const int filled = static_cast<int>(width * m_done / m_total);
    fmt::print(m_err, "\r[{}{}] {}/{} points  {:.1f}/s  ETA {:.0f} s   ", std::string(filled, '#'),
               std::string(width - filled, '.'), m_done, m_total, rate, eta);
    m_err.flush();
    return;
  }
  const int decile = static_cast<int>(10 * m_done / m_total);
  if (decile > m_last_decile) {
    m_last_decile = decile;
    fmt::print(m_err, "sweep: {}/{} points ({} %), {:.1f} points/s, ETA {:.0f} s\n", m_done, m_total, decile * 10,
               rate, eta);
  }
}

void SweepProgress::finish() {
  if (!m_quiet && m_tty && m_total > 0) fmt::print(m_err, "\n");
}

std::string row_to_text(const SweepRow& r) {
  auto cells = [](const std::vector<SweepCell>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : v) {
      if (const auto* i = std::get_if<int64_t>(&c)) a.push_back(*i);
      else if (const auto* d = std::get_if<double>(&c)) a.push_back(*d);
      else if (const auto* s = std::get_if<std::string>(&c)) a.push_back(*s);
      else a.push_back(nullptr);
    }
    return a;
  };
  nlohmann::json j = {{"id", r.id}, {"seq", r.seq}, {"hw", r.hw}, {"workload", r.workload}, {"engine", r.engine},
                      {"hwi", r.hw_identity}, {"wli", r.workload_identity}, {"params", cells(r.params)},
                      {"status", r.status}, {"error", r.error}, {"metrics", cells(r.metrics)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SweepRow row_from_text(const std::string& s) {
  const auto j = nlohmann::json::parse(s);
  auto cells = [](const nlohmann::json& a) {
    std::vector<SweepCell> v;
    for (const auto& c : a) {
      if (c.is_null()) v.emplace_back(std::monostate{});
      else if (c.is_number_integer()) v.emplace_back(c.get<int64_t>());
      else if (c.is_number()) v.emplace_back(c.get<double>());
      else v.emplace_back(c.get<std::string>());
    }
    return v;
  };
  SweepRow r;
  r.id = j["id"];
  r.seq = j["seq"];
  r.hw = j["hw"];
  r.workload = j["workload"];
  r.engine = j["engine"];
  r.hw_identity = j["hwi"];
  r.workload_identity = j["wli"];
  r.params = cells(j["params"]);
  r.status = j["status"];
  r.error = j["error"];
  r.metrics = cells(j["metrics"]);
  return r;
}

int run_sweep(const std::string& spec_path, const SweepRunOptions& o, std::ostream& out, std::ostream& err) {
  const SweepSpec spec = load_sweep_spec(spec_path);
  const std::vector<SweepPoint> points = sweep_points(spec);
  if (o.mpi) return run_sweep_mpi(spec, points, o, out, err);
  auto store = SweepStore::open_for(o.out, spec, o.append);
  const auto done = store->done_ids();
  std::vector<const SweepPoint*> todo;
  size_t in_shard = 0, skipped = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(o.shard_count)) != o.shard_index) continue;
    ++in_shard;
    if (done.count(points[i].id)) {
      ++skipped;
      continue;
    }
    if (o.limit >= 0 && static_cast<int64_t>(todo.size()) >= o.limit) continue;
    todo.push_back(&points[i]);
  }
  const int jobs = o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  PointEvaluator ev(spec);
  SweepProgress progress(static_cast<int64_t>(todo.size()), err, o.quiet);
  int64_t errors = 0;
  const double t0 = now_s();
  run_points(ev, todo, jobs, [&](std::vector<SweepRow>& rows) {
    store->insert(rows);
    for (const auto& r : rows) errors += r.status != "ok";
    progress.add(static_cast<int64_t>(rows.size()));
  });
  progress.finish();
  const double dt = now_s() - t0;
  fmt::print(out, "sweep: {} points in the spec{}; {} already in {}; ran {} ({} errors) in {:.2f} s ({:.1f} points/s){}\n",
             points.size(), o.shard_count > 1 ? fmt::format(" ({} in shard {}/{})", in_shard, o.shard_index, o.shard_count) : "",
             skipped, o.out, todo.size(), errors, dt, dt > 0 ? static_cast<double>(todo.size()) / dt : 0.0,
             in_shard - skipped > todo.size() ? fmt::format("; {} left (--limit)", in_shard - skipped - todo.size()) : "");
  return 0;
}

}  // namespace tessera
