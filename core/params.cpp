#include "core/params.h"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

#include "core/error.h"

namespace tessera {

std::string ParamSpec::type_text() const {
  switch (type) {
    case ParamType::integer: return "int";
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

Params::Value parse_value(const ParamSpec& spec, const std::string& text, std::string_view where) {
  auto bad = [&](const std::string& why) {
    return InputError(fmt::format("{}.{}: invalid value '{}': {}; expected {}", where, spec.name,
                                  text, why,
                                  spec.type == ParamType::quantity ? unit_examples(spec.unit)
                                                                   : spec.type_text()));
  };
  switch (spec.type) {
    case ParamType::integer: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) throw bad("not an integer");
      return v;
    }
    case ParamType::real:
    case ParamType::quantity: {
      std::string why;
      auto v = parse_quantity(text, spec.type == ParamType::real ? Unit::none : spec.unit, &why);
      if (!v) throw bad(why);
      return *v;
    }
    case ParamType::boolean:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "0" || text == "no" || text == "off") return false;
      throw bad("not a boolean");
    case ParamType::choice:
      for (const auto& c : spec.choices)
        if (c == text) return text;
      throw bad("not one of the choices");
    case ParamType::text:
      return text;
  }
  throw bad("unknown type");
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

}  // namespace tessera
