#pragma once
// SCALE-Sim topology CSV: the one parser of the format. Its users turn the rows
// into what they need: the workload importer (importers/scalesim_csv.cpp) into
// conv2d and matmul ops, the systolic library (models/systolic, its
// parse_scalesim_topology) into SCALE-Sim layers in convolution form.
//
// A file is a header line, then one layer per line, in one of two forms:
//   convolution: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
//                Channels, Num Filter, Strides,
//   GEMM:        Layer, M, N, K,        (M x K times K x N; chosen by this header)
// Every value must be an integer (Python's int(): optional sign, decimal digits)
// >= 1 and a filter must fit its ifmap (stricter than SCALE-Sim, which would
// fail later or divide by zero). Errors are InputError naming the
// source, the line, the field and what is accepted.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tessera::importers {

// Which files are accepted.
//  scalesim: what SCALE-Sim v2's topology_utils loads, no more: the first line is
//    the header; a blank line is skipped; every other row is split on ',' and its
//    last field dropped (SCALE-Sim writes a trailing comma; a row without one
//    loses its last value); a convolution row's fields after Strides are
//    integers too, the first of them being Stride Width.
//  tolerant: also the variants found in the wild: '#' starts a comment; a line
//    without commas is split on tabs; trailing empty fields are dropped instead of
//    the last field; rows of empty fields and rows holding only a name (section
//    titles) are skipped; the header is the first line that has fields and must
//    be one of the two forms; fields beyond the form's are notes and ignored;
//    non-breaking spaces read as spaces.
// Both strip a UTF-8 byte-order mark and blanks around fields (CR included).
enum class ScaleSimDialect { scalesim, tolerant };

struct ScaleSimConv {
  int64_t ifmap_h = 1, ifmap_w = 1;
  int64_t filter_h = 1, filter_w = 1;
  int64_t channels = 1;
  int64_t num_filters = 1;
  int64_t stride_h = 1, stride_w = 1;  // stride_w differs only from a Stride Width field
};

struct ScaleSimGemm {
  int64_t m = 1, n = 1, k = 1;  // M x K times K x N
};

// One row of a topology: its name, the line it stands on, and its shape in the
// form the header chose.
struct ScaleSimLayer {
  std::string name;
  int line = 0;  // 1-based line in the source, for messages
  std::variant<ScaleSimConv, ScaleSimGemm> shape;

  // SCALE-Sim runs a convolution row whose name contains "DP" as depthwise: one
  // layer per channel, each with one channel (topology_utils).
  bool depthwise() const;
};

// `source` names the text in error messages (a path, usually).
std::vector<ScaleSimLayer> parse_scalesim_layers(std::string_view text, std::string_view source,
                                                 ScaleSimDialect dialect);

}  // namespace tessera::importers
