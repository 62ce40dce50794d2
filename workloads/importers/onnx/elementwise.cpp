// ONNX import: element-wise operators of any arity (with the integer values shape
// arithmetic needs folded), reductions and Einsum.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "workloads/builder.h"
#include "workloads/importers/onnx/importer.h"

namespace tessera::onnx {
namespace {

// Operators whose result is a boolean tensor (ONNX: tensor(bool)).
bool is_predicate(std::string_view t) {
  static const std::set<std::string_view> p = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                               "And",   "Or",   "Xor",     "Not",         "IsNaN",
                                               "IsInf"};
  return p.contains(t);
}

// a op b on int64 values; nullopt where the result is undefined or overflows (the
// values are then simply not known: only shape arithmetic needs them).
std::optional<int64_t> fold2(std::string_view t, int64_t x, int64_t y) {
  int64_t r = 0;
  if (t == "Add" || t == "Sum") return __builtin_add_overflow(x, y, &r) ? std::nullopt : std::optional(r);
  if (t == "Sub") return __builtin_sub_overflow(x, y, &r) ? std::nullopt : std::optional(r);
  if (t == "Mul") return __builtin_mul_overflow(x, y, &r) ? std::nullopt : std::optional(r);
  if (t == "Div") {
    // Shape arithmetic divides by a known non-zero dimension; a zero divisor stays 0
    // as before (the value is only ever a shape candidate, checked again later).
    if (y == 0) return 0;
    if (x == INT64_MIN && y == -1) return std::nullopt;
    return x / y;
  }
  if (t == "Mod") {  // fmod=0: the result takes the divisor's sign (Python's %)
    if (y == 0 || (x == INT64_MIN && y == -1)) return std::nullopt;
    const int64_t m = x % y;
    return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
  }
  if (t == "Pow") {
    if (y < 0 || y > 62) return std::nullopt;
    r = 1;
    for (int64_t i = 0; i < y; ++i)
      if (__builtin_mul_overflow(r, x, &r)) return std::nullopt;
    return r;
  }
  if (t == "Max") return std::max(x, y);
  if (t == "Min") return std::min(x, y);
  if (t == "Equal") return x == y;
  if (t == "Less") return x < y;
  if (t == "Greater") return x > y;
  if (t == "LessOrEqual") return x <= y;
  if (t == "GreaterOrEqual") return x >= y;
  if (t == "And") return (x != 0) && (y != 0);
  if (t == "Or") return (x != 0) || (y != 0);
  if (t == "Xor") return (x != 0) != (y != 0);
  return std::nullopt;
}

std::optional<int64_t> fold1(std::string_view t, int64_t x) {
  if (t == "Neg") return x == INT64_MIN ? std::nullopt : std::optional<int64_t>(-x);
  if (t == "Abs") return x == INT64_MIN ? std::nullopt : std::optional<int64_t>(x < 0 ? -x : x);
  if (t == "Not") return x == 0;
  if (t == "Sign") return (x > 0) - (x < 0);
  if (t == "Identity" || t == "Floor" || t == "Ceil" || t == "Round") return x;
  return std::nullopt;
}

}  // namespace

