#include "sim/trace_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace tessera {
namespace {

using json = nlohmann::json;

int64_t ns(double s) { return std::llround(s * 1e9); }
double us(int64_t t_ns) { return static_cast<double>(t_ns) / 1e3; }

struct Event {
  int64_t ts = 0;
  int64_t dur = 0;   // X: duration; b: its slice's duration (parents sort first); else 0
  int order = 0;     // 0 = metadata, 1 = everything else
  json j;
};

struct UnitSlice {
  int stream = 0;
  int64_t start = 0, end = 0;
  std::string name;
  json args;
};

struct Counter {
  // (time, value delta, active delta); the value is 0 whenever nothing is active.
  std::vector<std::tuple<int64_t, double, int>> steps;
  void add(int64_t start, int64_t end, double value) {
    if (end <= start) return;
    steps.emplace_back(start, value, 1);
    steps.emplace_back(end, -value, -1);
  }
};

class Builder {
 public:
  explicit Builder(const RunResult& r) : m_r(r) {}

  json build() {
    const RunTimeline& tl = m_r.timeline;
    for (size_t d = 0; d < tl.devices.size(); ++d) device(static_cast<int>(d));
    const ParallelTimeline& pt = m_r.parallel_timeline;
    for (size_t row = 0; row < pt.rows.size() && row < pt.spans.size(); ++row)
      parallel_row(static_cast<int>(row));
    std::stable_sort(m_events.begin(), m_events.end(), [](const Event& a, const Event& b) {
      if (a.order != b.order) return a.order < b.order;
      if (a.ts != b.ts) return a.ts < b.ts;
      return a.dur > b.dur;
    });
    json ev = json::array();
    for (auto& e : m_events) ev.push_back(std::move(e.j));
    return json{{"traceEvents", std::move(ev)},
                {"displayTimeUnit", "ns"},
                {"otherData", {{"hardware", m_r.hardware}, {"workload", m_r.workload}, {"engine", m_r.engine}}}};
  }

 private:
  void meta(int pid, int tid, const std::string& what, const json& args) {
    json j{{"name", what}, {"ph", "M"}, {"pid", pid}, {"args", args}};
    if (tid >= 0) j["tid"] = tid;
    else j["tid"] = 0;
    m_events.push_back({0, 0, 0, std::move(j)});
  }

  void slice(int pid, int tid, const std::string& name, const std::string& cat, int64_t start, int64_t end,
             json args) {
    if (end < start) end = start;
    json j{{"name", name}, {"cat", cat}, {"ph", "X"}, {"ts", us(start)}, {"dur", us(end - start)},
           {"pid", pid}, {"tid", tid}};
    if (!args.empty()) j["args"] = std::move(args);
    m_events.push_back({start, end - start, 1, std::move(j)});
  }

  // An async slice (ph b/e with one id) on a track whose slices overlap.
  void async_slice(int pid, int tid, const std::string& name, const std::string& cat, int64_t start,
                   int64_t end, json args) {
    const std::string id = fmt::format("0x{:x}", ++m_async_id);
    m_events.push_back({start, end - start, 1,
                        json{{"name", name},
                             {"cat", cat},
                             {"ph", "b"},
                             {"id", id},
                             {"ts", us(start)},
                             {"pid", pid},
                             {"tid", tid},
                             {"args", std::move(args)}}});
    m_events.push_back({end, 0, 1,
                        json{{"name", name},
                             {"cat", cat},
                             {"ph", "e"},
                             {"id", id},
                             {"ts", us(end)},
                             {"pid", pid},
                             {"tid", tid}}});
  }

  // A multi-device run's row: a thread per track in a fixed order, an X slice
  // per span (async b/e events on a track whose spans overlap).
  void parallel_row(int row) {
    const ParallelTimeline& pt = m_r.parallel_timeline;
    const int pid = row + 1;
    meta(pid, -1, "process_name", {{"name", pt.rows[static_cast<size_t>(row)]}});
    meta(pid, -1, "process_sort_index", {{"sort_index", row}});
    static const char* const tracks[] = {"compute", "p2p", "comm stream", "dp reduction"};
    for (int k = 0; k < 4; ++k) {
      std::vector<const ParallelSpan*> sl;
      for (const ParallelSpan& s : pt.spans[static_cast<size_t>(row)])
        if (s.track == tracks[k]) sl.push_back(&s);
      if (sl.empty()) continue;
      const int tid = k + 1;
      meta(pid, tid, "thread_name", {{"name", tracks[k]}});
      meta(pid, tid, "thread_sort_index", {{"sort_index", k}});
      bool overlap = false;
      for (size_t i = 1; i < sl.size() && !overlap; ++i) overlap = ns(sl[i]->start_s) < ns(sl[i - 1]->end_s);
      for (const ParallelSpan* s : sl) {
        const int64_t a = ns(s->start_s), b = std::max(a, ns(s->end_s));
        json args{{"duration_us", (s->end_s - s->start_s) * 1e6}};
        if (s->chunk >= 0) args["chunk"] = s->chunk;
        if (s->mb >= 0) args["microbatch"] = s->mb;
        if (!overlap) {
          slice(pid, tid, s->name, s->cat, a, b, std::move(args));
          continue;
        }
        async_slice(pid, tid, s->name, s->cat, a, b, std::move(args));
      }
    }
  }

