#include "sim/cli/memsim.h"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "models/hardware.h"
#include "models/memory/dram/source.h"
#include "models/memory/dram/system.h"
#include "models/memory/hbm.h"

namespace tessera {
namespace {

namespace po = boost::program_options;
namespace d = dram;
using json = nlohmann::ordered_json;

// Request-by-request limit: memsim simulates at most this many bursts (2^20 =
// 32 MiB of HBM3's 32 B bursts, ~0.25 s of CPU time at the ~4.4 M bursts/s of
// bench_dram_stream) and extrapolates the rest at the steady state it measured.
constexpr int64_t kDefaultMaxBursts = int64_t{1} << 20;
constexpr int64_t kMaxMaxBursts = int64_t{1} << 30;

// Settings of the memory system, each `--set key=value`.
struct Settings {
  d::Standard std;
  d::SystemConfig cfg;
  std::string page = "open", refresh = "auto";
  int64_t max_bursts = kDefaultMaxBursts;
};

// Passes the requests of `src` through until `budget` bursts; the request that
// crosses the budget is cut at it. What is left is counted, not simulated.
class PrefixSource : public d::RequestSource {
 public:
  PrefixSource(d::RequestSource& src, uint64_t budget, uint64_t access_bytes)
      : m_src(src), m_budget(budget), m_ab(access_bytes) {}
  bool next(d::Request& r) override {
    if (m_used >= m_budget) {
      m_cut = m_cut || m_src.next(m_rest);
      m_rest_valid = m_rest_valid || m_cut;
      return false;
    }
    if (!m_src.next(r)) return false;
    const uint64_t first = r.address / m_ab, last = (r.address + r.bytes - 1) / m_ab;
    uint64_t bursts = last - first + 1;
    if (m_used + bursts > m_budget) {
      const uint64_t keep = m_budget - m_used;
      const uint64_t kept_bytes = (first + keep) * m_ab - r.address;
      m_rest = r;
      m_rest.address = r.address + kept_bytes;
      m_rest.bytes = r.bytes - kept_bytes;
      m_rest_valid = m_cut = true;
      m_rest_is_tail = true;
      r.bytes = kept_bytes;
      bursts = keep;
    }
    m_used += bursts;
    return true;
  }
  bool cut() const { return m_cut; }
  // The first request not simulated (or the remainder of the cut one).
  const d::Request* rest() const { return m_rest_valid ? &m_rest : nullptr; }
  bool rest_is_tail() const { return m_rest_is_tail; }  // rest() is the remainder of a simulated request

 private:
  d::RequestSource& m_src;
  uint64_t m_budget, m_ab, m_used = 0;
  bool m_cut = false, m_rest_valid = false, m_rest_is_tail = false;
  d::Request m_rest;
};

// What an extrapolated run reports about itself.
struct Extrapolation {
  bool on = false;
  int64_t simulated_bursts = 0, total_bursts = 0;
  double cycles_per_burst = 0;
};

int64_t int_value(const std::string& key, const std::string& v, int64_t lo, int64_t hi) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || x < lo || x > hi)
    throw InputError(fmt::format("--set {}={}: expected an integer in [{}, {}]", key, v, lo, hi));
  return x;
}

void apply_set(Settings& s, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos) throw InputError(fmt::format("--set '{}': expected key=value", kv));
  const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
  d::ControllerConfig& c = s.cfg.controller;
  if (k == "stacks") s.cfg.stacks = static_cast<int>(int_value(k, v, 1, 64));
  else if (k == "mapping") s.cfg.mapping = v;
  else if (k == "page") s.page = v;
  else if (k == "refresh") s.refresh = v;
  else if (k == "read_queue") c.read_queue = static_cast<int>(int_value(k, v, 1, 4096));
  else if (k == "write_queue") c.write_queue = static_cast<int>(int_value(k, v, 1, 4096));
  else if (k == "write_high") c.write_high = static_cast<int>(int_value(k, v, 1, 4096));
  else if (k == "write_low") c.write_low = static_cast<int>(int_value(k, v, 0, 4095));
  else if (k == "front_window") s.cfg.front_window = static_cast<int>(int_value(k, v, 0, 4096));
  else if (k == "max_bursts") s.max_bursts = int_value(k, v, 4096, kMaxMaxBursts);
  else if (k == "data_rate") {
    char* end = nullptr;
    const double r = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !(r >= 100 && r <= 100000))
      throw InputError(fmt::format("--set data_rate={}: expected MT/s per pin in [100, 100000], e.g. 5200", v));
    s.std = d::at_rate(s.std, r);
  } else {
    throw InputError(fmt::format("--set {}: unknown key; accepted: stacks, mapping, page (open|closed|adaptive), "
                                 "refresh (auto|all-bank|per-bank|none), read_queue, write_queue, write_high, "
                                 "write_low, front_window, data_rate (MT/s), max_bursts",
                                 k));
  }
}

