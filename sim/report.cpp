#include "sim/report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/units.h"
#include "sim/collective_report.h"

namespace tessera {

nlohmann::json report_json(const RunResult& r) {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& o : r.ops) {
    ops.push_back({{"name", o.name},         {"kind", o.kind},
                   {"mapping", o.mapping},   {"start_s", o.start_s},
                   {"time_s", o.time_s},     {"compute_s", o.compute_s},
                   {"memory_s", o.memory_s}, {"overhead_s", o.overhead_s},
                   {"energy_j", o.energy_j}, {"flops", o.flops},
                   {"bytes", o.bytes},       {"clock_hz", o.clock_hz},
                   {"bound", o.bound}});
  }
  nlohmann::json j = {{"hardware", r.hardware},
                      {"workload", r.workload},
                      {"engine", r.engine},
                      {"time_s", r.time_s},
                      {"cycles", r.cycles},
                      {"clock_hz", r.clock_hz},
                      {"energy_j", r.energy_j},
                      {"avg_power_w", r.avg_power_w},
                      {"flops", r.flops},
                      {"achieved_flops_per_s", r.time_s > 0 ? r.flops / r.time_s : 0.0},
                      {"peak_flops_per_s", r.peak_flops},
                      {"ops", ops},
                      {"stats", r.stats.to_json()}};
  for (const auto& [k, v] : r.extra.items()) j[k] = v;
  return j;
}

