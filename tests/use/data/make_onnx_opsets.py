#!/usr/bin/python3
"""Writes the ONNX opset fixtures of tests/use with Debian's python3-onnx:
  opset6_relu.onnx         Relu at opset 6 (older than the importer accepts)
  layernorm_opset13.onnx   LayerNormalization at opset 13 (the operator exists from opset 17)
  softmax_opset11.onnx     Softmax over a [2, 3, 4] input at opset 11 (default axis 1, flattened)
  softmax_opset13.onnx     the same at opset 13 (default axis -1)

    tests/use/data/make_onnx_opsets.py tests/use/data
"""
import os
import sys

from onnx import TensorProto, helper, save


def model(op, opset, shape, **attrs):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inputs = ["x"]
    inits = []
    if op == "LayerNormalization":
        inputs.append("scale")
        inits.append(helper.make_tensor("scale", TensorProto.FLOAT, [shape[-1]], [1.0] * shape[-1]))
    node = helper.make_node(op, inputs, ["y"], name="n", **attrs)
    graph = helper.make_graph([node], "g", [x], [y], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, m in (("opset6_relu", model("Relu", 6, [2, 3])),
                    ("layernorm_opset13", model("LayerNormalization", 13, [2, 8])),
                    ("softmax_opset11", model("Softmax", 11, [2, 3, 4])),
                    ("softmax_opset13", model("Softmax", 13, [2, 3, 4]))):
        path = os.path.join(out, name + ".onnx")
        save(m, path)
        print("wrote", path)


if __name__ == "__main__":
    main()
