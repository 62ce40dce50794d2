#include "sim/tools/sweep_spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "core/units.h"
#include "core/utf8.h"
#include "models/hardware.h"
#include "sim/param_space.h"
#include "workloads/workloads.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

// splitmix64 (S. Vigna): a fixed generator, so a seed draws the same points on
// every platform and standard library.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  size_t below(size_t n) { return std::min(n - 1, static_cast<size_t>(uniform() * static_cast<double>(n))); }
};

struct Ctx {
  std::string file;
  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const int line = at ? at.Mark().line + 1 : 0;
    if (line > 0) throw InputError(fmt::format("{}:{}: {}: {}", file, line, key, what));
    throw InputError(fmt::format("{}: {}: {}", file, key, what));
  }
};

std::string scalar(const Ctx& c, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) c.fail(n, key, "expected a single value");
  return n.as<std::string>();
}

// A scalar or a non-empty list of scalars.
std::vector<std::string> one_or_list(const Ctx& c, const YAML::Node& n, const std::string& key) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (const auto& e : n) out.push_back(scalar(c, e, key));
    if (out.empty()) c.fail(n, key, "empty list");
  } else {
    out.push_back(scalar(c, n, key));
  }
  for (const auto& s : out)
    if (s.empty()) c.fail(n, key, "empty value");
  return out;
}

