#include "sim/collective_report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "core/units.h"
#include "models/interconnect/collective.h"

namespace tessera {

nlohmann::json collective_section(const RunResult& r, const std::map<std::string, double>& info) {
  if (!info.count("collective_bytes") || r.ops.size() != 1) return nullptr;
  CollKind kind;
  if (!parse_coll_kind(r.ops[0].kind, kind)) return nullptr;
  const double bytes = info.at("collective_bytes");
  const auto ranks = static_cast<int64_t>(info.at("collective_ranks"));
  // The mapping starts with "ALGO/PROTOCOL " on a system (compiler/tensorcore/collective.cpp).
  const std::string& m = r.ops[0].mapping;
  std::string algo = "ring", protocol = "simple";
  if (const size_t sp = m.find(' '), sl = m.find('/'); sl != std::string::npos && sl < sp) {
    algo = m.substr(0, sl);
    protocol = m.substr(sl + 1, sp - sl - 1);
  }
  const double algbw = r.time_s > 0 ? bytes / r.time_s : 0;
  nlohmann::json j = {{"op", std::string(coll_nccl_name(kind))},
                      {"bytes", bytes},
                      {"ranks", ranks},
                      {"algo", algo},
                      {"protocol", protocol},
                      {"time_s", r.time_s},
                      {"algbw_Bps", algbw},
                      {"busbw_Bps", algbw * bus_factor(kind, ranks)}};
  nlohmann::json links = nlohmann::json::object();
  for (const auto& [name, v] : r.stats.all()) {
    const std::string suffix = ".utilization";
    if (name.rfind("link.", 0) == 0 && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      links[name.substr(5, name.size() - 5 - suffix.size())] = v.value;
  }
  j["link_utilization"] = links;
  return j;
}

void write_collective_text(std::ostream& os, const nlohmann::json& s) {
  fmt::print(os, "  collective {} of {} over {} ranks: {}/{}; algbw {}, busbw {} (nccl-tests definitions)\n",
             s["op"].get<std::string>(), format_quantity(s["bytes"].get<double>(), Unit::bytes),
             s["ranks"].get<int64_t>(), s["algo"].get<std::string>(), s["protocol"].get<std::string>(),
             format_quantity(s["algbw_Bps"].get<double>(), Unit::bytes_per_second),
             format_quantity(s["busbw_Bps"].get<double>(), Unit::bytes_per_second));
  for (const auto& [link, u] : s["link_utilization"].items())
    fmt::print(os, "  link       {} busy {:.1f} % of the time\n", link, 100.0 * u.get<double>());
}

}  // namespace tessera
