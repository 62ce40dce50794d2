#!/usr/bin/env python3
"""Writes the small ONNX models the workload tests import (checked in beside
this script; rerun it with Debian's python3-onnx to regenerate them):

  tiny_cnn.onnx     Conv(3->8, 3x3, pad 1) BatchNormalization Relu MaxPool(2)
                    Conv(depthwise, group 8, stride 2) Relu GlobalAveragePool
                    Flatten Gemm(8->10) Softmax, input 1x3x32x32 float
  tiny_mlp.onnx     MatMul(x 2x16x32, W 32x64) Add(bias) Gelu MatMul(64->32)
                    Add(residual) LayerNormalization Reshape(Shape-derived) Transpose
                    Softmax, with a symbolic batch dimension
  unsupported.onnx  Erf, a custom-domain op and ReduceMean between supported ops
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
        helper.make_node("Erf", ["h"], ["e"], name="erf_1"),
        helper.make_node("Frobnicate", ["e"], ["f"], name="custom_1", domain="com.example"),
        helper.make_node("ReduceMean", ["f"], ["y"], name="mean_1", axes=[-1]),
    ]
    graph = helper.make_graph(
        nodes, "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [init("w", [8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.example", 1)])
    save(model, "unsupported.onnx")


if __name__ == "__main__":
    tiny_cnn()
    tiny_mlp()
    unsupported()
    sys.exit(0)
