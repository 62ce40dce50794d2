#pragma once
// Output files are never left half-written: every file the tool writes is
// written to a temporary file beside it (same directory, so the same file
// system), flushed, and renamed over the destination, so that a crash or a
// kill -9 leaves either the old file or the complete new one.
#include <string>
#include <string_view>

namespace tessera {

// Writes `content` to `path` as above. `what` names the option or purpose in the
// message of the InputError thrown when the file cannot be written ("--out").
void write_file_atomic(const std::string& path, std::string_view content, std::string_view what);

// A fresh, unique temporary path beside `path` (path + ".tmp.<pid>.<n>").
std::string temp_path_beside(const std::string& path);

// Puts the directory `tmp` (complete) in place of the directory `target`: on
// Linux the two are exchanged atomically (renameat2 RENAME_EXCHANGE) and the old
// one removed, so `target` always exists with complete contents; a missing
// target is a plain rename. Throws InputError naming `what` on failure.
void replace_dir_atomic(const std::string& tmp, const std::string& target, std::string_view what);

}  // namespace tessera

namespace tessera {

// Why `path` cannot be read as an input file: "does not exist", "is a
// directory, not a file" or "is not a regular file" (a device, a FIFO).
std::string not_a_file_reason(const std::string& path);

}  // namespace tessera