void OnnxImporter::elementwise(OpKind kind) {
  const std::string& t = m_node->op_type;
  std::vector<const Value*> ins;
  for (size_t i = 0; i < m_node->inputs.size(); ++i)
    if (has_in(i)) ins.push_back(&in(i));
  if (ins.empty()) fail("the operator has no inputs");
  if (t == "Where" && ins.size() != 3) fail("Where takes 3 inputs (condition, X, Y)");
  // Clip's min and max and Pow's exponent only parameterise the operation.
  const size_t operands = t == "Clip" || t == "Pow" ? 1 : ins.size();
  Value out;
  out.shape = ins[0]->shape;
  for (size_t i = 1; i < ins.size(); ++i) out.shape = broadcast(out.shape, ins[i]->shape);
  // The format of the result: the first activation among the value operands (Where:
  // X and Y), else the first of them; predicates give booleans.
  const size_t first = t == "Where" ? 1 : 0;
  const Value* src = ins[first];
  for (size_t i = first; i < operands; ++i)
    if (!ins[i]->is_const) {
      src = ins[i];
      break;
    }
  out.dtype = is_predicate(t) ? DType::uint8 : src->dtype;
  // Integer values (shape arithmetic): flat broadcasting of equal sizes or scalars.
  const size_t n = static_cast<size_t>(numel(out.shape));
  bool known = n <= 64;
  for (const Value* v : ins) known = known && v->values && (v->values->size() == 1 || v->values->size() == n);
  if (known) {
    std::vector<int64_t> vals(n);
    const auto at = [&](const Value* v, size_t i) { return (*v->values)[v->values->size() == 1 ? 0 : i]; };
    for (size_t i = 0; i < n && known; ++i) {
      std::optional<int64_t> r;
      if (t == "Where") {
        r = at(ins[0], i) != 0 ? at(ins[1], i) : at(ins[2], i);
      } else if (ins.size() == 1) {
        r = fold1(t, at(ins[0], i));
      } else {
        r = at(ins[0], i);
        for (size_t j = 1; j < ins.size() && r; ++j) r = fold2(t, *r, at(ins[j], i));
      }
      if (r)
        vals[i] = *r;
      else
        known = false;
    }
    if (known) out.values = std::move(vals);
  }
  Op op = vec_op(kind, out.shape, src->dtype);
  op.out_dtype = out.dtype;
  if (kind == OpKind::add || kind == OpKind::mul) {
    // Full-size operands read (broadcast ones are small and cached): at least one.
    int64_t full = 0;
    for (size_t i = 0; i < operands; ++i) full += numel(ins[i]->shape) == static_cast<int64_t>(n) ? 1 : 0;
    op.attrs["inputs"] = std::max<int64_t>(1, full);
  }
  out.producer = emit(op);
  set_out(out);
}

// ReduceMean/Sum/Max/Min/Prod/L2/SumSquare...: the axes from the attribute (before
// opset 18; ReduceSum before 13) or input 1; keepdims (default 1);
// noop_with_empty_axes. One IR `reduce`: rows = the reduced elements per output,
// cols = the outputs.
void OnnxImporter::reduce_op() {
  const Value& x = in(0);
  const std::string& t = m_node->op_type;
  const int64_t opset = m_model.opset == 0 ? 18 : m_model.opset;
  const bool axes_input = t == "ReduceSum" ? opset >= 13 : opset >= 18;
  std::vector<int64_t> axes;
  if (axes_input) {
    if (has_in(1)) axes = ints_input_or_attr(1, "");
  } else if (const OnnxAttr* a = m_node->attr("axes")) {
    axes = a->ints;
  }
  const size_t rank = x.shape.size();
  if (axes.empty()) {
    if (m_node->attr_i("noop_with_empty_axes", 0) != 0) {
      alias();
      return;
    }
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) reduced[static_cast<size_t>(axis(a, rank))] = true;
  const bool keep = m_node->attr_i("keepdims", 1) != 0;
  Value out;
  out.dtype = x.dtype;
  int64_t rows = 1, cols = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      rows = mul_checked(rows, x.shape[i]);
      if (keep) out.shape.push_back(1);
    } else {
      cols = mul_checked(cols, x.shape[i]);
      out.shape.push_back(x.shape[i]);
    }
  }
  if (rows == 0 || cols == 0) fail(fmt::format("reduction of an empty tensor [{}]", fmt::join(x.shape, ",")));
  Op op;
  op.kind = OpKind::reduce;
  op.dtype = op.out_dtype = x.dtype;
  op.attrs = {{"rows", rows}, {"cols", cols}};
  out.producer = emit(op);
  set_out(out);
}