  void device(int d) {
    const RunTimeline& tl = m_r.timeline;
    const int pid = d + 1;
    meta(pid, -1, "process_name", {{"name", fmt::format("device {}: {}", d, tl.devices[static_cast<size_t>(d)])}});
    meta(pid, -1, "process_sort_index", {{"sort_index", d}});
    std::set<int> streams;
    std::map<std::string, std::vector<UnitSlice>> units;   // unit track -> slices
    std::vector<std::string> unit_order;                   // first use order
    std::map<std::string, Counter> bandwidth, level_bytes;
    Counter power;
    std::vector<std::pair<int64_t, double>> clock;
    int64_t end_all = 0;
    const auto unit = [&](const std::string& name) -> std::vector<UnitSlice>& {
      if (!units.count(name)) unit_order.push_back(name);
      return units[name];
    };
    for (const auto& lvl : tl.levels) unit("DMA " + lvl);

    for (size_t i = 0; i < tl.kernels.size(); ++i) {
      const TimelineKernel& k = tl.kernels[i];
      if (k.device != d) continue;
      const OpResult* op = i < m_r.ops.size() ? &m_r.ops[i] : nullptr;
      const int tid = 1 + k.stream;
      streams.insert(k.stream);
      const int64_t ks = ns(k.start_s), ke = std::max(ks, ns(k.end_s));
      end_all = std::max(end_all, ke);
      json args = json::object();
      if (op) {
        args = {{"kind", op->kind}, {"mapping", op->mapping}, {"bound", op->bound}, {"flops", op->flops},
                {"energy_j", op->energy_j}, {"clock_mhz", op->clock_hz / 1e6}};
      }
      const std::string kname = op ? op->name : fmt::format("kernel {}", i);
      slice(pid, tid, kname, "kernel", ks, ke, std::move(args));
      const int64_t launch_end = std::min(ke, ks + ns(k.overhead_s));
      if (launch_end > ks) slice(pid, tid, "launch", "launch", ks, launch_end, json::object());
      clock.emplace_back(ks, k.clock_hz / 1e6);
      for (size_t b = 0; b < k.blocks.size(); ++b) {
        const TimelineBlock& blk = k.blocks[b];
        // Compute phase, nested in the kernel (clamped to it: whole nanoseconds).
        const int64_t cs = std::clamp(ns(blk.compute_start_s), launch_end, ke);
        const int64_t ce = std::clamp(ns(blk.compute_end_s), cs, ke);
        // Named by the leading class (MMA before VEC before COLL: a GEMM block's
        // epilogue does not rename it); args.classes lists them all.
        const std::string cls =
            blk.compute_class.empty() ? "block" : blk.compute_class.substr(0, blk.compute_class.find('+'));
        json bargs{{"block", b}, {"stages", blk.repeat}, {"busy_us", blk.compute_busy_s * 1e6},
                   {"unit", blk.compute_unit.empty() ? "compute" : blk.compute_unit}};
        if (!blk.compute_class.empty()) bargs["classes"] = blk.compute_class;
        if (blk.compute_busy_s > 0 || blk.compute_class.size()) slice(pid, tid, cls, "compute", cs, ce, bargs);
        if (!blk.compute_unit.empty() && blk.compute_unit != "compute")
          unit(blk.compute_unit).push_back({k.stream, cs, ce, cls, bargs});
        // Transfers, per memory level.
        const int64_t ls = ns(blk.load_start_s), le = std::max(ls, ns(blk.load_end_s));
        for (const auto& [lvl, lt] : blk.levels) {
          if (lt.bytes <= 0 && lt.busy_s <= 0) continue;
          const double span = static_cast<double>(le - ls) * 1e-9;
          unit("DMA " + lvl).push_back({k.stream, ls, le, "DMA " + lvl,
                                        json{{"bytes", lt.bytes}, {"busy_us", lt.busy_s * 1e6},
                                             {"avg_gb_per_s", span > 0 ? lt.bytes / span / 1e9 : 0.0},
                                             {"stages", blk.repeat}}});
          if (span > 0) {
            bandwidth[lvl].add(ls, le, lt.bytes / span / 1e9);
            level_bytes[lvl].add(ls, le, lt.bytes / span);
          }
        }
        // Dynamic power over the block's whole span.
        const int64_t bs = std::min(ls, cs), be = std::max(le, ce);
        if (be > bs) power.add(bs, be, blk.energy_j / (static_cast<double>(be - bs) * 1e-9));
      }
    }

    // Threads: streams first, then the shared units.
    for (int s : streams) {
      meta(pid, 1 + s, "thread_name", {{"name", fmt::format("stream {}", s)}});
      meta(pid, 1 + s, "thread_sort_index", {{"sort_index", s}});
    }
    int next_tid = 1000;
    for (const auto& name : unit_order) {
      auto& sl = units[name];
      if (sl.empty()) continue;
      std::stable_sort(sl.begin(), sl.end(), [](const UnitSlice& a, const UnitSlice& b) { return a.start < b.start; });
      bool overlap = false;
      for (size_t i = 1; i < sl.size() && !overlap; ++i) overlap = sl[i].start < sl[i - 1].end;
      const int tid = next_tid++;
      meta(pid, tid, "thread_name", {{"name", name}});
      meta(pid, tid, "thread_sort_index", {{"sort_index", tid}});
      for (auto& u : sl) {
        u.args["stream"] = u.stream;
        if (!overlap) {
          slice(pid, tid, u.name, name, u.start, u.end, u.args);
          continue;
        }
        async_slice(pid, tid, u.name, name, u.start, u.end, u.args);
      }
    }

    // Counters.
    for (const auto& lvl : m_r.timeline.levels)
      counter(pid, lvl + " bandwidth", "GB/s", bandwidth[lvl], end_all);
    for (size_t c = 0; c < tl.cache_levels.size(); ++c) {
      const std::string& cache = tl.cache_levels[c];
      const auto it = std::find(tl.levels.begin(), tl.levels.end(), cache);
      if (it == tl.levels.end() || it + 1 == tl.levels.end()) continue;
      hit_rate(pid, cache, level_bytes[cache], level_bytes[*(it + 1)], end_all);
    }
    // Clock: the last kernel started sets it.
    std::stable_sort(clock.begin(), clock.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < clock.size(); ++i) {
      if (i + 1 < clock.size() && clock[i + 1].first == clock[i].first) continue;
      counter_event(pid, "clock", clock[i].first, {{"MHz", clock[i].second}});
    }
    // Power: static all along, plus the blocks' dynamic power.
    std::map<int64_t, double> pw{{0, tl.static_power_w}};
    for (const auto& [t, v] : sweep(power)) pw[t] = tl.static_power_w + v;
    for (const auto& [t, v] : pw) counter_event(pid, "power", t, {{"W", v}});
  }

