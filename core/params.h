#pragma once
// Every component parameter is declared once (name, type, default, unit,
// description). The declaration drives parsing, validation, defaults and
// `tessera list components`; there is no second source.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/units.h"

namespace tessera {

enum class ParamType { integer, real, quantity, text, boolean, choice };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::real;
  Unit unit = Unit::none;            // quantity only
  std::string default_value;         // as written in a YAML file; empty = required
  std::string description;
  std::vector<std::string> choices;  // choice only
  bool required() const { return default_value.empty(); }
  std::string type_text() const;     // "int", "real", "GHz"..., "one of a|b"
};

// Shorthands used by the components' declarations.
ParamSpec p_int(std::string name, std::string def, std::string desc);
ParamSpec p_real(std::string name, std::string def, std::string desc);
ParamSpec p_qty(std::string name, Unit u, std::string def, std::string desc);
ParamSpec p_text(std::string name, std::string def, std::string desc);
ParamSpec p_bool(std::string name, std::string def, std::string desc);
ParamSpec p_choice(std::string name, std::vector<std::string> choices, std::string def,
                   std::string desc);

// Parsed values of one component instance.
class Params {
 public:
  using Value = std::variant<int64_t, double, std::string, bool>;
  double real(std::string_view name) const;       // integer, real or quantity
  int64_t integer(std::string_view name) const;
  const std::string& text(std::string_view name) const;  // text or choice
  bool flag(std::string_view name) const;
  bool has(std::string_view name) const;
  void set(std::string name, Value v) { m_values[std::move(name)] = std::move(v); }
  const std::map<std::string, Value, std::less<>>& values() const { return m_values; }

 private:
  const Value& at(std::string_view name) const;
  std::map<std::string, Value, std::less<>> m_values;
};

// Parses `node` (a YAML map) against `specs`. `where` names the file and the
// component path ("configs/hw/h100-sxm.yaml: compute") for error messages.
// Keys listed in `ignore` (e.g. "impl") are skipped. Throws InputError on unknown
// keys, missing required keys and malformed values.
Params parse_params(const std::vector<ParamSpec>& specs, const YAML::Node& node,
                    std::string_view where, const std::vector<std::string>& ignore = {"impl"});

}  // namespace tessera
