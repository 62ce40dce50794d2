#include "sim/tools/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "compiler/tensorcore/mapper.h"
#include "models/tensorcore/tensorcore.h"
#include "models/hardware.h"
#include "models/memory/hbm.h"
#include "sim/tools/compare.h"

namespace tessera {

using nlohmann::json;

namespace {

// Minimises f on [lo, hi] by golden-section search (f unimodal there).
double golden(const std::function<double(double)>& f, double lo, double hi, int iters = 30) {
  const double r = (std::sqrt(5.0) - 1) / 2;
  double a = lo, b = hi, c = b - r * (b - a), d = a + r * (b - a);
  double fc = f(c), fd = f(d);
  for (int i = 0; i < iters; ++i) {
    if (fc < fd) { b = d; d = c; fd = fc; c = b - r * (b - a); fc = f(c); }
    else { a = c; c = d; fc = fd; d = a + r * (b - a); fd = f(d); }
  }
  return fc < fd ? c : d;
}

// Nelder-Mead simplex on x (deterministic, fixed iteration count).
std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                std::vector<double> x0, int iters) {
  const size_t n = x0.size();
  std::vector<std::vector<double>> pts{x0};
  for (size_t i = 0; i < n; ++i) {
    auto x = x0;
    x[i] = x[i] != 0 ? x[i] * 1.2 : 0.1;
    pts.push_back(x);
  }
  std::vector<double> vals;
  for (auto& p : pts) vals.push_back(f(p));
  for (int it = 0; it < iters; ++it) {
    std::vector<size_t> idx(n + 1);
    for (size_t i = 0; i <= n; ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return vals[a] < vals[b]; });
    std::vector<std::vector<double>> p2;
    std::vector<double> v2;
    for (size_t i : idx) { p2.push_back(pts[i]); v2.push_back(vals[i]); }
    pts = p2;
    vals = v2;
    std::vector<double> c(n, 0);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) c[j] += pts[i][j] / static_cast<double>(n);
    const auto along = [&](double t) {
      std::vector<double> x(n);
      for (size_t j = 0; j < n; ++j) x[j] = c[j] + t * (pts[n][j] - c[j]);
      return x;
    };
    auto xr = along(-1);
    const double fr = f(xr);
    if (fr < vals[0]) {
      auto xe = along(-2);
      const double fe = f(xe);
      if (fe < fr) { pts[n] = xe; vals[n] = fe; } else { pts[n] = xr; vals[n] = fr; }
    } else if (fr < vals[n - 1]) {
      pts[n] = xr;
      vals[n] = fr;
    } else {
      auto xc = along(0.5);
      const double fc = f(xc);
      if (fc < vals[n]) {
        pts[n] = xc;
        vals[n] = fc;
      } else {
        for (size_t i = 1; i <= n; ++i) {
          for (size_t j = 0; j < n; ++j) pts[i][j] = pts[0][j] + 0.5 * (pts[i][j] - pts[0][j]);
          vals[i] = f(pts[i]);
        }
      }
    }
  }
  size_t best = 0;
  for (size_t i = 1; i <= n; ++i)
    if (vals[i] < vals[best]) best = i;
  return pts[best];
}

class Fitter {
 public:
  Fitter(YAML::Node tree, std::string source, std::vector<json> recs)
      : m_tree(std::move(tree)), m_source(std::move(source)), m_recs(std::move(recs)) {
    const auto hw = build();
    m_dram = hw->memories().back().first;
    if (hw->memories().size() > 1) m_l2 = hw->memories().front().first;
    if (hw->compute().impl() != "tensorcore")
      throw InputError(fmt::format("{}: calibrate fits the tensorcore compute model; compute.impl is '{}'",
                                   m_source, hw->compute().impl()));
    if (hw->memory(m_dram)->impl() != "hbm")
      throw InputError(fmt::format("{}: calibrate needs memory.{}.impl: hbm", m_source, m_dram));
  }

  std::unique_ptr<Hardware> build() const { return build_hardware(YAML::Clone(m_tree), m_source, {}); }
  YAML::Node& tree() { return m_tree; }
  const std::string& dram() const { return m_dram; }
  const std::string& l2() const { return m_l2; }

  // Parameters written so far (0: no record selected for any group).
  int64_t sets() const { return m_sets; }
  size_t record_count() const { return m_recs.size(); }

