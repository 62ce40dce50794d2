#!/usr/bin/env python3
"""Writes the small ONNX models the workload tests import (checked in beside
this script; rerun it with Debian's python3-onnx to regenerate them):

  tiny_cnn.onnx     Conv(3->8, 3x3, pad 1) BatchNormalization Relu MaxPool(2)
                    Conv(depthwise, group 8, stride 2) Relu GlobalAveragePool
                    Flatten Gemm(8->10) Softmax, input 1x3x32x32 float
  tiny_mlp.onnx     MatMul(x 2x16x32, W 32x64) Add(bias) Gelu MatMul(64->32)
                    Add(residual) LayerNormalization Reshape(Shape-derived) Transpose
                    Softmax, with a symbolic batch dimension
  unsupported.onnx  two NonZero nodes and a custom-domain op after a MatMul
  exporter_ops.onnx the operators exporters emit besides the layers: LayerNorm as
                    ReduceMean/Sub/Pow/Sqrt/Div, GELU as Div/Erf/Add/Mul, ViT's class
                    token (Shape, Gather, Concat, Equal, ConstantOfShape, Where, Expand),
                    Split, Einsum, Tile, reshape targets from Range and Mod, Pad,
                    Resize (sizes), a 1x7 Conv with pads [0,3,0,3], MaxPool with
                    ceil_mode, ScatterND, HardSwish; opset 14
  einsum_ellipsis.onnx  Einsum "...ij,...jk->...ik" of A [2, 3, 4, 5] and B [3, 5, 6] (the
                    ellipses broadcast right-aligned) and its implicit-output form
                    "...ij,...jk" on the result and C [6, 7]; opset 14
  topk.onnx         a router's top-2 of 8 expert scores per token (TopK over the last
                    axis of [16, 8], K a constant input) feeding a Gather; opset 14
  dropout_train.onnx  MatMul(x 8x64, W 64x64), Dropout(ratio 0.1, training_mode an
                    initializer true, both outputs), Relu, Dropout(training_mode a
                    Constant false), Dropout() (no training_mode), Dropout(ratio a
                    Constant 0.0, training_mode true); opset 14
  dropout_dynamic.onnx  Dropout of x 4x8 whose training_mode is a graph input; opset 14
  gru_reset.onnx    a reverse GRU (input 4, hidden 8, 3 steps of 2 sequences, with B)
                    with linear_before_reset=0 (Keras' reset_after=False), opset 14
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def init(name, shape):
    rng = np.random.default_rng(sum(name.encode()))
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def save(model, name):
    model.ir_version = 8
    onnx.save(model, os.path.join(HERE, name))


def tiny_cnn():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"],
                         name="bn1"),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="dwconv", group=8,
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wfc", "bfc"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    inits = [init("w1", [8, 3, 3, 3]), init("b1", [8]), init("g", [8]), init("beta", [8]),
             init("mean", [8]), init("var", [8]), init("w2", [8, 1, 3, 3]),
             init("wfc", [10, 8]), init("bfc", [10])]
    graph = helper.make_graph(
        nodes, "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    save(model, "tiny_cnn.onnx")


def tiny_mlp():
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="fc1_bias"),
        helper.make_node("Gelu", ["hb"], ["a"], name="gelu"),
        helper.make_node("MatMul", ["a", "w2"], ["o"], name="fc2"),
        helper.make_node("Add", ["o", "x"], ["res"], name="residual"),
        helper.make_node("LayerNormalization", ["res", "ln_g", "ln_b"], ["ln"], name="ln",
                         axis=-1),
        helper.make_node("Shape", ["ln"], ["shp"], name="shape"),
        helper.make_node("Gather", ["shp", "zero"], ["batch"], name="batch_dim", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsq"),
        helper.make_node("Concat", ["batch1", "tail"], ["newshape"], name="cat_shape", axis=0),
        helper.make_node("Reshape", ["ln", "newshape"], ["heads"], name="split_heads"),
        helper.make_node("Transpose", ["heads"], ["ht"], name="to_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Softmax", ["ht"], ["y"], name="softmax", axis=-1),
    ]
    inits = [init("w1", [32, 64]), init("b1", [64]), init("w2", [64, 32]), init("ln_g", [32]),
             init("ln_b", [32]),
             numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
             numpy_helper.from_array(np.array([16, 4, 8], dtype=np.int64), "tail")]
    graph = helper.make_graph(
        nodes, "tiny_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    # Gelu is an opset-20 operator; the checker of older onnx releases does not know it.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    save(model, "tiny_mlp.onnx")


def unsupported():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
        helper.make_node("NonZero", ["h"], ["e"], name="nz_1"),
        helper.make_node("Frobnicate", ["h"], ["f"], name="custom_1", domain="com.example"),
        helper.make_node("NonZero", ["f"], ["y"], name="nz_2"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("e", TensorProto.INT64, None),
         helper.make_tensor_value_info("y", TensorProto.INT64, None)], [init("w", [8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.example", 1)])
    save(model, "unsupported.onnx")


def ints(name, values, dims=None):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)] if dims is None else dims, values)


def floats(name, values, dims=None):
    return helper.make_tensor(name, TensorProto.FLOAT, [len(values)] if dims is None else dims, values)


def exporter_ops():
    n = helper.make_node
    nodes = [
        # LayerNorm over the last axis of x [2, 16, 32], as opsets before 17 export it.
        n("ReduceMean", ["x"], ["mean"], name="ln_mean", axes=[-1]),
        n("Sub", ["x", "mean"], ["d"], name="ln_sub"),
        n("Pow", ["d", "two"], ["d2"], name="ln_pow"),
        n("ReduceMean", ["d2"], ["var"], name="ln_var", axes=[-1]),
        n("Add", ["var", "eps"], ["ve"], name="ln_eps"),
        n("Sqrt", ["ve"], ["sd"], name="ln_sqrt"),
        n("Div", ["d", "sd"], ["ln"], name="ln_div"),
        # GELU (erf form).
        n("Div", ["ln", "sqrt2"], ["g1"], name="gelu_div"),
        n("Erf", ["g1"], ["g2"], name="gelu_erf"),
        n("Add", ["g2", "one"], ["g3"], name="gelu_add"),
        n("Mul", ["ln", "g3"], ["g4"], name="gelu_mul"),
        n("Mul", ["g4", "half"], ["g5"], name="gelu_half"),
        # ViT's class token: cls_token.expand(batch, -1, -1), exported with Where.
        n("Shape", ["x"], ["shape"], name="shape"),
        n("Gather", ["shape", "zero"], ["b"], name="batch", axis=0),
        n("Unsqueeze", ["b", "axis0"], ["bu"], name="batch_1d"),
        n("Concat", ["bu", "minus1", "minus1"], ["tgt"], name="target", axis=0),
        n("Equal", ["tgt", "minus1"], ["is_m1"], name="is_minus1"),
        n("ConstantOfShape", ["three"], ["ones"], name="ones", value=ints("v", [1], [1])),
        n("Where", ["is_m1", "ones", "tgt"], ["sel"], name="where"),
        n("Expand", ["cls", "sel"], ["cls_b"], name="cls_expand"),
        n("Concat", ["cls_b", "g5"], ["tokens"], name="cat", axis=1),
        # Split off the class token; attention scores by Einsum.
        n("Split", ["tokens", "split_sizes"], ["cls_out", "patches"], name="split", axis=1),
        n("Einsum", ["patches", "patches"], ["scores"], name="einsum", equation="bij,bkj->bik"),
        n("Tile", ["cls_out", "reps"], ["tiled"], name="tile"),
        # A reshape target from Range and Mod: Range(8, 73, 64) = [8, 72];
        # Mod([-8], [10]) = [2] (the divisor's sign, numpy's %).
        n("Range", ["r_start", "r_limit", "r_delta"], ["r"], name="range"),
        n("Mod", ["r", "r_mod"], ["rm"], name="mod"),
        n("Mod", ["neg8", "ten"], ["two_dim"], name="mod_neg"),
        n("Reshape", ["tiled", "rm"], ["rs"], name="reshape"),
        n("Concat", ["two_dim", "c128"], ["rs_shape"], name="rs_target", axis=0),
        n("Reshape", ["rs", "rs_shape"], ["rs2"], name="reshape_2"),
        # An image branch: img [1, 4, 8, 8].
        n("Pad", ["img", "pads"], ["padded"], name="pad"),
        n("Resize", ["padded", "", "", "sizes"], ["big"], name="resize", mode="nearest"),
        n("Conv", ["big", "w17"], ["conv"], name="conv_1x7", pads=[0, 3, 0, 3], kernel_shape=[1, 7]),
        n("MaxPool", ["conv"], ["pooled"], name="pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        n("ScatterND", ["pooled", "sc_idx", "sc_upd"], ["scattered"], name="scatter"),
        n("HardSwish", ["scattered"], ["hs"], name="hardswish"),
    ]
    inits = [floats("two", [2.0], []), floats("eps", [1e-5], []), floats("sqrt2", [1.4142135], []),
             floats("one", [1.0], []), floats("half", [0.5], []), ints("zero", [0], []), ints("axis0", [0]),
             ints("minus1", [-1]), ints("three", [3]), init("cls", [1, 1, 32]), ints("split_sizes", [1, 16]),
             ints("reps", [1, 4, 1]), ints("r_start", [8], []), ints("r_limit", [73], []),
             ints("r_delta", [64], []), ints("r_mod", [10, 40]), ints("neg8", [-8]), ints("ten", [10]),
             ints("c128", [128]), ints("pads", [0, 0, 1, 2, 0, 0, 1, 2]), ints("sizes", [1, 4, 20, 24]),
             init("w17", [8, 4, 1, 7]), ints("sc_idx", [0, 0], [1, 2]), init("sc_upd", [1, 10, 12])]
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "exporter_ops",
        [helper.make_tensor_value_info("x", f, [2, 16, 32]), helper.make_tensor_value_info("img", f, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("scores", f, [2, 16, 16]), helper.make_tensor_value_info("rs2", f, [2, 128]),
         helper.make_tensor_value_info("hs", f, [1, 8, 10, 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "exporter_ops.onnx")


def gru_reset():
    f = TensorProto.FLOAT
    nodes = [helper.make_node("GRU", ["x", "W", "R", "B"], ["y", "y_h"], name="gru", hidden_size=8,
                              direction="reverse", linear_before_reset=0)]
    graph = helper.make_graph(
        nodes, "gru_reset", [helper.make_tensor_value_info("x", f, [3, 2, 4])],
        [helper.make_tensor_value_info("y", f, [3, 1, 2, 8])],
        [init("W", [1, 24, 4]), init("R", [1, 24, 8]), init("B", [1, 48])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "gru_reset.onnx")


def einsum_ellipsis():
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Einsum", ["a", "b"], ["ab"], name="explicit", equation="...ij,...jk->...ik"),
             helper.make_node("Einsum", ["ab", "c"], ["y"], name="implicit", equation="...ij,...jk")]
    graph = helper.make_graph(
        nodes, "einsum_ellipsis", [helper.make_tensor_value_info("a", f, [2, 3, 4, 5]),
                                   helper.make_tensor_value_info("b", f, [3, 5, 6])],
        [helper.make_tensor_value_info("y", f, [2, 3, 4, 7])], [init("c", [6, 7])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "einsum_ellipsis.onnx")


def topk():
    f = TensorProto.FLOAT
    nodes = [helper.make_node("MatMul", ["x", "w"], ["scores"], name="router"),
             helper.make_node("TopK", ["scores", "k"], ["top", "idx"], name="topk", axis=-1),
             helper.make_node("Softmax", ["top"], ["gates"], name="gates", axis=-1)]
    graph = helper.make_graph(
        nodes, "topk", [helper.make_tensor_value_info("x", f, [16, 32])],
        [helper.make_tensor_value_info("gates", f, [16, 2]),
         helper.make_tensor_value_info("idx", TensorProto.INT64, [16, 2])],
        [init("w", [32, 8]), ints("k", [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "topk.onnx")


def dropout_train():
    f = TensorProto.FLOAT
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
             helper.make_node("Dropout", ["h", "ratio", "train"], ["d", "mask"], name="drop_train"),
             helper.make_node("Relu", ["d"], ["r"], name="relu"),
             helper.make_node("Constant", [], ["eval"], name="eval_mode",
                              value=helper.make_tensor("eval_t", TensorProto.BOOL, [], [False])),
             helper.make_node("Dropout", ["r", "ratio", "eval"], ["o"], name="drop_eval"),
             helper.make_node("Dropout", ["o"], ["p"], name="drop_plain"),
             helper.make_node("Constant", [], ["zero"], name="zero_ratio", value_float=0.0),
             helper.make_node("Dropout", ["p", "zero", "train"], ["y"], name="drop_zero")]
    graph = helper.make_graph(
        nodes, "dropout_train", [helper.make_tensor_value_info("x", f, [8, 64])],
        [helper.make_tensor_value_info("y", f, [8, 64]),
         helper.make_tensor_value_info("mask", TensorProto.BOOL, [8, 64])],
        [init("w", [64, 64]), numpy_helper.from_array(np.array(0.1, dtype=np.float32), "ratio"),
         numpy_helper.from_array(np.array(True), "train")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "dropout_train.onnx")


def dropout_dynamic():
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Dropout", ["x", "ratio", "train"], ["y"], name="drop")]
    graph = helper.make_graph(
        nodes, "dropout_dynamic", [helper.make_tensor_value_info("x", f, [4, 8]),
                                   helper.make_tensor_value_info("train", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", f, [4, 8])],
        [numpy_helper.from_array(np.array(0.5, dtype=np.float32), "ratio")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    save(model, "dropout_dynamic.onnx")


if __name__ == "__main__":
    only = sys.argv[1:]
    for make in (tiny_cnn, tiny_mlp, unsupported, exporter_ops, gru_reset, einsum_ellipsis, topk, dropout_train,
                 dropout_dynamic):
        if not only or make.__name__ in only:
            make()
    sys.exit(0)
