// SCALE-Sim v2 file formats: .cfg (configparser INI), topology CSVs (parsed by
// workloads/importers/scalesim_topology.h), reports.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include "models/systolic/systolic.h"
#include "core/error.h"
#include "workloads/importers/common.h"
#include "workloads/importers/scalesim_topology.h"

namespace tessera::systolic {

namespace {

using importers::lower;
using importers::trim;

std::ifstream open_or_throw(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path);
  if (!in)
    throw tessera::InputError(
        fmt::format("{}: cannot open {} file (expected a readable SCALE-Sim {})", path.string(),
                    what, what));
  return in;
}

void strip_bom(std::string& line) {
  if (line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF &&
      static_cast<unsigned char>(line[1]) == 0xBB && static_cast<unsigned char>(line[2]) == 0xBF)
    line.erase(0, 3);
}

}  // namespace

// ---------------------------------------------------------------------------
// .cfg: Python configparser rules as scale_config.read_conf_file uses them:
// [section] headers, `key = value` or `key : value`, keys case-insensitive,
// values stripped, full-line comments starting with # or ;.
ScaleSimConfig parse_scalesim_cfg(const std::filesystem::path& path) {
  std::ifstream in = open_or_throw(path, "config");
  struct Entry {
    std::string value;
    int line;
  };
  std::map<std::string, std::map<std::string, Entry>> ini;
  std::string section, line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (lineno == 1) strip_bom(line);
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[') {
      if (t.back() != ']')
        throw tessera::InputError(fmt::format(
            "{}:{}: malformed section header '{}' (expected [name])", path.string(), lineno, t));
      section = lower(trim(t.substr(1, t.size() - 2)));
      ini[section];
      continue;
    }
    const std::size_t eq = t.find_first_of("=:");
    if (eq == std::string::npos)
      throw tessera::InputError(fmt::format(
          "{}:{}: line '{}' is not 'key = value' or 'key : value'", path.string(), lineno, t));
    if (section.empty())
      throw tessera::InputError(fmt::format(
          "{}:{}: key '{}' appears before any [section] header", path.string(), lineno,
          trim(t.substr(0, eq))));
    ini[section][lower(trim(t.substr(0, eq)))] = Entry{trim(t.substr(eq + 1)), lineno};
  }

  const auto get = [&](const std::string& sec, const std::string& key) -> const Entry& {
    auto s = ini.find(sec);
    if (s == ini.end())
      throw tessera::InputError(
          fmt::format("{}: missing section [{}] (needed for key '{}')", path.string(), sec, key));
    auto k = s->second.find(lower(key));
    if (k == s->second.end())
      throw tessera::InputError(
          fmt::format("{}: section [{}] lacks required key '{}'", path.string(), sec, key));
    return k->second;
  };
  // Every integer is bounded above too (2^40: sizes in kB, words, offsets and
  // array dimensions far beyond any chip), so that the byte counts derived from
  // it (x 1024, x word bytes) stay within int64.
  const auto get_int = [&](const std::string& sec, const std::string& key, std::int64_t min) {
    constexpr std::int64_t max = std::int64_t{1} << 40;
    const Entry& e = get(sec, key);
    const auto v = importers::parse_python_int(e.value);
    if (!v || *v < min || *v > max)
      throw tessera::InputError(fmt::format("{}:{}: key '{}' has value '{}' (expected an integer {}..2^40)",
                                            path.string(), e.line, key, e.value, min));
    return *v;
  };

  ScaleSimConfig c;
  c.run_name = get("general", "run_name").value;
  const Entry& mode = get("run_presets", "InterfaceBandwidth");
  if (mode.value == "USER")
    c.array.bandwidth_mode = BandwidthMode::user;
  else if (mode.value == "CALC")
    c.array.bandwidth_mode = BandwidthMode::calc;
  else
    throw tessera::InputError(fmt::format(
        "{}:{}: key 'InterfaceBandwidth' has value '{}' (expected USER or CALC)", path.string(),
        mode.line, mode.value));

  const std::string arch = "architecture_presets";
  c.array.rows = get_int(arch, "ArrayHeight", 1);
  c.array.cols = get_int(arch, "ArrayWidth", 1);
  c.array.ifmap_sram_bytes = 1024 * get_int(arch, "IfmapSramSzkB", 1);
  c.array.filter_sram_bytes = 1024 * get_int(arch, "FilterSramSzkB", 1);
  c.array.ofmap_sram_bytes = 1024 * get_int(arch, "OfmapSramSzkB", 1);
  c.ifmap_offset = get_int(arch, "IfmapOffset", 0);
  c.filter_offset = get_int(arch, "FilterOffset", 0);
  c.ofmap_offset = get_int(arch, "OfmapOffset", 0);
  const Entry& df = get(arch, "Dataflow");
  if (df.value == "os")
    c.array.dataflow = Dataflow::os;
  else if (df.value == "ws")
    c.array.dataflow = Dataflow::ws;
  else if (df.value == "is")
    c.array.dataflow = Dataflow::is;
  else
    throw tessera::InputError(fmt::format(
        "{}:{}: key 'Dataflow' has value '{}' (expected os, ws or is)", path.string(), df.line,
        df.value));
  if (ini[arch].count("memorybanks")) c.memory_banks = get_int(arch, "MemoryBanks", 1);

  // Bandwidth is read only in USER mode, as SCALE-Sim does; one value per bank.
  if (ini[arch].count("bandwidth") && c.array.bandwidth_mode == BandwidthMode::user) {
    const Entry& bw = get(arch, "Bandwidth");
    for (const std::string& f : importers::split_fields(bw.value, ',')) {
      const auto v = importers::parse_python_int(f);
      if (!v || *v < 1 || *v > (std::int64_t{1} << 40))
        throw tessera::InputError(fmt::format(
            "{}:{}: key 'Bandwidth' has value '{}' (expected comma-separated integers 1..2^40, "
            "words per cycle)",
            path.string(), bw.line, bw.value));
      c.bandwidths.push_back(static_cast<double>(*v));
    }
    if (static_cast<std::int64_t>(c.bandwidths.size()) != c.memory_banks)
      throw tessera::InputError(fmt::format(
          "{}:{}: key 'Bandwidth' has {} value(s) '{}' but MemoryBanks is {} (USER mode needs "
          "one bandwidth per bank)",
          path.string(), bw.line, c.bandwidths.size(), bw.value, c.memory_banks));
    c.array.dram_words_per_cycle = c.bandwidths.front();
  } else if (c.array.bandwidth_mode == BandwidthMode::user) {
    throw tessera::InputError(fmt::format(
        "{}: section [architecture_presets] lacks key 'Bandwidth' (required when "
        "InterfaceBandwidth is USER)",
        path.string()));
  }
  if (ini.count("network_presets") && ini["network_presets"].count("topologycsvloc")) {
    const std::string v = ini["network_presets"]["topologycsvloc"].value;
    const auto q1 = v.find('"'), q2 = v.rfind('"');
    c.topology_path = (q1 != std::string::npos && q2 > q1) ? v.substr(q1 + 1, q2 - q1 - 1) : v;
  }
  return c;
}