  void set(const std::string& path, const std::string& value) {
    ++m_sets;
    // path: "compute.x" or "memory.<level>.x"
    const auto dot = path.find('.');
    const std::string head = path.substr(0, dot), rest = path.substr(dot + 1);
    if (head == "memory") {
      const auto d2 = rest.find('.');
      m_tree["memory"][rest.substr(0, d2)][rest.substr(d2 + 1)] = value;
    } else {
      m_tree[head][rest] = value;
    }
  }

  // Records selected by `pick`.
  std::vector<json> select(const std::function<bool(const json&)>& pick) const {
    std::vector<json> out;
    for (const auto& r : m_recs)
      if (pick(r)) out.push_back(r);
    return out;
  }

  // Mean |log(predicted / measured)| of the records on the current tree.
  double log_error(const std::vector<json>& recs) const {
    if (recs.empty()) return 0;
    const auto hw = build();
    double s = 0;
    int n = 0;
    for (const auto& r : recs) {
      const CompareRow row = compare_record(r, *hw);
      if (row.skipped) continue;
      const double m = row.record["measured_value"].get<double>();
      const double p = row.record["predicted_value"].get<double>();
      if (m <= 0 || p <= 0) continue;
      s += std::abs(std::log(p / m));
      ++n;
    }
    return n ? s / n : 0;
  }

 private:
  YAML::Node m_tree;
  std::string m_source;
  std::vector<json> m_recs;
  std::string m_dram, m_l2;
  int64_t m_sets = 0;
};

std::string qty(double v, const char* unit, int prec = 4) { return fmt::format("{:.{}g}{}", v, prec, unit); }

bool is(const json& r, const char* section) { return r.value("section", std::string()) == section; }
bool cold(const json& r) { return r.value("l2", std::string("cold")) != "hot"; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

void check_calibrate_records(const std::vector<json>& records, const std::string& source) {
  for (size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    const auto fail = [&](const char* key, const std::string& what) {
      std::string text = r.dump();
      if (text.size() > 200) text = text.substr(0, 200) + "...";
      throw InputError(fmt::format("{}: record {} {}: field '{}' {}", source, i + 1, text, key, what));
    };
    for (const char* key : {"section", "op", "dtype", "l2", "backend", "pass"})
      if (r.contains(key) && !r[key].is_string()) fail(key, "must be a string");
    for (const char* key : {"bytes_moved", "pj_per_byte_above_idle"})
      if (r.contains(key) && !(r[key].is_number() && std::isfinite(r[key].get<double>())))
        fail(key, "must be a finite number");
    if (!(is(r, "energy") && r.value("op", std::string()) == "gemm" && r.contains("sm_clock_mhz"))) continue;
    // An energy gemm record: step 3 of calibrate_tree reads all of these.
    for (const char* key : {"M", "N", "K"}) {
      const double v = r.contains(key) && r[key].is_number() ? r[key].get<double>() : -1;
      if (!(v >= 1 && v <= 0x1p31 && v == std::trunc(v))) fail(key, "must be a whole number in 1..2^31");
    }
    const json& clocks = r["sm_clock_mhz"];
    if (!clocks.is_array() || clocks.empty()) fail("sm_clock_mhz", "must be a non-empty list of clocks in MHz");
    for (const json& c : clocks)
      if (!(c.is_number() && c.get<double>() > 0 && std::isfinite(c.get<double>())))
        fail("sm_clock_mhz", "must hold positive, finite clocks in MHz");
    if (!(r.contains("tflops") && r["tflops"].is_number() && r["tflops"].get<double>() > 0 &&
          std::isfinite(r["tflops"].get<double>())))
      fail("tflops", "must be a positive, finite number");
    for (const char* key : {"avg_watts", "idle_watts"})
      if (!(r.contains(key) && r[key].is_number() && std::isfinite(r[key].get<double>())))
        fail(key, "must be a finite number");
  }
}

namespace {
// 'a', 'b' for a message.
std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "'" : ", '") + i + "'";
  return out;
}
}  // namespace

