#include "core/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace tessera {

namespace fs = std::filesystem;

std::string temp_path_beside(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, static_cast<long>(getpid()), counter++);
}

void write_file_atomic(const std::string& path, std::string_view content, std::string_view what) {
  const std::string tmp = temp_path_beside(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw InputError(fmt::format("{}: cannot write '{}': {}", what, path, std::strerror(errno)));
  size_t done = 0;
  bool ok = true;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  const int err = ok ? 0 : errno;
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = err ? err : errno;
    ::unlink(tmp.c_str());
    throw InputError(fmt::format("{}: cannot write '{}': {}", what, path, std::strerror(e)));
  }
}

void replace_dir_atomic(const std::string& tmp, const std::string& target, std::string_view what) {
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_directory(target, ec)) {
    fs::remove_all(tmp, ec);
    throw InputError(fmt::format("{}: '{}' exists and is not a directory", what, target));
  }
  if (!fs::exists(target, ec)) {
    if (::rename(tmp.c_str(), target.c_str()) == 0) return;
  } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);   // now the old contents
    return;
  }
  const int e = errno;
  fs::remove_all(tmp, ec);
  throw InputError(fmt::format("{}: cannot create directory '{}': {}", what, target, std::strerror(e)));
}

}  // namespace tessera

namespace tessera {

std::string not_a_file_reason(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return "does not exist";
  if (std::filesystem::is_directory(st)) return "is a directory, not a file";
  return "is not a regular file";
}

}  // namespace tessera
