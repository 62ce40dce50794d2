#include "sim/tools/compare.h"

#include "models/numerics/precision.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "core/error.h"
#include "sim/engines/capacity.h"
#include "sim/simulate.h"
#include "sim/tools/compare_memory.h"
#include "sim/tools/compare_collective.h"
#include "sim/tools/compare_fields.h"
#include "sim/tools/compare_train.h"
#include "sim/tools/kernel_names.h"
#include "workloads/ir.h"
#include "workloads/training.h"
#include "workloads/models/parallel.h"
#include "workloads/workloads.h"

namespace tessera {

using nlohmann::json;

double CompareRow::error() const {
  const double m = record.value("measured_value", 0.0);
  const double p = record.value("predicted_value", 0.0);
  return m != 0 ? p / m - 1.0 : 0.0;
}

namespace {

Graph one_op(const std::string& name, Op op) {
  Graph g;
  g.name = name;
  g.spec = name;
  op.name = name;
  g.add(std::move(op));
  validate_graph(g, "compare");
  return g;
}

// Operand and output formats of a gemm record's dtype.
std::optional<std::pair<DType, DType>> gemm_types(const std::string& d) {
  if (d == "bf16") return std::pair{DType::bf16, DType::bf16};
  if (d == "fp16") return std::pair{DType::fp16, DType::fp16};
  if (d == "tf32") return std::pair{DType::tf32, DType::fp32};
  if (d == "fp32") return std::pair{DType::fp32, DType::fp32};
  if (d == "fp8_e4m3" || d == "fp8_e4m3_fastacc") return std::pair{DType::fp8_e4m3, DType::bf16};
  if (d == "int8") return std::pair{DType::int8, DType::int32};
  return std::nullopt;
}

Graph gemm_graph(int64_t m, int64_t n, int64_t k, DType a, DType out, bool fast_accum = false) {
  Op op;
  op.kind = OpKind::matmul;
  op.dtype = a;
  op.out_dtype = out;
  op.attrs = {{"batch", 1}, {"m", m}, {"n", n}, {"k", k}};
  if (fast_accum) op.attrs["fast_accum"] = 1;
  return one_op("gemm", op);
}

// Bytes of a record, checked before the conversion to a size.
int64_t words_of(double bytes) {
  if (!(bytes >= 0 && bytes <= 0x1p51))
    throw InputError(fmt::format("a record's byte count {} is outside 0..2^51", bytes));
  return static_cast<int64_t>(bytes / 8.0);
}

// A device-to-device copy of bytes/2 bytes (read + write = bytes).
Graph copy_graph(double bytes_moved) {
  Op op;
  op.kind = OpKind::copy;
  op.dtype = op.out_dtype = DType::fp32;
  op.attrs = {{"rows", 1}, {"cols", words_of(bytes_moved)}};
  return one_op("copy", op);
}

// x.sum() over an fp32 tensor of `bytes`: what ATen launches (the memset of the
// global reduction's semaphores, then the reduction kernel; the strided_read
// workload with stride 1, workloads/models/memory.cpp).
Graph read_graph(double bytes) {
  return build_workload(fmt::format("strided_read:bytes={},stride=1", std::max<int64_t>(4, 8 * words_of(bytes))));
}

// scripts/measure_gpu.py times a cold record right after `flush.fill_(1)` on a
// 256 MiB buffer (FLUSH_BYTES): the kernel starts with the L2 full of that write
// stream's dirty lines (compiler/tensorcore/kernel_build.h, add_dirty_writeback).
// A hot record (`l2: hot`) repeats start event, op, end event, synchronize on an
// idle GPU: the host's time from the start event to the launch is in the figure
// (host_visible, models/compute/host.h).
Graph after_flush(Graph g, const json& r) {
  if (r.value("l2", std::string()) == "cold") g.info["l2_dirty_bytes"] = 256.0 * 1024 * 1024;
  if (r.value("l2", std::string()) == "hot") g.info["host_visible"] = 1;
  return g;
}

// What CUDA events around the op alone measure: a hot record ends no sooner than
// the host has recorded the end event, host_timer after it was done with the op
// (models/compute/host.h); a cold record is the run itself.
double timed_alone_s(const RunResult& res, const json& r, const Hardware& hw) {
  if (r.value("l2", std::string()) != "hot" || res.host_done_s <= 0) return res.time_s;
  const double timer = hw.compute().params().has("host_timer") ? hw.compute().params().real("host_timer") : 0.0;
  return std::max(res.time_s, res.host_done_s + timer);
}

// How a record was timed: "events" (CUDA events around the op, the default:
// scripts/measure_gpu.py, the shared H100 records) or "sync", a host wall clock
// around the op and torch.cuda.synchronize(). A record says so in its "timing"
// field; records from LLMCompass's real-hardware figures (their "source") were
// timed by its Operator.run_on_gpu (software_model/matmul.py: start = time.time();
// torch.matmul(a, b); torch.cuda.synchronize(); end = time.time(); the median over
// iterations on the same inputs), so they are "sync".
std::string timing_of(const json& r) {
  if (r.contains("timing")) {
    if (!r["timing"].is_string() || (r["timing"] != "events" && r["timing"] != "sync"))
      throw InputError(fmt::format("record {}: field 'timing' must be \"events\" (CUDA events around the op) or "
                                   "\"sync\" (a host clock around the op and torch.cuda.synchronize())",
                                   r.dump()));
    return r["timing"].get<std::string>();
  }
  return r.value("source", std::string()).rfind("LLMCompass", 0) == 0 ? "sync" : "events";
}

struct Prediction {
  std::string quantity;
  double measured = 0;
  double predicted = 0;
  std::string group;       // subset label used by the accuracy targets
  json extra = json::object();
};

// What stays resident must fit (sim/engines/capacity.h); a CapacityError makes the
// record skipped with its message (compare_record).
// The microbenchmarks time a cold record after the flush kernel (~100 us), whose
// run hides the host's time to issue the op: such records (every section but
// the hot ones and the eager whole-module records, which set host_visible) are
// simulated with host_hidden (models/compute/host.h).
RunResult sim(Graph g, const Hardware& hw) {
  if (!is_parallel_graph(g)) check_capacity(graph_footprint(g), hw, fmt::format("workload '{}'", g.spec.empty() ? g.name : g.spec), false);
  if (const auto it = g.info.find("host_visible"); it != g.info.end()) g.info.erase(it);
  else g.info["host_hidden"] = 1;
  return simulate(g, hw, "analytic");
}

// A "sync" record of one op timed alone: its predicted time in seconds (and the
// isolated kernel's run in `res`); nullopt for an "events" record. The host
// spends the op's host time (its Python, dispatcher and library path up to the
// launch) before the kernel can start, and the clock stops when synchronize
// returns after the kernel: the host's time and the isolated kernel (launch +
// device) add, nothing overlaps. The host's time is the run's with the host
// visible (one op: h_1 = host_1, models/compute/host.h). The timed loop runs the
// op again and again: the device idles while the host issues the next call, and
// its power limit holds for the loop's average (KernelInfo::loop_idle), so the
// kernel is clocked with that gap.
std::optional<double> sync_time_s(Graph g, const json& r, const Hardware& hw, RunResult& res) {
  if (timing_of(r) != "sync") return std::nullopt;
  Graph host = g;
  host.info["host_visible"] = 1;
  host.info.erase("l2_dirty_bytes");
  const double host_s = simulate(host, hw, "analytic").host_done_s;
  g.info["loop_idle_s"] = host_s;
  res = sim(g, hw);
  return res.time_s + host_s;
}

// timing "sync" is modelled where a record times one op alone.
void check_timing(const json& r, const std::string& section, bool one_op) {
  if (timing_of(r) == "sync" && !one_op)
    throw InputError(fmt::format("record {}: timing \"sync\" is modelled for records of one op timed alone (gemm, "
                                 "conv, vec, membw, attn forward of a fused backend), not for section '{}'{}",
                                 r.dump(), section, section == "attn" ? " with this backend or pass" : ""));
}

double dynamic_energy(const RunResult& r, const Hardware& hw) {
  return r.energy_j - hw.power().static_power_w() * r.time_s;
}

std::string size_group(double bytes, double threshold, const char* big, const char* small) {
  return bytes >= threshold ? big : small;
}

std::optional<Prediction> predict(const json& r, const Hardware& hw, const std::filesystem::path& ref_dir,
                                  std::string& skip) {
  const std::string section = record_str(r, "section");
  check_timing(r, section,
               section == "gemm" || section == "conv" || section == "vec" || section == "membw" ||
                   (section == "attn" && r.value("pass", std::string("forward")) == "forward" &&
                    r.value("backend", std::string("default")) != "math"));
  Prediction p;
  if (section == "gemm") {
    const auto t = gemm_types(record_str(r, "dtype"));
    if (!t) {
      skip = "gemm dtype '" + record_str(r, "dtype") + "' is not modelled";
      return std::nullopt;
    }
    const int64_t m = record_int(r, "M"), n = record_int(r, "N"), k = record_int(r, "K");
    const Graph g = gemm_graph(m, n, k, t->first, t->second, record_str(r, "dtype") == "fp8_e4m3_fastacc");
    RunResult res;
    const auto sync = sync_time_s(g, r, hw, res);
    if (!sync) res = sim(after_flush(g, r), hw);
    p.quantity = "median_ms";
    p.measured = record_num(r, "median_ms");
    p.predicted = (sync ? *sync : timed_alone_s(res, r, hw)) * 1e3;
    const bool hot = r.value("l2", std::string("cold")) == "hot";
    const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    // Shapes off the power-of-two grid (scripts/measure_gpu.py's tag "odd") are a
    // group of their own: alignment and partial tiles decide their kernels.
    const bool odd = r.value("tag", std::string()) == "odd";
    p.group = sync ? (flops >= 1e9 ? "host clock, >= 1 GFLOP" : "host clock, < 1 GFLOP")
              : odd ? (hot ? "odd shapes, hot L2" : "odd shapes, cold")
              : hot ? "hot L2" : (flops >= 1e9 ? "cold, >= 1 GFLOP" : "cold, < 1 GFLOP");
    p.extra["predicted_clock_mhz"] = res.ops.empty() ? 0.0 : res.ops[0].clock_hz / 1e6;
    p.extra["mapping"] = res.ops.empty() ? "" : res.ops[0].mapping;
    add_library_kernels(r, g, hw, p.extra);
    return p;
  }
  if (section == "attn") {
    const std::string backend = r.value("backend", std::string("default"));
    const std::string pass = r.value("pass", std::string("forward"));
    if (pass != "forward" && pass != "backward") {
      skip = "attn pass '" + pass + "' is not modelled (forward | backward)";
      return std::nullopt;
    }
    if (pass == "backward") {
      // The backward kernels of one fused attention (FlashAttention-2's: dot(dO, O),
      // the KV-parallel main kernel, the dQ conversion): the attention workload's
      // training step less its forward op.
      if (backend != "flash" && backend != "cudnn") {
        skip = "attn backward of backend '" + backend + "' is not modelled (flash, cudnn)";
        return std::nullopt;
      }
      const int64_t S = record_int(r, "S");
      const std::string spec = fmt::format(
          "attention:batch={},heads={},sq={},skv={},d={},causal={},dtype={},train=1", record_int(r, "B"),
          record_int(r, "H"), (r.contains("Sq") ? record_int(r, "Sq") : S), S, record_int(r, "D"),
          r.value("causal", false) ? 1 : 0, r.value("dtype", std::string("bf16")));
      Graph g = build_workload(spec);
      for (Op& op : g.ops)
        if (op.kind == OpKind::attention) op.attrs["backend"] = backend == "flash" ? 1 : 2;
      const RunResult res = sim(g, hw);
      double t = 0;
      for (size_t i = 1; i < res.ops.size(); ++i) t += res.ops[i].time_s;
      p.quantity = "median_ms";
      p.measured = record_num(r, "median_ms");
      p.predicted = t * 1e3;
      p.group = backend + " backward";
      p.extra["workload"] = spec;
      return p;
    }
    if (backend == "math") {
      // PyTorch's math backend (at::_scaled_dot_product_attention_math): the
      // `sdpa_math` path of the attention workload launches its kernels one by one
      // -- fp32 upcasts of fp16/bf16 q/k/v, q and k scaled, the causal mask built and
      // added, safe softmax, fp32 matmuls on the CUDA cores (default "highest"
      // matmul precision), output and weights cast back to the input format.
      const int64_t S = record_int(r, "S");
      const std::string spec = fmt::format(
          "attention:batch={},heads={},sq={},skv={},d={},causal={},path=sdpa_math,dtype={}",
          record_int(r, "B"), record_int(r, "H"), (r.contains("Sq") ? record_int(r, "Sq") : S), S,
          record_int(r, "D"), r.value("causal", false) ? 1 : 0, r.value("dtype", std::string("bf16")));
      const RunResult res = sim(build_workload(spec), hw);
      p.quantity = "median_ms";
      p.measured = record_num(r, "median_ms");
      p.predicted = res.time_s * 1e3;
      p.group = "math";
      p.extra["workload"] = spec;
      return p;
    }
    Op op;
    op.kind = OpKind::attention;
    const auto dt = parse_dtype(r.value("dtype", std::string("bf16")));
    if (!dt) throw InputError(fmt::format("record {}: unknown dtype", r.dump()));
    op.dtype = op.out_dtype = *dt;
    const int64_t S = record_int(r, "S");
    op.attrs = {{"batch", record_int(r, "B")},
                {"heads", record_int(r, "H")},
                {"kv_heads", record_int(r, "H")},
                {"sq", (r.contains("Sq") ? record_int(r, "Sq") : S)},
                {"skv", S},
                {"d", record_int(r, "D")},
                {"causal", r.value("causal", false) ? 1 : 0}};
    if (backend == "flash") op.attrs["backend"] = 1;
    else if (backend == "cudnn") op.attrs["backend"] = 2;
    else if (backend == "efficient") op.attrs["backend"] = 3;
    else if (backend != "default") { skip = "attn backend '" + backend + "' is not modelled"; return std::nullopt; }
    const Graph g = one_op("attention", op);
    RunResult res;
    const auto sync = sync_time_s(g, r, hw, res);
    if (!sync) res = sim(g, hw);
    p.quantity = "median_ms";
    p.measured = record_num(r, "median_ms");
    p.predicted = (sync ? *sync : res.time_s) * 1e3;
    p.group = (r.contains("Sq") ? record_int(r, "Sq") : S) < S ? "decode" : backend;
    p.extra["mapping"] = res.ops[0].mapping;
    return p;
  }
  if (section == "vec") {
    static const std::map<std::string, OpKind> kinds = {
        {"layernorm", OpKind::layernorm}, {"rmsnorm", OpKind::rmsnorm}, {"softmax", OpKind::softmax},
        {"gelu", OpKind::gelu}, {"add", OpKind::add}, {"silu", OpKind::silu}, {"relu", OpKind::relu},
        {"mul", OpKind::mul}};
    const auto it = kinds.find(record_str(r, "op"));
    if (it == kinds.end()) {
      skip = "vec op '" + record_str(r, "op") + "' is not modelled";
      return std::nullopt;
    }
    const auto dt = parse_dtype(record_str(r, "dtype"));
    if (!dt) throw InputError(fmt::format("record {}: unknown dtype", r.dump()));
    Op op;
    op.kind = it->second;
    op.dtype = op.out_dtype = *dt;
    op.attrs = {{"rows", record_int(r, "T")}, {"cols", record_int(r, "d")}};
    if (op.kind == OpKind::add || op.kind == OpKind::mul) op.attrs["inputs"] = 1;   // x + x reads x once
    const Graph g = one_op(record_str(r, "op"), op);
    RunResult res;
    const auto sync = sync_time_s(g, r, hw, res);
    if (!sync) res = sim(g, hw);
    p.quantity = "median_ms";
    p.measured = record_num(r, "median_ms");
    p.predicted = (sync ? *sync : res.time_s) * 1e3;
    p.group = record_str(r, "dtype");
    return p;
  }
  if (section == "membw") {
    const std::string op = record_str(r, "op");
    const double bytes = record_num(r, "bytes_moved");
    Graph g;
    if (op == "copy") g = copy_graph(bytes);
    else if (op == "read_sum_fp32") g = read_graph(bytes);
    else { skip = "membw op '" + op + "' is not modelled"; return std::nullopt; }
    RunResult res;
    const auto sync = sync_time_s(g, r, hw, res);
    if (!sync) res = sim(after_flush(std::move(g), r), hw);
    p.quantity = "median_ms";
    p.measured = record_num(r, "median_ms");
    p.predicted = (sync ? *sync : timed_alone_s(res, r, hw)) * 1e3;
    const bool hot = r.value("l2", std::string("cold")) == "hot";
    p.group = op + (hot ? ", hot" : "") + size_group(bytes, 64.0 * 1024 * 1024, ", >= 64 MiB", ", < 64 MiB");
    return p;
  }
  if (section == "energy" || section == "energy2") {
    const std::string op = record_str(r, "op");
    if (op == "idle") {
      p.quantity = "watts";
      p.measured = record_num(r, "watts");
      p.predicted = hw.power().static_power_w();
      p.group = "idle";
      return p;
    }
    if (op == "gemm") {
      const auto t = gemm_types(record_str(r, "dtype"));
      if (!t) { skip = "energy gemm dtype not modelled"; return std::nullopt; }
      const int64_t m = record_int(r, "M"), n = record_int(r, "N"), k = record_int(r, "K");
      const RunResult res =
          sim(gemm_graph(m, n, k, t->first, t->second, record_str(r, "dtype") == "fp8_e4m3_fastacc"), hw);
      p.quantity = "pj_per_flop";
      p.measured = record_num(r, "pj_per_flop");
      p.predicted = res.energy_j / res.flops * 1e12;
      p.group = "gemm";
      p.extra["predicted_clock_mhz"] = res.ops[0].clock_hz / 1e6;
      p.extra["predicted_watts"] = res.avg_power_w;
      p.extra["predicted_tflops"] = res.flops / res.time_s / 1e12;
      return p;
    }
    Graph g;
    double bytes = 0;
    if (op == "copy" || op == "copy_hbm_1GiB") {
      bytes = r.contains("bytes_moved_per_iter") ? record_num(r, "bytes_moved_per_iter")
                                                 : record_num(r, "bytes_per_iter");
      g = copy_graph(bytes);
    } else if (op == "read_sum_hbm_1GiB") {
      bytes = record_num(r, "bytes_per_iter");
      g = read_graph(bytes);
    } else if (op == "copy_l2_resident_8MiB_x50") {
      // Traffic that stays in the L2: every byte moved is one L2 access.
      const MemoryModel* l2 = hw.memories().size() > 1 ? hw.memories().front().second.get() : nullptr;
      if (!l2) { skip = "hardware has no L2 level"; return std::nullopt; }
      Instr in;
      in.op = Opcode::load;
      in.bytes = 1 << 20;
      p.quantity = "pj_per_byte_above_idle";
      p.measured = record_num(r, "pj_per_byte_above_idle");
      p.predicted = l2->transfer_energy_j(in, Kernel{}) / static_cast<double>(in.bytes) * 1e12;
      p.group = "l2";
      return p;
    } else {
      skip = section + " op '" + op + "' is not modelled";
      return std::nullopt;
    }
    const RunResult res = sim(g, hw);
    p.quantity = "pj_per_byte_above_idle";
    p.measured = record_num(r, "pj_per_byte_above_idle");
    p.predicted = dynamic_energy(res, hw) / bytes * 1e12;
    p.group = "hbm";
    return p;
  }
  if (section == "conv") {
    const std::string d = record_str(r, "dtype");
    const auto t = gemm_types(d);
    if (!t) { skip = "conv dtype '" + d + "' is not modelled"; return std::nullopt; }
    Op op;
    op.kind = OpKind::conv2d;
    op.dtype = t->first;
    op.out_dtype = t->second;
    op.attrs = {{"n", record_int(r, "N")},
                {"cin", record_int(r, "Cin")},
                {"cout", record_int(r, "Cout")},
                {"h", record_int(r, "H")},
                {"w", record_int(r, "W")},
                {"r", record_int(r, "R")},
                {"s", record_int(r, "S")},
                {"stride", record_int(r, "stride")},
                {"pad", record_int(r, "pad")},
                {"dilation", 1},
                {"groups", 1}};
    // The activations' layout (measure_gpu.py: channels_last, or contiguous for
    // PyTorch's default NCHW, where cuDNN converts a tensor-core convolution's operands).
    const std::string layout = record_text(r, "memory_format", "channels_last");
    if (layout != "channels_last" && layout != "contiguous")
      throw InputError(fmt::format(
          "record {}: field 'memory_format' = '{}' must be channels_last or contiguous", r.dump(), layout));
    op.attrs["channels_last"] = layout == "channels_last" ? 1 : 0;
    // A 3-D convolution (measure_gpu.py's conv3d section): its depth D, filter depth
    // T and the depth's stride and padding (0 if absent).
    const bool three_d = r.contains("D");
    if (three_d) {
      op.attrs["d"] = record_int(r, "D", 1);
      op.attrs["t"] = record_int(r, "T", 1);
      op.attrs["stride_d"] = record_int(r, "stride_d", 1);
      op.attrs["pad_d"] = r.contains("pad_d") ? record_int(r, "pad_d") : 0;
    }
    const Graph g = one_op("conv", op);
    RunResult res;
    const auto sync = sync_time_s(g, r, hw, res);
    if (!sync) res = sim(g, hw);
    p.quantity = "median_ms";
    p.measured = record_num(r, "median_ms");
    p.predicted = (sync ? *sync : res.time_s) * 1e3;
    p.group = (layout == "channels_last" ? d : d + ", NCHW") + (three_d ? ", 3-D" : "");
    add_library_kernels(r, g, hw, p.extra);
    return p;
  }
  if (section == "e2eg" || section == "decode" || section == "evoformer" || section == "train") {
    const auto m = model_record_spec(section, r, skip);   // compare_train.h
    if (!m) return std::nullopt;
    const std::string& spec = m->spec;
    Graph g;
    try {
      g = build_workload(spec);
    } catch (const InputError& e) {
      skip = fmt::format("workload '{}' cannot be built: {}", spec, e.what());
      return std::nullopt;
    }
    if (m->host_visible) g.info["host_visible"] = 1;
    const RunResult res = sim(std::move(g), hw);
    p.quantity = m->quantity;
    p.measured = record_num(r, m->quantity.c_str());
    p.predicted = (m->kernel_time ? res.kernel_time_s : res.time_s) * m->scale;
    p.group = r.value("model", section);
    p.extra["workload"] = spec;
    // The profiler's kernel rows, when the record has them: the launches it counts
    // beside the model's (a kernel missing or extra shows before any timing does).
    if (const auto measured = record_kernel_launches(r)) {
      int64_t predicted = 0;
      for (const OpResult& o : res.ops) predicted += o.launches;
      p.extra["kernels_measured"] = *measured;
      p.extra["kernels_predicted"] = predicted;
      // Where the time goes, the profiled rows against the model's ops by class.
      p.extra["time_by_class"] = time_by_class(r["kernel_us"], res);
    }
    return p;
  }
  if (section == "precision") {
    // The records are H100 tensor-core measurements; the numerics presets that
    // reproduce them are the h100 family.
    const YAML::Node fam = hw.tree["numerics"] ? hw.tree["numerics"]["family"] : YAML::Node();
    if (!fam || fam.as<std::string>() != "h100") {
      skip = "precision records need hardware whose numerics.family is h100";
      return std::nullopt;
    }
    // The model emulates 1024 K-long dot products bit by bit: K is bounded so
    // that a record costs seconds at most (1024 x 2^17 products at the slowest
    // H100 path's ~25 ns: 3.4 s; the measured records go up to K = 65536).
    if (const int64_t K = record_int(r, "K"); K < 1 || K > (int64_t{1} << 17))
      throw InputError(fmt::format("record {}: field 'K' = {} must be in 1..131072 (2^17)", r.dump(), K));
    json pr;
    try {
      pr = numerics::predict_precision_record(r, ref_dir, 1);
    } catch (const std::invalid_argument& e) {
      skip = e.what();
      return std::nullopt;
    } catch (const std::runtime_error& e) {
      throw InputError(fmt::format("precision record {}: {}", record_str(r, "format"), e.what()));
    }
    p.quantity = "normwise_rel_err";
    p.measured = record_num(r, "normwise_rel_err");
    p.predicted = pr["predicted_normwise_rel_err"].get<double>();
    p.group = record_str(r, "format");
    for (const char* key : {"bit_exact_fraction", "bit_exact_files", "preset", "samples"})
      if (pr.contains(key)) p.extra[std::string(key)] = pr[key];
    return p;
  }
  if (section == "hbmpat" || section == "l2sweep") {  // sim/tools/compare_memory.cpp
    const auto m = predict_memory_record(r, hw, skip);
    if (!m) return std::nullopt;
    p.quantity = m->quantity;
    p.measured = m->measured;
    p.predicted = m->predicted;
    p.group = m->group;
    p.extra["workload"] = m->spec;
    return p;
  }
  if (section == "collective") {   // sim/tools/compare_collective.h
    const auto c = predict_collective_record(r, hw, skip);
    if (!c) return std::nullopt;
    p.quantity = "busbw_GBps";
    p.measured = c->measured_GBps;
    p.predicted = c->predicted_GBps;
    p.group = c->group;
    p.extra = c->extra;
    return p;
  }
  if (section == "info") {
    skip = "device description, nothing to predict";
    return std::nullopt;
  }
  skip = "unknown section '" + section + "'";
  return std::nullopt;
}

}  // namespace

CompareRow compare_record(const json& rec, const Hardware& hw, const std::filesystem::path& reference_dir) {
  CompareRow row;
  row.record = rec;
  if (rec.contains("section") && !rec["section"].is_string())
    throw InputError(fmt::format("record {}: field 'section' must be a string", rec.dump()));
  row.section = rec.value("section", std::string("?"));
  std::string skip;
  std::optional<Prediction> p;
  try {
    p = predict(rec, hw, reference_dir, skip);
  } catch (const CapacityError& e) {  // its workload does not fit the device
    skip = e.what();
  } catch (const json::exception& e) {   // a field of the wrong JSON type (json::value's conversion)
    throw InputError(fmt::format("record {}: a field has the wrong type ({})", rec.dump(), e.what()));
  }
  if (!p) {
    row.skipped = true;
    row.reason = skip;
    row.record["skipped"] = skip;
    return row;
  }
  row.record["quantity"] = p->quantity;
  row.record["measured_value"] = p->measured;
  row.record["predicted_value"] = p->predicted;
  row.record["group"] = p->group;
  for (auto it = p->extra.begin(); it != p->extra.end(); ++it) row.record[it.key()] = it.value();
  row.record["error"] = row.error();
  return row;
}

}  // namespace tessera