// TopK (a router's top-k experts, a detector's best boxes): one pass over the
// input that keeps the k largest (or smallest) of each slice along `axis`, as
// PyTorch's topk kernel (a radix select per slice, aten/src/ATen/native/cuda/TensorTopK.cu).
// The IR's reduce over rows = the axis's length for each of cols = the other
// elements, writing k values and k int64 indices per slice: outputs = k + the
// indices' size in values (8 bytes each).
void OnnxImporter::topk() {
  const Value& x = in(0);
  const std::vector<int64_t> kv = ints_input_or_attr(1, "k");
  if (kv.size() != 1 || kv[0] < 1)
    fail("K must be one positive integer (a constant input, or attribute k before opset 10)");
  const int64_t k = kv[0];
  const int64_t ax = axis(m_node->attr_i("axis", -1), x.shape.size());
  const int64_t len = x.shape[static_cast<size_t>(ax)];
  if (k > len) fail(fmt::format("K = {} is larger than axis {} of [{}]", k, ax, fmt::join(x.shape, ",")));
  const int64_t cols = numel(x.shape) / len;
  if (cols == 0) fail(fmt::format("TopK of an empty tensor [{}]", fmt::join(x.shape, ",")));
  Op op;
  op.kind = OpKind::reduce;
  op.dtype = op.out_dtype = x.dtype;
  const double index_values = std::ceil(8.0 * static_cast<double>(k) / dtype_bytes(x.dtype, 1));
  if (index_values > 0x1p48) fail(fmt::format("K = {} is larger than the 2^48 an op's dimension may be", k));
  op.attrs = {{"rows", len}, {"cols", cols}, {"outputs", k + static_cast<int64_t>(index_values)}};
  Value out;
  out.shape = x.shape;
  out.shape[static_cast<size_t>(ax)] = k;
  out.dtype = x.dtype;
  out.producer = emit(op);
  set_out(out, 0);
  out.dtype = DType::int32;  // int64 indices (integer tensors are int32 in Tessera's formats)
  set_out(out, 1);
}