// `--hw`: a DRAM preset (HBM3-6400, DDR4, ...) or a hardware description whose
// memory holds an `hbm` level (its standard, stack count and data rate).
Settings resolve(const std::string& hw, const std::vector<std::string>& sets) {
  Settings s;
  bool found = false;
  for (const d::Standard& st : d::standards())
    if (hw == st.name || hw == st.standard) {
      s.std = st;
      found = true;
    }
  if (!found) {
    std::unique_ptr<Hardware> h;
    try {
      h = load_hardware(hw, {});
    } catch (const InputError& e) {
      std::string names;
      for (const d::Standard& st : d::standards()) names += (names.empty() ? "" : ", ") + st.name;
      throw InputError(fmt::format("--hw {}: not a DRAM preset ({}) and not a hardware description: {}", hw, names,
                                   e.what()));
    }
    const auto* hbm = h->find<HbmMemory>("memory.dram");
    if (!hbm)
      throw InputError(fmt::format("--hw {}: its memory has no 'dram' level of impl hbm; name a DRAM preset "
                                   "instead (e.g. DDR4-3200)",
                                   hw));
    s.std = hbm->dram_standard();
    s.cfg.stacks = hbm->stacks();
    s.cfg.mapping = hbm->mapping();
    s.refresh = hbm->refresh() == d::RefreshMode::per_bank ? "per-bank" : "all-bank";
  }
  for (const std::string& kv : sets) apply_set(s, kv);
  s.cfg.controller.page = d::parse_page_policy(s.page, "--set page");
  s.cfg.controller.refresh = d::parse_refresh_mode(s.refresh, "--set refresh");
  d::validate(s.std, "--hw " + hw);
  return s;
}

double pct(double a, double b) { return b > 0 ? 100.0 * a / b : 0; }

