#pragma once
// Statistics: a flat map of dotted names that follow the component tree
// ("memory.dram.bytes_read"), each with a unit and a description. Engines
// accumulate raw counts; derive_stats() computes every derived figure in one place.
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tessera {

struct Stat {
  double value = 0;
  std::string unit;          // "s", "B", "J", "FLOP", "1" (ratio), ...
  std::string description;
};

class Stats {
 public:
  void add(const std::string& name, double value, std::string_view unit, std::string_view desc);
  void set(const std::string& name, double value, std::string_view unit, std::string_view desc);
  double get(std::string_view name, double fallback = 0) const;
  bool has(std::string_view name) const;
  const std::map<std::string, Stat, std::less<>>& all() const { return m_stats; }
  // Nested JSON object: {"memory": {"dram": {"bytes_read": {"value":..,"unit":..,"desc":..}}}}
  nlohmann::json to_json() const;

 private:
  std::map<std::string, Stat, std::less<>> m_stats;
};

}  // namespace tessera
