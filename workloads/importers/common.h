#pragma once
// Helpers shared by the workload importers.
#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::importers {

// Whole file as bytes; InputError naming the path when it cannot be read.
std::string read_input_file(const std::string& path);
// 1-based line number of byte `offset` in `text`.
int line_of_offset(std::string_view text, size_t offset);

}  // namespace tessera::importers
