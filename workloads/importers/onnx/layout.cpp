// ONNX import: operators whose output shape comes from another input's values
// (Expand, Tile, Pad, Split, Resize, ConstantOfShape, Range) and copies of one
// input's shape (ScatterND, Trilu). Each launches one copy-like kernel over its
// output unless it folds to a constant; where an input's values are not known
// here, ONNX's shape inference (with data propagation) may still give the shape.
#include <fmt/format.h>

#include <algorithm>

#include "workloads/importers/onnx/importer.h"

namespace tessera::onnx {

std::optional<std::vector<int64_t>> OnnxImporter::inferred_shape(size_t idx) const {
  if (idx >= m_node->outputs.size()) return std::nullopt;
  const auto it = m_model.inferred.find(m_node->outputs[idx]);
  if (it == m_model.inferred.end()) return std::nullopt;
  return it->second;
}

std::vector<int64_t> OnnxImporter::shape_input_or_inferred(size_t input, std::string_view what) const {
  if (has_in(input)) {
    if (const Value& v = in(input); v.values) return *v.values;
  }
  if (auto s = inferred_shape()) return *s;
  fail(fmt::format(
      "{} (input '{}') is not a constant integer tensor and ONNX's shape inference found no static "
      "output shape; the importer needs static shapes",
      what, has_in(input) ? m_node->inputs[input] : std::string("missing")));
}

int OnnxImporter::emit_copy(const std::vector<int64_t>& shape, DType dt) {
  if (!m_folding && numel(shape) == 0) fail(fmt::format("the output [{}] is empty", fmt::join(shape, ",")));
  return emit(vec_op(OpKind::copy, shape, dt));
}

namespace {
// Integer values of `x` broadcast to `shape` (flat: x is one value or already that
// size), when known and small.
std::optional<std::vector<int64_t>> broadcast_values(const Value& x, const std::vector<int64_t>& shape) {
  if (!x.values) return std::nullopt;
  const int64_t n = numel(shape);   // ShapeError (the node's error) when it overflows
  if (n > 64) return std::nullopt;
  if (x.values->size() == 1) return std::vector<int64_t>(static_cast<size_t>(n), x.values->front());
  if (static_cast<int64_t>(x.values->size()) == n) return x.values;
  return std::nullopt;
}
}  // namespace

// A copy-like kernel over `out`'s elements in `out`'s format.
void OnnxImporter::expand() {
  const Value& x = in(0);
  const std::vector<int64_t> target = shape_input_or_inferred(1, "the shape");
  Value out;
  out.dtype = x.dtype;
  out.shape = broadcast(x.shape, target);  // Expand broadcasts both ways (numpy rules)
  out.values = broadcast_values(x, out.shape);
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

void OnnxImporter::tile() {
  const Value& x = in(0);
  const std::vector<int64_t> reps = ints_input_or_attr(1, "repeats");
  if (reps.size() != x.shape.size())
    fail(fmt::format("repeats [{}] must list one count per input dimension ({})", fmt::join(reps, ","),
                     x.shape.size()));
  Value out;
  out.dtype = x.dtype;
  for (size_t i = 0; i < reps.size(); ++i) {
    if (reps[i] < 0) fail(fmt::format("repeats [{}] has a negative count", fmt::join(reps, ",")));
    out.shape.push_back(mul_checked(x.shape[i], reps[i]));
  }
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

// Pad: pads from input 1 (opset >= 11) or the attribute; [begin..., end...] per axis
// (of `axes`, input 3, when given). Negative pads crop.
void OnnxImporter::pad() {
  const Value& x = in(0);
  const int64_t opset = m_model.opset == 0 ? 18 : m_model.opset;
  const std::vector<int64_t> pads = opset >= 11 ? ints_input_or_attr(1, "") : ints_input_or_attr(99, "pads");
  std::vector<int64_t> axes;
  if (has_in(3)) axes = ints_input_or_attr(3, "");
  if (axes.empty())
    for (size_t i = 0; i < x.shape.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (pads.size() != 2 * axes.size())
    fail(fmt::format("pads [{}] must list a begin and an end for each of {} axes", fmt::join(pads, ","),
                     axes.size()));
  Value out;
  out.dtype = x.dtype;
  out.shape = x.shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(axis(axes[i], x.shape.size()));
    int64_t d = 0;
    if (__builtin_add_overflow(out.shape[a], pads[i], &d) ||
        __builtin_add_overflow(d, pads[i + axes.size()], &d) || d < 0)
      fail(fmt::format("pads [{}] give axis {} of size {} a negative or overflowing size",
                       fmt::join(pads, ","), a, x.shape[a]));
    out.shape[a] = d;
  }
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

// Split into the node's outputs along `axis`: sizes from input 1 (opset >= 13) or
// the `split` attribute, else equal parts (num_outputs from opset 18). One kernel
// writes every part.
void OnnxImporter::split() {
  const Value& x = in(0);
  if (x.shape.empty()) fail("Split of a scalar");
  const size_t ax = static_cast<size_t>(axis(m_node->attr_i("axis", 0), x.shape.size()));
  const size_t parts = m_node->outputs.size();
  if (parts == 0) fail("Split has no outputs");
  std::vector<int64_t> sizes = has_in(1) ? ints_input_or_attr(1, "") : ints_input_or_attr(99, "split");
  const int64_t dim = x.shape[ax];
  if (sizes.empty()) {
    const int64_t each = (dim + static_cast<int64_t>(parts) - 1) / static_cast<int64_t>(parts);
    for (size_t i = 0; i < parts; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(each, dim - each * static_cast<int64_t>(i))));
  }
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0 || __builtin_add_overflow(sum, s, &sum))
      fail(fmt::format("split sizes [{}] are invalid", fmt::join(sizes, ",")));
  }
  if (sizes.size() != parts || sum != dim)
    fail(fmt::format("split sizes [{}] must give {} parts that add up to axis {}'s size {}",
                     fmt::join(sizes, ","), parts, ax, dim));
  const int producer = emit_copy(x.shape, x.dtype);
  int64_t offset = 0;
  for (size_t i = 0; i < parts; ++i) {
    Value part;
    part.dtype = x.dtype;
    part.shape = x.shape;
    part.shape[ax] = sizes[i];
    if (x.values && x.shape.size() == 1 && static_cast<int64_t>(x.values->size()) == dim)
      part.values = std::vector<int64_t>(x.values->begin() + offset, x.values->begin() + offset + sizes[i]);
    part.producer = producer;
    offset += sizes[i];
    set_out(part, i);
  }
}

// Resize (and Upsample): the output shape from `sizes` (input 3) when its values
// are known, else from ONNX's shape inference (which reads constant scales).
void OnnxImporter::resize() {
  const Value& x = in(0);
  Value out;
  out.dtype = x.dtype;
  if (has_in(3) && in(3).values && in(3).values->size() == x.shape.size()) {
    out.shape = *in(3).values;
  } else if (const auto s = inferred_shape()) {
    out.shape = *s;
  } else {
    fail(
        "the output shape is not known: sizes is not a constant and ONNX's shape inference found no static "
        "shape (scales must be a constant)");
  }
  if (out.shape.size() != x.shape.size()) fail("the output rank differs from the input's");
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

// ConstantOfShape: a tensor of the given shape filled with the `value` attribute
// (default a float 0). A constant shape folds; otherwise one fill kernel.
void OnnxImporter::constant_of_shape() {
  Value out;
  out.shape = shape_input_or_inferred(0, "the shape");
  numel(out.shape);  // rejects negative dimensions
  out.dtype = DType::fp32;
  std::optional<int64_t> fill = 0;
  if (const OnnxAttr* a = m_node->attr("value"); a && a->has_t) {
    out.dtype = onnx_dtype(a->t.data_type).value_or(DType::fp32);
    const auto v = tensor_ints(a->t);
    fill = v && v->size() == 1 ? std::optional<int64_t>(v->front()) : std::nullopt;
  }
  if (fill && numel(out.shape) <= 64)
    out.values = std::vector<int64_t>(static_cast<size_t>(numel(out.shape)), *fill);
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) elements.
void OnnxImporter::range() {
  const Value& s = in(0);
  const Value& l = in(1);
  const Value& d = in(2);
  Value out;
  out.dtype = s.dtype;
  if (s.values && l.values && d.values && s.values->size() == 1 && l.values->size() == 1 &&
      d.values->size() == 1) {
    const int64_t a = s.values->front(), b = l.values->front(), step = d.values->front();
    if (step == 0) fail("delta is 0");
    int64_t span = 0;
    if (__builtin_sub_overflow(b, a, &span) || (span == INT64_MIN && step == -1))
      fail("limit - start overflows");
    const int64_t count =
        std::max<int64_t>(0, span / step + (span % step != 0 && (span > 0) == (step > 0) ? 1 : 0));
    out.shape = {count};
    if (count <= 64) {
      std::vector<int64_t> v;
      for (int64_t i = 0; i < count; ++i) v.push_back(a + i * step);
      out.values = v;
    }
  } else if (const auto inferred = inferred_shape()) {
    out.shape = *inferred;
  } else {
    fail(
        "start, limit and delta are not constant integers and ONNX's shape inference found no static length");
  }
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

void OnnxImporter::same_shape_copy() {
  const Value& x = in(0);
  Value out;
  out.dtype = x.dtype;
  out.shape = x.shape;
  out.producer = emit_copy(out.shape, out.dtype);
  set_out(out);
}

}  // namespace tessera::onnx
