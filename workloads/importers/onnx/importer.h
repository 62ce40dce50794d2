#pragma once
// ONNX graph -> Tessera graph (internal to the ONNX importer).
//
// Shapes are inferred node by node from the graph inputs and initializers.
// Symbolic dimensions (dim_param, e.g. a batch size) take the size the workload
// spec gives them by name (`model.onnx:batch_size=8`, bound before ONNX's shape
// inference) or 1; the unbound ones are counted in info["onnx_symbolic_dims"]. Nodes whose inputs are all
// constants (initializers, Constant, Shape outputs) are folded: they launch nothing.
//
// The operators accepted are the keys of one table (op_table(), ops.cpp), each
// with its handler: check_supported() reports every node whose operator is not a
// key and node() dispatches through the same table, so the support check and the
// import cannot disagree. Files: import.cpp (the walk over the graph, the support
// check), shapes.cpp (tensor values, shape helpers, the shape and data-movement
// operators), ops.cpp (the table and the compute operators), elementwise.cpp
// (element-wise operators of any arity with their integer values, reductions,
// Einsum), layout.cpp (operators whose output shape comes from another input's
// values: Expand, Tile, Pad, Split, Resize, ConstantOfShape, Range, ScatterND,
// Trilu).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/importers/onnx/graph.h"
#include "workloads/ir.h"

namespace tessera::onnx {

// A tensor during shape inference.
struct Value {
  std::vector<int64_t> shape;
  DType dtype = DType::fp32;
  int producer = -1;     // op that wrote it (-1: graph input or constant)
  bool is_const = false; // known before the model runs (initializer, Constant, Shape)
  std::optional<std::vector<int64_t>> values;  // integer contents when known and small
  std::optional<double> real;                  // a one-element floating constant's value
};

// A shape with a negative dimension or more than 2^62 elements; turned into an
// InputError naming the node or tensor by the caller.
struct ShapeError {
  std::string what;
};

// Row-major strides (in elements) of a shape.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape);
// Calls f with every index of `shape` in row-major order (none for an empty shape).
void for_each_index(const std::vector<int64_t>& shape, const std::function<void(const std::vector<int64_t>&)>& f);

// a * b; throws ShapeError when either is negative or the product exceeds 2^62.
int64_t mul_checked(int64_t a, int64_t b);
// Elements of a shape; throws ShapeError for a negative dimension or overflow.
int64_t numel(const std::vector<int64_t>& s);

class OnnxImporter {
 public:
  OnnxImporter(const OnnxGraph& model, std::string_view source) : m_model(model), m_source(source) {}

  // Imports every node in order; throws InputError naming the source (and node).
  Graph run();

  // The accepted operator types (default domain), sorted.
  static std::vector<std::string_view> supported_ops();

 private:
  // One accepted operator: its handler, and whether its output is always a
  // constant (Constant, Shape: nothing is launched whatever the inputs).
  struct OpRule {
    void (*import)(OnnxImporter&) = nullptr;
    bool folds = false;
  };
  // op_type -> rule, sorted by op_type (ops.cpp).
  static const std::map<std::string_view, OpRule, std::less<>>& op_table();

  // import.cpp
  void check_supported() const;
  void node(const OnnxNode& n, size_t index);
  static std::string node_name(const OnnxNode& n, size_t i);

  [[noreturn]] void fail(const std::string& why) const;

