#include "sim/precision.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "models/numerics/accumulation.h"
#include "models/numerics/format.h"

namespace tessera {
namespace {

std::string family_of(const Hardware& hw) {
  return parse_params(numerics_param_specs(), hw.tree["numerics"], hw.source + ": numerics", {}).text("family");
}

// Reduction lengths of an op's matrix products (empty for vector ops).
std::vector<int64_t> reductions(const Op& op) {
  switch (op.kind) {
    case OpKind::matmul: return {op.at("k")};
    case OpKind::conv2d: return {conv_gemm_dims(op).k};   // the pass's GEMM (forward, dgrad, wgrad)
    case OpKind::attention:
      // Backward: S and dP reduce over d, dV and dK over sq, dQ over skv.
      if (op.get("backward", 0)) return {op.at("d"), op.at("sq"), op.at("skv")};
      return {op.at("d"), op.at("skv")};   // Q.K^T, then P.V
    default: return {};
  }
}

nlohmann::json to_json(const numerics::MatmulPrecision& p) {
  return {{"normwise_rel_err", p.normwise_rel_err}, {"max_abs_err", p.max_abs_err},
          {"snr_db", p.snr_db},                     {"overflow", p.overflow},
          {"underflow", p.underflow},               {"nan", p.nan},
          {"samples", p.samples}};
}

// Rounding error of a vector op's output: `samples` draws of the operand
// distribution rounded to the output format as one tensor (quantize_tensor).
numerics::MatmulPrecision rounding_error(DType out, const PrecisionOptions& opt) {
  numerics::MatmulPrecision p{0, 0, 0, 0, 0, 0, opt.samples};
  double num = 0, den = 0;
  uint64_t state = opt.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(out);
  std::vector<double> xs(static_cast<size_t>(std::max<int64_t>(0, opt.samples)));
  for (double& x : xs) {
    // Box-Muller from two splitmix64 uniforms (deterministic for the seed).
    state = numerics::splitmix64(state);
    const double u1 = (static_cast<double>(state >> 11) + 0.5) * 0x1.0p-53;
    state = numerics::splitmix64(state);
    const double u2 = (static_cast<double>(state >> 11) + 0.5) * 0x1.0p-53;
    x = opt.dist == "uniform01" ? u1 : std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }
  std::vector<double> qs = xs;
  quantize_tensor(qs, out);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i], q = qs[i];
    if (std::isnan(q)) { ++p.nan; continue; }
    if (std::isinf(q)) { ++p.overflow; continue; }
    if (q == 0 && x != 0) ++p.underflow;
    num += (q - x) * (q - x);
    den += x * x;
    p.max_abs_err = std::max(p.max_abs_err, std::fabs(q - x));
  }
  p.normwise_rel_err = den > 0 ? std::sqrt(num / den) : 0;
  p.snr_db = num > 0 ? 10 * std::log10(den / num) : INFINITY;
  return p;
}

}  // namespace

void quantize_tensor(std::span<double> x, DType t) {
  if (!is_integer_dtype(t)) {
    numerics::quantize_inplace(x, t);
    return;
  }
  double hi = 0;
  switch (t) {
    case DType::int8: hi = 127; break;
    case DType::int4: hi = 7; break;
    case DType::uint8: hi = 255; break;
    case DType::ternary: hi = 1; break;
    default: hi = 2147483647.0; break;   // int32
  }
  double amax = 0;
  for (double v : x)
    if (std::isfinite(v)) amax = std::max(amax, std::fabs(v));
  if (amax == 0) {
    for (double& v : x) v = std::isnan(v) ? v : 0.0;
    return;
  }
  const double scale = amax / hi;
  numerics::ConvertOptions o;
  o.saturate = true;
  for (double& v : x)
    if (std::isfinite(v)) v = numerics::round_to_integer(t, v / scale, o) * scale;
}

