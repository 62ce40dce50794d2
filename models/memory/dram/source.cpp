#include "models/memory/dram/source.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "core/units.h"

namespace tessera::dram {
namespace {

bool parse_u64(const std::string& s, int base, uint64_t& v) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(s.c_str(), &end, base);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  v = x;
  return true;
}

}  // namespace

TraceSource::TraceSource(const std::string& path) : m_path(path), m_in(path) {
  if (!m_in) throw InputError(fmt::format("--trace: cannot read '{}'", path));
}

bool TraceSource::next(Request& r) {
  std::string line;
  while (std::getline(m_in, line)) {
    ++m_line;
    if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
    std::istringstream is(line);
    std::string cyc, dir, addr, bytes, extra;
    if (!(is >> cyc)) continue;  // blank or comment
    auto fail = [&](const std::string& why) {
      throw InputError(fmt::format("{}:{}: {}; expected '<issue cycle> <R|W> <0xaddress> <bytes>'", m_path, m_line,
                                   why));
    };
    if (!(is >> dir >> addr >> bytes)) fail("too few fields");
    if (is >> extra) fail(fmt::format("unexpected field '{}'", extra));
    uint64_t c = 0, a = 0, b = 0;
    if (!parse_u64(cyc, 10, c) || c > (uint64_t{1} << 62)) fail(fmt::format("issue cycle '{}' is not a non-negative integer", cyc));
    if (dir != "R" && dir != "W" && dir != "r" && dir != "w") fail(fmt::format("direction '{}' is not R or W", dir));
    if (addr.size() < 3 || addr[0] != '0' || (addr[1] != 'x' && addr[1] != 'X') || !parse_u64(addr.substr(2), 16, a))
      fail(fmt::format("address '{}' is not hexadecimal with 0x", addr));
    if (!parse_u64(bytes, 10, b) || b == 0 || b > (uint64_t{1} << 40))
      fail(fmt::format("size '{}' is not a positive number of bytes (at most 2^40)", bytes));
    if (a > UINT64_MAX - b) fail("address + size overflows 64 bits");
    if (static_cast<int64_t>(c) < m_last)
      fail(fmt::format("issue cycle {} is before the previous line's {} (cycles must not decrease)", c, m_last));
    m_last = static_cast<int64_t>(c);
    r.issue = static_cast<int64_t>(c);
    r.write = dir == "W" || dir == "w";
    r.address = a;
    r.bytes = b;
    return true;
  }
  return false;
}

PatternSpec parse_pattern(const std::string& text, const std::string& where) {
  PatternSpec p;
  p.text = text;
  const auto colon = text.find(':');
  p.kind = text.substr(0, colon);
  const std::string kinds = "sequential|strided|random|gather";
  if (p.kind != "sequential" && p.kind != "strided" && p.kind != "random" && p.kind != "gather")
    throw InputError(fmt::format("{}: pattern '{}' is not accepted; expected {}:key=value,...", where, p.kind, kinds));
  bool bytes_set = false;
  if (colon != std::string::npos) {
    std::stringstream ss(text.substr(colon + 1));
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      if (kv.empty()) continue;
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw InputError(fmt::format("{}: '{}' is not key=value", where, kv));
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      auto qty = [&](uint64_t& out, bool allow_zero) {
        std::string why;
        const auto q = parse_quantity(v, Unit::bytes, &why);
        if (!q || !std::isfinite(*q) || *q < (allow_zero ? 0 : 1) || *q > 1e15 || std::floor(*q) != *q)
          throw InputError(fmt::format("{}: {}={} is not accepted; expected a whole number of bytes{} (e.g. 64, 4KiB, 1GiB)",
                                       where, k, v, allow_zero ? "" : " > 0"));
        out = static_cast<uint64_t>(*q);
      };
      auto real = [&](double& out, double lo, double hi) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x < lo || x > hi)
          throw InputError(fmt::format("{}: {}={} is not accepted; expected a number in [{}, {}]", where, k, v, lo, hi));
        out = x;
      };
      if (k == "bytes") qty(p.bytes, false), bytes_set = true;
      else if (k == "size") qty(p.size, false);
      else if (k == "stride") qty(p.stride, false);
      else if (k == "base") qty(p.base, true);
      else if (k == "range") qty(p.range, false);
      else if (k == "rows") {
        double x = 0;
        real(x, 1, 1e12);
        p.rows = static_cast<uint64_t>(x);
      } else if (k == "row_bytes") qty(p.row_bytes, false);
      else if (k == "table_bytes") qty(p.table_bytes, false);
      else if (k == "order") {
        if (v != "random" && v != "sequential")
          throw InputError(fmt::format("{}: order={} is not accepted; expected random|sequential", where, v));
        p.order = v;
      } else if (k == "write_fraction") real(p.write_fraction, 0, 1);
      else if (k == "interval") real(p.interval, 0, 1e9);
      else if (k == "seed") {
        if (!parse_u64(v, 10, p.seed)) throw InputError(fmt::format("{}: seed={} is not a non-negative integer", where, v));
      } else {
        throw InputError(fmt::format("{}: unknown key '{}'; accepted: bytes, size, stride, base, range, rows, "
                                     "row_bytes, table_bytes, order, write_fraction, interval, seed",
                                     where, k));
      }
    }
  }
  if (p.kind == "gather") {
    if (p.rows == 0 || p.row_bytes == 0 || p.table_bytes == 0)
      throw InputError(fmt::format("{}: gather needs rows=, row_bytes= and table_bytes=", where));
    if (p.table_bytes < p.row_bytes)
      throw InputError(fmt::format("{}: gather table_bytes={} is smaller than row_bytes={}", where, p.table_bytes,
                                   p.row_bytes));
    p.size = p.row_bytes;
    if (p.rows > (uint64_t{1} << 50) / p.row_bytes)
      throw InputError(fmt::format("{}: gather rows x row_bytes = {} x {} exceeds 2^50 bytes", where, p.rows,
                                   p.row_bytes));
    p.bytes = p.rows * p.row_bytes;
  } else if (p.kind == "random" && p.range < p.size) {
    throw InputError(fmt::format("{}: random range={} is smaller than size={}", where, p.range, p.size));
  }
  (void)bytes_set;
  return p;
}

PatternSource::PatternSource(const PatternSpec& p) : m_p(p), m_rng(p.seed) {
  m_count = p.kind == "gather" ? p.rows : (p.bytes + p.size - 1) / p.size;
}

bool PatternSource::next(Request& r) {
  if (m_i >= m_count) return false;
  const uint64_t i = m_i++;
  r.issue = static_cast<int64_t>(std::floor(static_cast<double>(i) * m_p.interval));
  r.bytes = m_p.size;
  if (m_p.kind == "sequential") {
    r.address = m_p.base + i * m_p.size;
  } else if (m_p.kind == "strided") {
    r.address = m_p.base + i * m_p.stride;
  } else if (m_p.kind == "random") {
    r.address = m_p.base + (m_rng() % (m_p.range / m_p.size)) * m_p.size;
  } else {  // gather
    const uint64_t table_rows = m_p.table_bytes / m_p.row_bytes;
    const uint64_t row = m_p.order == "sequential" ? i % table_rows : m_rng() % table_rows;
    r.address = m_p.base + row * m_p.row_bytes;
  }
  // Reads and writes mixed by the seeded generator (deterministic per seed).
  r.write = m_p.write_fraction > 0 &&
            static_cast<double>(m_rng() >> 11) * (1.0 / 9007199254740992.0) < m_p.write_fraction;
  return true;
}

}  // namespace tessera::dram