// Einsum of one operand (a permutation, or sums over the letters the output drops)
// or two (a batched product: letters in both inputs and the output are batch
// dimensions, in both inputs only contracted, in one input and the output free).
// An ellipsis stands for an operand's dimensions beyond its letters, broadcast
// right-aligned across the operands (numpy's rule, which ONNX's Einsum follows); it
// becomes letters no term uses, and the implicit output (no "->") lists them first,
// then the letters that appear once, alphabetically.
namespace {

// The comma-separated operand terms of an Einsum equation's left-hand side.
std::vector<std::string> einsum_terms(const std::string& lhs) {
  std::vector<std::string> terms;
  for (size_t pos = 0;;) {
    const size_t comma = lhs.find(',', pos);
    terms.push_back(lhs.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return terms;
}

}  // namespace

std::string OnnxImporter::expand_ellipsis(const std::string& e, const std::string& given) const {
  const size_t arrow = e.find("->");
  const std::string lhs = e.substr(0, arrow);
  std::vector<std::string> terms = einsum_terms(lhs);
  std::set<char> used;
  std::map<char, int> count;
  for (const std::string& t : terms)
    for (char c : t)
      if (std::isalpha(static_cast<unsigned char>(c))) {
        used.insert(c);
        ++count[c];
      }
  if (arrow != std::string::npos)
    for (char c : e.substr(arrow + 2)) used.insert(c);
  std::string fresh;
  for (char c : std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    if (!used.contains(c)) fresh += c;
  size_t most = 0;
  std::vector<size_t> ell(terms.size(), 0);
  for (size_t i = 0; i < terms.size() && i < m_node->inputs.size(); ++i) {
    const size_t at = terms[i].find("...");
    if (at == std::string::npos) continue;
    if (terms[i].find("...", at + 3) != std::string::npos)
      fail(fmt::format("equation '{}': operand {} has more than one ellipsis", given, i));
    const size_t letters = terms[i].size() - 3, rank = in(i).shape.size();
    if (rank < letters)
      fail(fmt::format("equation '{}': operand {} has {} letters besides the ellipsis but rank {}", given, i,
                       letters, rank));
    ell[i] = rank - letters;
    most = std::max(most, ell[i]);
  }
  if (most > fresh.size())
    fail(fmt::format("equation '{}': the ellipsis spans more dimensions than free letters", given));
  const std::string dims = fresh.substr(0, most);
  std::string out;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (const size_t at = terms[i].find("..."); at != std::string::npos)
      terms[i].replace(at, 3, dims.substr(most - ell[i]));
    out += (i ? "," : "") + terms[i];
  }
  std::string rhs;
  if (arrow != std::string::npos) {
    rhs = e.substr(arrow + 2);
    if (const size_t at = rhs.find("..."); at != std::string::npos) rhs.replace(at, 3, dims);
    if (rhs.find("...") != std::string::npos)
      fail(fmt::format("equation '{}': the output has more than one ellipsis", given));
  } else {
    rhs = dims;
    for (const auto& [c, k] : count)
      if (k == 1) rhs += c;
  }
  return out + "->" + rhs;
}

void OnnxImporter::einsum() {
  const OnnxAttr* eq = m_node->attr("equation");
  if (!eq || eq->s.empty()) fail("attribute equation is missing");
  std::string e;
  for (char c : eq->s)
    if (c != ' ') e += c;
  if (e.find("...") != std::string::npos) e = expand_ellipsis(e, eq->s);
  const size_t arrow = e.find("->");
  const std::string lhs = e.substr(0, arrow);
  std::vector<std::string> terms = einsum_terms(lhs);
  if (terms.size() != 1 && terms.size() != 2)
    fail(fmt::format("equation '{}' has {} operands; 1 or 2 are supported", eq->s, terms.size()));
  std::map<char, int64_t> size;
  std::map<char, int> count;
  for (size_t i = 0; i < terms.size(); ++i) {
    const Value& v = in(i);
    if (terms[i].size() != v.shape.size())
      fail(fmt::format("equation '{}': operand {} has {} letters but rank {}", eq->s, i, terms[i].size(),
                       v.shape.size()));
    std::set<char> seen;
    for (size_t j = 0; j < terms[i].size(); ++j) {
      const char c = terms[i][j];
      if (!std::isalpha(static_cast<unsigned char>(c)))
        fail(fmt::format("equation '{}': '{}' is not a letter", eq->s, c));
      if (!seen.insert(c).second)
        fail(fmt::format("equation '{}': letter '{}' repeats in one operand (a diagonal)", eq->s, c));
      const auto [it, fresh] = size.emplace(c, v.shape[j]);
      if (!fresh && it->second != v.shape[j] && it->second != 1 && v.shape[j] != 1)
        fail(fmt::format("equation '{}': letter '{}' has sizes {} and {}", eq->s, c, it->second, v.shape[j]));
      it->second = std::max(it->second, v.shape[j]);
      ++count[c];
    }
  }
  std::string rhs;
  if (arrow != std::string::npos) {
    rhs = e.substr(arrow + 2);
  } else {  // implicit output: the letters that appear once, alphabetically
    for (const auto& [c, k] : count)
      if (k == 1) rhs += c;
  }
  Value out;
  out.dtype = in(0).dtype;
  for (char c : rhs) {
    if (!size.contains(c)) fail(fmt::format("equation '{}': output letter '{}' is in no operand", eq->s, c));
    out.shape.push_back(size[c]);
  }
  const auto in_term = [&](size_t i, char c) { return terms[i].find(c) != std::string::npos; };
  const auto in_out = [&](char c) { return rhs.find(c) != std::string::npos; };
  if (terms.size() == 1) {
    const int64_t total = numel(in(0).shape), kept = numel(out.shape);
    Op op;
    if (kept == total) {
      op = vec_op(OpKind::transpose, in(0).shape, out.dtype);
    } else {
      op.kind = OpKind::reduce;
      op.dtype = op.out_dtype = out.dtype;
      op.attrs = {{"rows", kept == 0 ? 0 : total / kept}, {"cols", kept}};
    }
    out.producer = emit(op);
    set_out(out);
    return;
  }
  int64_t batch = 1, m = 1, n = 1, k = 1;
  for (const auto& [c, s] : size) {
    const bool a = in_term(0, c), b = in_term(1, c), o = in_out(c);
    if (a && b) {
      if (o)
        batch = mul_checked(batch, s);
      else
        k = mul_checked(k, s);
    } else if (!o) {
      fail(fmt::format("equation '{}': letter '{}' is summed within one operand; only products are supported",
                       eq->s, c));
    } else if (a) {
      m = mul_checked(m, s);
    } else {
      n = mul_checked(n, s);
    }
  }
  Op op;
  op.kind = OpKind::matmul;
  op.dtype = in(0).dtype;
  op.out_dtype = product_out_dtype(op.dtype);
  op.attrs = {{"batch", batch}, {"m", m}, {"n", n}, {"k", k}};
  out.dtype = op.out_dtype;
  out.producer = emit(op);
  set_out(out);
}

}  // namespace tessera::onnx
