// ONNX import: tensor values during shape inference, the shape helpers, and the
// shape and data-movement operators (views launch nothing; Transpose, Concat,
// Gather, Cast and Slice launch a copy unless they fold to a constant).
#include <fmt/format.h>

#include <algorithm>

#include "workloads/importers/onnx/importer.h"

namespace tessera::onnx {

int64_t mul_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62))
    throw ShapeError{fmt::format("{} x {} is negative or larger than 2^62", a, b)};
  return r;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ShapeError{fmt::format("shape [{}] has a negative dimension", fmt::join(s, ","))};
    n = mul_checked(n, d);
  }
  return n;
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) st[i - 1] = st[i] * shape[i];
  return st;
}

void for_each_index(const std::vector<int64_t>& shape, const std::function<void(const std::vector<int64_t>&)>& f) {
  for (int64_t d : shape)
    if (d <= 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    f(idx);
    size_t d = shape.size();
    while (d > 0 && ++idx[d - 1] == shape[d - 1]) idx[--d] = 0;
    if (d == 0) return;
  }
}

// Input `i` of the current node (must exist and have a known shape).
const Value& OnnxImporter::in(size_t i) const {
  if (i >= m_node->inputs.size() || m_node->inputs[i].empty())
    fail(fmt::format("input {} is missing", i));
  auto it = m_values.find(m_node->inputs[i]);
  if (it == m_values.end())
    fail(fmt::format("input '{}' is not produced by an earlier node, an initializer or a graph "
                     "input", m_node->inputs[i]));
  return it->second;
}

std::vector<int> OnnxImporter::deps_of_inputs() const {
  std::vector<int> d;
  for (const auto& name : m_node->inputs) {
    auto it = m_values.find(name);
    if (!name.empty() && it != m_values.end() && it->second.producer >= 0 &&
        std::find(d.begin(), d.end(), it->second.producer) == d.end())
      d.push_back(it->second.producer);
  }
  return d;
}

void OnnxImporter::emit_out(Op op, std::vector<int64_t> shape, DType dtype) {
  Value out;
  out.shape = std::move(shape);
  out.dtype = dtype;
  out.producer = emit(std::move(op));
  set_out(std::move(out));
}

void OnnxImporter::set_out(Value v, size_t idx) {
  if (idx >= m_node->outputs.size()) return;
  // ONNX's shape inference is the reference where it found a static shape.
  if (const auto it = m_model.inferred.find(m_node->outputs[idx]); it != m_model.inferred.end() &&
                                                                      it->second != v.shape) {
    const auto dims = [](const std::vector<int64_t>& s) {
      std::string out;
      for (int64_t d : s) out += fmt::format("{}{}", out.empty() ? "" : ", ", d);
      return "[" + out + "]";
    };
    fail(fmt::format("output '{}' has shape {} here but {} by ONNX shape inference", m_node->outputs[idx],
                     dims(v.shape), dims(it->second)));
  }
  v.is_const = m_folding;
  if (m_folding) v.producer = -1;
  m_values[m_node->outputs[idx]] = std::move(v);
}

// Appends an op for the current node unless it folds to a constant.
int OnnxImporter::emit(Op op) {
  if (m_folding) return -1;
  op.name = m_name;
  op.deps = deps_of_inputs();
  return m_graph.add(std::move(op));
}

Op OnnxImporter::vec_op(OpKind kind, const std::vector<int64_t>& shape, DType dt) const {
  Op op;
  op.kind = kind;
  op.dtype = op.out_dtype = dt;
  const int64_t cols = shape.empty() ? 1 : shape.back();
  op.attrs = {{"rows", cols == 0 ? 0 : numel(shape) / cols}, {"cols", cols}};
  return op;
}

int64_t OnnxImporter::axis(int64_t a, size_t rank) const {
  const int64_t r = static_cast<int64_t>(rank);
  if (a < -r || a >= r) fail(fmt::format("axis {} is out of range for rank {}", a, rank));
  return a < 0 ? a + r : a;
}

std::vector<int64_t> OnnxImporter::ints_input_or_attr(size_t input, std::string_view attr) const {
  if (has_in(input)) {
    const Value& v = in(input);
    if (!v.values) fail(fmt::format("input '{}' must be a constant integer tensor",
                                    m_node->inputs[input]));
    return *v.values;
  }
  if (const OnnxAttr* a = m_node->attr(attr)) return a->ints;
  return {};
}

