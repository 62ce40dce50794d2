#pragma once
// Field access for `compare`'s measurement records (compare.cpp, compare_train.cpp):
// each names the record and the key when the field is missing or malformed.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace tessera {

// A size: a whole number in min..2^48 (validate_graph's limit), checked before any
// conversion (a double beyond int64 has no int64 value).
int64_t record_int(const nlohmann::json& r, const char* key, int64_t min = 0);
double record_num(const nlohmann::json& r, const char* key);
std::string record_str(const nlohmann::json& r, const char* key);
// An optional setting: `fallback` when the field is absent or null, a string as
// it is, any other value as its JSON text (`"amp": false` reads "false").
std::string record_text(const nlohmann::json& r, const char* key, const std::string& fallback);
// The kernel launches a whole-model record's profile counts: the sum of the calls
// of its `kernel_us` rows ([name, calls, us], scripts/measure_gpu.py); nullopt
// when the record has none. A malformed field is an InputError naming the row.
std::optional<int64_t> record_kernel_launches(const nlohmann::json& r);

}  // namespace tessera
