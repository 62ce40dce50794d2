// SCALE-Sim topology CSV importer.
//
// Accepted layout (what SCALE-Sim v2's topologies/ directory contains): a header
// line, then one layer per line. Fields are separated by commas (or by tabs on a
// line without commas); a trailing comma is allowed; fields beyond the ones
// below are ignored (some files carry notes there); '#' starts a comment;
// blank lines, lines of empty fields and lines holding only a name (section
// titles in the MLPerf collections) are skipped. A UTF-8 byte-order mark,
// carriage returns and non-breaking spaces are tolerated.
//   convolution form: Layer name, IFMAP Height, IFMAP Width, Filter Height,
//                     Filter Width, Channels, Num Filter, Strides
//     -> conv2d n=1, cin=Channels, cout=Num Filter, h, w, r, s, stride, pad=0
//        (SCALE-Sim has no padding: ofmap = (ifmap - filter)/stride + 1)
//   GEMM form:        Layer, M, N, K      (M x K times K x N)
//     -> matmul batch=1, m=M, n=N, k=K
// Operands are one byte (SCALE-Sim's word size), so ops are int8 with int32 output.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "sim/error.h"
#include "workloads/importers.h"
#include "workloads/importers/common.h"

namespace tessera {
namespace {

std::string trim(std::string s) {
  // Non-breaking spaces (U+00A0 as UTF-8) count as blanks.
  for (size_t p; (p = s.find("\xC2\xA0")) != std::string::npos;) s.replace(p, 2, " ");
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_fields(const std::string& line) {
  const char sep = line.find(',') != std::string::npos ? ',' : '\t';
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t next = line.find(sep, pos);
    out.push_back(trim(line.substr(pos, next == std::string::npos ? std::string::npos : next - pos)));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Graph parse_scalesim_csv(std::string_view text, std::string_view source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  Graph g;
  g.name = std::filesystem::path(std::string(source)).stem().string();
  enum class Form { unknown, conv, gemm } form = Form::unknown;
  static const char* kConvCols[] = {"IFMAP Height", "IFMAP Width", "Filter Height",
                                    "Filter Width", "Channels",    "Num Filter", "Strides"};
  static const char* kGemmCols[] = {"M", "N", "K"};
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const std::vector<std::string> f = split_fields(line);
    if (f.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    if (form == Form::unknown) {
      const bool gemm = f.size() >= 4 && lower(f[1]) == "m" && lower(f[2]) == "n" &&
                        lower(f[3]) == "k";
      if (gemm) form = Form::gemm;
      else if (f.size() >= 8) form = Form::conv;
      else
        throw InputError(fmt::format(
            "{}:{}: unrecognised header '{}'; expected the convolution form 'Layer name, IFMAP "
            "Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,' or "
            "the GEMM form 'Layer, M, N, K,'", source, line_no, trim(line)));
      if (nl == text.size()) break;
      continue;
    }
    if (f.size() == 1) {  // a section title such as "Resnet50,"
      if (nl == text.size()) break;
      continue;
    }
    const size_t need = form == Form::gemm ? 3 : 7;
    const char* const* cols = form == Form::gemm ? kGemmCols : kConvCols;
    if (f.size() < need + 1)
      throw InputError(fmt::format("{}:{}: layer '{}' has {} value(s); the {} form needs {} ({})",
                                   source, line_no, f[0], f.size() - 1,
                                   form == Form::gemm ? "GEMM" : "convolution", need,
                                   form == Form::gemm ? "M, N, K"
                                                      : "IFMAP Height, IFMAP Width, Filter "
                                                        "Height, Filter Width, Channels, Num "
                                                        "Filter, Strides"));
    std::vector<int64_t> v(need);
    for (size_t i = 0; i < need; ++i) {
      const std::string& s = f[i + 1];
      int64_t x = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || x <= 0)
        throw InputError(fmt::format("{}:{}: layer '{}': {} = '{}' is not a positive integer",
                                     source, line_no, f[0], cols[i], s));
      v[i] = x;
    }
    Op op;
    op.name = f[0].empty() ? fmt::format("layer{}", g.ops.size()) : f[0];
    op.kind = form == Form::gemm ? OpKind::matmul : OpKind::conv2d;
    op.dtype = DType::int8;
    op.out_dtype = DType::int32;
    if (form == Form::gemm) {
      op.attrs = {{"batch", 1}, {"m", v[0]}, {"n", v[1]}, {"k", v[2]}};
    } else {
      if (v[2] > v[0] || v[3] > v[1])
        throw InputError(fmt::format("{}:{}: layer '{}': filter {}x{} is larger than the ifmap "
                                     "{}x{}", source, line_no, op.name, v[2], v[3], v[0], v[1]));
      op.attrs = {{"n", 1},        {"cin", v[4]}, {"cout", v[5]},   {"h", v[0]},
                  {"w", v[1]},     {"r", v[2]},   {"s", v[3]},      {"stride", v[6]},
                  {"pad", 0},      {"dilation", 1}, {"groups", 1}};
    }
    if (!g.ops.empty()) op.deps = {static_cast<int>(g.ops.size()) - 1};
    g.add(std::move(op));
    if (nl == text.size()) break;
  }
  if (form == Form::unknown) throw InputError(fmt::format("{}: the file is empty", source));
  if (g.ops.empty()) throw InputError(fmt::format("{}: the file has a header but no layers", source));
  return g;
}

Graph import_scalesim_csv(const std::string& path) {
  return parse_scalesim_csv(importers::read_input_file(path), path);
}

}  // namespace tessera
