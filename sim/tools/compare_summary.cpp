// compare's input and summary: reading the measurement file, the device check of
// the records against --hw and the per-section, per-group accuracy table over
// every record (compare_record in compare.cpp predicts each one).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "sim/tools/compare.h"

namespace tessera {

using json = nlohmann::json;

std::vector<json> read_jsonl(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("--measured '{}': is a directory; expected a JSONL file (one record a line)", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("--measured '{}': cannot open the file", path));
  std::vector<json> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{}:{}: not a JSON object ({})", path, n, e.what()));
    }
    if (!out.back().is_object())
      throw InputError(fmt::format("{}:{}: expected a JSON object per line", path, n));
  }
  return out;
}

namespace {

// The GPU / accelerator model a device name names: its first word of a letter
// and 2-4 digits ("NVIDIA H100 80GB HBM3" -> "h100", "A100 80GB SXM" -> "a100",
// "tpu-v4" -> ""), lower case; "" when there is none.
std::string device_model(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < lower.size(); ++i) {
    if (!std::isalpha(static_cast<unsigned char>(lower[i]))) continue;
    if (i > 0 && std::isalnum(static_cast<unsigned char>(lower[i - 1]))) continue;   // start of a word
    size_t j = i + 1;
    while (j < lower.size() && std::isdigit(static_cast<unsigned char>(lower[j]))) ++j;
    const size_t digits = j - i - 1;
    const bool word_end = j == lower.size() || !std::isalnum(static_cast<unsigned char>(lower[j]));
    if (digits >= 2 && digits <= 4 && word_end) return lower.substr(i, j - i);
  }
  return "";
}

}  // namespace