json to_json(const d::Result& r, const Settings& s, const std::string& input, const Extrapolation& x) {
  const d::Timing& t = r.standard.timing;
  const double ns = t.tCK_s() * 1e9;
  json j;
  j["device"] = {{"preset", r.standard.name},
                 {"standard", r.standard.standard},
                 {"source", r.standard.source},
                 {"stacks", r.config.stacks},
                 {"pseudo_channels", static_cast<int>(r.channels.size())},
                 {"data_rate_mtps", t.rate_mtps},
                 {"tck_ps", t.tCK_ps},
                 {"access_bytes", r.standard.org.access_bytes()},
                 {"peak_bandwidth_bps", r.peak_bps()}};
  j["controller"] = {{"mapping", r.config.mapping},
                     {"page", s.page},
                     {"refresh", s.refresh},
                     {"read_queue", r.config.controller.read_queue},
                     {"write_queue", r.config.controller.write_queue},
                     {"write_high", r.config.controller.write_high},
                     {"write_low", r.config.controller.write_low},
                     {"front_window", r.config.front_window}};
  j["input"] = input;
  j["simulated"] = {{"bursts", x.on ? x.simulated_bursts : r.bytes_moved / r.standard.org.access_bytes()},
                    {"total_bursts", x.on ? x.total_bursts : r.bytes_moved / r.standard.org.access_bytes()},
                    {"limit_bursts", s.max_bursts},
                    {"extrapolated", x.on},
                    {"steady_cycles_per_burst", x.cycles_per_burst}};
  j["requests"] = r.requests;
  j["read_requests"] = r.read_requests;
  j["write_requests"] = r.write_requests;
  j["bytes_requested"] = r.bytes_requested;
  j["bytes_moved"] = r.bytes_moved;
  j["cycles"] = r.end_cycle - r.first_issue;
  j["time_s"] = r.elapsed_s();
  j["bandwidth_bps"] = r.bandwidth_bps();
  j["peak_fraction"] = r.peak_bps() > 0 ? r.bandwidth_bps() / r.peak_bps() : 0;
  auto lat = [&](const d::LatencyHistogram& h) {
    return json{{"count", h.total},
                {"mean_ns", h.mean() * ns},
                {"p50_ns", static_cast<double>(h.percentile(0.5)) * ns},
                {"p90_ns", static_cast<double>(h.percentile(0.9)) * ns},
                {"p99_ns", static_cast<double>(h.percentile(0.99)) * ns},
                {"max_ns", static_cast<double>(h.percentile(1.0)) * ns}};
  };
  j["read_latency"] = lat(r.read_latency);
  j["write_latency"] = lat(r.write_latency);
  const auto e = r.energy();
  j["energy_j"] = {{"act", e.act}, {"rd", e.rd}, {"wr", e.wr}, {"ref", e.ref},
                   {"io", e.io}, {"background", e.background}, {"total", e.total()}};
  j["energy_source"] = r.standard.energy.source;
  const double cycles = static_cast<double>(std::max<int64_t>(1, r.end_cycle - r.first_issue));
  json chans = json::array();
  const int banks = r.standard.org.banks_per_pc();
  for (size_t i = 0; i < r.channels.size(); ++i) {
    const d::ChannelStats& c = r.channels[i];
    const double acc = static_cast<double>(c.row_hits + c.row_misses + c.row_conflicts);
    chans.push_back({{"channel", i},
                     {"reads", c.reads},
                     {"writes", c.writes},
                     {"row_hits", c.row_hits},
                     {"row_misses", c.row_misses},
                     {"row_conflicts", c.row_conflicts},
                     {"row_hit_rate", acc > 0 ? static_cast<double>(c.row_hits) / acc : 0},
                     {"bank_utilisation", static_cast<double>(c.bank_open_cycles) / (cycles * banks)},
                     {"avg_queue", c.queue_integral / cycles},
                     {"bandwidth_bps", static_cast<double>((c.reads + c.writes) * r.standard.org.access_bytes()) /
                                           (cycles * t.tCK_s())},
                     {"avg_read_latency_ns", c.reads ? static_cast<double>(c.read_latency_sum) / c.reads * ns : 0},
                     {"max_read_latency_ns", static_cast<double>(c.read_latency_max) * ns},
                     {"refresh_fraction", static_cast<double>(c.refresh_bank_cycles) / (cycles * banks)},
                     {"commands", {{"ACT", c.cmd[0]}, {"PRE", c.cmd[1]}, {"PREA", c.cmd[2]}, {"RD", c.cmd[3]},
                                   {"WR", c.cmd[4]}, {"RDA", c.cmd[5]}, {"WRA", c.cmd[6]}, {"REFab", c.cmd[7]},
                                   {"REFpb", c.cmd[8]}}}});
  }
  j["channels"] = chans;
  return j;
}

