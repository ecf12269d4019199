#!/usr/bin/python3
"""PyTorch's hardsigmoid and hardswish between power-of-two fake-quants, exported as users do
(torch.onnx.export, opset 13: HardSigmoid(alpha = float32(1/6), beta = 1/2), hardswish as
Mul(x, HardSigmoid(x))), each with one data set holding every int8 input code and PyTorch's own
outputs for them.

    hardsigmoid_models.py OUT   -> OUT/hardsigmoid, OUT/hardswish
"""
import os
import sys

import onnx
import torch
from onnx import numpy_helper


class Activation(torch.nn.Module):
    def __init__(self, f, out_scale, lo, hi):
        super().__init__()
        self.f, self.out_scale, self.lo, self.hi = f, out_scale, lo, hi

    def forward(self, x):
        x = torch.fake_quantize_per_tensor_affine(x, 2.0 ** -3, 0, -128, 127)
        return torch.fake_quantize_per_tensor_affine(self.f(x), self.out_scale, 0, self.lo, self.hi)


def write(out, name, model):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    x = (torch.arange(-128, 128, dtype=torch.float32) * 2.0 ** -3).reshape(1, 256)
    torch.onnx.export(model.eval(), x, os.path.join(d, "model.onnx"), opset_version=13, input_names=["x"],
                      output_names=["y"])
    onnx.save_tensor(numpy_helper.from_array(x.numpy(), "x"), os.path.join(d, "test_data_set_0", "input_0.pb"))
    y = model(x).detach().numpy()
    onnx.save_tensor(numpy_helper.from_array(y, "y"), os.path.join(d, "test_data_set_0", "output_0.pb"))


if __name__ == "__main__":
    write(sys.argv[1], "hardsigmoid", Activation(torch.nn.functional.hardsigmoid, 2.0 ** -8, 0, 255))
    write(sys.argv[1], "hardswish", Activation(torch.nn.functional.hardswish, 2.0 ** -2, -128, 127))