void write_text_report(std::ostream& os, const RunResult& r) {
  const double achieved = r.time_s > 0 ? r.flops / r.time_s : 0;
  fmt::print(os, "Tessera report\n");
  fmt::print(os, "  hardware   {}\n  workload   {}\n", r.hardware, r.workload);
  if (r.extra.contains("onnx_dims")) {
    // An ONNX model's symbolic input dimensions: the sizes given, or 1 where none was.
    std::string dims;
    bool unset = false;
    for (const auto& [name, d] : r.extra["onnx_dims"].items()) {
      dims += fmt::format("{}{}={:g}{}", dims.empty() ? "" : ", ", name, d["size"].get<double>(),
                          d["set"].get<bool>() ? "" : " (not set)");
      unset = unset || !d["set"].get<bool>();
    }
    fmt::print(os, "  dims       {}{}\n", dims,
               unset ? "; symbolic dimensions not set are 1 (model.onnx:NAME=SIZE sets them)" : "");
  }
  fmt::print(os, "  engine     {}\n", r.engine);
  fmt::print(os, "  time       {}  ({:.0f} cycles at {})\n", format_quantity(r.time_s, Unit::seconds),
             r.cycles, format_quantity(r.clock_hz, Unit::hertz));
  fmt::print(os, "  energy     {}   average power {}\n", format_quantity(r.energy_j, Unit::joules),
             format_quantity(r.avg_power_w, Unit::watts));
  fmt::print(os, "  work       {:.4g} FLOP   achieved {}", r.flops,
             format_quantity(achieved, Unit::flops_per_second));
  if (r.peak_flops > 0)
    fmt::print(os, " of peak {} ({:.1f} %)", format_quantity(r.peak_flops, Unit::flops_per_second),
               100.0 * achieved / r.peak_flops);
  fmt::print(os, "\n");
  if (r.extra.contains("training_step")) {
    const auto& t = r.extra["training_step"];
    fmt::print(os, "  training   kernel time: forward {} ({:.4g} FLOP), backward {} ({:.4g} FLOP), optimizer {} "
                   "({:.4g} parameters)\n",
               format_quantity(t["forward_s"].get<double>(), Unit::seconds), t["flops_forward"].get<double>(),
               format_quantity(t["backward_s"].get<double>(), Unit::seconds), t["flops_backward"].get<double>(),
               format_quantity(t["optimizer_s"].get<double>(), Unit::seconds), t["params_trained"].get<double>());
  }
  if (r.extra.contains("parallel")) write_parallel_text(os, r.extra["parallel"]);
  if (r.extra.contains("collective")) write_collective_text(os, r.extra["collective"]);
  if (r.extra.contains("system_simulation")) write_system_simulation_text(os, r.extra["system_simulation"]);
  if (r.extra.contains("memory_footprint")) write_footprint_text(os, r.extra["memory_footprint"]);
  fmt::print(os, "\n");

  // Per-op table; long models are summarised by their 40 most expensive ops.
  std::vector<size_t> idx(r.ops.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  const size_t shown = std::min<size_t>(idx.size(), 40);
  if (idx.size() > shown) {
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return r.ops[a].time_s > r.ops[b].time_s; });
    idx.resize(shown);
    std::sort(idx.begin(), idx.end());
    fmt::print(os, "  {} ops; the {} longest, in execution order:\n", r.ops.size(), shown);
  }
  fmt::print(os, "  {:<28} {:<10} {:>11} {:>7} {:>11} {:>10} {:>8}  {:<16} {}\n", "op", "kind", "time",
             "share", "energy", "TFLOP/s", "clock", "bound", "mapping");
  for (size_t i : idx) {
    const auto& o = r.ops[i];
    const double share = r.time_s > 0 ? 100.0 * o.time_s / r.time_s : 0;
    fmt::print(os, "  {:<28} {:<10} {:>11} {:>6.1f}% {:>11} {:>10.2f} {:>8}  {:<16} {}\n",
               o.name.size() > 28 ? o.name.substr(0, 27) + "~" : o.name, o.kind,
               format_quantity(o.time_s, Unit::seconds), share,
               format_quantity(o.energy_j, Unit::joules),
               o.time_s > 0 ? o.flops / o.time_s / 1e12 : 0.0,
               fmt::format("{:.0f}MHz", o.clock_hz / 1e6), o.bound, o.mapping);
  }
  fmt::print(os, "\n  utilisation and traffic:\n");
  for (const auto& [name, st] : r.stats.all()) {
    if (name.find("utilization") == std::string::npos && name.find("bytes") == std::string::npos &&
        name.find("energy") == std::string::npos && name.rfind("host.", 0) != 0)
      continue;
    std::string v = st.unit == "1" ? fmt::format("{:.1f} %", 100 * st.value)
                    : st.unit == "s" ? format_quantity(st.value, Unit::seconds)
                    : st.unit == "B" ? format_quantity(st.value, Unit::bytes)
                    : st.unit == "J" ? format_quantity(st.value, Unit::joules)
                                     : fmt::format("{:.4g} {}", st.value, st.unit);
    fmt::print(os, "    {:<40} {:>14}  {}\n", name, v, st.description);
  }
  if (r.extra.contains("precision")) {
    const auto& p = r.extra["precision"];
    const auto& t = p["total"];
    fmt::print(os, "\n  precision vs fp64 ({} sampled outputs per op, seed {}, {} operands):\n",
               t["samples_per_op"].get<long long>(), t["seed"].get<unsigned long long>(),
               t["dist"].get<std::string>());
    fmt::print(os, "  {:<28} {:<18} {:>7} {:>12} {:>12} {:>9} {:>5} {:>5} {:>4}\n", "op", "path", "K",
               "rel err", "max abs", "SNR dB", "ovf", "unf", "nan");
    const size_t n = p["ops"].size();
    for (size_t i = 0; i < n && i < 40; ++i) {
      const auto& o = p["ops"][i];
      const std::string name = o["name"].get<std::string>();
      fmt::print(os, "  {:<28} {:<18} {:>7} {:>12.3e} {:>12.3e} {:>9.1f} {:>5} {:>5} {:>4}\n",
                 name.size() > 28 ? name.substr(0, 27) + "~" : name, o["preset"].get<std::string>(),
                 o["k"].get<long long>(), o["normwise_rel_err"].get<double>(), o["max_abs_err"].get<double>(),
                 o["snr_db"].get<double>(), o["overflow"].get<long long>(), o["underflow"].get<long long>(),
                 o["nan"].get<long long>());
    }
    if (n > 40) fmt::print(os, "  ... {} more ops in the JSON report\n", n - 40);
    fmt::print(os, "  total: FLOP-weighted RMS rel err {:.3e}; worst {:.3e} ({}); overflow {}, underflow {}, nan {}\n",
               t["flop_weighted_rms_rel_err"].get<double>(), t["worst_rel_err"].get<double>(),
               t["worst_op"].get<std::string>(), t["overflow"].get<long long>(), t["underflow"].get<long long>(),
               t["nan"].get<long long>());
    if (p.contains("propagated")) {
      const auto& pr = p["propagated"];
      if (pr.contains("skipped")) {
        fmt::print(os, "  end to end: not emulated ({})\n", pr["skipped"].get<std::string>());
      } else {
        const auto& o = pr["output"];
        fmt::print(os, "  end to end (emulated through all {} ops): output {} rel err {:.3e}, SNR {:.1f} dB, "
                       "max abs {:.3e}, nan {}, inf {}\n",
                   pr["ops"].size(), o["name"].get<std::string>(), o["normwise_rel_err"].get<double>(),
                   o["snr_db"].get<double>(), o["max_abs_err"].get<double>(), o["nan"].get<long long>(),
                   o["inf"].get<long long>());
      }
    }
  }
}