std::string to_text(const json& j) {
  std::ostringstream o;
  const json& dv = j["device"];
  const json& ct = j["controller"];
  fmt::print(o, "memsim: {} ({}), {} stack(s), {} pseudo-channels at {:g} MT/s, {} B per access\n",
             dv["preset"].get<std::string>(), dv["standard"].get<std::string>(), dv["stacks"].get<int>(),
             dv["pseudo_channels"].get<int>(), dv["data_rate_mtps"].get<double>(), dv["access_bytes"].get<int>());
  fmt::print(o, "controller: mapping {}, page {}, refresh {}, queues {}R/{}W (drain {}..{})\n",
             ct["mapping"].get<std::string>(), ct["page"].get<std::string>(), ct["refresh"].get<std::string>(),
             ct["read_queue"].get<int>(), ct["write_queue"].get<int>(), ct["write_low"].get<int>(),
             ct["write_high"].get<int>());
  fmt::print(o, "input: {}\n", j["input"].get<std::string>());
  const json& sim = j["simulated"];
  if (sim["extrapolated"].get<bool>()) {
    const auto b = sim["bursts"].get<int64_t>(), t = sim["total_bursts"].get<int64_t>();
    fmt::print(o,
               "simulated {} of {} bursts (2^{:.1f} of 2^{:.1f}) request by request (limit max_bursts = {}); the rest "
               "extrapolated at the steady state of its middle half, {:.4f} cycles per burst; latencies "
               "and per-channel figures are the simulated prefix's, counts and energy scaled to the whole input\n",
               b, t, std::log2(static_cast<double>(b)), std::log2(static_cast<double>(t)),
               sim["limit_bursts"].get<int64_t>(), sim["steady_cycles_per_burst"].get<double>());
  }
  fmt::print(o, "requests: {} ({} reads, {} writes), {} B requested, {} B moved\n", j["requests"].get<int64_t>(),
             j["read_requests"].get<int64_t>(), j["write_requests"].get<int64_t>(),
             j["bytes_requested"].get<int64_t>(), j["bytes_moved"].get<int64_t>());
  fmt::print(o, "time: {:.3f} us ({} cycles of {} ps)\n", j["time_s"].get<double>() * 1e6,
             j["cycles"].get<int64_t>(), dv["tck_ps"].get<int64_t>());
  fmt::print(o, "bandwidth: {:.2f} GB/s = {:.2f} % of peak {:.2f} GB/s\n", j["bandwidth_bps"].get<double>() / 1e9,
             100 * j["peak_fraction"].get<double>(), dv["peak_bandwidth_bps"].get<double>() / 1e9);
  for (const char* k : {"read_latency", "write_latency"}) {
    const json& l = j[k];
    if (l["count"].get<int64_t>() == 0) continue;
    fmt::print(o, "{} (ns): mean {:.1f}, p50 {:.1f}, p90 {:.1f}, p99 {:.1f}, max {:.1f}\n",
               std::string(k) == "read_latency" ? "read latency" : "write latency", l["mean_ns"].get<double>(),
               l["p50_ns"].get<double>(), l["p90_ns"].get<double>(), l["p99_ns"].get<double>(),
               l["max_ns"].get<double>());
  }
  const json& e = j["energy_j"];
  const double bits = 8.0 * static_cast<double>(j["bytes_moved"].get<int64_t>());
  fmt::print(o, "energy: {:.4g} J ({:.2f} pJ/bit): ACT {:.4g}, RD {:.4g}, WR {:.4g}, REF {:.4g}, I/O {:.4g}, "
                "background {:.4g} J\n",
             e["total"].get<double>(), bits > 0 ? e["total"].get<double>() / bits * 1e12 : 0,
             e["act"].get<double>(), e["rd"].get<double>(), e["wr"].get<double>(), e["ref"].get<double>(),
             e["io"].get<double>(), e["background"].get<double>());
  fmt::print(o, "\n{:>4} {:>10} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>10} {:>8}\n", "ch", "reads", "writes",
             "hit%", "miss%", "conf%", "bank%", "queue", "GB/s", "rd lat ns", "refr%");
  for (const json& c : j["channels"]) {
    const double acc = static_cast<double>(c["row_hits"].get<int64_t>() + c["row_misses"].get<int64_t>() +
                                           c["row_conflicts"].get<int64_t>());
    fmt::print(o, "{:>4} {:>10} {:>10} {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>9.2f} {:>10.1f} {:>8.2f}\n",
               c["channel"].get<int>(), c["reads"].get<int64_t>(), c["writes"].get<int64_t>(),
               pct(static_cast<double>(c["row_hits"].get<int64_t>()), acc),
               pct(static_cast<double>(c["row_misses"].get<int64_t>()), acc),
               pct(static_cast<double>(c["row_conflicts"].get<int64_t>()), acc),
               100 * c["bank_utilisation"].get<double>(), c["avg_queue"].get<double>(),
               c["bandwidth_bps"].get<double>() / 1e9, c["avg_read_latency_ns"].get<double>(),
               100 * c["refresh_fraction"].get<double>());
  }
  return o.str();
}

void write_atomic(const std::string& content, const std::string& path, std::ostream& out) {
  if (path.empty()) {
    out << content;
    return;
  }
  write_file_atomic(path, content, "--out");
}