  // shapes.cpp: the current node's inputs and outputs.
  // Input `i` of the current node (must exist and have a known shape).
  const Value& in(size_t i) const;
  bool has_in(size_t i) const { return i < m_node->inputs.size() && !m_node->inputs[i].empty(); }
  std::vector<int> deps_of_inputs() const;
  void set_out(Value v, size_t idx = 0);
  // Appends an op for the current node unless it folds to a constant.
  int emit(Op op);
  // The static shape ONNX's shape inference gave output `idx` of the current node.
  std::optional<std::vector<int64_t>> inferred_shape(size_t idx = 0) const;
  // A shape read from integer input `input` (its values), else ONNX's inferred shape
  // of output 0; fails naming `what` when neither is known.
  std::vector<int64_t> shape_input_or_inferred(size_t input, std::string_view what) const;
  // emit(op), then its output (index 0) with this shape and format.
  void emit_out(Op op, std::vector<int64_t> shape, DType dtype);
  // A rows x cols vector op over `shape` (cols: the last dimension).
  Op vec_op(OpKind kind, const std::vector<int64_t>& shape, DType dt) const;
  // Axis `a` (negative: from the end) of a rank-`rank` tensor, in [0, rank).
  int64_t axis(int64_t a, size_t rank) const;
  // Integers from constant input `input` when present, else from attribute `attr`.
  std::vector<int64_t> ints_input_or_attr(size_t input, std::string_view attr) const;
  // Numpy broadcast of two shapes.
  std::vector<int64_t> broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b) const;
  // A conv/pool's stride or dilation over `axes` (1, 2 or 3) spatial axes as the
  // IR takes them: the height's (`hw`, also the width's unless `w` >= 0 says
  // otherwise), a 3-D op's depth (`d`), the width's own (`w`; -1: = hw). A 1-D
  // op's one axis is its width. Attribute `what`; absent: `fallback`.
  struct AxisPair {
    int64_t hw = 1, d = 1, w = -1;
    int64_t width() const { return w < 0 ? hw : w; }
    // Spatial axis i of an op over `axes` axes ([d,] [h,] w).
    int64_t of(size_t i, size_t axes) const {
      const size_t role = i + 3 - axes;  // 0 depth, 1 height, 2 width
      return role == 0 ? d : role == 1 ? hw : width();
    }
  };
  AxisPair axis_pair(std::string_view what, size_t axes, int64_t fallback) const;
  // A conv/pool window as the IR states it: `pad` on both sides of the height,
  // `pad_w` of the width, `pad_d` of a 3-D op's depth, the input extent per axis
  // (the input size, enlarged by uneven padding or ceil_mode's last window) and the
  // output size per axis (shapes.cpp). Axes: [d,] h, w; a 1-D op's one axis is w.
  struct Window {
    int64_t pad = 0, pad_d = 0, pad_w = 0;
    std::vector<int64_t> in, out;
  };
  Window window(const std::vector<int64_t>& in, const std::vector<int64_t>& k, AxisPair stride, AxisPair dil,
                bool ceil_mode) const;
  // Sets a conv/pool op's spatial attributes from `win` and kernel `k` over its
  // 1-3 axes: h, w, r, s, stride, pad (and dilation for a convolution), the
  // width's stride_w, pad_w (dilation_w) where they differ from the height's, plus
  // d, t, stride_d, pad_d (dilation_d) for 3-D; a 1-D op is h = r = 1.
  void set_window(Op& op, const Window& win, const std::vector<int64_t>& k, AxisPair stride,
                  AxisPair dil) const;

  // shapes.cpp: shape and data-movement operators.
  void alias_with_shape(std::vector<int64_t> shape);
  void alias() { alias_with_shape(in(0).shape); }
  void dropout();
  void flatten();
  void reshape();
  void squeeze(bool unsqueeze);
  void transpose();
  void concat();
  void gather();
  void constant();
  void shape();
  void cast();
  void slice();

  // ops.cpp: compute operators.
  void matmul();
  void gemm();
  void conv();
  void pool(OpKind kind);
  void global_pool(bool max);
  void softmax();
  void layernorm();
  void batchnorm();
  void rnn(bool gru);  // LSTM (gru = false) and GRU
  void conv_transpose();
  void instance_norm();

  // elementwise.cpp
  // An element-wise operator of any arity (numpy broadcasting over every input),
  // its integer values folded where every input's are known.
  void elementwise(OpKind kind);
  void reduce_op();
  void topk();
  void einsum();
  // An Einsum equation with its ellipses written out as letters (elementwise.cpp).
  std::string expand_ellipsis(const std::string& equation, const std::string& given) const;

  // layout.cpp
  void expand();
  void tile();
  void pad();
  void split();
  void resize();
  void constant_of_shape();
  void range();
  void same_shape_copy();   // ScatterND, Trilu: a copy of input 0
  // emit() of a copy-like kernel over `shape`; an empty output is an error unless
  // the node folds.
  int emit_copy(const std::vector<int64_t>& shape, DType dt);

  const OnnxGraph& m_model;
  std::string_view m_source;
  Graph m_graph;
  std::map<std::string, Value> m_values;
  const OnnxNode* m_node = nullptr;
  std::string m_name;
  bool m_folding = false;
  int m_symbolic = 0;
  // Constant tensors already counted as a layer's weight (an embedding table, a
  // MatMul/Gemm B): a weight a second node reads is not counted again.
  std::set<std::string> m_weights;
  // Marks a MatMul/Gemm `op` whose B (input 1) is a constant as a layer with a
  // weight (param=1: the resident footprint counts k x n), its first user only.
  void mark_weight(Op& op);
};

}  // namespace tessera::onnx
