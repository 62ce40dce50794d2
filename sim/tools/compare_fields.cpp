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

}  // namespace tessera