// ---------------------------------------------------------------------------
// Topologies: the rows of workloads/importers/scalesim_topology.h in SCALE-Sim's
// own dialect (what topology_utils loads), in convolution form:
//  * GEMM rows become Layer::from_gemm (load_arrays_gemm).
//  * A convolution row whose name contains "DP" is a depthwise layer: one layer
//    per channel with Channels = 1, named <name>Channel_<i>.
std::vector<Layer> parse_scalesim_topology(const std::filesystem::path& path) {
  std::ifstream in = open_or_throw(path, "topology");
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<Layer> layers;
  for (const importers::ScaleSimLayer& row :
       importers::parse_scalesim_layers(text.str(), path.string(), importers::ScaleSimDialect::scalesim)) {
    if (const auto* g = std::get_if<importers::ScaleSimGemm>(&row.shape)) {
      layers.push_back(Layer::from_gemm(row.name, g->m, g->n, g->k));
      continue;
    }
    const auto& c = std::get<importers::ScaleSimConv>(row.shape);
    Layer l;
    l.name = row.name;
    l.ifmap_h = c.ifmap_h;
    l.ifmap_w = c.ifmap_w;
    l.filter_h = c.filter_h;
    l.filter_w = c.filter_w;
    l.channels = c.channels;
    l.num_filters = c.num_filters;
    l.stride_h = c.stride_h;
    l.stride_w = c.stride_w;
    if (!row.depthwise()) {
      layers.push_back(std::move(l));
      continue;
    }
    for (std::int64_t ch = 0; ch < c.channels; ++ch) {
      Layer d = l;
      d.name = l.name + "Channel_" + std::to_string(ch);
      d.channels = 1;
      layers.push_back(std::move(d));
    }
  }
  return layers;
}

