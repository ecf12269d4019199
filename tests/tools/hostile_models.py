#!/usr/bin/python3
"""Writes the hostile models ONNX's text syntax cannot express into DIR (tests/lit/hostile/):
non-finite scales, an initializer whose header claims 10^12 elements, external data pointing
outside the model's directory, raw data of the wrong size, int32_data values an int8 cannot hold, 5000- and 9000-node graphs, and protobufs
truncated or bit-flipped at fixed offsets of a real regression model.
    hostile_models.py DIR MODELS_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, models = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def save(name, graph, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.save(model, os.path.join(out, name + ".onnx"))


def qdq(scale):
    """x -> QuantizeLinear -> DequantizeLinear with the given scale."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    inits = [numpy_helper.from_array(np.array(scale, np.float32), "s"), numpy_helper.from_array(np.array(0, np.uint8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    return helper.make_graph(nodes, "g", [x], [y], inits)


save("nan_scale", qdq(np.nan))
save("inf_scale", qdq(np.inf))


def add_const(tensor):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    return helper.make_graph([helper.make_node("Add", ["x", "k"], ["y"])], "g", [x], [y], [tensor])


huge = TensorProto(name="k", data_type=TensorProto.FLOAT, dims=[1000000, 1000000])
huge.raw_data = b"\0" * 16
save("huge_initializer", add_const(huge))

short = numpy_helper.from_array(np.ones(4, np.float32), "k")
short.raw_data = short.raw_data[:12]
save("short_raw_data", add_const(short))

for name, location in [("external_escape", "../../../etc/passwd"), ("external_absolute", "/etc/passwd"), ("external_inside", "k.bin")]:
    t = TensorProto(name="k", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    t.external_data.add(key="location", value=location)
    save(name, add_const(t))

# An int8 input whose data set holds 300 in int32_data, where ONNX widens 8-bit values: refused, not wrapped to 44.
x = helper.make_tensor_value_info("x", TensorProto.INT8, [2])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
inits = [numpy_helper.from_array(np.array(0.5, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
save("int8_input", helper.make_graph([helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"])], "g", [x], [y], inits))
os.makedirs(os.path.join(out, "int8_data", "test_data_set_0"), exist_ok=True)
wide = helper.make_tensor("x", TensorProto.INT8, [2], [1, 300])
open(os.path.join(out, "int8_data", "test_data_set_0", "input_0.pb"), "wb").write(wide.SerializeToString())

# A chain of 5000 Relu nodes: imported quickly (nothing quadratic), refused under --max-nodes.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
y = helper.make_tensor_value_info("t5000", TensorProto.FLOAT, [1, 8])
nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"]) for i in range(5000)]
save("chain_5000", helper.make_graph(nodes, "chain", [x], [y]))

# 3000 quantized Relu steps (9000 nodes) through the whole lowering and code generation: erasing
# ops one at a time once rescanned the graph each time (10 s here; now under one).
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
inits = [numpy_helper.from_array(np.array(0.125, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
nodes, prev = [], "x"
for i in range(3000):
    nodes += [helper.make_node("QuantizeLinear", [prev, "s", "z"], [f"q{i}"]),
              helper.make_node("DequantizeLinear", [f"q{i}", "s", "z"], [f"d{i}"]),
              helper.make_node("Relu", [f"d{i}"], [f"r{i}"])]
    prev = f"r{i}"
nodes += [helper.make_node("QuantizeLinear", [prev, "s", "z"], ["qo"]), helper.make_node("DequantizeLinear", ["qo", "s", "z"], ["y"])]
save("qchain_3000", helper.make_graph(nodes, "qchain", [x], [y], inits))

# Models that crashed or hung libonnx 1.12's shape inference inside qatc (issue 15): qatc's own
# checks now answer first, and libonnx only ever runs isolated.
x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
y4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, None, None])


def conv(weight_dims, input_info=x4, **attrs):
    w = numpy_helper.from_array(np.zeros(weight_dims, np.float32), "w")
    return helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)], "g", [input_info], [y4], [w])


save("conv_zero_strides", conv([4, 3, 3, 3], strides=[0, 0]))                     # SIGFPE in libonnx
save("conv_weight_rank5", conv([4, 3, 3, 3, 3]))                                  # SIGSEGV
save("conv_negative_strides", conv([4, 3, 3, 3], strides=[-1, -1], pads=[-2**63, -2**63, 0, 0]))
huge_x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2**62, 8])
save("conv_same_huge", conv([4, 3, 3, 3], huge_x, auto_pad="SAME_UPPER", strides=[3, 3]))  # libonnx loops
save("depth_to_space_2_32", helper.make_graph([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2**32)], "g", [x4], [y4]))
shape7 = TensorProto(name="s", data_type=TensorProto.INT64, dims=[1], raw_data=b"1234567")
save("reshape_raw7", helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g", [x4], [y4], [shape7]))
save("constant_of_shape_2_62", helper.make_graph(
    [helper.make_node("ConstantOfShape", ["s"], ["y"])], "g", [], [y4], [numpy_helper.from_array(np.array([2**62] * 4, np.int64), "s")]))

# What libonnx would have looked at unchecked: an external-data tensor inside an If body (its checker
# tests whether the file exists), a self-recursive model-local function, a sparse initializer.
leak = TensorProto(name="k", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
leak.external_data.add(key="location", value="/etc/passwd")
body = helper.make_graph([helper.make_node("Identity", ["k"], ["b"])], "body", [], [helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])], [leak])
cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
save("if_external_data", helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body)], "g", [cond], [y4]))
recursive = helper.make_model(helper.make_graph([helper.make_node("Loopy", ["x"], ["y"], domain="local")], "g", [x4], [y4]),
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("local", 1)], ir_version=8)
recursive.functions.extend([onnx.FunctionProto(name="Loopy", domain="local", input=["a"], output=["b"],
                                               node=[helper.make_node("Loopy", ["a"], ["b"], domain="local")],
                                               opset_import=[helper.make_opsetid("local", 1)])])
onnx.save(recursive, os.path.join(out, "recursive_function.onnx"))
sparse = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x4], [y4])
sparse.sparse_initializer.extend([helper.make_sparse_tensor(numpy_helper.from_array(np.ones(1, np.float32), "sp"),
                                                            numpy_helper.from_array(np.zeros(1, np.int64), "i"), [4])])
save("sparse_initializer", sparse)

# Names that are not UTF-8 (they would reach JSON reports and generated C). Protobuf strings hold
# bytes; python's protobuf wants text, so the name is swapped byte for byte after serializing.
y_odd = helper.make_tensor_value_info("y\u00ff", TensorProto.FLOAT, [1, 3, 8, 8])
model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y\u00ff"])], "g", [x4], [y_odd]),
                          opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
raw = model.SerializeToString().replace("y\u00ff".encode(), b"y\xff\xfe")
open(os.path.join(out, "non_utf8_name.onnx"), "wb").write(raw)

# A real model, cut short and with bytes flipped at fixed offsets.
data = open(os.path.join(models, "resnet_tiny", "model.onnx"), "rb").read()
open(os.path.join(out, "truncated.onnx"), "wb").write(data[: len(data) // 3])
for offset in (0, 1, 200):
    flipped = bytearray(data)
    flipped[offset] ^= 0xFF
    open(os.path.join(out, f"flipped_{offset}.onnx"), "wb").write(bytes(flipped))