// Beyond the request-by-request limit: counts what was not simulated, measures
// the steady state over the simulated second half (completions per cycle between
// the 4/8 and 8/8 progress marks; the two quarters must agree within 5 %), and
// scales the result to the whole input. InputError naming the limit when the
// prefix did not settle.
Extrapolation extrapolate(d::Result& r, const Settings& s, const PrefixSource& prefix, d::RequestSource& src,
                          const std::string& input) {
  const int64_t ab = s.std.org.access_bytes();
  // Count the rest (a pattern in closed form, a trace line by line).
  double rest_requests = 0, rest_writes = 0, rest_bytes = 0, rest_moved = 0;
  int64_t last_issue = r.first_issue;
  auto add = [&](const d::Request& q, bool counted_as_request) {
    if (counted_as_request) {
      rest_requests += 1;
      rest_writes += q.write ? 1 : 0;
    }
    rest_bytes += static_cast<double>(q.bytes);
    rest_moved += static_cast<double>(((q.address + q.bytes - 1) / static_cast<uint64_t>(ab) -
                                       q.address / static_cast<uint64_t>(ab) + 1) *
                                      static_cast<uint64_t>(ab));
    last_issue = std::max(last_issue, q.issue);
  };
  if (const d::Request* q = prefix.rest()) add(*q, !prefix.rest_is_tail());
  if (auto* pat = dynamic_cast<d::PatternSource*>(&src)) {
    const double n = static_cast<double>(pat->count() - pat->consumed());
    const d::PatternSpec& p = pat->spec();
    rest_requests += n;
    rest_writes += std::round(n * p.write_fraction);
    rest_bytes += n * static_cast<double>(p.size);
    // Bursts per request as in the simulated part (alignment repeats).
    rest_moved += n * static_cast<double>(p.size) * static_cast<double>(r.bytes_moved) /
                  static_cast<double>(std::max<int64_t>(1, r.bytes_requested));
    if (pat->count() > 0)
      last_issue = std::max(last_issue, static_cast<int64_t>(std::floor(static_cast<double>(pat->count() - 1) * p.interval)));
  } else {
    d::Request q;
    while (src.next(q)) add(q, true);
  }
  const double total_bytes = static_cast<double>(r.bytes_requested) + rest_bytes;
  if (total_bytes > std::ldexp(1.0, 62))
    throw InputError(fmt::format("tessera memsim: {} requests {:.4g} bytes; at most 2^62 are accepted", input,
                                 total_bytes));
  // Steady state: bursts 2/8 .. 6/8 of the prefix, after the queues have filled
  // and before they drain (the bursts in flight at once must fit in 1/4 of it).
  const std::vector<int64_t>& m = r.progress;
  const int64_t every = std::max<int64_t>(1, s.max_bursts / 8);
  const int64_t in_flight = static_cast<int64_t>(r.channels.size()) *
                            (std::max(s.cfg.controller.read_queue, s.cfg.controller.write_queue) + s.cfg.front_window);
  if (m.size() < 6 || 4 * in_flight > s.max_bursts)
    throw InputError(fmt::format("tessera memsim: {} exceeds the request-by-request limit of {} bursts (--set "
                                 "max_bursts=), which is too short to extrapolate from ({} bursts can be in flight "
                                 "at once; the limit must be at least 4 times that)",
                                 input, s.max_bursts, in_flight));
  const double q1 = static_cast<double>(m[3] - m[1]), q2 = static_cast<double>(m[5] - m[3]);
  if (!(q1 > 0 && q2 > 0) || std::abs(q2 - q1) > 0.05 * std::max(q1, q2))
    throw InputError(fmt::format(
        "tessera memsim: {} exceeds the request-by-request limit of {} bursts and the simulated part did not reach a "
        "steady state (its middle two quarters took {} and {} cycles for {} bursts each, more than 5 % apart); raise "
        "--set max_bursts= (at most 2^30) or shorten the input",
        input, s.max_bursts, m[3] - m[1], m[5] - m[3], 2 * every));
  const double cpb = static_cast<double>(m[5] - m[1]) / static_cast<double>(4 * every);
  Extrapolation x;
  x.on = true;
  x.simulated_bursts = r.bytes_moved / ab;
  const double rest_bursts = rest_moved / static_cast<double>(ab);
  x.total_bursts = x.simulated_bursts + static_cast<int64_t>(std::llround(rest_bursts));
  x.cycles_per_burst = cpb;
  const double f = static_cast<double>(x.total_bursts) / static_cast<double>(std::max<int64_t>(1, x.simulated_bursts));
  const int64_t end = std::max(r.end_cycle + static_cast<int64_t>(std::ceil(rest_bursts * cpb)), last_issue + 1);
  const double tf = static_cast<double>(end - r.first_issue) / static_cast<double>(std::max<int64_t>(1, r.end_cycle - r.first_issue));
  auto scale = [](int64_t v, double k) { return static_cast<int64_t>(std::llround(static_cast<double>(v) * k)); };
  r.requests += static_cast<int64_t>(rest_requests);
  r.write_requests += static_cast<int64_t>(rest_writes);
  r.read_requests = r.requests - r.write_requests;
  r.bytes_requested += static_cast<int64_t>(rest_bytes);
  r.bytes_moved = x.total_bursts * ab;
  r.end_cycle = end;
  if (prefix.rest_is_tail() && r.last_request_latency >= 0) {
    // The request cut at the limit ends with the extrapolated run.
    const d::Request& q = *prefix.rest();
    d::LatencyHistogram& h = q.write ? r.write_latency : r.read_latency;
    h.remove(r.last_request_latency);
    h.add(end - q.issue);
  }
  for (d::ChannelStats& c : r.channels) {
    for (int64_t* v : {&c.reads, &c.writes, &c.row_hits, &c.row_misses, &c.row_conflicts}) *v = scale(*v, f);
    for (int64_t& v : c.cmd) v = scale(v, f);
    c.refresh_bank_cycles = scale(c.refresh_bank_cycles, tf);
    c.bank_open_cycles = scale(c.bank_open_cycles, tf);
    c.read_latency_sum = scale(c.read_latency_sum, f);
    c.queue_integral *= tf;
  }
  return x;
}

}  // namespace

