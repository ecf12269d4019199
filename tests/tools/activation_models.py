#!/usr/bin/python3
"""PyTorch activations between power-of-two fake-quants, exported as users do (torch.onnx.export,
opset 13 unless noted), each with one data set holding every input code and PyTorch's own outputs
for them:

    hardsigmoid  HardSigmoid(alpha = float32(1/6), beta = 1/2)
    hardswish    Mul(x, HardSigmoid(x))           hardswish_op14   HardSwish (opset 14)
    silu         Mul(x, Sigmoid(x))               sigmoid, tanh    Sigmoid, Tanh
    gelu         Div, Erf, Add, Mul, Mul          leaky_relu, elu  LeakyRelu(0.1), Elu(1)
    mish         Mul(x, Tanh(Softplus(x)))
    tanh16       Tanh between int16 fake-quants (2^-12 in, 2^-15 out), opset 21 written with
                 onnx.helper: torch exports only 8-bit fake-quant; its outputs are still PyTorch's.

    activation_models.py OUT   -> OUT/<name>/model.onnx, OUT/<name>/test_data_set_0
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

F = torch.nn.functional


class Activation(torch.nn.Module):
    def __init__(self, f, out_scale, lo, hi):
        super().__init__()
        self.f, self.out_scale, self.lo, self.hi = f, out_scale, lo, hi

    def forward(self, x):
        x = torch.fake_quantize_per_tensor_affine(x, 2.0 ** -3, 0, -128, 127)
        return torch.fake_quantize_per_tensor_affine(self.f(x), self.out_scale, 0, self.lo, self.hi)


def save_data(d, x, y):
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save_tensor(numpy_helper.from_array(x.numpy(), "x"), os.path.join(d, "test_data_set_0", "input_0.pb"))
    onnx.save_tensor(numpy_helper.from_array(y.detach().numpy(), "y"), os.path.join(d, "test_data_set_0", "output_0.pb"))


def write(out, name, model, opset=13):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    x = (torch.arange(-128, 128, dtype=torch.float32) * 2.0 ** -3).reshape(1, 256)
    torch.onnx.export(model.eval(), x, os.path.join(d, "model.onnx"), opset_version=opset, input_names=["x"],
                      output_names=["y"])
    save_data(d, x, model(x))


def write_tanh16(out):
    d = os.path.join(out, "tanh16")
    os.makedirs(d, exist_ok=True)
    s_in, s_out = 2.0 ** -12, 2.0 ** -15
    x = (torch.arange(-32768, 32768, dtype=torch.float32) * s_in).reshape(1, 65536)
    q = torch.fake_quantize_per_tensor_affine(x, s_in, 0, -32768, 32767)
    y = torch.fake_quantize_per_tensor_affine(torch.tanh(q), s_out, 0, -32768, 32767)
    init = [numpy_helper.from_array(np.array(s_in, np.float32), "s_in"),
            numpy_helper.from_array(np.array(s_out, np.float32), "s_out"),
            numpy_helper.from_array(np.array(0, np.int16), "zp")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_in", "zp"], ["qx"]),
             helper.make_node("DequantizeLinear", ["qx", "s_in", "zp"], ["dx"]),
             helper.make_node("Tanh", ["dx"], ["t"]),
             helper.make_node("QuantizeLinear", ["t", "s_out", "zp"], ["qy"]),
             helper.make_node("DequantizeLinear", ["qy", "s_out", "zp"], ["y"])]
    graph = helper.make_graph(nodes, "tanh16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 65536])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 65536])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="pytorch")
    model.ir_version = 10
    onnx.save(model, os.path.join(d, "model.onnx"))
    save_data(d, x, y)


if __name__ == "__main__":
    out = sys.argv[1]
    write(out, "hardsigmoid", Activation(F.hardsigmoid, 2.0 ** -8, 0, 255))
    write(out, "hardswish", Activation(F.hardswish, 2.0 ** -2, -128, 127))
    write(out, "hardswish_op14", Activation(F.hardswish, 2.0 ** -2, -128, 127), opset=14)
    write(out, "silu", Activation(F.silu, 2.0 ** -3, -128, 127))
    write(out, "sigmoid", Activation(torch.sigmoid, 2.0 ** -8, 0, 255))
    write(out, "tanh", Activation(torch.tanh, 2.0 ** -7, -128, 127))
    write(out, "gelu", Activation(F.gelu, 2.0 ** -3, -128, 127))
    write(out, "leaky_relu", Activation(lambda v: F.leaky_relu(v, 0.1), 2.0 ** -5, -128, 127))
    write(out, "elu", Activation(F.elu, 2.0 ** -4, -128, 127))
    write(out, "mish", Activation(F.mish, 2.0 ** -3, -128, 127))
    write_tanh16(out)
