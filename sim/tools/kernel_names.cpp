#include "sim/tools/kernel_names.h"

#include <fmt/format.h>

#include <charconv>

#include "compiler/compile.h"
#include "core/error.h"
#include "models/hardware.h"
#include "models/tensorcore/tensorcore.h"

namespace tessera {

using json = nlohmann::json;

namespace {

bool has(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// The '_'-separated tokens of a name's identifier part (template arguments and
// a leading "void " left out).
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '_' || s[i] == '<' || s[i] == '>' || s[i] == ' ' || s[i] == ':' ||
        s[i] == ',') {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

bool read_int(std::string_view s, int64_t& v) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "128x256" or "128x256x64" (after an optional prefix such as "tilesize"): the
// first two numbers.
bool read_tile(std::string_view tok, std::string_view prefix, int64_t& m, int64_t& n) {
  if (!tok.starts_with(prefix)) return false;
  tok.remove_prefix(prefix.size());
  const size_t x = tok.find('x');
  if (x == std::string_view::npos) return false;
  const size_t x2 = tok.find('x', x + 1);
  return read_int(tok.substr(0, x), m) &&
         read_int(tok.substr(x + 1, x2 == std::string_view::npos ? std::string_view::npos : x2 - x - 1), n);
}

// The family of an xmma / CUTLASS architecture number: 90 and up Hopper's or
// Blackwell's TMA + warpgroup code, 80-89 Ampere's, 75 Turing's, 70 Volta's.
std::string arch_family(int64_t sm) {
  if (sm >= 100) return "sm100";
  if (sm >= 90) return "sm90";
  if (sm >= 80) return "sm80";
  if (sm >= 75) return "sm75";
  return "sm70";
}

}  // namespace

std::optional<LibraryKernel> parse_library_kernel(std::string_view name) {
  LibraryKernel k;
  const auto toks = tokens(name);
  const auto first_tile = [&](std::string_view prefix) {
    for (std::string_view t : toks)
      if (read_tile(t, prefix, k.tile_m, k.tile_n)) return;
  };
  const auto alignment = [&] {
    for (std::string_view t : toks)
      if (t.starts_with("align") && read_int(t.substr(5), k.align)) return;
  };
  if (has(name, "splitKreduce")) {
    k.family = "splitk_reduce";
    return k;
  }
  if (has(name, "nchwToNhwc") || has(name, "nhwcToNchw")) {
    k.family = "layout";
    return k;
  }
  if (has(name, "gemv")) {  // cuBLAS's matrix-vector kernels (gemv2T_kernel_val, gemvx, ...)
    k.family = "gemv";
    return k;
  }
  if (name.starts_with("nvjet_")) {
    // cuBLAS's generated Hopper+ kernels: nvjet_[smNN_]<types>_<M>x<N>_<K>x<stages>_
    // <cluster>_<raster>_bz_[splitK|coopA|...]_<layouts>.
    k.family = "sm90";
    if (toks.size() > 1 && toks[1].starts_with("sm")) {
      int64_t sm = 0;
      if (read_int(toks[1].substr(2), sm)) k.family = arch_family(sm);
    }
    first_tile("");
    for (std::string_view t : toks)
      if (t == "splitK") k.split_k = true;
    return k;
  }
  for (size_t i = 0; i < toks.size(); ++i) {
    const std::string_view t = toks[i];
    int64_t sm = 0;
    // sm80_xmma_gemm_..., sm90_xmma_fprop_implicit_gemm_... (cuBLAS, cuDNN)
    if (t.size() > 2 && t.starts_with("sm") && read_int(t.substr(2), sm) && i + 1 < toks.size() &&
        toks[i + 1] == "xmma") {
      // fp32 operands and fp32 math (f32f32_f32f32, no tf32) run on the CUDA cores.
      const bool simt = has(name, "f32f32_f32f32") && !has(name, "tf32");
      k.family = simt ? "simt" : arch_family(sm);
      first_tile("tilesize");
      k.split_k = has(name, "segment_k_on") || has(name, "splitK");
      return k;
    }
    // cutlass_80_tensorop_..., cutlass_75_tensorop_..., cutlass3x_sm90_...
    if (t == "cutlass" && i + 1 < toks.size() && read_int(toks[i + 1], sm)) {
      k.family = has(name, "simt") ? "simt" : arch_family(sm);
      first_tile("");
      alignment();
      return k;
    }
    if (t == "cutlass3x" && i + 1 < toks.size() && toks[i + 1].starts_with("sm") &&
        read_int(toks[i + 1].substr(2), sm)) {
      k.family = arch_family(sm);
      first_tile("");
      alignment();
      return k;
    }
    // cuBLAS's older named kernels: ampere_sgemm_128x64_nn, volta_sgemm_...,
    // ampere_bf16_s16816gemm_bf16_128x128_ldg8_..., turing_fp16_s1688gemm_...
    for (const auto& [gen, fam] : {std::pair<std::string_view, std::string_view>{"hopper", "sm90"},
                                   {"ampere", "sm80"},
                                   {"turing", "sm75"},
                                   {"volta", "sm70"}}) {
      if (t != gen || !has(name, "gemm")) continue;
      k.family = has(name, "sgemm") || has(name, "dgemm") ? "simt" : std::string(fam);
      first_tile("");
      return k;
    }
  }
  return std::nullopt;
}

KernelDigest digest_kernels(const std::vector<std::string>& names) {
  KernelDigest d;
  for (const std::string& n : names) {
    const auto k = parse_library_kernel(n);
    if (!k) {
      ++d.other;
    } else if (k->family == "splitk_reduce") {
      ++d.reduce;
    } else if (k->family == "layout") {
      ++d.layout;
    } else if (!d.main) {
      d.main = *k;
    } else {
      ++d.other;
    }
  }
  return d;
}

LibraryKernel model_library_kernel(const Kernel& k, const Op& op, const Hardware& hw) {
  LibraryKernel out;
  const auto* tc = dynamic_cast<const TensorCoreModel*>(&hw.compute());
  if (!tc) return out;
  const DType operands = tc->operand_dtype(op);
  out.tile_m = k.info.tile_m.value_or(0);
  out.tile_n = k.info.tile_n.value_or(0);
  out.split_k = k.info.split_k.value_or(1) > 1;
  const double eb = dtype_bytes(operands, 1);
  if (k.info.load_align && eb > 0)
    out.align = static_cast<int64_t>(static_cast<double>(*k.info.load_align) / eb);
  const auto path = static_cast<MmaPath>(k.info.mma_path.value_or(0));
  if (k.info.gemv.value_or(0) != 0) {
    out.family = "gemv";
  } else if (!tc->tensor_pipe(operands)) {
    out.family = "simt";
  } else if (path == MmaPath::gemm_sm75) {
    out.family = "sm75";
  } else if (path == MmaPath::gemm_sync || tc->pipe(operands) == MmaPipe::int8) {
    // The model times int8 at the mma.sync rate (TensorCoreModel::gemm_issue_fraction).
    out.family = "sm80";
  } else {
    out.family = arch_family(tc->params().integer("compute_capability"));
  }
  return out;
}

std::string kernel_time_class(std::string_view name) {
  if (const auto k = parse_library_kernel(name))
    return k->family == "splitk_reduce" || k->family == "layout" ? "elementwise" : "gemm/conv";
  for (std::string_view a : {"flash", "fmha", "attention", "sdpa", "fort_native"})
    if (has(name, a)) return "attention";
  for (std::string_view n : {"norm", "bn_fw", "bn_bw", "batch_norm", "Norm", "softmax", "SoftMax", "Softmax"})
    if (has(name, n)) return "norm/softmax";
  for (std::string_view e : {"elementwise", "Elementwise", "copy", "Copy", "index", "Index", "CatArray",
                             "pool", "fill", "Fill", "where", "cast", "transpose"})
    if (has(name, e)) return "elementwise";
  return "other";
}

std::string op_time_class(std::string_view kind) {
  if (kind == "matmul" || kind == "conv2d") return "gemm/conv";
  if (kind == "attention") return "attention";
  if (kind == "layernorm" || kind == "rmsnorm" || kind == "batchnorm" || kind == "softmax")
    return "norm/softmax";
  for (std::string_view e : {"add", "mul", "relu", "gelu", "silu", "sigmoid", "tanh", "copy", "transpose",
                             "kv_write", "kv_read", "maxpool", "avgpool", "embedding"})
    if (kind == e) return "elementwise";
  return "other";
}

std::string describe(const LibraryKernel& k) {
  std::string s = k.family;
  if (k.tile_m > 0 && k.tile_n > 0) s += fmt::format(" {}x{}", k.tile_m, k.tile_n);
  if (k.align > 0) s += fmt::format(" align{}", k.align);
  if (k.split_k) s += " split-K";
  return s;
}

void add_library_kernels(const json& r, const Graph& g, const Hardware& hw, json& extra) {
  if (!r.contains("kernels")) return;
  const json& names = r["kernels"];
  json id = r;
  id.erase("kernels");
  if (!names.is_array())
    throw InputError(
        fmt::format("record {}: field 'kernels' is not a list; expected the kernel names (strings) "
                    "one call launches, as scripts/measure_gpu.py writes them",
                    id.dump()));
  std::vector<std::string> list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].is_string())
      throw InputError(fmt::format("record {}: field 'kernels' entry {} ({}) is not a kernel name (string)",
                                   id.dump(), i, names[i].dump()));
    list.push_back(names[i].get<std::string>());
  }
  const KernelDigest d = digest_kernels(list);
  const Program prog = compile(g, hw);
  if (prog.kernels.empty() || g.ops.empty()) return;
  const LibraryKernel model = model_library_kernel(prog.kernels.front(), g.ops.front(), hw);
  if (model.family.empty()) return;
  std::string measured = d.main ? describe(*d.main) : "no GEMM-library kernel";
  if (d.reduce > 0) measured += fmt::format(" + {} split-K reduction(s)", d.reduce);
  if (d.layout > 0) measured += fmt::format(" + {} layout conversion(s)", d.layout);
  std::string predicted = describe(model);
  // The model's further launches of the op (an NCHW convolution's layout conversions).
  if (const int64_t more = prog.kernels.front().info.launches.value_or(1) - 1; more > 0)
    predicted += fmt::format(" + {} more launch(es)", more);
  extra["kernel_measured"] = measured;
  extra["kernel_predicted"] = predicted;
  extra["kernel_family_match"] = d.main && d.main->family == model.family;
}

json time_by_class(const json& kernel_us, const RunResult& res) {
  json by = json::object();
  const auto add = [&](const std::string& cls, const char* side, double us) {
    json& c = by[cls];
    if (c.is_null()) c = {{"measured_us", 0.0}, {"predicted_us", 0.0}};
    c[side] = c[side].get<double>() + us;
  };
  for (const json& row : kernel_us)
    add(kernel_time_class(row[0].get<std::string>()), "measured_us", row[2].get<double>());
  // Each op's kernel time, its launch idle left out.
  for (const OpResult& o : res.ops) add(op_time_class(o.kind), "predicted_us", (o.time_s - o.idle_s) * 1e6);
  return by;
}

}  // namespace tessera