int cmd_memsim(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw, trace, pattern, format = "text", out_path;
  std::vector<std::string> sets;
  po::options_description desc(
      "tessera memsim options (trace lines: <issue cycle> <R|W> <0xaddress> <bytes>, '#' comments;\n"
      "patterns: sequential|strided|random|gather:key=value,... see docs/memory.md)");
  desc.add_options()("help,h", "show this help")("hw", po::value(&hw),
                                                 "DRAM preset (HBM3-6400, DDR4-3200, ...) or hardware description")(
      "trace", po::value(&trace), "request trace file")("pattern", po::value(&pattern), "generated request pattern")(
      "set", po::value(&sets)->composing(),
      "stacks=, mapping=, page=, refresh=, read_queue=, write_queue=, write_high=, write_low=, front_window=, "
      "data_rate=, max_bursts= (request-by-request limit, default 2^20; beyond it the rest is extrapolated)")("format", po::value(&format), "text (default) | json")("out", po::value(&out_path),
                                                                          "output file");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(fmt::format("tessera memsim: {}; see 'tessera memsim --help'", e.what()));
  }
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw.empty()) throw InputError("tessera memsim: --hw is required");
  if (trace.empty() == pattern.empty()) throw InputError("tessera memsim: give exactly one of --trace and --pattern");
  if (format != "text" && format != "json")
    throw InputError(fmt::format("--format: unknown format '{}'; accepted: text, json", format));
  const Settings s = resolve(hw, sets);
  std::unique_ptr<d::RequestSource> src;
  std::string input;
  if (!trace.empty()) {
    src = std::make_unique<d::TraceSource>(trace);
    input = "trace " + std::filesystem::path(trace).filename().string();
  } else {
    src = std::make_unique<d::PatternSource>(d::parse_pattern(pattern, "--pattern"));
    input = "pattern " + pattern;
  }
  d::SystemConfig cfg = s.cfg;
  cfg.progress_every = std::max<int64_t>(1, s.max_bursts / 8);
  const uint64_t ab = static_cast<uint64_t>(s.std.org.access_bytes());
  PrefixSource prefix(*src, static_cast<uint64_t>(s.max_bursts), ab);
  d::Result r = d::simulate(s.std, cfg, prefix);
  if (r.requests == 0)
    throw InputError(trace.empty() ? fmt::format("tessera memsim: {} holds no request", input)
                                   : fmt::format("--trace '{}': holds no request; expected lines '<issue cycle> <R|W> "
                                                 "<0xaddress> <bytes>'", trace));
  Extrapolation x;
  if (prefix.cut()) x = extrapolate(r, s, prefix, *src, input);
  const json j = to_json(r, s, input, x);
  write_atomic(format == "json" ? j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n" : to_text(j), out_path, out);
  return 0;
}

}  // namespace tessera
