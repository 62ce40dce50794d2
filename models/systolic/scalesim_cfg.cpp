// SCALE-Sim .cfg files as hardware descriptions: the array becomes a `systolic`
// compute component, the off-chip interface a `dram` memory level.
#include <fmt/format.h>

#include "models/systolic/systolic.h"
#include "models/hardware.h"

namespace tessera {

YAML::Node scalesim_cfg_tree(const std::string& path) {
  const systolic::ScaleSimConfig cfg = systolic::parse_scalesim_cfg(path);
  const systolic::ArrayConfig& a = cfg.array;
  YAML::Node t;
  t["name"] = cfg.run_name.empty() ? std::string("scalesim") : cfg.run_name;
  t["description"] = fmt::format("SCALE-Sim configuration {}", path);
  YAML::Node c;
  c["impl"] = "systolic";
  c["rows"] = a.rows;
  c["cols"] = a.cols;
  c["dataflow"] = std::string(systolic::dataflow_name(a.dataflow));
  // SCALE-Sim counts cycles, not seconds; 1 GHz makes one cycle one nanosecond.
  c["clock"] = "1GHz";
  c["ifmap_sram"] = fmt::format("{}B", a.ifmap_sram_bytes);
  c["filter_sram"] = fmt::format("{}B", a.filter_sram_bytes);
  c["ofmap_sram"] = fmt::format("{}B", a.ofmap_sram_bytes);
  c["word_bytes"] = a.word_bytes;
  t["compute"] = c;
  YAML::Node d;
  d["impl"] = "dram";
  // USER mode: `Bandwidth` words per cycle at 1 GHz. CALC mode is SCALE-Sim's
  // "never stall, report the bandwidth needed": an interface far faster than any
  // array can consume (1 PB/s) gives exactly that.
  const double words = cfg.bandwidths.empty() ? a.dram_words_per_cycle : cfg.bandwidths.front();
  d["bandwidth"] = a.bandwidth_mode == systolic::BandwidthMode::calc
                       ? std::string("1PB/s")
                       : fmt::format("{}B/s", words * static_cast<double>(a.word_bytes) * 1e9);
  d["capacity"] = "16GiB";
  t["memory"]["dram"] = d;
  YAML::Node p;
  p["impl"] = "board";
  t["power"] = p;
  return t;
}

}  // namespace tessera
