#include "workloads/ir.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/error.h"
#include "core/math.h"

namespace tessera {
namespace {

struct KindName { OpKind kind; std::string_view name; };
constexpr KindName kKinds[] = {
    {OpKind::matmul, "matmul"},
    {OpKind::conv2d, "conv2d"},
    {OpKind::attention, "attention"},
    {OpKind::layernorm, "layernorm"},
    {OpKind::rmsnorm, "rmsnorm"},
    {OpKind::softmax, "softmax"},
    {OpKind::gelu, "gelu"},
    {OpKind::silu, "silu"},
    {OpKind::relu, "relu"},
    {OpKind::sigmoid, "sigmoid"},
    {OpKind::tanh, "tanh"},
    {OpKind::add, "add"},
    {OpKind::mul, "mul"},
    {OpKind::batchnorm, "batchnorm"},
    {OpKind::copy, "copy"},
    {OpKind::transpose, "transpose"},
    {OpKind::maxpool, "maxpool"},
    {OpKind::avgpool, "avgpool"},
    {OpKind::embedding, "embedding"},
    {OpKind::kv_read, "kv_read"},
    {OpKind::kv_write, "kv_write"},
    {OpKind::allreduce, "allreduce"},
    {OpKind::allgather, "allgather"},
    {OpKind::reducescatter, "reducescatter"},
    {OpKind::alltoall, "alltoall"},
    {OpKind::reduce, "reduce"},
    {OpKind::optimizer, "optimizer"},
    {OpKind::broadcast, "broadcast"},
    {OpKind::sendrecv, "sendrecv"},
    {OpKind::reduce_coll, "reduce_coll"},
    {OpKind::rnn_cell, "rnn_cell"},
    {OpKind::dropout, "dropout"},
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
    case OpKind::alltoall:
    case OpKind::broadcast:
    case OpKind::sendrecv:
    case OpKind::reduce_coll: return {"bytes", "ranks"};
    case OpKind::optimizer: return {"elems", "reads", "writes"};
    case OpKind::rnn_cell:
      return {"rows", "cols", "gates"};
    default: return {"rows", "cols"};
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
    case OpKind::matmul:
      names.insert(names.end(), {"b_shared", "fast_accum", "param", "bias", "tied", "cudnn", "rnn"});
      break;
    case OpKind::conv2d:
      names.insert(names.end(), {"dilation", "groups", "bias", "grad", "transposed", "channels_last", "d",
                                 "t", "stride_d", "pad_d", "dilation_d", "stride_w", "pad_w", "dilation_w"});
      break;
    case OpKind::attention:
      names.insert(names.end(),
                   {"kv_heads", "causal", "bias", "bias_shared", "bias_head_shared", "bias_bool",
                    "bias_strided", "qkv_packed", "strided", "backend", "backward", "bias_grad", "dropout"});
      break;
    case OpKind::maxpool:
    case OpKind::avgpool:
      names.insert(names.end(), {"pad", "backward", "d", "t", "stride_d", "pad_d", "stride_w", "pad_w"});
      break;
    case OpKind::embedding:
      names.insert(names.end(), {"vocab", "backward", "tied", "order", "bags", "bag_max", "index_put"});
      break;
    case OpKind::kv_read: names.push_back("append"); break;
    case OpKind::add:
      names.insert(names.end(), {"inputs", "bcast_stride", "bcast_bytes", "param_elems"});
      break;
    case OpKind::copy:
      names.insert(names.end(), {"param_elems", "param_reads", "expand", "expand_slice"});
      break;
    case OpKind::mul:
      names.insert(names.end(), {"inputs", "exponent", "bcast_stride", "bcast_bytes", "param"});
      break;
    case OpKind::batchnorm: names.insert(names.end(), {"backward", "training", "n", "channels_last"}); break;
    case OpKind::layernorm:
      names.insert(names.end(), {"backward", "affine"});
      break;
    case OpKind::rmsnorm:
    case OpKind::softmax:
    case OpKind::gelu:
    case OpKind::silu: case OpKind::relu: case OpKind::sigmoid: case OpKind::tanh:
    case OpKind::dropout:
      names.push_back("backward");
      break;
    case OpKind::reduce:
      names.insert(names.end(), {"inputs", "outputs", "stride", "reread", "batchnorm", "n", "channels_last"});
      break;
    case OpKind::optimizer: names.insert(names.end(), {"flops", "sfu", "tensors"}); break;
    case OpKind::rnn_cell:
      names.insert(names.end(), {"backward", "training"});
      break;
    case OpKind::allreduce: case OpKind::allgather: case OpKind::reducescatter: case OpKind::alltoall:
    case OpKind::broadcast: case OpKind::sendrecv: case OpKind::reduce_coll:
      names.insert(names.end(), {"algo", "protocol", "stride", "group"});
      break;
    default: break;
  }
  names.insert(names.end(), {"output", "launches", "host_calls", "host_sync", "lib_launch"});
  return names;
}

bool is_vector_kind(OpKind k) {
  switch (k) {
    case OpKind::layernorm: case OpKind::rmsnorm: case OpKind::softmax: case OpKind::gelu:
    case OpKind::silu: case OpKind::relu: case OpKind::sigmoid: case OpKind::tanh:
    case OpKind::add: case OpKind::mul: case OpKind::batchnorm: case OpKind::copy:
    case OpKind::transpose:
    case OpKind::reduce:
    case OpKind::optimizer:
    case OpKind::rnn_cell:
    case OpKind::dropout:
      return true;
    default:
      return false;
  }
}

bool is_collective_kind(OpKind k) {
  return k == OpKind::allreduce || k == OpKind::allgather || k == OpKind::reducescatter ||
         k == OpKind::alltoall || k == OpKind::broadcast || k == OpKind::sendrecv ||
         k == OpKind::reduce_coll;
}

std::string_view comm_group_name(int64_t group) {
  switch (group) {
    case 0: return "all";
    case 1: return "tp";
    case 2: return "dp";
    case 3: return "pp";
    case 4: return "ep";
    default: return "?";
  }
}

int64_t Op::at(std::string_view key) const {
  auto it = attrs.find(key);
  if (it == attrs.end())
    throw std::logic_error(fmt::format("op '{}' ({}) has no attribute '{}'", name,
                                       op_kind_name(kind), key));
  return it->second;
}

int64_t Op::get(std::string_view key, int64_t fallback) const {
  auto it = attrs.find(key);
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

bool is_training_op(const Op& op) {
  // A transposed convolution's forward pass runs as a data gradient (grad=1 with
  // transposed=1) but belongs to an inference graph.
  return op.kind == OpKind::optimizer || op.get("backward", 0) != 0 ||
         (op.get("grad", 0) != 0 && op.get("transposed", 0) == 0) || op.get("training", 0) != 0;
}

double info_or(const Graph& g, const std::string& key, double fallback) {
  auto it = g.info.find(key);
  return it == g.info.end() ? fallback : it->second;
}

bool is_training_graph(const Graph& g) {
  for (const auto& op : g.ops)
    if (is_training_op(op)) return true;
  return false;
}

ConvWindow conv_window(const Op& op) {
  ConvWindow c;
  c.d = op.get("d", 1);
  c.h = op.at("h");
  c.w = op.at("w");
  c.t = op.get("t", 1);
  c.r = op.at("r");
  c.s = op.at("s");
  c.stride = op.at("stride");
  c.stride_d = op.get("stride_d", 1);
  c.pad = op.get("pad", 0);
  c.pad_d = op.get("pad_d", 0);
  c.stride_w = op.get("stride_w", c.stride);
  c.pad_w = op.get("pad_w", c.pad);
  if (op.kind == OpKind::conv2d) {  // pools take no dilation
    c.dilation = op.get("dilation", 1);
    c.dilation_d = op.get("dilation_d", 1);
    c.dilation_w = op.get("dilation_w", c.dilation);
  }
  c.od = conv_out_dim(c.d, c.t, c.stride_d, c.pad_d, c.dilation_d);
  c.oh = conv_out_dim(c.h, c.r, c.stride, c.pad, c.dilation);
  c.ow = conv_out_dim(c.w, c.s, c.stride_w, c.pad_w, c.dilation_w);
  return c;
}

ConvGemm conv_gemm_dims(const Op& op) {
  const int64_t groups = op.get("groups", 1);
  const int64_t n = op.at("n"), cin = op.at("cin"), cout = op.at("cout");
  const ConvWindow c = conv_window(op);
  switch (op.get("grad", 0)) {
    case 1: {
      // Input positions that receive a gradient, per stride phase (stride 1: all d*h*w).
      const int64_t ds = (c.d + c.stride_d - 1) / c.stride_d, hs = (c.h + c.stride - 1) / c.stride,
                    ws = (c.w + c.stride_w - 1) / c.stride_w;
      return {groups, n * ds * hs * ws, cin / groups, cout / groups * c.taps()};
    }
    case 2:
      return {groups, cout / groups, cin / groups * c.taps(), n * c.out_pixels()};
    default:
      return {groups, n * c.out_pixels(), cout / groups, cin / groups * c.taps()};
  }
}

int64_t conv_weight_elems(const Op& op) {
  return op.at("cout") * (op.at("cin") / op.get("groups", 1)) * op.get("t", 1) * op.at("r") * op.at("s");
}

int64_t op_out_elems(const Op& op) {
  switch (op.kind) {
    case OpKind::matmul: return op.at("batch") * op.at("m") * op.at("n");
    case OpKind::conv2d: {
      if (op.get("grad", 0) == 1) return op.at("n") * op.at("cin") * conv_window(op).in_pixels();
      if (op.get("grad", 0) == 2) return conv_weight_elems(op);
      return op.at("n") * op.at("cout") * conv_window(op).out_pixels();
    }
    case OpKind::attention: return op.at("batch") * op.at("heads") * op.at("sq") * op.at("d");
    case OpKind::maxpool:
    case OpKind::avgpool:
      if (op.get("backward", 0)) return op.at("n") * op.at("c") * conv_window(op).in_pixels();
      return op.at("n") * op.at("c") * conv_window(op).out_pixels();
    case OpKind::embedding:
      return (op.get("backward", 0) ? op.get("vocab", op.at("tokens")) : op.get("bags", op.at("tokens"))) *
             op.at("dim");
    case OpKind::kv_read:
    case OpKind::kv_write: return 2 * op.at("batch") * op.at("kv_heads") * op.at("tokens") * op.at("d");
    case OpKind::allreduce: case OpKind::allgather: case OpKind::reducescatter: case OpKind::alltoall:
    case OpKind::broadcast: case OpKind::sendrecv: case OpKind::reduce_coll:
      return std::max<int64_t>(1, op.at("bytes") / 2);
    case OpKind::reduce: return op.get("outputs", 1) * op.at("cols");
    case OpKind::optimizer: return op.at("elems");
    default: return op.at("rows") * op.at("cols");
  }
}


int Graph::add(Op op) {
  // The cost of a run grows with its ops; a spec such as layers=2^31 would build
  // billions of them. 2^20 is far above any model here (llama-70b's training
  // step has a few thousand).
  constexpr size_t k_max_ops = size_t{1} << 20;
  if (ops.size() >= k_max_ops)
    throw InputError(fmt::format("{}: the workload has more than {} ops, the most a run takes (a layer or "
                                 "repeat count too large?)", spec.empty() ? name : spec, k_max_ops));
  ops.push_back(std::move(op));
  return static_cast<int>(ops.size()) - 1;
}

double Graph::total_flops() const {
  double f = 0;
  for (const auto& op : ops) f += op_flops(op);
  return f;
}

namespace {

// clang-format off
// Attributes that may be 0 (flags, paddings, indices); every other must be positive.
const std::set<std::string_view> k_may_be_zero = {
    "pad", "causal", "bias", "b_shared", "bias_shared", "bias_head_shared", "bias_strided", "qkv_packed",
    "append", "fast_accum", "param", "grad", "backward", "bias_grad", "training", "output", "sfu", "algo",
    "protocol", "group", "stage", "pass", "overlap", "p2p", "recompute", "every_microbatch", "reread",
    "channels_last", "batchnorm", "host_sync", "transposed", "pad_d", "pad_w", "lib_launch", "cudnn",
    "dropout", "bag_max", "index_put"};
// Attributes that are not a factor of an op's volume (below): window geometry
// and the parallel-schedule annotations.
const std::set<std::string_view> k_not_volume = {
    "groups", "pad", "stride", "dilation", "pad_d", "stride_d", "dilation_d", "pad_w", "stride_w",
    "dilation_w", "tp_in", "tp_out", "stage", "pass", "group", "algo", "protocol", "overlap", "p2p",
    "recompute", "every_microbatch", "in_microbatch", "fused_scale_mask", "grad_view", "host_calls",
    "host_sync", "rnn", "prefetch"};
// clang-format on

}  // namespace

void validate_graph(const Graph& g, std::string_view source) {
  if (g.ops.empty()) throw InputError(fmt::format("{}: workload has no ops", source));
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    for (auto key : required_attrs(op.kind)) {
      auto it = op.attrs.find(key);
      if (it == op.attrs.end())
        throw InputError(fmt::format("{}: op '{}' ({}) is missing dimension '{}'", source,
                                     op.name, op_kind_name(op.kind), key));
    }
    for (const auto& [key, value] : op.attrs) {
      // Shapes beyond 2^48 are not meaningful and would overflow products of two of them.
      if (value > (int64_t{1} << 48))
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} is larger than the accepted "
                                     "2^48", source, op.name, op_kind_name(op.kind), key, value));
      const bool may_be_zero = k_may_be_zero.count(key) > 0;
      if (key == "bcast_bytes" && value != 1 && value != 2 && value != 4 && value != 8)
        throw InputError(
            fmt::format("{}: op '{}' ({}): 'bcast_bytes' = {} must be an element size: 1, 2, 4 or 8", source,
                        op.name, op_kind_name(op.kind), value));
      if (key == "host_sync" && value > 1)
        throw InputError(fmt::format("{}: op '{}' ({}): 'host_sync' = {} must be 0 or 1 (1: the host waits for the "
                                     "op's kernel, as .item() does)", source, op.name, op_kind_name(op.kind), value));
      if (key == "grad_view" && (value > 1 || op.kind != OpKind::copy))
        throw InputError(fmt::format("{}: op '{}' ({}): 'grad_view' = {} must be 1 on a copy", source,
                                     op.name, op_kind_name(op.kind), value));
      if (key == "fused_scale_mask" && (value > 2 || op.kind != OpKind::softmax))
        throw InputError(
            fmt::format("{}: op '{}' ({}): 'fused_scale_mask' = {} must be 1 (Megatron-LM's "
                        "scaled_masked_softmax) or 2 (scaled_upper_triang_masked_softmax) on a softmax",
                        source, op.name, op_kind_name(op.kind), value));
      // Every microbatch meets the same collectives (the engines pair them by order).
      if (key == "in_microbatch" && (value > 2 || is_collective_kind(op.kind)))
        throw InputError(
            fmt::format("{}: op '{}' ({}): 'in_microbatch' = {} must be 1 (the op runs in every "
                        "microbatch's pass but the first) or 2 (in the last microbatch's only), on "
                        "an op that is not a collective",
                        source, op.name, op_kind_name(op.kind), value));
      if ((key == "lib_launch" || key == "cudnn") && value > 1)
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} must be 0 or 1", source, op.name,
                                     op_kind_name(op.kind), key, value));
      if (key == "rnn" && value > 3)
        throw InputError(
            fmt::format("{}: op '{}' ({}): 'rnn' = {} must be 1 (a recurrent layer's input "
                        "projection), 2 (its recurrent GEMM of one step) or 3 (its whole "
                        "recurrence in one persistent kernel: batch = steps)",
                        source, op.name, op_kind_name(op.kind), value));
      if (key == "gates" && value != 3 && value != 4)
        throw InputError(fmt::format("{}: op '{}' ({}): 'gates' = {} must be 4 (LSTM) or 3 (GRU)", source,
                                     op.name, op_kind_name(op.kind), value));
      if (value < 0 || (value == 0 && !may_be_zero))
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} must be {}", source, op.name,
                                     op_kind_name(op.kind), key, value,
                                     may_be_zero ? ">= 0" : "a positive integer"));
    }
    // What the models represent exactly: the product of the op's dimensions (every
    // attribute but groups, pad, stride, dilation, an attention's kv_heads and the
    // parallel-schedule annotations (tp_in/tp_out bytes, stage, pass, group, ...),
    // which do not add work) at most k_max_op_volume = 2^56, so that its MACs,
    // elements and bytes, with the mappers' multipliers, stay within int64.
    // Computed in long double.
    long double volume = 1;
    for (const auto& [key, value] : op.attrs)
      if (value > 1 && !(key == "kv_heads" && op.kind == OpKind::attention) && !k_not_volume.count(key) &&
          !key.starts_with("bcast_") && !key.starts_with("param_") && !key.starts_with("expand") &&
          !(key == "n" && (op.kind == OpKind::batchnorm || op.kind == OpKind::reduce)))  // a factor of rows
        volume *= static_cast<long double>(value);
    if (volume > static_cast<long double>(k_max_op_volume)) {
      std::string dims;
      for (const auto& [key, value] : op.attrs)
        if (value > 1) dims += fmt::format("{}{}={}", dims.empty() ? "" : ", ", key, value);
      throw InputError(fmt::format("{}: op '{}' ({}): the product of its dimensions ({}) is {:.3g}, more than "
                                   "the 2^56 (7.2e16) an op may have; split it into several ops", source,
                                   op.name, op_kind_name(op.kind), dims, static_cast<double>(volume)));
    }
    // A learned tensor added (add) or concatenated (copy): param_elems elements,
    // broadcast over the op's rows x cols (add), or param_reads of them in the
    // concatenation (copy: an expanded view of the parameter).
    if (op.attrs.count("param_elems")) {
      const int64_t n = op.at("param_elems"), e = op.at("rows") * op.at("cols");
      const int64_t reads = op.kind == OpKind::copy ? op.get("param_reads", n) : e;
      if (reads % n != 0 || reads > e)
        throw InputError(fmt::format(
            "{}: op '{}' ({}): 'param_elems' = {} (the parameter's elements) must divide {} = {} (the "
            "elements it is {}) and that may not exceed the op's {} elements",
            source, op.name, op_kind_name(op.kind), n,
            op.kind == OpKind::copy ? "'param_reads'" : "rows x cols", reads,
            op.kind == OpKind::copy ? "expanded to in the concatenation" : "broadcast to", e));
    } else if (op.attrs.count("param_reads")) {
      throw InputError(
          fmt::format("{}: op '{}' ({}): 'param_reads' needs 'param_elems' (the parameter it "
                      "expands)",
                      source, op.name, op_kind_name(op.kind)));
    }
    // A copy of a broadcast view (expand, then a reshape that must copy: HF's
    // repeat_kv, repeat_interleave): the input is rows x cols / expand elements,
    // each slice of expand_slice of them written expand times in a row.
    if (op.attrs.count("expand")) {
      const int64_t e = op.at("rows") * op.at("cols"), x = op.at("expand");
      if (e % x != 0 || op.attrs.count("param_elems"))
        throw InputError(
            fmt::format("{}: op '{}' (copy): 'expand' = {} must divide its rows x cols = {} "
                        "elements (each input element is written 'expand' times); not with "
                        "'param_elems'",
                        source, op.name, x, e));
      if ((e / x) % op.get("expand_slice", 1) != 0)
        throw InputError(
            fmt::format("{}: op '{}' (copy): 'expand_slice' = {} (the elements of each repeated "
                        "slice) must divide the {} input elements (rows x cols / expand)",
                        source, op.name, op.at("expand_slice"), e / x));
    } else if (op.attrs.count("expand_slice")) {
      throw InputError(
          fmt::format("{}: op '{}' (copy): 'expand_slice' needs 'expand' (how often each "
                      "slice is written)",
                      source, op.name));
    }
    // A batch norm's batch is a factor of its rows (N x H x W).
    if ((op.kind == OpKind::batchnorm || op.kind == OpKind::reduce) && op.attrs.count("n") && op.attrs.count("rows") &&
        op.at("rows") % op.at("n") != 0)
      throw InputError(fmt::format("{}: op '{}' ({}): 'n' = {} must divide 'rows' = {} (rows = N x H x W)", source,
                                   op.name, op_kind_name(op.kind), op.at("n"), op.at("rows")));
    for (const char* flag : {"backward", "training", "output", "param", "bias_grad", "reread",
                             "channels_last", "batchnorm", "dropout", "bag_max", "index_put"})
      if (op.get(flag, 0) > 1)
        throw InputError(fmt::format("{}: op '{}' ({}): '{}' = {} must be 0 or 1", source, op.name,
                                     op_kind_name(op.kind), flag, op.get(flag, 0)));
    if (op.kind == OpKind::embedding && op.get("order", 1) > 2)
      throw InputError(fmt::format("{}: op '{}' (embedding): 'order' = {} must be 1 (consecutive rows) or 2 "
                                   "(random rows)", source, op.name, op.get("order", 1)));
    if (op.kind == OpKind::conv2d && op.get("grad", 0) > 2)
      throw InputError(fmt::format("{}: op '{}' (conv2d): 'grad' = {} must be 0 (forward), 1 (data gradient) "
                                   "or 2 (weight gradient)", source, op.name, op.get("grad", 0)));
    if (op.kind == OpKind::conv2d && op.get("transposed", 0) != 0 && (op.get("transposed", 0) != 1 || op.get("grad", 0) != 1))
      throw InputError(fmt::format("{}: op '{}' (conv2d): 'transposed' = {} with 'grad' = {}: a transposed "
                                   "convolution is transposed=1 with grad=1 (the data gradient of the "
                                   "convolution it transposes)", source, op.name, op.get("transposed", 0),
                                   op.get("grad", 0)));
    // A persistent RNN recurrence multiplies h (k = hidden) by W_hh into the gates.
    if (op.kind == OpKind::matmul && op.get("rnn", 0) == 3 && op.at("n") != 3 * op.at("k") &&
        op.at("n") != 4 * op.at("k"))
      throw InputError(
          fmt::format("{}: op '{}' (matmul): 'rnn' = 3 (a persistent RNN recurrence) needs n = 3 x k "
                      "(GRU) or 4 x k (LSTM), k being the hidden size; n = {}, k = {}",
                      source, op.name, op.at("n"), op.at("k")));
    if (is_collective_kind(op.kind) && (op.get("algo", 0) > 6 || op.get("protocol", 0) > 3))
      throw InputError(fmt::format("{}: op '{}' ({}): algo = {} / protocol = {}: algo is 0..6 (auto, ring, tree, "
                                   "nvls, direct, halving_doubling, hierarchical), protocol 0..3 (auto, ll, "
                                   "ll128, simple)", source, op.name, op_kind_name(op.kind), op.get("algo", 0),
                                   op.get("protocol", 0)));
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
    const bool windowed =
        op.kind == OpKind::conv2d || op.kind == OpKind::maxpool || op.kind == OpKind::avgpool;
    if (!windowed) {
      for (const char* key : {"t", "stride_d", "pad_d", "dilation_d"})
        if (op.attrs.count(key))
          throw InputError(
              fmt::format("{}: op '{}' ({}): '{}' is an attribute of 3-D convolutions and pools "
                          "(conv2d, maxpool, avgpool with d and t)",
                          source, op.name, op_kind_name(op.kind), key));
      for (const char* key : {"stride_w", "pad_w", "dilation_w"})
        if (op.attrs.count(key))
          throw InputError(
              fmt::format("{}: op '{}' ({}): '{}' is an attribute of convolutions and pools "
                          "(conv2d, maxpool, avgpool)",
                          source, op.name, op_kind_name(op.kind), key));
    }
    if (windowed) {
      if (op.kind == OpKind::conv2d) {
        const int64_t groups = op.get("groups", 1);
        if (op.at("cin") % groups != 0 || op.at("cout") % groups != 0)
          throw InputError(
              fmt::format("{}: op '{}': cin={} and cout={} must be divisible by "
                          "groups={}",
                          source, op.name, op.at("cin"), op.at("cout"), groups));
      }
      const ConvWindow c = conv_window(op);
      const char* what = op.kind == OpKind::conv2d ? "filter" : "pooling window";
      if (c.od <= 0 || c.oh <= 0 || c.ow <= 0) {
        if (op.attrs.count("d") || op.attrs.count("t"))
          throw InputError(fmt::format(
              "{}: op '{}': {} {}x{}x{} does not fit input {}x{}x{} with pad {} "
              "(depth: pad_d {}, stride_d {}, dilation_d {})",
              source, op.name, what, c.t, c.r, c.s, c.d, c.h, c.w, c.pad, c.pad_d, c.stride_d, c.dilation_d));
        const std::string width = c.pad_w != c.pad || c.stride_w != c.stride || c.dilation_w != c.dilation
                                      ? fmt::format(" (width: pad_w {}, stride_w {}, dilation_w {})", c.pad_w,
                                                    c.stride_w, c.dilation_w)
                                      : "";
        throw InputError(fmt::format("{}: op '{}': {} {}x{} does not fit input {}x{} with pad {}{}", source,
                                     op.name, what, c.r, c.s, c.h, c.w, c.pad, width));
      }
      // The padding enlarges the output beyond the attributes' product: its elements
      // and multiply-adds (per output, channels per group x taps) obey the same bound.
      const long double out =
          static_cast<long double>(op.at("n")) *
          static_cast<long double>(op.kind == OpKind::conv2d ? op.at("cout") : op.at("c")) *
          static_cast<long double>(c.od) * static_cast<long double>(c.oh) * static_cast<long double>(c.ow);
      const long double per_out =
          static_cast<long double>(c.taps()) *
          (op.kind == OpKind::conv2d ? static_cast<long double>(op.at("cin") / op.get("groups", 1)) : 1.0L);
      if (out * per_out > static_cast<long double>(k_max_op_volume))
        throw InputError(fmt::format(
            "{}: op '{}': {:.3g} output elements ({}x{}x{} per image and channel) x {:.3g} multiply-adds "
            "each are {:.3g}, more than the "
            "2^56 (7.2e16) an op may have; the padding (pad {}, pad_w {}, pad_d {}) enlarges the output",
            source, op.name, static_cast<double>(out), c.od, c.oh, c.ow, static_cast<double>(per_out),
            static_cast<double>(out * per_out), c.pad, c.pad_w, c.pad_d));
    }
  }
}

}  // namespace tessera
