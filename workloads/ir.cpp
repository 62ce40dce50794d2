#include "workloads/ir.h"

#include <fmt/format.h>

#include <stdexcept>

#include "sim/error.h"

namespace tessera {
namespace {

struct KindName { OpKind kind; std::string_view name; };
constexpr KindName kKinds[] = {
    {OpKind::matmul, "matmul"},       {OpKind::conv2d, "conv2d"},
    {OpKind::attention, "attention"}, {OpKind::layernorm, "layernorm"},
    {OpKind::rmsnorm, "rmsnorm"},     {OpKind::softmax, "softmax"},
    {OpKind::gelu, "gelu"},           {OpKind::silu, "silu"},
    {OpKind::relu, "relu"},           {OpKind::sigmoid, "sigmoid"},
    {OpKind::tanh, "tanh"},           {OpKind::add, "add"},
    {OpKind::mul, "mul"},             {OpKind::batchnorm, "batchnorm"},
    {OpKind::copy, "copy"},           {OpKind::transpose, "transpose"},
    {OpKind::maxpool, "maxpool"},     {OpKind::avgpool, "avgpool"},
    {OpKind::embedding, "embedding"}, {OpKind::kv_read, "kv_read"},
    {OpKind::kv_write, "kv_write"},   {OpKind::allreduce, "allreduce"},
    {OpKind::allgather, "allgather"}, {OpKind::reducescatter, "reducescatter"},
    {OpKind::alltoall, "alltoall"},
};

// Required attributes per kind (optional ones are read with get()).
std::vector<std::string_view> required_attrs(OpKind k) {
  switch (k) {
    case OpKind::matmul: return {"batch", "m", "n", "k"};
    case OpKind::conv2d: return {"n", "cin", "cout", "h", "w", "r", "s", "stride", "pad"};
    case OpKind::attention: return {"batch", "heads", "sq", "skv", "d"};
    case OpKind::maxpool:
    case OpKind::avgpool: return {"n", "c", "h", "w", "r", "s", "stride"};
    case OpKind::embedding: return {"tokens", "dim"};
    case OpKind::kv_read:
    case OpKind::kv_write: return {"batch", "kv_heads", "tokens", "d"};
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall: return {"bytes", "ranks"};
    default: return {"rows", "cols"};
  }
}

// FLOPs per element of the row-wise / element-wise ops. These are the
// conventional operation counts (not instruction counts): add/mul/relu 1,
// layernorm ~ mean, var, normalise, scale, shift = 5 (8 with the reductions),
// softmax ~ max, sub, exp, sum, div = 5, gelu (tanh form) ~ 8.
double vector_flops_per_elem(OpKind k) {
  switch (k) {
    case OpKind::add: case OpKind::mul: case OpKind::relu: return 1;
    case OpKind::sigmoid: case OpKind::tanh: return 4;
    case OpKind::silu: return 5;
    case OpKind::gelu: return 8;
    case OpKind::softmax: return 5;
    case OpKind::layernorm: return 8;
    case OpKind::rmsnorm: return 5;
    case OpKind::batchnorm: return 4;  // inference form: (x - mean) * scale + shift
    default: return 0;
  }
}

}  // namespace

std::string_view op_kind_name(OpKind k) {
  for (const auto& e : kKinds)
    if (e.kind == k) return e.name;
  return "?";
}

bool parse_op_kind(std::string_view s, OpKind& out) {
  for (const auto& e : kKinds)
    if (e.name == s) { out = e.kind; return true; }
  return false;
}

std::string op_kind_names() {
  std::string s;
  for (const auto& e : kKinds) {
    if (!s.empty()) s += ", ";
    s += e.name;
  }
  return s;
}

std::vector<std::string_view> op_required_attrs(OpKind k) { return required_attrs(k); }

std::vector<std::string_view> op_attr_names(OpKind k) {
  std::vector<std::string_view> names = required_attrs(k);
  switch (k) {
    case OpKind::matmul: names.insert(names.end(), {"b_shared", "fast_accum"}); break;
    case OpKind::conv2d: names.insert(names.end(), {"dilation", "groups"}); break;
    case OpKind::attention:
      names.insert(names.end(), {"kv_heads", "causal", "bias", "bias_shared"});
      break;
    case OpKind::maxpool: case OpKind::avgpool: names.push_back("pad"); break;
    case OpKind::embedding: names.push_back("vocab"); break;
    case OpKind::kv_read: names.push_back("append"); break;
    case OpKind::add: case OpKind::mul: names.push_back("inputs"); break;
    default: break;
  }
  return names;
}

bool is_vector_kind(OpKind k) {
  switch (k) {
    case OpKind::layernorm: case OpKind::rmsnorm: case OpKind::softmax: case OpKind::gelu:
    case OpKind::silu: case OpKind::relu: case OpKind::sigmoid: case OpKind::tanh:
    case OpKind::add: case OpKind::mul: case OpKind::batchnorm: case OpKind::copy:
    case OpKind::transpose:
      return true;
    default:
      return false;
  }
}

bool is_collective_kind(OpKind k) {
  return k == OpKind::allreduce || k == OpKind::allgather || k == OpKind::reducescatter ||
         k == OpKind::alltoall;
}

int64_t Op::at(std::string_view key) const {
  auto it = attrs.find(std::string(key));
  if (it == attrs.end())
    throw std::logic_error(fmt::format("op '{}' ({}) has no attribute '{}'", name,
                                       op_kind_name(kind), key));
  return it->second;
}

int64_t Op::get(std::string_view key, int64_t fallback) const {
  auto it = attrs.find(std::string(key));
  return it == attrs.end() ? fallback : it->second;
}

int64_t conv_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  // 128-bit intermediate: no overflow for any int64 arguments; stride <= 0 gives 0.
  if (stride <= 0) return 0;
  const __int128 span = static_cast<__int128>(in) + 2 * static_cast<__int128>(pad) -
                        static_cast<__int128>(dilation) * (static_cast<__int128>(k) - 1) - 1;
  if (span < 0) return 0;
  return static_cast<int64_t>(span / stride + 1);
}