namespace {
std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

void write_csv_report(std::ostream& os, const RunResult& r) {
  // With --precision, each op's precision figures (its accumulation path,
  // normwise relative error, largest absolute error, SNR) follow, matched by op
  // name; the TOTAL row carries the FLOP-weighted RMS relative error.
  const bool prec = r.extra.contains("precision");
  // Matched by position when there is one precision entry per op (the report's
  // op names carry a '#index' suffix), else by name.
  std::map<std::string, const nlohmann::json*> by_name;
  std::vector<const nlohmann::json*> by_index;
  if (prec) {
    for (const auto& o : r.extra["precision"]["ops"]) {
      by_name.emplace(o["name"].get<std::string>(), &o);
      by_index.push_back(&o);
    }
    if (by_index.size() != r.ops.size()) by_index.clear();
  }
  fmt::print(os, "name,kind,start_s,time_s,compute_s,memory_s,overhead_s,energy_j,flops,bytes,clock_hz,bound,mapping{}\n",
             prec ? ",precision_path,normwise_rel_err,max_abs_err,snr_db" : "");
  for (const auto& o : r.ops) {
    fmt::print(os, "{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.6g},{},{}",
               csv_escape(o.name), o.kind, o.start_s, o.time_s, o.compute_s, o.memory_s,
               o.overhead_s, o.energy_j, o.flops, o.bytes, o.clock_hz, csv_escape(o.bound),
               csv_escape(o.mapping));
    if (prec) {
      const nlohmann::json* pj = nullptr;
      if (!by_index.empty()) {
        pj = by_index[static_cast<size_t>(&o - r.ops.data())];
      } else if (auto it = by_name.find(o.name); it != by_name.end()) {
        pj = it->second;
      }
      if (!pj) {
        fmt::print(os, ",,,,");
      } else {
        const auto& p = *pj;
        fmt::print(os, ",{},{:.9g},{:.9g},{:.6g}", csv_escape(p["preset"].get<std::string>()),
                   p["normwise_rel_err"].get<double>(), p["max_abs_err"].get<double>(), p["snr_db"].get<double>());
      }
    }
    fmt::print(os, "\n");
  }
  fmt::print(os, "TOTAL,,0,{:.9g},,,,{:.9g},{:.9g},,,,", r.time_s, r.energy_j, r.flops);
  if (prec)
    fmt::print(os, ",,{:.9g},,", r.extra["precision"]["total"]["flop_weighted_rms_rel_err"].get<double>());
  fmt::print(os, "\n");
}

}  // namespace tessera
