#!/usr/bin/python3
"""Writes the Chakra execution-trace fixtures of tests/use (tiny.0.et, tiny.1.et:
two ranks of one training-step fragment) with python3-protobuf, from the
field numbers of mlcommons/chakra's schema/protobuf/et_def.proto (package
ChakraProtoMsg). Each file: a length-delimited GlobalMetadata, then one
length-delimited Node per node, as Chakra's own encodeMessage writes them.

    tests/use/data/make_chakra.py tests/use/data
"""
import os
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import encoder

F = descriptor_pb2.FieldDescriptorProto


def schema():
    f = descriptor_pb2.FileDescriptorProto(name="et_def_fixture.proto", package="ChakraProtoMsg", syntax="proto3")
    attr = f.message_type.add(name="AttributeProto")
    attr.oneof_decl.add(name="value")
    attr.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    for name, number, t in (("int64_val", 9, F.TYPE_INT64), ("uint64_val", 13, F.TYPE_UINT64),
                            ("bool_val", 27, F.TYPE_BOOL), ("string_val", 29, F.TYPE_STRING)):
        attr.field.add(name=name, number=number, type=t, label=F.LABEL_OPTIONAL, oneof_index=0)
    meta = f.message_type.add(name="GlobalMetadata")
    meta.field.add(name="version", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    io = f.message_type.add(name="IOInfo")
    for name, number in (("values", 1), ("shapes", 2), ("types", 3)):
        io.field.add(name=name, number=number, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    node = f.message_type.add(name="Node")
    node.field.add(name="id", number=1, type=F.TYPE_UINT64, label=F.LABEL_OPTIONAL)
    node.field.add(name="name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    node.field.add(name="type", number=3, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    node.field.add(name="ctrl_deps", number=4, type=F.TYPE_UINT64, label=F.LABEL_REPEATED)
    node.field.add(name="data_deps", number=5, type=F.TYPE_UINT64, label=F.LABEL_REPEATED)
    node.field.add(name="duration_micros", number=7, type=F.TYPE_UINT64, label=F.LABEL_OPTIONAL)
    node.field.add(name="inputs", number=8, type=F.TYPE_MESSAGE, type_name=".ChakraProtoMsg.IOInfo",
                   label=F.LABEL_OPTIONAL)
    node.field.add(name="outputs", number=9, type=F.TYPE_MESSAGE, type_name=".ChakraProtoMsg.IOInfo",
                   label=F.LABEL_OPTIONAL)
    node.field.add(name="attr", number=10, type=F.TYPE_MESSAGE, type_name=".ChakraProtoMsg.AttributeProto",
                   label=F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    get = message_factory.GetMessageClass if hasattr(message_factory, "GetMessageClass") else \
        message_factory.MessageFactory(pool).GetPrototype
    return (get(pool.FindMessageTypeByName("ChakraProtoMsg.GlobalMetadata")),
            get(pool.FindMessageTypeByName("ChakraProtoMsg.Node")))


COMP, COLL, MEM_LOAD = 4, 7, 2   # NodeType
ALL_REDUCE = 0                    # CollectiveCommType
BF16 = "['c10::BFloat16', 'c10::BFloat16']"


def nodes(Node):
    def n(id, name, type, data=(), ctrl=(), shapes="", types="", out="", **attrs):
        node = Node(id=id, name=name, type=type, data_deps=list(data), ctrl_deps=list(ctrl))
        if shapes:
            node.inputs.shapes, node.inputs.types = shapes, types
        if out:
            node.outputs.shapes = out
        for k, v in attrs.items():
            a = node.attr.add(name=k)
            a.int64_val = v
        return node
    # Listed out of order on purpose (ids 5 and 6 before their producers).
    return [
        n(6, "aten::mm", COMP, ctrl=[5], shapes="[[256, 1024], [1024, 512]]", types=BF16, out="[[256, 512]]",
          num_ops=2 * 256 * 1024 * 512),
        n(1, "aten::mm", COMP, shapes="[[256, 512], [512, 1024]]", types=BF16, out="[[256, 1024]]",
          num_ops=2 * 256 * 512 * 1024),
        n(5, "all_reduce", COLL, data=[4], comm_type=ALL_REDUCE, comm_size=1048576),
        n(2, "aten::relu", COMP, data=[1], shapes="[[256, 1024]]", types=BF16, out="[[256, 1024]]",
          num_ops=256 * 1024),
        n(3, "load_weights", MEM_LOAD, data=[2], tensor_size=1048576),
        n(4, "fused_optimizer_kernel", COMP, data=[3], num_ops=4000000, tensor_size=16777216),
    ]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    Meta, Node = schema()
    for rank in (0, 1):
        path = os.path.join(out, f"tiny.{rank}.et")
        with open(path, "wb") as f:
            for msg in [Meta(version="0.0.4")] + nodes(Node):
                body = msg.SerializeToString()
                f.write(encoder._VarintBytes(len(body)) + body)
        print("wrote", path)


if __name__ == "__main__":
    main()
