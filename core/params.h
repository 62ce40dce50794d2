#pragma once
// Every component parameter is declared once (name, type, default, unit,
// description). The declaration drives parsing, validation, defaults and
// `tessera list components`; there is no second source.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/units.h"

namespace tessera {

// dtype: a number format name (core/dtype.h, e.g. bf16).
enum class ParamType { integer, real, quantity, text, boolean, choice, dtype };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::real;
  Unit unit = Unit::none;            // quantity only
  std::string default_value;         // as written in a YAML file; empty = required
  std::string description;
  std::vector<std::string> choices;  // choice: the accepted values; integer: accepted words (auto)
  int64_t min = std::numeric_limits<int64_t>::min();  // integer only: accepted range
  int64_t max = std::numeric_limits<int64_t>::max();
  // real and quantity: accepted range (the value in SI base units). The default
  // accepts any finite number; a value that is infinite or NaN (also after
  // scaling, "1e308TB/s") is always refused.
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;   // true: the bound itself is refused
  bool pow2 = false;                       // integer only: a power of two
  bool required() const { return default_value.empty(); }
  // "int", "real", "GHz"..., "a|b"; an integer bounded on both sides shows its range
  // ("int 1..16"), accepted words follow ("int|auto").
  std::string type_text() const;
  // The accepted range in words ("> 0", ">= 1", "in (0, 1]", "1..16, a power of
  // two"); empty when any finite value (any integer) is accepted.
  std::string range_text() const;

  // Range declarations, chained onto a shorthand where the parameter is declared:
  //   p_int("sm_count", "132", "...").positive()            integer >= 1
  //   p_real("efficiency", "0.9", "...").fraction()         real in (0, 1]
  //   p_qty("latency", Unit::seconds, "0s", "...").non_negative()
  //   p_int("rows", "", "...").positive().power_of_two()
  //   p_real("x", "1", "...").range(0.5, 2)                 real in [0.5, 2]
  // Integers take whole bounds (positive = >= 1); reals and quantities open or
  // closed ones. Undeclared: any finite value.
  ParamSpec& positive();          // > 0 (integer: >= 1)
  ParamSpec& non_negative();      // >= 0
  ParamSpec& fraction();          // in (0, 1]
  ParamSpec& at_least(double v);  // >= v
  ParamSpec& at_most(double v);   // <= v
  ParamSpec& range(double lo, double hi);   // in [lo, hi]
  ParamSpec& power_of_two();      // integer only
};

// Shorthands used by the components' declarations.
ParamSpec p_int(std::string name, std::string def, std::string desc);
ParamSpec p_real(std::string name, std::string def, std::string desc);
ParamSpec p_qty(std::string name, Unit u, std::string def, std::string desc);
ParamSpec p_text(std::string name, std::string def, std::string desc);
ParamSpec p_bool(std::string name, std::string def, std::string desc);
ParamSpec p_choice(std::string name, std::vector<std::string> choices, std::string def,
                   std::string desc);
ParamSpec p_dtype(std::string name, std::string def, std::string desc);

// Empty when `text` is a valid value of `spec`; otherwise why not and what is
// expected, e.g. "not an integer; expected int".
std::string param_value_problem(const ParamSpec& spec, const std::string& text);

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

// One parameter space: every settable parameter of a run under its path
// ("compute.max_clock", "workload.seq", "engine.streams"), with its declaration
// and current value (as text, the way `--set` writes it).
//
// Contract: the declarations are shared, immutable, among copies; a copy owns
// only its values. Copying a space and set()ting one value therefore copies one
// vector of short strings and reads no file: cheap enough for sweeps.
class ParamSpace {
 public:
  // Declares `path` with its current value. Paths keep the order of declaration.
  // Throws std::logic_error on a duplicate path.
  void declare(std::string path, ParamSpec spec, std::string value);
  size_t size() const { return m_values.size(); }
  const std::string& path(size_t i) const { return m_decls->list[i].path; }
  const ParamSpec& spec(size_t i) const { return m_decls->list[i].spec; }
  const std::string& value(size_t i) const { return m_values[i]; }
  bool changed(size_t i) const { return m_changed[i] != 0; }   // set() since declared
  // Index of `path`, or -1.
  long find(std::string_view path) const;
  const std::string& value(std::string_view path) const;   // std::logic_error if absent
  // Validates `value` against the declaration and stores it. Throws InputError:
  // "unknown parameter 'p'" or "invalid value 'v' for p: why; expected what".
  void set(std::string_view path, std::string value);
  // Paths under `prefix` ("workload.") with the prefix stripped, and their
  // values, for the entries set() since declaration.
  std::vector<std::pair<std::string, std::string>> changes(std::string_view prefix) const;

 private:
  struct Decl {
    std::string path;
    ParamSpec spec;
  };
  struct Decls {
    std::vector<Decl> list;
    std::map<std::string, size_t, std::less<>> index;
  };
  std::shared_ptr<Decls> m_decls = std::make_shared<Decls>();
  std::vector<std::string> m_values;
  std::vector<unsigned char> m_changed;
};

}  // namespace tessera
