#pragma once
// Helpers shared by the workload importers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::importers {

// Whole file as bytes; InputError naming the path when it cannot be read.
std::string read_input_file(const std::string& path);
// 1-based line number of byte `offset` in `text`.
int line_of_offset(std::string_view text, size_t offset);

// `s` without the blanks (std::isspace) around it.
std::string trim(std::string_view s);
// Every `sep`-separated field of `s`, trimmed; none dropped.
std::vector<std::string> split_fields(std::string_view s, char sep);
// ASCII lower case.
std::string lower(std::string s);
// Python's int() on a stripped field: optional sign, decimal digits; nullopt for
// anything else or a value outside int64.
std::optional<int64_t> parse_python_int(std::string_view s);

}  // namespace tessera::importers
