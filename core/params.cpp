#include "core/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "core/dtype.h"
#include "core/error.h"

namespace tessera {

std::string ParamSpec::type_text() const {
  switch (type) {
    case ParamType::integer: {
      std::string s = "int";
      if (min != std::numeric_limits<int64_t>::min() && max != std::numeric_limits<int64_t>::max())
        s += fmt::format(" {}..{}", min, max);
      for (const auto& c : choices) s += "|" + c;
      return s;
    }
    case ParamType::dtype: return "dtype";
    case ParamType::real: return "real";
    case ParamType::quantity: return std::string(unit_symbol(unit));
    case ParamType::text: return "text";
    case ParamType::boolean: return "bool";
    case ParamType::choice: {
      std::string s;
      for (const auto& c : choices) s += (s.empty() ? "" : "|") + c;
      return s;
    }
  }
  return "?";
}

std::string ParamSpec::range_text() const {
  std::string s;
  if (type == ParamType::integer) {
    const bool has_min = min != std::numeric_limits<int64_t>::min();
    const bool has_max = max != std::numeric_limits<int64_t>::max();
    if (has_min && has_max) s = fmt::format("{}..{}", min, max);
    else if (has_min) s = fmt::format(">= {}", min);
    else if (has_max) s = fmt::format("<= {}", max);
    if (pow2) s += std::string(s.empty() ? "" : ", ") + "a power of two";
    return s;
  }
  if (type != ParamType::real && type != ParamType::quantity) return s;
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  const std::string u = type == ParamType::quantity ? std::string(unit_symbol(unit)) : "";
  const auto num = [&](double v) { return u.empty() ? fmt::format("{:g}", v) : fmt::format("{:g}{}", v, u); };
  if (has_lo && has_hi)
    return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", num(lo), num(hi), hi_open ? ")" : "]");
  if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", num(lo));
  if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", num(hi));
  return s;
}

ParamSpec& ParamSpec::positive() {
  if (type == ParamType::integer) min = std::max<int64_t>(min, 1);
  else lo = 0, lo_open = true;
  return *this;
}
ParamSpec& ParamSpec::non_negative() {
  if (type == ParamType::integer) min = std::max<int64_t>(min, 0);
  else lo = 0, lo_open = false;
  return *this;
}
ParamSpec& ParamSpec::fraction() {
  lo = 0, lo_open = true, hi = 1, hi_open = false;
  return *this;
}
ParamSpec& ParamSpec::at_least(double v) {
  if (type == ParamType::integer) min = static_cast<int64_t>(std::ceil(v));
  else lo = v, lo_open = false;
  return *this;
}
ParamSpec& ParamSpec::at_most(double v) {
  if (type == ParamType::integer) max = static_cast<int64_t>(std::floor(v));
  else hi = v, hi_open = false;
  return *this;
}
ParamSpec& ParamSpec::range(double l, double h) {
  at_least(l);
  return at_most(h);
}
ParamSpec& ParamSpec::power_of_two() {
  pow2 = true;
  return *this;
}

ParamSpec p_int(std::string n, std::string d, std::string desc) {
  return {std::move(n), ParamType::integer, Unit::none, std::move(d), std::move(desc), {}};
}
ParamSpec p_real(std::string n, std::string d, std::string desc) {
  return {std::move(n), ParamType::real, Unit::none, std::move(d), std::move(desc), {}};
}
ParamSpec p_qty(std::string n, Unit u, std::string d, std::string desc) {
  return {std::move(n), ParamType::quantity, u, std::move(d), std::move(desc), {}};
}
ParamSpec p_text(std::string n, std::string d, std::string desc) {
  return {std::move(n), ParamType::text, Unit::none, std::move(d), std::move(desc), {}};
}
ParamSpec p_bool(std::string n, std::string d, std::string desc) {
  return {std::move(n), ParamType::boolean, Unit::none, std::move(d), std::move(desc), {}};
}
ParamSpec p_choice(std::string n, std::vector<std::string> c, std::string d, std::string desc) {
  return {std::move(n), ParamType::choice, Unit::none, std::move(d), std::move(desc), std::move(c)};
}

ParamSpec p_dtype(std::string n, std::string d, std::string desc) {
  return {std::move(n), ParamType::dtype, Unit::none, std::move(d), std::move(desc), {}};
}

const Params::Value& Params::at(std::string_view name) const {
  auto it = m_values.find(name);
  if (it == m_values.end())
    throw std::logic_error(fmt::format("parameter '{}' was not declared", name));
  return it->second;
}

double Params::real(std::string_view name) const {
  const Value& v = at(name);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw std::logic_error(fmt::format("parameter '{}' is not numeric", name));
}
int64_t Params::integer(std::string_view name) const {
  const Value& v = at(name);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  throw std::logic_error(fmt::format("parameter '{}' is not an integer", name));
}
const std::string& Params::text(std::string_view name) const {
  const Value& v = at(name);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw std::logic_error(fmt::format("parameter '{}' is not text", name));
}
bool Params::flag(std::string_view name) const {
  const Value& v = at(name);
  if (auto* b = std::get_if<bool>(&v)) return *b;
  throw std::logic_error(fmt::format("parameter '{}' is not a flag", name));
}
bool Params::has(std::string_view name) const { return m_values.find(name) != m_values.end(); }