std::vector<int64_t> OnnxImporter::broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b) const {
  std::vector<int64_t> out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (x != y && x != 1 && y != 1)
      fail(fmt::format("shapes [{}] and [{}] do not broadcast", fmt::join(a, ","),
                       fmt::join(b, ",")));
    out[i] = std::max(x, y);
  }
  return out;
}

OnnxImporter::AxisPair OnnxImporter::axis_pair(std::string_view what, size_t axes, int64_t fallback) const {
  const OnnxAttr* a = m_node->attr(what);
  if (!a || a->ints.empty()) return {fallback, fallback};
  const std::vector<int64_t>& v = a->ints;
  if (v.size() != axes)
    fail(fmt::format("{} [{}] must list {} value(s), one per spatial axis", what, fmt::join(v, ","), axes));
  if (axes == 1) return {v[0], 1};
  return {v[axes - 2], axes == 3 ? v[0] : 1, v[axes - 1]};
}

// The window of a conv/pool with kernel k (per axis): pads from `pads` or auto_pad,
// then the IR's attributes. Equal padding on both sides of an axis is the IR's pad
// of that axis (`pad` the height's, `pad_w` the width's, `pad_d` the depth's:
// Inception's 1x7 convolutions, pads [0,3,0,3], are pad 0 and pad_w 3); uneven
// padding (SAME with an odd total) is folded into that axis's input extent (pad 0
// and the extent enlarged by the padding), which gives the exact output size and
// FLOPs and counts the padding as read input.
// ceil_mode (pools) rounds the output size up; the extent grows to the last window.
OnnxImporter::Window OnnxImporter::window(const std::vector<int64_t>& in_sp, const std::vector<int64_t>& k,
                                          AxisPair stride, AxisPair dil, bool ceil_mode) const {
  const size_t axes = in_sp.size();
  const auto stride_of = [&](size_t i) { return stride.of(i, axes); };
  const auto dil_of = [&](size_t i) { return dil.of(i, axes); };
  const OnnxAttr* ap = m_node->attr("auto_pad");
  const std::string mode = ap ? ap->s : "NOTSET";
  std::vector<int64_t> begin(axes, 0), end(axes, 0);
  if (mode == "NOTSET") {
    if (const OnnxAttr* pads = m_node->attr("pads")) {
      if (pads->ints.size() != 2 * axes)
        fail(fmt::format("pads [{}] must list a begin and an end for each of {} axes",
                         fmt::join(pads->ints, ","), axes));
      for (size_t i = 0; i < axes; ++i) {
        begin[i] = pads->ints[i];
        end[i] = pads->ints[i + axes];
      }
    }
  } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    for (size_t i = 0; i < axes; ++i) {
      const int64_t st = stride_of(i);
      const int64_t out = (in_sp[i] + st - 1) / st;
      const __int128 need =
          static_cast<__int128>(out - 1) * st + static_cast<__int128>(dil_of(i)) * (k[i] - 1) + 1;
      if (need > (int64_t{1} << 62)) fail("the window is larger than 2^62");
      const int64_t total = std::max<int64_t>(0, static_cast<int64_t>(need) - in_sp[i]);
      begin[i] = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
      end[i] = total - begin[i];
    }
  } else if (mode != "VALID") {
    fail(fmt::format("auto_pad '{}' is not accepted; accepted: NOTSET, VALID, SAME_UPPER, SAME_LOWER", mode));
  }
  Window w;
  // The IR's pad of axis i ([d,] [h,] w: role 0 depth, 1 height, 2 width).
  const auto pad_of = [&](size_t i) -> int64_t& {
    const size_t role = i + 3 - axes;
    return role == 0 ? w.pad_d : role == 1 ? w.pad : w.pad_w;
  };
  for (size_t i = 0; i < axes; ++i) {
    const bool folded = begin[i] != end[i];
    if (!folded) pad_of(i) = begin[i];
    const int64_t pad = pad_of(i);
    const int64_t st = stride_of(i), dl = dil_of(i);
    int64_t ext = in_sp[i];
    if (folded && (__builtin_add_overflow(ext, begin[i], &ext) || __builtin_add_overflow(ext, end[i], &ext)))
      fail("the padded input is larger than 2^63");
    int64_t out = conv_out_dim(ext, k[i], st, folded ? 0 : pad, dl);
    if (ceil_mode) {
      // 128-bit: a window dimension may be as large as the weights allow.
      const __int128 reach = static_cast<__int128>(dl) * (k[i] - 1) + 1;
      const __int128 span = static_cast<__int128>(in_sp[i]) + begin[i] + end[i] - reach;
      const __int128 up = span < 0 ? 0 : (span + st - 1) / st + 1;
      if (up > out) {
        const __int128 e = (up - 1) * st + reach - 2 * static_cast<__int128>(folded ? 0 : pad);
        if (e > (int64_t{1} << 62)) fail("the pooled extent is larger than 2^62");
        ext = static_cast<int64_t>(e);
        out = static_cast<int64_t>(up);
      }
    }
    w.in.push_back(ext);
    w.out.push_back(out);
  }
  return w;
}

