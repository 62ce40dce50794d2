#pragma once
// Text the tool reads must be UTF-8 (YAML 1.2 and JSON both require it, and the
// JSON reports carry names from the inputs).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

// The byte offset of the first byte that does not belong to a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// or nullopt when `text` is valid UTF-8.
std::optional<size_t> invalid_utf8_at(std::string_view text);

// Throws InputError "WHAT:LINE: byte 0xD7 at column C is not UTF-8 text" when
// `text` is not valid UTF-8 (LINE and COLUMN 1-based, counted in bytes).
void require_utf8(std::string_view text, std::string_view what);

// The same for the contents of the file at `path` (named in the message); a file
// that cannot be read is left to the caller's own reading to report.
void require_utf8_file(const std::string& path);

}  // namespace tessera
