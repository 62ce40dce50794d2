#pragma once
// Request sources for the DRAM memory system: a trace file and generated patterns.
//
// Trace format, one request per line:   <issue cycle> <R|W> <0xaddress> <bytes>
// (cycles of the DRAM command clock, non-decreasing; `#` starts a comment; blank
// lines are skipped). A malformed line is an InputError naming file:line.
//
// Pattern spec:  KIND:key=value,...   KIND one of
//   sequential   consecutive `size`-byte requests from `base`
//   strided      requests of `size` bytes every `stride` bytes
//   random       requests of `size` bytes at random `size`-aligned addresses in
//                [base, base + range)
//   gather       `rows` rows of `row_bytes` each from a table of `table_bytes`,
//                order=random|sequential (an embedding lookup, index_select)
// common keys: bytes (total requested, default 64MiB; gather: rows x row_bytes),
// size (default 64), write_fraction (0..1, default 0: which requests write, chosen
// by the seeded generator), interval (cycles between issues, default 0: as fast
// as the controllers accept), seed (default 1), base (default 0), range
// (random: default 1GiB), stride (strided: default 4096).
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "models/memory/dram/system.h"

namespace tessera::dram {

class TraceSource : public RequestSource {
 public:
  explicit TraceSource(const std::string& path);
  bool next(Request& r) override;

 private:
  std::string m_path;
  std::ifstream m_in;
  int64_t m_line = 0, m_last = 0;
};

struct PatternSpec {
  std::string kind;
  uint64_t bytes = 64ull << 20, size = 64, stride = 4096, base = 0, range = 1ull << 30;
  uint64_t rows = 0, row_bytes = 0, table_bytes = 0;
  std::string order = "random";
  double write_fraction = 0, interval = 0;
  uint64_t seed = 1;
  std::string text;  // as given
};

// Parses "KIND:key=value,..."; InputError naming `where`, the key and what is accepted.
PatternSpec parse_pattern(const std::string& text, const std::string& where);

class PatternSource : public RequestSource {
 public:
  explicit PatternSource(const PatternSpec& p);
  bool next(Request& r) override;
  uint64_t count() const { return m_count; }      // requests in all
  uint64_t consumed() const { return m_i; }       // requests returned so far
  const PatternSpec& spec() const { return m_p; }

 private:
  PatternSpec m_p;
  uint64_t m_count = 0, m_i = 0;
  std::mt19937_64 m_rng;
};

}  // namespace tessera::dram
