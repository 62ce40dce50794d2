#include "core/units.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

namespace tessera {
namespace {

struct Prefix { std::string_view text; double scale; };

// Longest spellings first so "Mi" is tried before "M".
const std::vector<Prefix>& prefixes(bool binary_allowed) {
  static const std::vector<Prefix> with_binary = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
      {"m", 1e-3}, {"u", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}, {"", 1.0}};
  static const std::vector<Prefix> decimal = {
      {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
      {"m", 1e-3}, {"u", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}, {"", 1.0}};
  return binary_allowed ? with_binary : decimal;
}

// Base-unit spellings accepted per unit.
std::vector<std::string_view> symbols(Unit u) {
  switch (u) {
    case Unit::hertz: return {"Hz"};
    case Unit::bytes: return {"B"};
    case Unit::bytes_per_second: return {"B/s", "Bps"};
    case Unit::seconds: return {"s"};
    case Unit::watts: return {"W"};
    case Unit::joules: return {"J"};
    case Unit::flops_per_second: return {"FLOP/s", "FLOPS", "OPS", "OP/s"};
    case Unit::none: return {};
  }
  return {};
}

bool allows_binary(Unit u) { return u == Unit::bytes || u == Unit::bytes_per_second; }
// Sub-unit prefixes (m, u, n, p, f) make sense for time, energy and power only.
bool allows_small(Unit u) { return u == Unit::seconds || u == Unit::joules || u == Unit::watts; }

}  // namespace

std::string_view unit_symbol(Unit u) {
  switch (u) {
    case Unit::hertz: return "Hz";
    case Unit::bytes: return "B";
    case Unit::bytes_per_second: return "B/s";
    case Unit::seconds: return "s";
    case Unit::watts: return "W";
    case Unit::joules: return "J";
    case Unit::flops_per_second: return "FLOP/s";
    case Unit::none: return "";
  }
  return "";
}

std::string unit_examples(Unit u) {
  switch (u) {
    case Unit::hertz: return "a frequency such as 700MHz or 1.98GHz";
    case Unit::bytes: return "a size such as 512, 64KiB, 50MiB or 80GB";
    case Unit::bytes_per_second: return "a bandwidth such as 34GB/s or 3.35TB/s";
    case Unit::seconds: return "a time such as 12.5ns, 4us or 2ms";
    case Unit::watts: return "a power such as 700W";
    case Unit::joules: return "an energy such as 0.2pJ or 1.3nJ";
    case Unit::flops_per_second: return "a rate such as 989TFLOP/s";
    case Unit::none: return "a plain number";
  }
  return "";
}

std::optional<double> parse_quantity(std::string_view text, Unit u, std::string* why) {
  auto fail = [&](std::string msg) -> std::optional<double> {
    if (why) *why = std::move(msg);
    return std::nullopt;
  };
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  std::string_view s = text.substr(b, e - b);
  if (s.empty()) return fail("empty value");
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) return fail("a number out of the range of a double (magnitudes about 2.2e-308 to 1.8e308)");
  if (ec != std::errc() || ptr == s.data()) return fail("does not start with a number");
  if (!std::isfinite(value)) return fail("not a finite number");
  std::string_view rest = s.substr(static_cast<size_t>(ptr - s.data()));
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) return value;
  if (u == Unit::none) return fail(fmt::format("unexpected unit '{}' on a plain number", rest));
  for (const auto& p : prefixes(allows_binary(u))) {
    if (rest.substr(0, p.text.size()) != p.text) continue;
    const bool small = p.scale < 1.0;
    if (small && !allows_small(u)) continue;
    std::string_view sym = rest.substr(p.text.size());
    for (auto base : symbols(u))
      if (sym == base) return value * p.scale;
  }
  return fail(fmt::format("unit '{}' is not {}", rest, unit_examples(u)));
}

std::string format_quantity(double value, Unit u) {
  if (u == Unit::none) return fmt::format("{:g}", value);
  struct P { double scale; const char* text; };
  static const P ps[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""},
                         {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}, {1e-12, "p"}, {1e-15, "f"}};
  const double a = std::fabs(value);
  if (a == 0) return fmt::format("0 {}", unit_symbol(u));
  if (u == Unit::bytes) {
    static const P bs[] = {{1099511627776.0, "Ti"}, {1073741824.0, "Gi"}, {1048576.0, "Mi"},
                           {1024.0, "Ki"}};
    for (const auto& p : bs)
      if (a >= p.scale) return fmt::format("{:.4g} {}B", value / p.scale, p.text);
    return fmt::format("{:g} B", value);
  }
  for (const auto& p : ps)
    if (a >= p.scale * 0.9995) return fmt::format("{:.4g} {}{}", value / p.scale, p.text, unit_symbol(u));
  return fmt::format("{:.4g} {}", value, unit_symbol(u));
}

}  // namespace tessera
