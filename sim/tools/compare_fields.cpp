#include "sim/tools/compare_fields.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace tessera {

int64_t record_int(const nlohmann::json& r, const char* key, int64_t min) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("record {}: field '{}' must be a number", r.dump(), key));
  const nlohmann::json& v = r[key];
  const double d = v.get<double>();
  if (!(d >= static_cast<double>(min) && d <= 0x1p48 && d == std::trunc(d)))
    throw InputError(fmt::format("record {}: field '{}' = {} must be a whole number in {}..2^48", r.dump(),
                                 key, v.dump(), min));
  return v.is_number_float() ? static_cast<int64_t>(d) : v.get<int64_t>();
}

double record_num(const nlohmann::json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_number())
    throw InputError(fmt::format("record {}: field '{}' must be a number", r.dump(), key));
  return r[key].get<double>();
}

std::string record_str(const nlohmann::json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_string())
    throw InputError(fmt::format("record {}: field '{}' must be a string", r.dump(), key));
  return r[key].get<std::string>();
}

std::string record_text(const nlohmann::json& r, const char* key, const std::string& fallback) {
  if (!r.contains(key) || r[key].is_null()) return fallback;
  return r[key].is_string() ? r[key].get<std::string>() : r[key].dump();
}

std::optional<int64_t> record_kernel_launches(const nlohmann::json& r) {
  if (!r.contains("kernel_us")) return std::nullopt;
  // The record without its kernel lists, to name it in a message.
  nlohmann::json id = r;
  id.erase("kernel_us");
  id.erase("kernels");
  const nlohmann::json& rows = r["kernel_us"];
  const auto bad = [&](const std::string& what) {
    return InputError(
        fmt::format("record {}: field 'kernel_us' {}; expected a list of [kernel name (string), "
                    "calls (whole number >= 1), microseconds (>= 0)] rows, as "
                    "scripts/measure_gpu.py writes it",
                    id.dump(), what));
  };
  if (!rows.is_array()) throw bad("is not a list");
  int64_t launches = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& row = rows[i];
    const auto at = [&](const char* what) { return fmt::format("row {} ({}) {}", i, row.dump(), what); };
    if (!row.is_array() || row.size() != 3) throw bad(at("is not a [name, calls, us] triple"));
    if (!row[0].is_string()) throw bad(at("has no kernel name"));
    const double calls = row[1].is_number() ? row[1].get<double>() : -1;
    if (!(calls >= 1 && calls <= 0x1p40 && calls == std::trunc(calls)))
      throw bad(at("has no whole number of calls"));
    const double us = row[2].is_number() ? row[2].get<double>() : -1;
    if (!(us >= 0 && std::isfinite(us))) throw bad(at("has no time in microseconds"));
    launches += static_cast<int64_t>(calls);
  }
  return launches;
}

}  // namespace tessera
