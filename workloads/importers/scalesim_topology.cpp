// SCALE-Sim topology CSV parser (scalesim_topology.h states the rules); the
// scalesim dialect follows topology_utils.load_arrays_conv / load_arrays_gemm.
#include "workloads/importers/scalesim_topology.h"

#include <fmt/format.h>

#include <iterator>

#include "core/error.h"
#include "workloads/importers/common.h"

namespace tessera::importers {
namespace {

void drop_trailing_empty(std::vector<std::string>& f) {
  while (!f.empty() && f.back().empty()) f.pop_back();
}

// Field names by position (field 1 is the name), as the headers spell them.
constexpr const char* kConvFields[] = {"Layer name",    "IFMAP Height", "IFMAP Width",
                                       "Filter Height", "Filter Width", "Channels",
                                       "Num Filter",    "Strides",      "Stride Width"};
constexpr const char* kGemmFields[] = {"Layer", "M", "N", "K"};
constexpr const char* kConvForm =
    "name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides";

}  // namespace

bool ScaleSimLayer::depthwise() const {
  return std::holds_alternative<ScaleSimConv>(shape) && name.find("DP") != std::string::npos;
}

std::vector<ScaleSimLayer> parse_scalesim_layers(std::string_view text, std::string_view source,
                                                 ScaleSimDialect dialect) {
  const bool tolerant = dialect == ScaleSimDialect::tolerant;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  enum class Form { none, conv, gemm } form = Form::none;
  std::vector<ScaleSimLayer> layers;
  int line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (tolerant) {
      // Each no-break space (UTF-8 C2 A0) becomes one space.
      for (size_t p; (p = line.find("\xC2\xA0")) != std::string::npos;) {
        line[p] = ' ';
        line.erase(p + 1, 1);
      }
      if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    }
    const std::string row = trim(line);
    const char sep = !tolerant || row.find(',') != std::string::npos ? ',' : '\t';
    std::vector<std::string> f = split_fields(row, sep);

    if (form == Form::none) {
      const bool gemm = f.size() >= 4 && lower(f[1]) == "m" && lower(f[2]) == "n" && lower(f[3]) == "k";
      if (tolerant) {
        drop_trailing_empty(f);
        if (f.empty()) continue;
        if (!gemm && f.size() < 8)
          throw InputError(fmt::format(
              "{}:{}: unrecognised header '{}'; expected the convolution form 'Layer name, IFMAP "
              "Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,' or "
              "the GEMM form 'Layer, M, N, K,'",
              source, line_no, row));
      }
      form = gemm ? Form::gemm : Form::conv;  // scalesim: any other header is the conv form
      continue;
    }

    if (tolerant) {
      drop_trailing_empty(f);
      if (f.size() <= 1) continue;  // blank, empty fields, or a section title such as "Resnet50,"
    } else {
      if (row.empty()) continue;
      f.pop_back();  // row.split(',')[:-1]
    }
    const bool gemm = form == Form::gemm;
    const size_t need = gemm ? 4 : 8;
    if (f.size() < need)
      throw InputError(fmt::format(
          "{}:{}: {} row needs '{}{}' ({} {}fields{}): '{}'", source, line_no, gemm ? "GEMM" : "conv",
          gemm ? "name, M, N, K" : kConvForm, tolerant ? "" : ",", need, tolerant ? "" : "comma-terminated ",
          tolerant ? ", separated by commas, or by tabs on a line without commas" : "", row));
    const auto num = [&](size_t i) {
      const char* field = gemm ? kGemmFields[i] : i < std::size(kConvFields) ? kConvFields[i] : "extra field";
      const auto v = parse_python_int(f[i]);
      if (!v)
        throw InputError(fmt::format("{}:{}: field {} ({}) is '{}' (expected an integer)", source, line_no,
                                     i + 1, field, f[i]));
      if (*v < 1)
        throw InputError(fmt::format("{}:{}: field {} ({}) is {} (expected an integer >= 1)", source, line_no,
                                     i + 1, field, *v));
      return *v;
    };
    ScaleSimLayer l;
    l.name = f[0];
    l.line = line_no;
    if (gemm) {
      // GEMM rows: SCALE-Sim reads M, N, K and ignores anything after them.
      ScaleSimGemm g;
      g.m = num(1);
      g.n = num(2);
      g.k = num(3);
      l.shape = g;
      layers.push_back(std::move(l));
      continue;
    }
    std::vector<int64_t> v;  // v[i] is field i + 1
    // scalesim: SCALE-Sim converts every field after the name; tolerant: only the form's.
    const size_t last = tolerant ? need : f.size();
    for (size_t i = 1; i < last; ++i) v.push_back(num(i));
    ScaleSimConv c;
    c.ifmap_h = v[0];
    c.ifmap_w = v[1];
    c.filter_h = v[2];
    c.filter_w = v[3];
    c.channels = v[4];
    c.num_filters = v[5];
    c.stride_h = v[6];
    c.stride_w = v.size() >= 8 ? v[7] : v[6];
    if (c.filter_h > c.ifmap_h)
      throw InputError(
          fmt::format("{}:{}: Filter Height {} is larger than IFMAP Height {} (expected filter <= ifmap)",
                      source, line_no, c.filter_h, c.ifmap_h));
    if (c.filter_w > c.ifmap_w)
      throw InputError(
          fmt::format("{}:{}: Filter Width {} is larger than IFMAP Width {} (expected filter <= ifmap)",
                      source, line_no, c.filter_w, c.ifmap_w));
    l.shape = c;
    layers.push_back(std::move(l));
  }
  if (form == Form::none)
    throw InputError(
        fmt::format("{}: the file is empty (expected a header line, then one layer per line)", source));
  if (layers.empty())
    throw InputError(fmt::format("{}: no layers after the header line (expected at least one row)", source));
  return layers;
}

}  // namespace tessera::importers