std::vector<std::string> device_warnings(const std::vector<json>& records, const std::string& hw_name) {
  // Devices the records were measured on: the info record's name, or a record's
  // own `device` field.
  std::vector<std::string> devices;
  for (const json& r : records) {
    std::string d;
    const bool info = r.contains("section") && r["section"].is_string() && r["section"].get<std::string>() == "info";
    if (info && r.contains("name") && r["name"].is_string())
      d = r["name"].get<std::string>();
    else if (r.contains("device") && r["device"].is_string())
      d = r["device"].get<std::string>();
    if (!d.empty() && std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
  }
  const std::string hw_model = device_model(hw_name);
  std::vector<std::string> out;
  for (const auto& d : devices) {
    const std::string m = device_model(d);
    if (!m.empty() && m == hw_model) continue;
    out.push_back(fmt::format("the records were measured on '{}' but --hw is '{}'{}: the errors compare "
                              "different devices",
                              d, hw_name, m.empty() || hw_model.empty() ? "" : " (" + m + " vs " + hw_model + ")"));
  }
  return out;
}

json compare_records(const std::vector<json>& records, const Hardware& hw,
                     const std::filesystem::path& reference_dir) {
  json out;
  out["hardware"] = hw.name;
  if (const auto w = device_warnings(records, hw.name); !w.empty()) out["warnings"] = w;
  json rows = json::array();
  struct Acc {
    int count = 0, skipped = 0;
    double sum = 0, worst = 0;
    json worst_record;
    std::map<std::string, std::pair<int, double>> groups;
  };
  std::map<std::string, Acc> acc;
  for (const json& rec : records) {
    const CompareRow row = compare_record(rec, hw, reference_dir);
    Acc& a = acc[row.section];
    if (row.skipped) {
      ++a.skipped;
    } else {
      const double e = std::abs(row.error());
      ++a.count;
      a.sum += e;
      auto& gr = a.groups[row.record.value("group", std::string())];
      ++gr.first;
      gr.second += e;
      if (e >= a.worst) {
        a.worst = e;
        a.worst_record = row.record;
      }
    }
    rows.push_back(row.record);
  }
  json sections = json::object();
  for (const auto& [name, a] : acc) {
    json s;
    s["count"] = a.count;
    s["skipped"] = a.skipped;
    s["mape"] = a.count ? a.sum / a.count : 0.0;
    s["worst_error"] = a.worst;
    if (a.count) s["worst_record"] = a.worst_record;
    json g = json::object();
    for (const auto& [gname, v] : a.groups) g[gname] = {{"count", v.first}, {"mape", v.second / v.first}};
    s["groups"] = g;
    sections[name] = s;
  }
  out["sections"] = sections;
  out["records"] = rows;
  return out;
}

int run_compare(const std::string& hw_name, const std::vector<std::string>& sets,
                const std::string& measured_path, const std::string& format, std::ostream& out) {
  if (format != "text" && format != "json")
    throw InputError(fmt::format("--format '{}': accepted: text, json", format));
  const auto hw = load_hardware(hw_name, sets);
  const std::vector<json> records = read_jsonl(measured_path);
  if (records.empty())
    throw InputError(fmt::format("--measured '{}': no records (the file is empty); expected one JSON object "
                                 "a line, e.g. {{\"section\": \"gemm\", \"M\": 4096, ...}}",
                                 measured_path));
  const json result = compare_records(records, *hw, std::filesystem::path(measured_path).parent_path());
  if (format == "json") {
    out << result.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  out << fmt::format("compare: {} against {}\n", hw->name, measured_path);
  if (result.contains("warnings"))
    for (const auto& w : result["warnings"]) out << "warning: " << w.get<std::string>() << "\n";
  // One line per section first; the records and the per-group table follow.
  for (auto it = result["sections"].begin(); it != result["sections"].end(); ++it) {
    const json& s = it.value();
    if (s["count"].get<int>() == 0) {
      out << fmt::format("{:<10} {} records skipped\n", it.key(), s["skipped"].get<int>());
      continue;
    }
    out << fmt::format("{:<10} {} records, MAPE {:.1f}%, worst {:.1f}%{}\n", it.key(), s["count"].get<int>(),
                       100.0 * s["mape"].get<double>(), 100.0 * s["worst_error"].get<double>(),
                       s["skipped"].get<int>() ? fmt::format(", {} skipped", s["skipped"].get<int>()) : "");
  }
  out << "\n";
  for (const json& r : result["records"]) {
    const std::string sec = r.value("section", std::string("?"));
    if (r.contains("skipped")) {
      out << fmt::format("  {:<9} skipped: {}\n", sec, r["skipped"].get<std::string>());
      continue;
    }
    json key = r;
    // Fields that are not the record's description: the comparison itself and
    // the measurement's own statistics.
    static const std::vector<std::string> not_desc = {
        "section", "quantity", "measured_value", "predicted_value", "error", "group", "mapping", "min_ms",
        "max_ms", "reps", "predicted_clock_mhz", "source", "sm_clock_mhz", "predicted_watts", "predicted_tflops",
        "workload", "preset", "samples", "bit_exact_fraction", "predicted_time_s", "protocol", "max_abs_err",
        "mean_rel_err", "median_rel_err", "max_rel_err", "kernels_measured", "kernels_predicted",
        "kernel_measured", "kernel_predicted", "kernel_family_match", "time_by_class"};
    for (const std::string& k : not_desc)
      key.erase(k);
    std::string desc;
    for (auto it = key.begin(); it != key.end(); ++it) {
      if (it.value().is_object() || it.value().is_array()) continue;
      if (it.key() == r.value("quantity", std::string())) continue;
      if (it.key().find("_err") != std::string::npos) continue;   // measured error statistics
      desc += fmt::format("{}{}={}", desc.empty() ? "" : " ", it.key(),
                          it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
    out << fmt::format("  {:<9} {:<60} {:>16} measured {:>12.5g} predicted {:>12.5g} error {:+6.1f}%\n", sec,
                       desc.substr(0, 60), r.value("quantity", std::string()), r.value("measured_value", 0.0),
                       r.value("predicted_value", 0.0), 100.0 * r.value("error", 0.0));
    if (r.contains("kernels_measured"))
      out << fmt::format("  {:<9} {:<60} {:>16} measured {:>12} predicted {:>12}\n", "", "",
                         "kernel launches", r["kernels_measured"].get<int64_t>(),
                         r["kernels_predicted"].get<int64_t>());
    if (r.contains("time_by_class"))
      for (const auto& [cls, c] : r["time_by_class"].items())
        out << fmt::format("  {:<9} {:<60} {:>16} measured {:>12.1f} predicted {:>12.1f}\n", "", "",
                           cls + " us", c["measured_us"].get<double>(), c["predicted_us"].get<double>());
    if (r.contains("kernel_measured"))
      out << fmt::format("  {:<9} {:<60} {:>16} {} (model: {}){}\n", "", "", "library kernel",
                         r["kernel_measured"].get<std::string>(), r["kernel_predicted"].get<std::string>(),
                         r["kernel_family_match"].get<bool>() ? "" : "  <- other generation");
    if (r.contains("bit_exact_fraction"))
      out << fmt::format("  {:<9} {:<60} {:>16} {:.4f}\n", "", "", "bit_exact_fraction",
                         r["bit_exact_fraction"].get<double>());
  }
  out << "\nsection     count  skipped   MAPE    worst\n";
  for (auto it = result["sections"].begin(); it != result["sections"].end(); ++it) {
    const json& s = it.value();
    out << fmt::format("{:<10} {:>6} {:>8} {:>6.1f}% {:>7.1f}%\n", it.key(), s["count"].get<int>(),
                       s["skipped"].get<int>(), 100.0 * s["mape"].get<double>(),
                       100.0 * s["worst_error"].get<double>());
    for (auto g = s["groups"].begin(); g != s["groups"].end(); ++g)
      out << fmt::format("  {:<24} {:>4} {:>6.1f}%\n", g.key(), g.value()["count"].get<int>(),
                         100.0 * g.value()["mape"].get<double>());
  }
  return 0;
}

}  // namespace tessera