std::string canonical_value(const ParamSpec& spec, const std::string& text) {
  const ExprValue v = param_expr_value(spec, text);
  if (const double* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  return text;
}

// Values of a {range|log_range: [a, b], points: N} axis, as --set texts.
std::vector<std::string> range_values(const Ctx& c, const YAML::Node& n, const std::string& key,
                                      const ParamSpec& spec) {
  const bool is_log = static_cast<bool>(n["log_range"]);
  const YAML::Node r = is_log ? n["log_range"] : n["range"];
  for (const auto& kv : n) {
    const std::string k = kv.first.as<std::string>();
    if (k != "range" && k != "log_range" && k != "points")
      c.fail(kv.first, key, fmt::format("unknown key '{}'; accepted: range or log_range, and points", k));
  }
  if (!r || (n["range"] && n["log_range"]))
    c.fail(n, key, "expected a list of values, {range: [LOW, HIGH], points: N} or {log_range: [LOW, HIGH], points: N}");
  if (spec.type != ParamType::integer && spec.type != ParamType::real && spec.type != ParamType::quantity)
    c.fail(n, key, fmt::format("a range needs a numeric parameter; this one is {}", spec.type_text()));
  if (!r.IsSequence() || r.size() != 2) c.fail(r, key, "a range is [LOW, HIGH]");
  if (!n["points"]) c.fail(n, key, "a range needs points: N (N >= 2)");
  long long pts = 0;
  try {
    pts = n["points"].as<long long>();
  } catch (const YAML::Exception&) {
    c.fail(n["points"], key + ".points", "not an integer; expected 2..100000");
  }
  if (pts < 2 || pts > 100000) c.fail(n["points"], key + ".points", fmt::format("{} is out of range; expected 2..100000", pts));
  double ends[2];
  for (int i = 0; i < 2; ++i) {
    const std::string t = scalar(c, r[i], key);
    const std::string why = param_value_problem(spec, t);
    if (!why.empty()) c.fail(r[i], key, fmt::format("'{}': {}", t, why));
    ends[i] = std::get<double>(param_expr_value(spec, t));
    if (!std::isfinite(ends[i])) c.fail(r[i], key, fmt::format("'{}' is not finite", t));
  }
  if (is_log && (ends[0] <= 0 || ends[1] <= 0)) c.fail(r, key, "a log_range needs LOW and HIGH > 0");
  if (ends[0] >= ends[1]) c.fail(r, key, "LOW must be below HIGH");
  std::vector<std::string> out;
  for (long long i = 0; i < pts; ++i) {
    const double f = static_cast<double>(i) / static_cast<double>(pts - 1);
    double v = is_log ? std::exp(std::log(ends[0]) + f * (std::log(ends[1]) - std::log(ends[0])))
                      : ends[0] + f * (ends[1] - ends[0]);
    if (i == pts - 1) v = ends[1];
    std::string t = spec.type == ParamType::integer ? fmt::format("{}", std::llround(v)) : fmt::format("{:.6g}", v);
    if (out.empty() || out.back() != t) out.push_back(t);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& sweep_metric_names() {
  static const std::vector<std::string> m = {"time_s",     "energy_j",   "avg_power_w", "utilization",
                                             "tops_per_w", "area_mm2",   "perf_per_mm2", "flops",
                                             "peak_flops", "dram_bytes", "cycles",      "precision.rel_err"};
  return m;
}

const std::vector<std::string>& sweep_default_metrics() {
  static const std::vector<std::string> m = {"time_s",       "energy_j", "avg_power_w", "utilization", "tops_per_w",
                                             "area_mm2",     "perf_per_mm2", "flops", "peak_flops", "dram_bytes"};
  return m;
}

std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;   // FNV-1a 64-bit offset basis and prime
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

ExprValue param_expr_value(const ParamSpec& spec, const std::string& text) {
  switch (spec.type) {
    case ParamType::integer:
    case ParamType::real: {
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (end && *end == '\0' && !text.empty()) return v;
      return text;
    }
    case ParamType::quantity: {
      if (auto v = parse_quantity(text, spec.unit)) return *v;
      return text;
    }
    case ParamType::boolean:
      return (text == "true" || text == "1" || text == "yes" || text == "on") ? 1.0 : 0.0;
    default:
      return text;
  }
}

namespace {
SweepSpec load_sweep_spec_unchecked(const std::string& path);
}  // namespace

SweepSpec load_sweep_spec(const std::string& path) {
  // A node of the wrong shape where the reader converts one (a list as a key, a
  // map as a value: yaml-cpp's BadConversion) is the file's mistake.
  try {
    return load_sweep_spec_unchecked(path);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: {} (a key or value of the wrong shape, e.g. a list where a name "
                                 "or number belongs)", path, e.mark.line + 1, e.msg));
  }
}

namespace {
SweepSpec load_sweep_spec_unchecked(const std::string& path) {
  SweepSpec s;
  s.file = path;
  Ctx c{path};
  YAML::Node root;
  require_utf8_file(path);
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(fmt::format("{}: cannot read the sweep spec", path));
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", path, e.mark.line + 1, e.msg));
  }
  if (!root.IsMap()) throw InputError(fmt::format("{}: expected a YAML map with hw, workload, axes, ...", path));
  static const std::vector<std::string> keys = {"hw", "workload", "engine", "axes", "sample", "seed", "where",
                                                "metrics"};
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      c.fail(kv.first, k, "unknown key; accepted: hw, workload, engine, axes, sample, seed, where, metrics");
  }
  if (!root["hw"]) c.fail(root, "hw", "missing (a preset name or file, or a list of them)");
  s.hws = one_or_list(c, root["hw"], "hw");
  if (root["workload"]) s.workloads = one_or_list(c, root["workload"], "workload");
  else c.fail(root, "workload", "missing (a workload spec or file, or a list of them)");
  s.engines = root["engine"] ? one_or_list(c, root["engine"], "engine") : std::vector<std::string>{"analytic"};

  // The base parameter space of every (hw, workload, engine): loading them
  // checks each preset, workload and engine.
  std::vector<std::unique_ptr<Hardware>> hws;
  for (size_t i = 0; i < s.hws.size(); ++i) {
    try {
      hws.push_back(load_hardware(s.hws[i], {}));
    } catch (const InputError& e) {
      c.fail(root["hw"].IsSequence() ? root["hw"][i] : root["hw"], "hw", e.what());
    }
  }
  std::vector<EngineOptions> engs;
  for (size_t i = 0; i < s.engines.size(); ++i) {
    try {
      engs.push_back(parse_engine_spec(s.engines[i]));
    } catch (const InputError& e) {
      c.fail(root["engine"].IsSequence() ? root["engine"][i] : root["engine"], "engine", e.what());
    }
  }
  for (size_t i = 0; i < s.workloads.size(); ++i) {
    try {
      build_workload(s.workloads[i]);
    } catch (const InputError& e) {
      c.fail(root["workload"].IsSequence() ? root["workload"][i] : root["workload"], "workload", e.what());
    }
  }
  for (size_t h = 0; h < s.hws.size(); ++h)
    for (size_t w = 0; w < s.workloads.size(); ++w)
      for (size_t e = 0; e < s.engines.size(); ++e) s.bases.push_back(run_param_space(*hws[h], s.workloads[w], engs[e]));

  if (root["axes"]) {
    const YAML::Node axes = root["axes"];
    if (!axes.IsMap()) c.fail(axes, "axes", "expected a map of PATH: values");
    for (const auto& kv : axes) {
      SweepAxis a;
      a.path = kv.first.as<std::string>();
      a.line = kv.first.Mark().line + 1;
      const std::string key = "axes." + a.path;
      for (const auto& other : s.axes)
        if (other.path == a.path) c.fail(kv.first, key, "the same path twice");
      // Declared in every (hw, workload, engine) of the spec.
      for (size_t h = 0; h < s.hws.size(); ++h)
        for (size_t w = 0; w < s.workloads.size(); ++w) {
          const ParamSpace& sp = s.base(h, w, 0);
          const long i = sp.find(a.path);
          if (i < 0)
            c.fail(kv.first, key,
                   fmt::format("unknown parameter for hw '{}' and workload '{}'; 'tessera list params --hw {} "
                               "--workload {}' shows every path",
                               s.hws[h], s.workloads[w], s.hws[h], s.workloads[w]));
          if (h == 0 && w == 0) a.spec = sp.spec(static_cast<size_t>(i));
        }
      const YAML::Node v = kv.second;
      if (v.IsSequence()) {
        for (const auto& e : v) {
          const std::string t = scalar(c, e, key);
          const std::string why = param_value_problem(a.spec, t);
          if (!why.empty()) c.fail(e, key, fmt::format("'{}': {}", t, why));
          a.values.push_back(t);
        }
        if (a.values.empty()) c.fail(v, key, "empty axis; give at least one value");
      } else if (v.IsMap()) {
        a.values = range_values(c, v, key, a.spec);
      } else if (v.IsScalar()) {
        const std::string t = v.as<std::string>();
        const std::string why = param_value_problem(a.spec, t);
        if (!why.empty()) c.fail(v, key, fmt::format("'{}': {}", t, why));
        a.values.push_back(t);
      } else {
        c.fail(v, key, "empty axis; give a list of values or a range");
      }
      for (const auto& t : a.values) {
        const std::string cv = canonical_value(a.spec, t);
        if (std::find(a.canonical.begin(), a.canonical.end(), cv) != a.canonical.end())
          c.fail(v, key, fmt::format("the value '{}' twice", t));
        a.canonical.push_back(cv);
      }
      s.axes.push_back(std::move(a));
    }
  }

  if (root["sample"]) {
    const std::string t = scalar(c, root["sample"], "sample");
    const size_t colon = t.find(':');
    const std::string kind = t.substr(0, colon);
    if (kind == "grid" && colon == std::string::npos) {
      s.sampling = Sampling::grid;
    } else if ((kind == "random" || kind == "lhs") && colon != std::string::npos) {
      s.sampling = kind == "random" ? Sampling::random : Sampling::lhs;
      const std::string n = t.substr(colon + 1);
      char* end = nullptr;
      const long long v = std::strtoll(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 1 || v > 100000000)
        c.fail(root["sample"], "sample", fmt::format("'{}': N must be an integer 1..100000000", t));
      s.sample_n = v;
    } else {
      c.fail(root["sample"], "sample", fmt::format("'{}'; accepted: grid, random:N, lhs:N", t));
    }
  }
  if (root["seed"]) {
    const std::string t = scalar(c, root["seed"], "seed");
    char* end = nullptr;
    const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || t[0] == '-') c.fail(root["seed"], "seed", fmt::format("'{}' is not a non-negative integer", t));
    s.seed = v;
  }
  if (root["metrics"]) {
    s.metrics = one_or_list(c, root["metrics"], "metrics");
    for (size_t i = 0; i < s.metrics.size(); ++i) {
      const auto& m = s.metrics[i];
      const auto& all = sweep_metric_names();
      if (std::find(all.begin(), all.end(), m) == all.end()) {
        std::string acc;
        for (const auto& a : all) acc += (acc.empty() ? "" : ", ") + a;
        c.fail(root["metrics"].IsSequence() ? root["metrics"][i] : root["metrics"], "metrics",
               fmt::format("unknown metric '{}'; accepted: {}", m, acc));
      }
      if (std::count(s.metrics.begin(), s.metrics.end(), m) > 1)
        c.fail(root["metrics"], "metrics", fmt::format("'{}' twice", m));
    }
  } else {
    s.metrics = sweep_default_metrics();
  }
  if (root["where"]) {
    const YAML::Node w = root["where"];
    const std::string where = fmt::format("{}:{}: where", path, w.Mark().line + 1);
    s.where = Expr::parse(scalar(c, w, "where"), where);
    for (const auto& p : s.where->paths())
      for (const auto& b : s.bases)
        if (b.find(p) < 0)
          throw InputError(fmt::format("{}: unknown path '{}'; a constraint reads parameters ('tessera list "
                                       "params' shows every path)",
                                       where, p));
  }

  nlohmann::json j;
  j["hw"] = s.hws;
  j["workload"] = s.workloads;
  j["engine"] = s.engines;
  j["axes"] = nlohmann::json::array();
  for (const auto& a : s.axes) j["axes"].push_back({a.path, a.canonical});
  j["sample"] = s.sampling == Sampling::grid ? "grid" : fmt::format("{}:{}", s.sampling == Sampling::random ? "random" : "lhs", s.sample_n);
  j["seed"] = s.seed;
  j["where"] = s.where ? s.where->text() : "";
  j["metrics"] = s.metrics;
  s.canonical = j.dump();
  s.hash = hash_hex(s.canonical);
  return s;
}
}  // namespace

