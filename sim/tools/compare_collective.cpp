#include "sim/tools/compare_collective.h"

#include <fmt/format.h>

#include <map>
#include <memory>

#include "core/error.h"
#include "models/interconnect/collective.h"
#include "sim/collective_report.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"

namespace tessera {

namespace {

std::string field_str(const nlohmann::json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_string())
    throw InputError(fmt::format("collective record: missing text field '{}' in {}", key, r.dump()));
  return r[key].get<std::string>();
}

double field_num(const nlohmann::json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("collective record: missing number field '{}' in {}", key, r.dump()));
  return r[key].get<double>();
}

// nccl-tests' -d names to ours.
std::string dtype_name(const std::string& d) {
  static const std::map<std::string, std::string> names = {
      {"float", "fp32"}, {"half", "fp16"}, {"bfloat16", "bf16"}, {"double", "fp64"}, {"int8", "int8"}};
  const auto it = names.find(d);
  return it == names.end() ? d : it->second;
}

}  // namespace

std::optional<CollectivePrediction> predict_collective_record(const nlohmann::json& r, const Hardware& hw,
                                                              std::string& skip) {
  const std::string op = field_str(r, "op");
  CollKind kind;
  if (!parse_coll_kind(op, kind)) {
    skip = fmt::format("collective op '{}' is not modelled", op);
    return std::nullopt;
  }
  const double bytes = field_num(r, "bytes");
  const double ranks = field_num(r, "ranks");
  if (!(bytes >= 1) || !(ranks >= 1) || bytes != std::floor(bytes) || ranks != std::floor(ranks))
    throw InputError(fmt::format("collective record: bytes and ranks must be positive integers in {}", r.dump()));
  // The record's system, when it is not the compared hardware.
  std::unique_ptr<Hardware> own;
  const Hardware* target = &hw;
  if (r.contains("system") && r["system"].is_string() && r["system"].get<std::string>() != hw.name) {
    own = load_hardware(r["system"].get<std::string>(), {});
    target = own.get();
  }
  std::string spec = fmt::format("{}:bytes={:.0f},ranks={:.0f}", coll_kind_name(kind), bytes, ranks);
  if (r.contains("dtype")) spec += ",dtype=" + dtype_name(field_str(r, "dtype"));
  if (r.contains("algo")) spec += ",algo=" + field_str(r, "algo");
  const Graph g = build_workload(spec);
  RunResult res = simulate(g, *target, "analytic");
  const nlohmann::json s = collective_section(res, g.info);
  CollectivePrediction p;
  p.measured_GBps = field_num(r, "busbw_GBps");
  p.predicted_GBps = s["busbw_Bps"].get<double>() / 1e9;
  p.group = fmt::format("{}/{}/{}", target->name, op, s["algo"].get<std::string>());
  p.extra = {{"workload", spec}, {"protocol", s["protocol"]}, {"predicted_time_s", res.time_s}};
  return p;
}

}  // namespace tessera