std::string accumulation_preset_for(const Hardware& hw, DType operand, bool fast_accum) {
  const std::string family = family_of(hw);
  std::string fmt_name(dtype_name(operand));
  if (operand == DType::fp8_e4m3 || operand == DType::fp8_e5m2) fmt_name = fast_accum ? "fp8_fastacc" : "fp8";
  if (operand == DType::fp32) fmt_name = "fp32_simt";
  const auto names = numerics::accumulation_preset_names();
  const std::string wanted = family + "_" + fmt_name;
  for (const auto& n : names)
    if (n == wanted) return n;
  if (is_integer_dtype(operand))
    for (const auto& n : names)
      if (numerics::accumulation_preset(n).integer_exact) return n;
  return "ideal_fp32";
}

numerics::AccumulationModel accumulation_model_for(const Hardware& hw, const Op& op, DType operand) {
  if (auto own = hw.compute().accumulation(operand)) return *own;
  return numerics::accumulation_preset(accumulation_preset_for(hw, operand, op.get("fast_accum", 0) != 0));
}

double precision_report_seconds(const Graph& g, const Hardware& hw, const PrecisionOptions& opt) {
  std::set<std::tuple<std::string, DType, int64_t>> seen;   // precision_report's cache key
  double ns = 0;
  for (const Op& op : g.ops) {
    const auto ks = reductions(op);
    if (ks.empty()) continue;
    const DType operand = hw.compute().operand_dtype(op);
    const numerics::AccumulationModel model = accumulation_model_for(hw, op, operand);
    for (int64_t k : ks)
      if (seen.insert({model.name, operand, k}).second)
        ns += static_cast<double>(opt.samples) * static_cast<double>(k) * numerics::emulation_ns_per_mac(model);
  }
  return ns * 1e-9;
}

nlohmann::json precision_report(const Graph& g, const Hardware& hw, const PrecisionOptions& opt) {
  using Key = std::tuple<std::string, DType, DType, int64_t>;
  std::map<Key, numerics::MatmulPrecision> cache;   // shapes repeat across layers
  nlohmann::json ops = nlohmann::json::array();
  double weighted = 0, weight = 0, worst = 0;
  int64_t overflow = 0, underflow = 0, nan = 0;
  std::string worst_op;
  for (const Op& op : g.ops) {
    const auto ks = reductions(op);
    numerics::MatmulPrecision p{};
    std::string preset;
    int64_t k_used = 0;
    if (ks.empty()) {
      preset = fmt::format("round to {}", dtype_name(op.out_dtype));
      p = rounding_error(op.out_dtype, opt);
    } else {
      const DType operand = hw.compute().operand_dtype(op);
      const numerics::AccumulationModel model = accumulation_model_for(hw, op, operand);
      preset = model.name;
      // Integer formats: the product is exact, only the output rounding counts.
      const DType out = is_integer_dtype(operand) || model.integer_exact ? DType::int32 : op.out_dtype;
      bool first = true;
      for (int64_t k : ks) {
        const Key key{preset, operand, out, k};
        auto it = cache.find(key);
        if (it == cache.end())
          it = cache.emplace(key, numerics::evaluate_matmul_precision(model, operand, operand, out, k,
                                                                      opt.dist, opt.samples, opt.seed))
                   .first;
        if (first || it->second.normwise_rel_err > p.normwise_rel_err) {
          p = it->second;
          k_used = k;
        }
        first = false;
      }
    }
    nlohmann::json j = to_json(p);
    j["name"] = op.name;
    j["kind"] = std::string(op_kind_name(op.kind));
    j["preset"] = preset;
    j["k"] = k_used;
    ops.push_back(j);
    const double w = std::max(1.0, op_flops(op));
    if (std::isfinite(p.normwise_rel_err)) {
      weighted += w * p.normwise_rel_err * p.normwise_rel_err;
      weight += w;
      if (p.normwise_rel_err > worst) {
        worst = p.normwise_rel_err;
        worst_op = op.name;
      }
    }
    overflow += p.overflow;
    underflow += p.underflow;
    nan += p.nan;
  }
  nlohmann::json total = {{"flop_weighted_rms_rel_err", weight > 0 ? std::sqrt(weighted / weight) : 0.0},
                          {"worst_rel_err", worst},
                          {"worst_op", worst_op},
                          {"overflow", overflow},
                          {"underflow", underflow},
                          {"nan", nan},
                          {"samples_per_op", opt.samples},
                          {"seed", opt.seed},
                          {"dist", opt.dist}};
  return {{"ops", ops}, {"total", total}};
}

}  // namespace tessera