double op_flops(const Op& op) {
  const auto d = [&](std::string_view k) { return static_cast<double>(op.at(k)); };
  switch (op.kind) {
    case OpKind::matmul:
      return 2.0 * d("batch") * d("m") * d("n") * d("k");
    case OpKind::conv2d: {
      const int64_t dil = op.get("dilation", 1);
      const double ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil);
      const double wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil);
      const double groups = static_cast<double>(op.get("groups", 1));
      return 2.0 * d("n") * ho * wo * d("cout") * (d("cin") / groups) * d("r") * d("s");
    }
    case OpKind::attention: {
      // Q.K^T and P.V: 2 * (2 * sq * skv * d) per head; causal prefill keeps
      // about half of the score matrix (the convention the reference data uses).
      double f = 4.0 * d("batch") * d("heads") * d("sq") * d("skv") * d("d");
      if (op.get("causal", 0) && op.at("sq") > 1) f *= 0.5;
      return f;
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const double ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.get("pad", 0), 1);
      const double wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.get("pad", 0), 1);
      return d("n") * d("c") * ho * wo * d("r") * d("s");
    }
    case OpKind::embedding:
    case OpKind::kv_read:
    case OpKind::kv_write:
    case OpKind::copy:
    case OpKind::transpose:
      return 0;
    case OpKind::allreduce:
      return d("bytes") / (dtype_info(op.dtype).storage_bits / 8.0);  // one add per element
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
      return op.kind == OpKind::reducescatter ? d("bytes") / (dtype_info(op.dtype).storage_bits / 8.0)
                                              : 0;
    default:
      return vector_flops_per_elem(op.kind) * d("rows") * d("cols");
  }
}

double op_min_bytes(const Op& op) {
  const auto d = [&](std::string_view k) { return static_cast<double>(op.at(k)); };
  const DType in = op.dtype, out = op.out_dtype;
  switch (op.kind) {
    case OpKind::matmul: {
      const double b = d("batch");
      const double a_elems = b * d("m") * d("k");
      const double b_elems = (op.get("b_shared", 0) ? 1.0 : b) * d("k") * d("n");
      return dtype_bytes(in, a_elems + b_elems) + dtype_bytes(out, b * d("m") * d("n"));
    }
    case OpKind::conv2d: {
      const int64_t dil = op.get("dilation", 1);
      const double ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil);
      const double wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil);
      const double groups = static_cast<double>(op.get("groups", 1));
      const double x = d("n") * d("cin") * d("h") * d("w");
      const double wgt = d("cout") * (d("cin") / groups) * d("r") * d("s");
      return dtype_bytes(in, x + wgt) + dtype_bytes(out, d("n") * d("cout") * ho * wo);
    }
    case OpKind::attention: {
      const double kvh = static_cast<double>(op.get("kv_heads", op.at("heads")));
      const double q = d("batch") * d("heads") * d("sq") * d("d");
      const double kv = 2.0 * d("batch") * kvh * d("skv") * d("d");
      double bytes = dtype_bytes(in, q + kv) + dtype_bytes(out, q);
      if (op.get("bias", 0))
        bytes += dtype_bytes(in, (op.get("bias_shared", 0) ? 1.0 : d("batch")) * d("heads") *
                                     d("sq") * d("skv"));
      return bytes;
    }
    case OpKind::maxpool:
    case OpKind::avgpool: {
      const double ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.get("pad", 0), 1);
      const double wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.get("pad", 0), 1);
      return dtype_bytes(in, d("n") * d("c") * d("h") * d("w")) +
             dtype_bytes(out, d("n") * d("c") * ho * wo);
    }
    case OpKind::embedding:
      // Gather `tokens` rows of the table and write them out.
      return dtype_bytes(in, d("tokens") * d("dim")) + dtype_bytes(out, d("tokens") * d("dim")) +
             8.0 * d("tokens");  // int64 indices
    case OpKind::kv_read:
    case OpKind::kv_write: {
      const double row = 2.0 * d("batch") * d("kv_heads") * d("d");  // K and V, one position
      const double append = static_cast<double>(op.kind == OpKind::kv_read ? op.get("append", 0) : 0);
      if (append > 0)  // concatenation: read old + new, write old + new
        return dtype_bytes(in, row * (d("tokens") + append)) +
               dtype_bytes(out, row * (d("tokens") + append));
      return dtype_bytes(in, row * d("tokens"));
    }
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
      return d("bytes");
    default: {
      const double elems = d("rows") * d("cols");
      const double inputs = (op.kind == OpKind::add || op.kind == OpKind::mul)
                                ? static_cast<double>(op.get("inputs", 2))
                                : 1.0;
      // Norm weights (and bias) are one row each: negligible but counted.
      double params = 0;
      if (op.kind == OpKind::layernorm || op.kind == OpKind::batchnorm) params = 2 * d("cols");
      if (op.kind == OpKind::rmsnorm) params = d("cols");
      return dtype_bytes(in, inputs * elems + params) + dtype_bytes(out, elems);
    }
  }
}

