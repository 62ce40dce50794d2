#pragma once
// Quantities with units are parsed at the boundary ("1.83GHz", "3.35TB/s",
// "12.5ns", "50MiB", "700W") and kept in SI base units (Hz, bytes, B/s, s, W, J,
// FLOP/s) inside. Decimal prefixes are powers of 1000, binary prefixes (KiB,
// MiB, GiB, TiB) powers of 1024. A bare number is taken in the base unit.
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

enum class Unit { none, hertz, bytes, bytes_per_second, seconds, watts, joules, flops_per_second };

std::string_view unit_symbol(Unit u);   // "Hz", "B", "B/s", "s", "W", "J", "FLOP/s", ""
// Human list of accepted spellings, for error messages.
std::string unit_examples(Unit u);
// Parses `text` as a quantity of unit `u`; nullopt (with `why` filled) on failure.
std::optional<double> parse_quantity(std::string_view text, Unit u, std::string* why = nullptr);
// Formats with an SI prefix, e.g. 3.35e12 B/s -> "3.35 TB/s".
std::string format_quantity(double value, Unit u);

}  // namespace tessera