YAML::Node calibrate_tree(const std::string& hw_name, const std::vector<std::string>& sets,
                          const std::vector<std::string>& measured_paths, std::ostream& log) {
  const auto base = load_hardware(hw_name, sets);
  std::vector<json> records;
  for (const auto& path : measured_paths) {
    auto more = read_jsonl(path);
    if (more.empty())
      throw InputError(fmt::format("--measured '{}': no records (the file is empty); expected one JSON object "
                                   "a line, e.g. {{\"section\": \"gemm\", \"M\": 4096, ...}}",
                                   path));
    check_calibrate_records(more, path);
    records.insert(records.end(), more.begin(), more.end());
  }
  Fitter fit(YAML::Clone(base->tree), base->source, std::move(records));
  const std::string dram = "memory." + fit.dram() + ".";
  const std::string l2 = fit.l2().empty() ? "" : "memory." + fit.l2() + ".";

  // 1. Launch overhead, HBM ramp and the L2's dirty share: the cold membw records
  //    (copies and read_sum, which ATen runs as a memset plus the reduction kernel)
  //    and the pure streaming vec ops.
  const auto stream = fit.select([](const json& r) {
    if (is(r, "membw")) return cold(r);
    if (is(r, "vec")) { const auto op = r.value("op", std::string()); return op == "add" || op == "gelu"; }
    return false;
  });
  if (!stream.empty()) {
    // The sustained read/write efficiency is not fitted: the hbm model derives it
    // from the cycle-level DRAM model of its standard. Nor is the ramp: a kernel
    // that moves D bytes takes (D + ramp) / sustained, a fixed time ramp / sustained
    // that no single-kernel record tells apart from the launch overhead (fitting
    // both drives the ramp to whatever the other fixed costs leave over, 0.1 MB with
    // the read_sum memset modelled). It keeps the preset's value (H100: 1.124 MB,
    // 0.37 us at the sustained read rate, of the order of an unloaded HBM round
    // trip; Little's law with the 800 ns loaded latency would give 2.4 MB).
    {
      const auto hw = fit.build();
      if (const auto* hbm = dynamic_cast<const HbmMemory*>(hw->memory(fit.dram())))
        log << fmt::format("streaming: ramp_bytes {:.4g} MB kept (not separable from the launch overhead)\n",
                           hbm->params().real("ramp_bytes") / 1e6);
    }
    // Fitted here: the launch overhead and the share of the L2 a long write stream
    // leaves dirty (the cold records follow the harness's 256 MiB flush;
    // compiler/tensorcore/kernel_build.h): reads pay its write-back, copies do not,
    // so the copies pin the first and the sums the second. Without an L2 level the
    // share is not fitted.
    const bool dirty = !l2.empty();
    const auto apply = [&](const std::vector<double>& x) {
      fit.set("compute.launch_overhead", qty(std::max(0.0, x[0]), "us"));
      if (dirty) fit.set(l2 + "dirty_share", fmt::format("{:.4g}", std::clamp(x[1], 0.001, 1.0)));
    };
    // Physical bounds (non-negative time, a share in (0, 1]) as penalties.
    const auto x = nelder_mead(
        [&](const std::vector<double>& v) {
          const double pen = (v[0] < 0 ? -v[0] : 0) + (v[1] < 0.001 ? 0.001 - v[1] : 0) + (v[1] > 1 ? v[1] - 1 : 0);
          apply(v);
          return fit.log_error(stream) + 10 * pen;
        },
        {4.5, 0.5}, 150);
    apply(x);
    log << fmt::format("streaming: launch_overhead {:.4g} us, l2 dirty_share {:.4g} ({} records, mean |log err| "
                       "{:.4f}; read/write efficiency from the DRAM cycle model)\n",
                       x[0], std::clamp(x[1], 0.001, 1.0), stream.size(), fit.log_error(stream));
  }

  // 1b. Row kernels (softmax, layernorm, rmsnorm): the latency of one dependent
  //     memory round trip and of one block-wide reduction, on the vec records of
  //     those ops (both dtypes), with the streaming parameters of step 1 fixed.
  const auto rows = fit.select([](const json& r) {
    if (!is(r, "vec")) return false;
    const auto op = r.value("op", std::string());
    return op == "softmax" || op == "layernorm" || op == "rmsnorm";
  });
  if (!rows.empty()) {
    const auto apply = [&](const std::vector<double>& x) {
      fit.set("compute.row_round_trip", qty(std::max(0.0, x[0]), "ns"));
      fit.set("compute.row_reduction", qty(std::max(0.0, x[1]), "ns"));
    };
    const auto x = nelder_mead(
        [&](const std::vector<double>& v) {
          apply(v);
          return fit.log_error(rows) + 10 * ((v[0] < 0 ? -v[0] : 0) + (v[1] < 0 ? -v[1] : 0)) / 1000;
        },
        {500, 500}, 80);
    apply(x);
    log << fmt::format("row kernels: row_round_trip {:.4g} ns, row_reduction {:.4g} ns ({} records, mean |log err| "
                       "{:.4f})\n",
                       x[0], x[1], rows.size(), fit.log_error(rows));
  }

  // 2. Memory energies, straight from the above-idle energy per byte.
  {
    std::vector<double> l2e, reads, copies;
    for (const auto& r : fit.select([](const json& r) { return is(r, "energy") || is(r, "energy2"); })) {
      const auto op = r.value("op", std::string());
      if (!r.contains("pj_per_byte_above_idle")) continue;
      const double v = r["pj_per_byte_above_idle"].get<double>();
      if (op == "copy_l2_resident_8MiB_x50") l2e.push_back(v);
      else if (op.rfind("read", 0) == 0) reads.push_back(v);
      else if (op.rfind("copy", 0) == 0) copies.push_back(v);
    }
    double e_l2 = 0;
    if (!l2e.empty() && !l2.empty()) {
      e_l2 = median(l2e);
      fit.set(l2 + "energy_per_byte", qty(e_l2, "pJ"));
    }
    if (!reads.empty() && !copies.empty()) {
      // Every DRAM byte also passes the L2: read = l2 + e_r; copy (half read, half
      // written) = l2 + (e_r + e_w)/2.
      double copy = 0;
      for (double c : copies) copy += c / static_cast<double>(copies.size());
      const double e_r = std::max(0.0, median(reads) - e_l2);
      const double e_w = std::max(0.0, 2 * (copy - e_l2) - e_r);
      fit.set(dram + "energy_read", qty(e_r, "pJ"));
      fit.set(dram + "energy_write", qty(e_w, "pJ"));
      log << fmt::format("energy: l2 {:.3g} pJ/B, hbm read {:.3g} pJ/B, write {:.3g} pJ/B\n", e_l2, e_r, e_w);
    }
  }

  // 3. Per format family, from the sustained GEMM energy runs (power-capped):
  //    efficiency = achieved FLOP/s / (rate x SMs x measured SM clock), and
  //    energy per FLOP = (power above idle) / (FLOP/s) minus the modelled L2/HBM
  //    energy per FLOP of that GEMM, with the per-wave start-up taken out of
  //    the achieved rate (step 3b fits it on the gemm timing records).
  double startup = fit.build()->compute().params().real("gemm_wave_startup");
  const std::map<std::string, std::vector<std::string>> families = {
      {"fp16", {"bf16", "fp16"}}, {"tf32", {"tf32"}}, {"fp8", {"fp8_e4m3", "fp8_e4m3_fastacc"}},
      {"int8", {"int8"}}, {"fp32", {"fp32"}}};
  const auto fit_gemm_families = [&]() {
    for (const auto& fam_dts : families) {
      // (named copies, not structured bindings: C++20 lets a lambda capture a
      // binding, clang 14 does not)
      const std::string& fam = fam_dts.first;
      const std::vector<std::string>& dts = fam_dts.second;
      const auto recs = fit.select([&](const json& r) {
        return is(r, "energy") && r.value("op", std::string()) == "gemm" && r.contains("sm_clock_mhz") &&
               std::find(dts.begin(), dts.end(), r.value("dtype", std::string())) != dts.end();
      });
      if (recs.empty()) continue;
      // The mapper's tile choice depends on the energy per FLOP (its power bound),
      // and the modelled memory energy on the tile: iterate to a fixed point
      // (starting from no compute energy; three rounds settle it).
      double eff = 0, pj = 0;
      for (int round = 0; round < 3; ++round) {
        fit.set("compute.energy_" + fam, qty(std::max(pj, 0.0), "pJ"));
        const auto hw = fit.build();
        const auto* tc = dynamic_cast<const TensorCoreModel*>(&hw->compute());
        eff = 0;
        double next = 0;
        for (const auto& r : recs) {
          std::vector<double> clocks;
          for (const auto& c : r["sm_clock_mhz"]) clocks.push_back(c.get<double>() * 1e6);
          const auto dt = parse_dtype(r["dtype"].get<std::string>());
          const double rate = tc->flops_per_clock(dt ? *dt : DType::bf16) * static_cast<double>(tc->sm_count());
          const double flops_s = r["tflops"].get<double>() * 1e12;
          // The model applies wave quantization on top of the mainloop efficiency,
          // so the achieved rate is divided by the busy fraction of the SMs under
          // the mapper's plan: tiles / (SMs x tiles on the busiest SM).
          const GemmPlan plan = TensorCoreMapper(*tc).plan_gemm({1, r["M"].get<int64_t>(), r["N"].get<int64_t>(), r["K"].get<int64_t>(),
                                               false, dt ? *dt : DType::bf16, dt ? *dt : DType::bf16},
                                              *hw);
          const int64_t slots = tc->sm_count() * plan.ctas_per_sm;
          const int64_t rest = plan.tiles - (plan.waves - 1) * slots;
          const double busiest = static_cast<double>((plan.waves - 1) * plan.ctas_per_sm +
                                                     (rest + tc->sm_count() - 1) / tc->sm_count());
          const double busy = static_cast<double>(plan.tiles) / (busiest * static_cast<double>(tc->sm_count()));
          // The per-wave start-up (gemm_wave_startup) is not mainloop time either:
          // the mainloop rate is the FLOPs over the kernel time less the waves' start-ups.
          const double flops = 2.0 * r["M"].get<double>() * r["N"].get<double>() * r["K"].get<double>();
          const double t_main = std::max(flops / flops_s - static_cast<double>(plan.waves) * startup, 0.5 * flops / flops_s);
          eff += flops / t_main / (rate * tc->gemm_issue_fraction(dt ? *dt : DType::bf16) * median(clocks) * busy) /
                 static_cast<double>(recs.size());
          // Memory energy per FLOP of the same GEMM, from the model: its predicted
          // total minus static and compute energy.
          const CompareRow row = compare_record(r, *hw);
          const double static_pj = hw->power().static_power_w() / row.record.value("predicted_tflops", 1.0);
          const double mem_pj = row.record["predicted_value"].get<double>() - static_pj - std::max(pj, 0.0);
          const double above_idle = r["avg_watts"].get<double>() - r["idle_watts"].get<double>();
          next += (above_idle / flops_s * 1e12 - mem_pj) / static_cast<double>(recs.size());
        }
        pj = next;
      }
      fit.set("compute.efficiency_" + fam, qty(std::min(eff, 1.0), ""));
      fit.set("compute.energy_" + fam, qty(std::max(pj, 0.0), "pJ"));
      log << fmt::format("efficiency_{}: {:.4g}{}, energy_{}: {:.4g} pJ/FLOP ({} energy record(s))\n", fam,
                         std::min(eff, 1.0), eff > 1.0 ? fmt::format(" (fit {:.4g}, capped at 1)", eff) : "", fam, pj,
                         recs.size());
    }
  };
  fit_gemm_families();

  // 3b. Per-wave GEMM start-up (prologue and epilogue of non-persistent thread
  //     blocks): golden section on the cold-L2 gemm timing records, then the
  //     efficiencies and energies of step 3 again with it; the two depend on each
  //     other, so four rounds bring them to a fixed point (changes < 0.1 %).
  const auto gemms = fit.select([](const json& r) { return is(r, "gemm") && cold(r); });
  for (int round = 0; round < 4 && !gemms.empty(); ++round) {
    const double s = golden([&](double v) { fit.set("compute.gemm_wave_startup", qty(v, "us")); return fit.log_error(gemms); },
                            0.0, 8.0, 24);
    fit.set("compute.gemm_wave_startup", qty(s, "us"));
    startup = s * 1e-6;
    fit_gemm_families();
    log << fmt::format("gemm_wave_startup: {:.4g} us ({} cold gemm records, mean |log err| {:.4f})\n", s, gemms.size(),
                       fit.log_error(gemms));
  }

  // 4. Attention kernels, one efficiency per backend (fused, prefill records).
  for (const auto& backend_param : std::vector<std::pair<std::string, std::string>>{
           {"flash", "attention_efficiency_flash2"}, {"cudnn", "attention_softmax_exposed_flash3"},
           {"efficient", "attention_efficiency_efficient"}}) {
    const std::string& backend = backend_param.first;
    const std::string& param = backend_param.second;
    const auto recs = fit.select([&](const json& r) {
      return is(r, "attn") && r.value("backend", std::string()) == backend && !r.contains("Sq") &&
             r.value("pass", std::string("forward")) == "forward";
    });
    if (recs.empty()) continue;
    const double e = golden([&](double v) { fit.set("compute." + param, qty(v, "")); return fit.log_error(recs); },
                            0.1, 1.0);
    fit.set("compute." + param, qty(e, ""));
    log << fmt::format("{}: {:.4g} ({} attn records, mean |log err| {:.4f})\n", param, e, recs.size(),
                       fit.log_error(recs));
  }
  // 5. The attention backward kernels: their MMA rate relative to the forward's
  //    (FlashAttention-2) or to the GEMM mainloop (cuDNN / FA3), on attn records
  //    with pass "backward"; the forward parameters above stay.
  for (const auto& backend_param : std::vector<std::pair<std::string, std::string>>{
           {"flash", "attention_backward_rate_flash2"}, {"cudnn", "attention_backward_rate_flash3"}}) {
    const std::string& backend = backend_param.first;
    const std::string& param = backend_param.second;
    const auto recs = fit.select([&](const json& r) {
      return is(r, "attn") && r.value("backend", std::string()) == backend &&
             r.value("pass", std::string("forward")) == "backward";
    });
    if (!recs.empty()) {
      const double e = golden([&](double v) { fit.set("compute." + param, qty(v, "")); return fit.log_error(recs); },
                              0.1, 1.0);
      fit.set("compute." + param, qty(e, ""));
      log << fmt::format("{}: {:.4g} ({} attn backward records, mean |log err| {:.4f})\n", param, e, recs.size(),
                         fit.log_error(recs));
    }
  }
  // 6. Host time per aten op (models/compute/host.h), one parameter per API
  //    that the hot records time (start event, op, end event on an idle GPU: the
  //    host's time up to the launch is in the figure; cold records hide it behind
  //    the flush kernel). Golden section in 0..50 us (the published per-op host
  //    path is ~5-25 us) on the mean |log err| of the API's hot records, after
  //    every device parameter above.
  struct HostGroup {
    const char* param;
    const char* records;
    std::function<bool(const json&)> pick;
  };
  const auto hot_gemm = [](std::initializer_list<const char*> dtypes) {
    std::vector<std::string> d(dtypes.begin(), dtypes.end());
    return [d](const json& r) {
      if (!is(r, "gemm") || cold(r)) return false;
      return std::find(d.begin(), d.end(), r.value("dtype", std::string())) != d.end();
    };
  };
  for (const HostGroup& g : std::vector<HostGroup>{
           {"host_matmul", "hot gemm bf16/fp16/tf32/fp32 (torch.matmul)", hot_gemm({"bf16", "fp16", "tf32", "fp32"})},
           {"host_scaled_mm", "hot gemm fp8_e4m3/fp8_e4m3_fastacc (torch._scaled_mm)",
            hot_gemm({"fp8_e4m3", "fp8_e4m3_fastacc"})},
           {"host_int_mm", "hot gemm int8 (torch._int_mm)", hot_gemm({"int8"})},
           {"host_copy", "hot membw copy (copy_)",
            [](const json& r) { return is(r, "membw") && !cold(r) && r.value("op", std::string()) == "copy"; }}}) {
    const auto recs = fit.select(g.pick);
    if (recs.empty()) continue;
    const std::string param = g.param;
    const double h = golden([&](double v) { fit.set("compute." + param, qty(v, "us")); return fit.log_error(recs); },
                            0.0, 50.0, 24);
    fit.set("compute." + param, qty(h, "us"));
    log << fmt::format("{}: {:.4g} us ({} records: {}; mean |log err| {:.4f})\n", param, h, recs.size(), g.records,
                       fit.log_error(recs));
  }
  if (fit.sets() == 0)
    throw InputError(fmt::format(
        "--measured {}: none of the {} records calibrates a parameter (the file would be the preset unchanged); "
        "calibrate fits from: cold membw and vec add/gelu records (launch overhead, L2), vec "
        "softmax/layernorm/rmsnorm records (row kernels), energy records, cold gemm records (efficiency, "
        "wave start-up), attn records (forward, backward) and hot records (host time)",
        quoted_list(measured_paths), fit.record_count()));
  return YAML::Clone(fit.tree());
}

int run_calibrate(const std::string& hw, const std::vector<std::string>& sets,
                  const std::vector<std::string>& measured_paths, const std::string& out_path, std::ostream& log) {
  const YAML::Node tree = calibrate_tree(hw, sets, measured_paths, log);
  std::string measured;
  for (const auto& path : measured_paths) measured += fmt::format(" --measured {}", path);
  YAML::Emitter em;
  em << tree;
  write_file_atomic(out_path,
                    fmt::format("# Written by `tessera calibrate --hw {}{}`: the preset with its\n"
                                "# efficiency and energy parameters fitted to the measured microbenchmarks.\n"
                                "{}\n",
                                hw, measured, em.c_str()),
                    "--out");
  log << "wrote " << out_path << "\n";
  return 0;
}

}  // namespace tessera