std::vector<std::string> point_sets(const SweepSpec& spec, const SweepPoint& p) {
  std::vector<std::string> sets;
  for (size_t i = 0; i < spec.axes.size(); ++i) sets.push_back(spec.axes[i].path + "=" + spec.axes[i].values[p.value[i]]);
  return sets;
}

std::vector<SweepPoint> sweep_points(const SweepSpec& spec) {
  // Dimensions: hw, workload, engine, then the axes (the last varies fastest).
  std::vector<size_t> radix = {spec.hws.size(), spec.workloads.size(), spec.engines.size()};
  for (const auto& a : spec.axes) radix.push_back(a.values.size());
  unsigned __int128 total128 = 1;
  for (size_t r : radix) total128 *= r;
  if (total128 > (static_cast<unsigned __int128>(1) << 62))
    throw InputError(fmt::format("{}: axes: the grid has more than 2^62 points", spec.file));
  const uint64_t total = static_cast<uint64_t>(total128);
  if (spec.sampling == Sampling::grid && total > 100000000)
    throw InputError(fmt::format("{}: sample: the grid has {} points (more than 10^8); use random:N or lhs:N, "
                                 "or fewer values",
                                 spec.file, total));

  auto digits_of = [&](uint64_t idx) {
    std::vector<size_t> d(radix.size());
    for (size_t i = radix.size(); i-- > 0;) {
      d[i] = static_cast<size_t>(idx % radix[i]);
      idx /= radix[i];
    }
    return d;
  };
  auto index_of = [&](const std::vector<size_t>& d) {
    uint64_t idx = 0;
    for (size_t i = 0; i < radix.size(); ++i) idx = idx * radix[i] + d[i];
    return idx;
  };
  // Builds the point and tells whether it meets the constraint.
  auto make = [&](const std::vector<size_t>& d, int64_t seq, SweepPoint& p) {
    p.seq = seq;
    p.hw = d[0];
    p.workload = d[1];
    p.engine = d[2];
    p.value.assign(d.begin() + 3, d.end());
    const ParamSpace& base = spec.base(p.hw, p.workload, p.engine);
    if (spec.where) {
      auto lookup = [&](const std::string& path) -> std::optional<ExprValue> {
        for (size_t i = 0; i < spec.axes.size(); ++i)
          if (spec.axes[i].path == path) return param_expr_value(spec.axes[i].spec, spec.axes[i].values[p.value[i]]);
        const long i = base.find(path);
        if (i < 0) return std::nullopt;
        return param_expr_value(base.spec(static_cast<size_t>(i)), base.value(static_cast<size_t>(i)));
      };
      if (!spec.where->test(lookup)) return false;
    }
    // Identity: everything that decides the result, axes sorted by path.
    std::vector<std::pair<std::string, std::string>> kv;
    for (size_t i = 0; i < spec.axes.size(); ++i) kv.emplace_back(spec.axes[i].path, spec.axes[i].canonical[p.value[i]]);
    std::sort(kv.begin(), kv.end());
    std::string key = fmt::format("hw={}\nworkload={}\nengine={}\n", spec.hws[p.hw], spec.workloads[p.workload],
                                  spec.engines[p.engine]);
    for (const auto& [k, v] : kv) key += k + "=" + v + "\n";
    p.id = hash_hex(key);
    return true;
  };

  std::vector<SweepPoint> out;
  const bool whole_grid = spec.sampling == Sampling::grid || static_cast<uint64_t>(spec.sample_n) >= total;
  if (whole_grid) {
    for (uint64_t i = 0; i < total; ++i) {
      SweepPoint p;
      if (make(digits_of(i), static_cast<int64_t>(i), p)) out.push_back(std::move(p));
    }
    return out;
  }
  Rng rng{spec.seed};
  std::unordered_set<uint64_t> seen;
  const size_t n = static_cast<size_t>(spec.sample_n);
  if (spec.sampling == Sampling::random) {
    // Distinct grid points drawn uniformly until N meet the constraint (or a
    // bounded number of draws: a tight constraint may leave fewer).
    const uint64_t max_draws = 20 * static_cast<uint64_t>(n) + 1000;
    for (uint64_t draw = 0; draw < max_draws && out.size() < n && seen.size() < total; ++draw) {
      std::vector<size_t> d(radix.size());
      for (size_t i = 0; i < radix.size(); ++i) d[i] = rng.below(radix[i]);
      if (!seen.insert(index_of(d)).second) continue;
      SweepPoint p;
      if (make(d, static_cast<int64_t>(draw), p)) out.push_back(std::move(p));
    }
    return out;
  }
  // Latin hypercube (McKay, Beckman and Conover, Technometrics 21(2), 1979):
  // each dimension's range is cut into N strata, each used by exactly one
  // sample; a discrete axis of L values maps stratum position u to value floor(u * L).
  std::vector<std::vector<size_t>> perm(radix.size(), std::vector<size_t>(n));
  for (auto& pm : perm) {
    for (size_t i = 0; i < n; ++i) pm[i] = i;
    for (size_t i = n; i-- > 1;) std::swap(pm[i], pm[rng.below(i + 1)]);
  }
  for (size_t s = 0; s < n; ++s) {
    std::vector<size_t> d(radix.size());
    for (size_t i = 0; i < radix.size(); ++i) {
      const double u = (static_cast<double>(perm[i][s]) + rng.uniform()) / static_cast<double>(n);
      d[i] = std::min(radix[i] - 1, static_cast<size_t>(u * static_cast<double>(radix[i])));
    }
    if (!seen.insert(index_of(d)).second) continue;
    SweepPoint p;
    if (make(d, static_cast<int64_t>(s), p)) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace tessera
