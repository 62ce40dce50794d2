// Driver for the fuzz targets in builds without libFuzzer (gcc, Release: what
// `make test` builds). It feeds LLVMFuzzerTestOneInput
//   1. every file named on the command line (directories: every file in them,
//      sorted by name), as libFuzzer's `-runs=0` would, and then
//   2. `--mutations N` inputs derived from those files by libFuzzer-style
//      mutations (bit flips, byte changes, inserted/erased ranges, interesting
//      integers, copies between inputs), drawn from a fixed `--seed`.
// Step 2 is a deterministic smoke fuzz without coverage feedback: the same
// corpus and seed give the same inputs, so a failure reproduces. Findings are
// what the targets themselves report: anything but InputError aborts (see
// fuzz_common.h); the last input tried is written to `--artifact FILE` before
// it runs, so a crash leaves it behind.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void save(const std::string& path, const Bytes& b) {
  if (path.empty()) return;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  }
}

// One mutation of `b` (in place), `other` is a second corpus input for splices.
void mutate(Bytes& b, const Bytes& other, std::mt19937_64& rng, size_t max_len) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  // Values that often sit on a parser's edges: 0, 1, -1, powers of two around
  // the 8/16/32/64-bit limits, and ASCII digits/separators for the text formats.
  static const char* kTokens[] = {"0",  "-1", "1e330", "nan", "inf", "2147483648", "9223372036854775808",
                                  "18446744073709551616", "4294967296", "0x", ":", ",", "=", "\n", "[", "]",
                                  "{", "}", "\"", "-", "1e-330", "65536", "256"};
  switch (rng() % 8) {
    case 0:  // flip one bit
      if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:  // set one byte
      if (!b.empty()) b[pick(b.size())] = static_cast<uint8_t>(rng());
      break;
    case 2: {  // erase a range
      if (b.empty()) break;
      const size_t at = pick(b.size());
      const size_t n = 1 + pick(std::min<size_t>(16, b.size() - at));
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
      break;
    }
    case 3: {  // insert random bytes
      const size_t at = pick(b.size() + 1);
      const size_t n = 1 + pick(8);
      Bytes ins(n);
      for (auto& c : ins) c = static_cast<uint8_t>(rng());
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
      break;
    }
    case 4:
    case 5: {  // insert or overwrite with an interesting token
      const char* t = kTokens[pick(std::size(kTokens))];
      const size_t at = pick(b.size() + 1);
      const size_t n = std::strlen(t);
      if (rng() % 2 && at + n <= b.size()) {
        std::memcpy(b.data() + at, t, n);
      } else {
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t, t + n);
      }
      break;
    }
    case 6: {  // duplicate a range (repeated keys, nested structures)
      if (b.empty()) break;
      const size_t at = pick(b.size());
      const size_t n = 1 + pick(std::min<size_t>(64, b.size() - at));
      Bytes copy(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), copy.begin(), copy.end());
      break;
    }
    default: {  // splice: a prefix of this input, a suffix of another
      if (other.empty()) break;
      const size_t keep = pick(b.size() + 1);
      const size_t from = pick(other.size());
      b.resize(keep);
      b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      break;
    }
  }
  if (b.size() > max_len) b.resize(max_len);
}

int usage() {
  std::fprintf(stderr,
               "usage: fuzz_TARGET [--mutations N] [--seed S] [--max-len BYTES] [--artifact FILE] FILE|DIR...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long long mutations = 0;
  unsigned long long seed = 1;
  size_t max_len = 65536;
  std::string artifact;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--mutations" || a == "--seed" || a == "--max-len" || a == "--artifact") {
      const char* v = value();
      if (!v) return usage();
      if (a == "--mutations") mutations = std::atoll(v);
      if (a == "--seed") seed = std::strtoull(v, nullptr, 10);
      if (a == "--max-len") max_len = static_cast<size_t>(std::atoll(v));
      if (a == "--artifact") artifact = v;
      continue;
    }
    if (!a.empty() && a[0] == '-') return usage();
    const std::filesystem::path p(a);
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file()) in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "fuzz replay: %s: no such file or directory\n", a.c_str());
      return 2;
    }
  }
  if (files.empty() || mutations < 0 || max_len == 0) return usage();

  std::vector<Bytes> corpus;
  for (const auto& f : files) {
    corpus.push_back(read_all(f));
    if (corpus.back().size() > max_len) corpus.back().resize(max_len);
    save(artifact, corpus.back());
    LLVMFuzzerTestOneInput(corpus.back().data(), corpus.back().size());
  }
  std::mt19937_64 rng(seed);
  for (long long i = 0; i < mutations; ++i) {
    Bytes b = corpus[rng() % corpus.size()];
    const Bytes& other = corpus[rng() % corpus.size()];
    const int rounds = 1 + static_cast<int>(rng() % 4);
    for (int r = 0; r < rounds; ++r) mutate(b, other, rng, max_len);
    save(artifact, b);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  if (!artifact.empty()) std::filesystem::remove(artifact);
  std::printf("fuzz replay: %zu corpus inputs and %lld mutations (seed %llu): no finding\n", files.size(), mutations,
              seed);
  return 0;
}