void OnnxImporter::set_window(Op& op, const Window& win, const std::vector<int64_t>& k, AxisPair stride,
                              AxisPair dil) const {
  const size_t axes = win.in.size();
  const bool conv = op.kind == OpKind::conv2d;
  op.attrs["h"] = axes == 1 ? 1 : win.in[axes - 2];
  op.attrs["w"] = win.in[axes - 1];
  op.attrs["r"] = axes == 1 ? 1 : k[axes - 2];
  op.attrs["s"] = k[axes - 1];
  // A 1-D op's one axis is its width: the height of 1 takes the width's stride
  // and no padding.
  op.attrs["stride"] = axes == 1 ? stride.width() : stride.hw;
  op.attrs["pad"] = axes == 1 ? 0 : win.pad;
  if (conv) op.attrs["dilation"] = axes == 1 ? dil.width() : dil.hw;
  if (stride.width() != op.at("stride")) op.attrs["stride_w"] = stride.width();
  if (win.pad_w != op.at("pad")) op.attrs["pad_w"] = win.pad_w;
  if (conv && dil.width() != op.at("dilation")) op.attrs["dilation_w"] = dil.width();
  if (axes == 3) {
    op.attrs["d"] = win.in[0];
    op.attrs["t"] = k[0];
    op.attrs["stride_d"] = stride.d;
    op.attrs["pad_d"] = win.pad_d;
    if (conv) op.attrs["dilation_d"] = dil.d;
  }
}

// Shape-only operators: the output aliases the input's producer.
void OnnxImporter::alias_with_shape(std::vector<int64_t> shape) {
  const Value& x = in(0);
  if (numel(shape) != numel(x.shape))
    fail(fmt::format("cannot view [{}] as [{}]", fmt::join(x.shape, ","), fmt::join(shape, ",")));
  Value out = x;
  out.shape = std::move(shape);
  set_out(out);
  if (!m_folding && x.is_const) m_values[m_node->outputs[0]].is_const = true;
}

void OnnxImporter::flatten() {
  const Value& x = in(0);
  const int64_t ax = x.shape.empty() ? 0 : (m_node->attr_i("axis", 1) == static_cast<int64_t>(x.shape.size())
                                                ? static_cast<int64_t>(x.shape.size())
                                                : axis(m_node->attr_i("axis", 1), x.shape.size()));
  int64_t outer = 1;
  for (int64_t i = 0; i < ax; ++i) outer *= x.shape[static_cast<size_t>(i)];
  alias_with_shape({outer, numel(x.shape) / std::max<int64_t>(outer, 1)});
}

void OnnxImporter::reshape() {
  const Value& x = in(0);
  std::vector<int64_t> target = ints_input_or_attr(1, "shape");
  const bool allowzero = m_node->attr_i("allowzero", 0) != 0;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allowzero) {
      if (i >= x.shape.size()) fail("shape entry 0 refers to a dimension the input lacks");
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (infer >= 0) fail("shape has more than one -1");
      infer = static_cast<int>(i);
    } else {
      known = mul_checked(known, target[i]);
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel(x.shape) % known != 0)
      fail(fmt::format("cannot reshape [{}] to [{}]", fmt::join(x.shape, ","), fmt::join(target, ",")));
    target[static_cast<size_t>(infer)] = numel(x.shape) / known;
  }
  alias_with_shape(target);
}