// ---------------------------------------------------------------------------
// Reports: scale_sim.py writes "LayerID, a, b, ...," headers and rows with
// Python's str() of each value, comma-terminated.
namespace {

// Python repr of a float: shortest round-trip digits, ".0" for integral values.
std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

void write_scalesim_reports(const std::filesystem::path& dir, const std::vector<Layer>& layers,
                            const std::vector<LayerResult>& results, const std::string& dram_note) {
  // "DRAM ..." column names carry the note where the figures are not SCALE-Sim's.
  const auto dram = [&](std::string header) {
    if (dram_note.empty()) return header;
    std::string out;
    size_t pos = 0;
    while (pos < header.size()) {
      size_t comma = header.find(',', pos);
      if (comma == std::string::npos) comma = header.size();
      std::string col = header.substr(pos, comma - pos);
      if (col.find("DRAM") != std::string::npos) col += " [" + dram_note + "]";
      out += col;
      if (comma < header.size()) out += ',';
      pos = comma + 1;
    }
    return out;
  };
  if (layers.size() != results.size())
    throw std::invalid_argument("write_scalesim_reports: layers and results differ in size");
  std::filesystem::create_directories(dir);
  const auto open = [&](const char* name) {
    std::ofstream out(dir / name);
    if (!out)
      throw tessera::InputError(
          fmt::format("{}: cannot write report (expected a writable directory)", (dir / name).string()));
    return out;
  };
  {
    std::ofstream out = open("COMPUTE_REPORT.csv");
    out << "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute "
           "Util %,\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const LayerResult& r = results[i];
      out << fmt::format("{}, {}, {}, {}, {}, {},\n", i, r.total_cycles, r.stall_cycles,
                         py_float(r.overall_utilization), py_float(r.mapping_efficiency),
                         py_float(r.compute_utilization));
    }
  }
  {
    std::ofstream out = open("BANDWIDTH_REPORT.csv");
    out << dram("LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, "
                "Avg FILTER DRAM BW, Avg OFMAP DRAM BW,") << "\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const LayerResult& r = results[i];
      out << fmt::format("{}, {}, {}, {}, {}, {}, {},\n", i, py_float(r.avg_ifmap_sram_bw),
                         py_float(r.avg_filter_sram_bw), py_float(r.avg_ofmap_sram_bw),
                         py_float(r.avg_ifmap_dram_bw), py_float(r.avg_filter_dram_bw),
                         py_float(r.avg_ofmap_dram_bw));
    }
  }
  {
    std::ofstream out = open("DETAILED_ACCESS_REPORT.csv");
    out << dram("LayerID, SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, SRAM Filter "
           "Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, SRAM OFMAP Start Cycle, SRAM "
           "OFMAP Stop Cycle, SRAM OFMAP Writes, DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, "
           "DRAM IFMAP Reads, DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, "
           "DRAM OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,") << "\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const LayerResult& r = results[i];
      out << fmt::format(
          "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {},\n", i,
          py_float(r.ifmap_sram_start), py_float(r.ifmap_sram_stop), r.ifmap_sram_reads,
          py_float(r.filter_sram_start), py_float(r.filter_sram_stop), r.filter_sram_reads,
          py_float(r.ofmap_sram_start), py_float(r.ofmap_sram_stop), r.ofmap_sram_writes,
          py_float(r.ifmap_dram_start), py_float(r.ifmap_dram_stop), r.ifmap_dram_reads,
          py_float(r.filter_dram_start), py_float(r.filter_dram_stop), r.filter_dram_reads,
          py_float(r.ofmap_dram_start), py_float(r.ofmap_dram_stop), r.ofmap_dram_writes);
    }
  }
}

}  // namespace tessera::systolic