int Graph::add(Op op) {
  ops.push_back(std::move(op));
  return static_cast<int>(ops.size()) - 1;
}

double Graph::total_flops() const {
  double f = 0;
  for (const auto& op : ops) f += op_flops(op);
  return f;
}

void validate_graph(const Graph& g, std::string_view source) {
  if (g.ops.empty()) throw InputError(fmt::format("{}: workload has no ops", source));
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    for (auto key : required_attrs(op.kind)) {
      auto it = op.attrs.find(std::string(key));
      if (it == op.attrs.end())
        throw InputError(fmt::format("{}: op '{}' ({}) is missing dimension '{}'", source,
                                     op.name, op_kind_name(op.kind), key));
    }
    for (const auto& [key, value] : op.attrs) {
      // Shapes beyond 2^48 are not meaningful and would overflow products of two of them.
      if (value > (int64_t{1} << 48))
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} is larger than the accepted "
                                     "2^48", source, op.name, op_kind_name(op.kind), key, value));
      const bool may_be_zero = key == "pad" || key == "causal" || key == "bias" ||
                               key == "b_shared" || key == "bias_shared" || key == "append" ||
                               key == "fast_accum";
      if (value < 0 || (value == 0 && !may_be_zero))
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} must be {}", source, op.name,
                                     op_kind_name(op.kind), key, value,
                                     may_be_zero ? ">= 0" : "a positive integer"));
    }
    for (int dep : op.deps)
      if (dep < 0 || static_cast<size_t>(dep) >= i)
        throw InputError(fmt::format("{}: op '{}' depends on op index {}, which is not an "
                                     "earlier op (0..{})", source, op.name, dep, i == 0 ? 0 : i - 1));
    if (op.kind == OpKind::attention) {
      const int64_t kvh = op.get("kv_heads", op.at("heads"));
      if (kvh <= 0 || op.at("heads") % kvh != 0)
        throw InputError(fmt::format("{}: op '{}' (attention): heads={} must be a multiple of "
                                     "kv_heads={}", source, op.name, op.at("heads"), kvh));
      if (op.get("causal", 0) && op.at("sq") > op.at("skv"))
        throw InputError(fmt::format("{}: op '{}' (attention): causal attention needs sq={} <= "
                                     "skv={}", source, op.name, op.at("sq"), op.at("skv")));
    }
    if (op.kind == OpKind::maxpool || op.kind == OpKind::avgpool) {
      const int64_t pad = op.get("pad", 0);
      if (conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), pad, 1) <= 0 ||
          conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), pad, 1) <= 0)
        throw InputError(fmt::format("{}: op '{}': pooling window {}x{} does not fit input "
                                     "{}x{} with pad {}", source, op.name, op.at("r"), op.at("s"),
                                     op.at("h"), op.at("w"), pad));
    }
    if (op.kind == OpKind::conv2d) {
      const int64_t groups = op.get("groups", 1);
      if (op.at("cin") % groups != 0 || op.at("cout") % groups != 0)
        throw InputError(fmt::format("{}: op '{}': cin={} and cout={} must be divisible by "
                                     "groups={}", source, op.name, op.at("cin"), op.at("cout"), groups));
      const int64_t dil = op.get("dilation", 1);
      if (conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil) <= 0 ||
          conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil) <= 0)
        throw InputError(fmt::format("{}: op '{}': filter {}x{} does not fit input {}x{} "
                                     "with pad {}", source, op.name, op.at("r"), op.at("s"),
                                     op.at("h"), op.at("w"), op.at("pad")));
    }
  }
}

}  // namespace tessera