  // The piecewise-constant sum of the counter's intervals: (time, value) at each change.
  static std::vector<std::pair<int64_t, double>> sweep(Counter& c) {
    std::stable_sort(c.steps.begin(), c.steps.end(),
                     [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    std::vector<std::pair<int64_t, double>> out;
    double v = 0;
    int active = 0;
    for (size_t i = 0; i < c.steps.size(); ++i) {
      v += std::get<1>(c.steps[i]);
      active += std::get<2>(c.steps[i]);
      if (i + 1 < c.steps.size() && std::get<0>(c.steps[i + 1]) == std::get<0>(c.steps[i])) continue;
      if (active == 0) v = 0;   // no residue from rounding once every interval has ended
      if (out.empty() || out.back().second != v) out.emplace_back(std::get<0>(c.steps[i]), v);
    }
    return out;
  }

  void counter(int pid, const std::string& name, const std::string& unit, Counter& c, int64_t) {
    std::map<int64_t, double> v{{0, 0.0}};
    for (const auto& [t, x] : sweep(c)) v[t] = x;
    for (const auto& [t, x] : v) counter_event(pid, name, t, {{unit, x}});
  }

  void hit_rate(int pid, const std::string& cache, Counter cache_bytes, Counter next_bytes, int64_t end_all) {
    // Both rates change only at block boundaries: evaluate at every change of either.
    const auto a = sweep(cache_bytes), b = sweep(next_bytes);
    std::set<int64_t> times{0};
    for (const auto& [t, v] : a) times.insert(t);
    for (const auto& [t, v] : b) times.insert(t);
    const auto at = [](const std::vector<std::pair<int64_t, double>>& s, int64_t t) {
      auto it = std::upper_bound(s.begin(), s.end(), t, [](int64_t x, const auto& p) { return x < p.first; });
      return it == s.begin() ? 0.0 : std::prev(it)->second;
    };
    double last = -1;
    for (int64_t t : times) {
      const double c = at(a, t), n = at(b, t);
      const double h = c > 0 ? std::clamp(1.0 - n / c, 0.0, 1.0) : 0.0;
      if (h == last) continue;
      last = h;
      counter_event(pid, cache + " hit rate", t, {{"ratio", h}});
    }
    (void)end_all;
  }

  void counter_event(int pid, const std::string& name, int64_t t, json args) {
    m_events.push_back({t, 0, 1, json{{"name", name}, {"ph", "C"}, {"ts", us(t)}, {"pid", pid}, {"args", std::move(args)}}});
  }

  const RunResult& m_r;
  std::vector<Event> m_events;
  uint64_t m_async_id = 0;
};

}  // namespace

nlohmann::json trace_events(const RunResult& r) { return Builder(r).build(); }

void write_trace(const RunResult& r, const std::string& path) {
  write_file_atomic(path, trace_events(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "--trace");
}

}  // namespace tessera