namespace {

// The value of `text`, or nullopt with *why set.
std::optional<Params::Value> try_parse(const ParamSpec& spec, const std::string& text, std::string* why) {
  switch (spec.type) {
    case ParamType::integer: {
      for (const auto& c : spec.choices)
        if (c == text) return Params::Value(text);
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) {
        *why = "not an integer";
        return std::nullopt;
      }
      if (v < spec.min || v > spec.max || (spec.pow2 && (v <= 0 || (v & (v - 1)) != 0))) {
        *why = "out of range";
        return std::nullopt;
      }
      return Params::Value(v);
    }
    case ParamType::real:
    case ParamType::quantity: {
      auto v = parse_quantity(text, spec.type == ParamType::real ? Unit::none : spec.unit, why);
      if (!v) return std::nullopt;
      if (!std::isfinite(*v)) {
        *why = "not a finite number";
        return std::nullopt;
      }
      const bool below = spec.lo_open ? !(*v > spec.lo) : !(*v >= spec.lo);
      const bool above = spec.hi_open ? !(*v < spec.hi) : !(*v <= spec.hi);
      if (below || above) {
        *why = "out of range";
        return std::nullopt;
      }
      return Params::Value(*v);
    }
    case ParamType::boolean:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return Params::Value(true);
      if (text == "false" || text == "0" || text == "no" || text == "off") return Params::Value(false);
      *why = "not a boolean";
      return std::nullopt;
    case ParamType::choice:
      for (const auto& c : spec.choices)
        if (c == text) return Params::Value(text);
      *why = "not one of the choices";
      return std::nullopt;
    case ParamType::dtype:
      if (parse_dtype(text)) return Params::Value(text);
      *why = "unknown dtype";
      return std::nullopt;
    case ParamType::text:
      return Params::Value(text);
  }
  *why = "unknown type";
  return std::nullopt;
}

std::string expected_text(const ParamSpec& spec) {
  const std::string range = spec.range_text();
  const std::string r = range.empty() ? "" : " " + range;
  if (spec.type == ParamType::quantity) return unit_examples(spec.unit) + r;
  if (spec.type == ParamType::dtype) return dtype_names();
  if (spec.type == ParamType::integer && !range.empty()) {
    std::string s = "an integer " + range;
    for (const auto& c : spec.choices) s += " or '" + c + "'";
    return s;
  }
  return spec.type_text() + r;
}

Params::Value parse_value(const ParamSpec& spec, const std::string& text, std::string_view where) {
  std::string why;
  if (auto v = try_parse(spec, text, &why)) return *v;
  throw InputError(fmt::format("{}.{}: invalid value '{}': {}; expected {}", where, spec.name, text,
                               why, expected_text(spec)));
}

}  // namespace

Params parse_params(const std::vector<ParamSpec>& specs, const YAML::Node& node,
                    std::string_view where, const std::vector<std::string>& ignore) {
  if (node && !node.IsMap() && !node.IsNull())
    throw InputError(fmt::format("{}: expected a map of parameters", where));
  if (node && node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      bool known = false;
      for (const auto& s : specs) known = known || s.name == key;
      for (const auto& i : ignore) known = known || i == key;
      if (!known) {
        std::string accepted;
        for (const auto& s : specs) accepted += (accepted.empty() ? "" : ", ") + s.name;
        throw InputError(fmt::format("{}: unknown key '{}'; accepted keys: {}", where, key,
                                     accepted));
      }
      if (!kv.second.IsScalar() && std::find(ignore.begin(), ignore.end(), key) == ignore.end())
        throw InputError(fmt::format("{}.{}: expected a single value", where, key));
    }
  }
  Params out;
  for (const auto& s : specs) {
    YAML::Node v = node && node.IsMap() ? node[s.name] : YAML::Node();
    if (!v || v.IsNull()) {
      if (s.required())
        throw InputError(fmt::format("{}: missing required key '{}' ({}: {})", where, s.name,
                                     s.type_text(), s.description));
      out.set(s.name, parse_value(s, s.default_value, where));
    } else {
      out.set(s.name, parse_value(s, v.as<std::string>(), where));
    }
  }
  return out;
}

std::string param_value_problem(const ParamSpec& spec, const std::string& text) {
  std::string why;
  if (try_parse(spec, text, &why)) return "";
  return fmt::format("{}; expected {}", why, expected_text(spec));
}

void ParamSpace::declare(std::string path, ParamSpec spec, std::string value) {
  if (m_decls.use_count() > 1) m_decls = std::make_shared<Decls>(*m_decls);   // copy on write
  if (!m_decls->index.emplace(path, m_decls->list.size()).second)
    throw std::logic_error(fmt::format("parameter '{}' declared twice", path));
  m_decls->list.push_back({std::move(path), std::move(spec)});
  m_values.push_back(std::move(value));
  m_changed.push_back(0);
}

long ParamSpace::find(std::string_view path) const {
  auto it = m_decls->index.find(path);
  return it == m_decls->index.end() ? -1 : static_cast<long>(it->second);
}

const std::string& ParamSpace::value(std::string_view path) const {
  const long i = find(path);
  if (i < 0) throw std::logic_error(fmt::format("parameter '{}' was not declared", path));
  return m_values[static_cast<size_t>(i)];
}

void ParamSpace::set(std::string_view path, std::string value) {
  const long i = find(path);
  if (i < 0) throw InputError(fmt::format("unknown parameter '{}'", path));
  const ParamSpec& s = spec(static_cast<size_t>(i));
  std::string why;
  if (!try_parse(s, value, &why))
    throw InputError(fmt::format("invalid value '{}' for {}: {}; expected {}", value, path, why,
                                 expected_text(s)));
  m_values[static_cast<size_t>(i)] = std::move(value);
  m_changed[static_cast<size_t>(i)] = 1;
}

std::vector<std::pair<std::string, std::string>> ParamSpace::changes(std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < size(); ++i) {
    const std::string& p = path(i);
    if (m_changed[i] && p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(p.substr(prefix.size()), m_values[i]);
  }
  return out;
}

}  // namespace tessera