void OnnxImporter::squeeze(bool unsqueeze) {
  const Value& x = in(0);
  std::vector<int64_t> axes = ints_input_or_attr(1, "axes");
  std::vector<int64_t> shape = x.shape;
  if (unsqueeze) {
    const size_t rank = shape.size() + axes.size();
    for (auto& a : axes) a = axis(a, rank);
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) shape.insert(shape.begin() + a, 1);
  } else if (axes.empty()) {
    shape.erase(std::remove(shape.begin(), shape.end(), 1), shape.end());
  } else {
    for (auto& a : axes) a = axis(a, shape.size());
    std::sort(axes.rbegin(), axes.rend());
    for (int64_t a : axes) {
      if (shape[static_cast<size_t>(a)] != 1) fail(fmt::format("cannot squeeze axis {} of size {}", a, shape[static_cast<size_t>(a)]));
      shape.erase(shape.begin() + a);
    }
  }
  alias_with_shape(shape);
}

void OnnxImporter::transpose() {
  const Value& x = in(0);
  std::vector<int64_t> perm;
  if (const OnnxAttr* p = m_node->attr("perm")) perm = p->ints;
  if (perm.empty())
    for (size_t i = x.shape.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  if (perm.size() != x.shape.size()) fail("perm does not match the input rank");
  Value out;
  out.dtype = x.dtype;
  std::vector<int64_t> from;   // input axis of each output axis
  for (int64_t p : perm) {
    from.push_back(axis(p, x.shape.size()));
    out.shape.push_back(x.shape[static_cast<size_t>(from.back())]);
  }
  if (x.values && static_cast<int64_t>(x.values->size()) == numel(x.shape)) {
    // Small integer tensors (shape arithmetic, e.g. pads reordered): the values too.
    const std::vector<int64_t> in_strides = row_major_strides(x.shape);
    std::vector<int64_t> v;
    for_each_index(out.shape, [&](const std::vector<int64_t>& idx) {
      int64_t at = 0;
      for (size_t d = 0; d < idx.size(); ++d) at += idx[d] * in_strides[static_cast<size_t>(from[d])];
      v.push_back((*x.values)[static_cast<size_t>(at)]);
    });
    out.values = v;
  }
  out.producer = emit(vec_op(OpKind::transpose, x.shape, x.dtype));
  set_out(out);
}

void OnnxImporter::concat() {
  const Value& first = in(0);
  const int64_t ax = axis(m_node->attr_i("axis", 0), std::max<size_t>(first.shape.size(), 1));
  Value out;
  out.shape = first.shape;
  out.dtype = first.dtype;
  bool values = true;
  std::vector<int64_t> v;
  for (size_t i = 0; i < m_node->inputs.size(); ++i) {
    if (!has_in(i)) continue;
    const Value& x = in(i);
    if (x.shape.size() != first.shape.size()) fail("inputs differ in rank");
    if (i > 0 && !x.shape.empty()) out.shape[static_cast<size_t>(ax)] += x.shape[static_cast<size_t>(ax)];
    if (x.values) v.insert(v.end(), x.values->begin(), x.values->end());
    else values = false;
  }
  if (values && out.shape.size() == 1) out.values = v;
  out.producer = emit(vec_op(OpKind::copy, out.shape, out.dtype));
  set_out(out);
}

void OnnxImporter::gather() {
  const Value& data = in(0);
  const Value& idx = in(1);
  if (data.shape.empty()) fail("Gather from a scalar");
  const int64_t ax = axis(m_node->attr_i("axis", 0), data.shape.size());
  Value out;
  out.dtype = data.dtype;
  out.shape.assign(data.shape.begin(), data.shape.begin() + ax);
  out.shape.insert(out.shape.end(), idx.shape.begin(), idx.shape.end());
  out.shape.insert(out.shape.end(), data.shape.begin() + ax + 1, data.shape.end());
  if (data.values && idx.values && data.shape.size() == 1) {
    std::vector<int64_t> v;
    for (int64_t i : *idx.values) {
      const int64_t j = i < 0 ? i + data.shape[0] : i;
      if (j < 0 || j >= data.shape[0]) fail(fmt::format("index {} is out of range", i));
      v.push_back((*data.values)[static_cast<size_t>(j)]);
    }
    out.values = v;
  }
  if (data.is_const && data.shape.size() == 2 && ax == 0) {
    m_weights.insert(m_node->inputs[0]);  // the table is the layer's weight (counted by the embedding)
    Op op;  // embedding lookup: rows of a weight table
    op.kind = OpKind::embedding;
    op.dtype = op.out_dtype = data.dtype;
    op.attrs = {{"tokens", std::max<int64_t>(1, numel(idx.shape))}, {"dim", data.shape[1]},
                {"vocab", data.shape[0]}};
    out.producer = emit(op);
  } else {
    out.producer = emit(vec_op(OpKind::copy, out.shape, out.dtype));
  }
  set_out(out);
}

void OnnxImporter::constant() {
  Value out;
  const OnnxAttr* a = m_node->attr("value");
  if (a && a->has_t) {
    out.shape = a->t.dims;
    out.dtype = onnx_dtype(a->t.data_type).value_or(DType::fp32);
    if (numel(out.shape) <= 64) out.values = tensor_ints(a->t);
    out.real = tensor_real_scalar(a->t);
  } else if ((a = m_node->attr("value_int"))) {
    out.dtype = DType::int32;
    out.values = std::vector<int64_t>{a->i};
  } else if ((a = m_node->attr("value_ints"))) {
    out.shape = {static_cast<int64_t>(a->ints.size())};
    out.dtype = DType::int32;
    out.values = a->ints;
  } else if ((a = m_node->attr("value_float"))) {
    out.dtype = DType::fp32;
    out.real = a->f;
  } else if ((a = m_node->attr("value_floats"))) {
    out.dtype = DType::fp32;
    out.shape = {static_cast<int64_t>(a->ints.size())};
  } else {
    fail("Constant without a supported value attribute (value, value_int, value_ints, "
         "value_float, value_floats)");
  }
  set_out(out);
}

void OnnxImporter::shape() {
  const Value& x = in(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t start = m_node->attr_i("start", 0), end = m_node->attr_i("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Value out;
  out.dtype = DType::int32;
  out.values = std::vector<int64_t>(x.shape.begin() + start, x.shape.begin() + end);
  out.shape = {end - start};
  set_out(out);
}

void OnnxImporter::cast() {
  const Value& x = in(0);
  Value out = x;
  out.dtype = onnx_dtype(static_cast<int32_t>(m_node->attr_i("to", 1))).value_or(x.dtype);
  if (m_folding) {
    set_out(out);
    return;
  }
  Op op = vec_op(OpKind::copy, x.shape, x.dtype);
  op.out_dtype = out.dtype;
  out.producer = emit(op);
  set_out(out);
}

void OnnxImporter::slice() {
  const Value& x = in(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (has_in(1)) {  // opset >= 10: inputs
    starts = ints_input_or_attr(1, "");
    ends = ints_input_or_attr(2, "");
    if (has_in(3)) axes = ints_input_or_attr(3, "");
    if (has_in(4)) steps = ints_input_or_attr(4, "");
  } else {
    starts = ints_input_or_attr(99, "starts");
    ends = ints_input_or_attr(99, "ends");
    axes = ints_input_or_attr(99, "axes");
  }
  if (starts.size() != ends.size()) fail("starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  Value out = x;
  out.values.reset();
  std::vector<int64_t> first(x.shape.size(), 0), step(x.shape.size(), 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t a = static_cast<size_t>(axis(axes[i], x.shape.size()));
    const int64_t dim = x.shape[a];
    if (steps[i] == 0) fail("slice step 0");
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (steps[i] > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out.shape[a] = e > s ? (e - s + steps[i] - 1) / steps[i] : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out.shape[a] = s > e ? (s - e - steps[i] - 1) / -steps[i] : 0;
    }
    first[a] = s;
    step[a] = steps[i];
  }
  if (x.values && static_cast<int64_t>(x.values->size()) == numel(x.shape)) {
    const std::vector<int64_t> in_strides = row_major_strides(x.shape);
    std::vector<int64_t> v;
    for_each_index(out.shape, [&](const std::vector<int64_t>& idx) {
      int64_t at = 0;
      for (size_t d = 0; d < idx.size(); ++d) at += (first[d] + idx[d] * step[d]) * in_strides[d];
      v.push_back((*x.values)[static_cast<size_t>(at)]);
    });
    out.values = v;
  }
  if (numel(out.shape) == 0 && !m_folding) fail("the slice is empty");
  out.producer = emit(vec_op(OpKind::copy, out.shape, x.dtype));
  set_out(out);
}

}  // namespace tessera::onnx
