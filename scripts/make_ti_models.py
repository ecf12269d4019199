#!/usr/bin/python3
"""Generate TI edgeai-torchmodelopt v1 (QuantTrainModule, PACT2) test models with data sets.

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_ti_models.py [OUTDIR]

TI's toolkit cannot be installed here (no PyPI), so this script follows its documented behaviour
(REFERENCE.md 1.4): the export (opset 11, eval mode) is a float graph, BatchNorm folded into the
convs, unquantized float weights and biases, and a Clip with power-of-two bounds [0, 2^k] or
[-2^k, 2^k] after every quantization point (the network input, every ReLU, every conv not
followed by an activation, every add). TI's QAT quantization is written here a second time,
independently of qatc's C++, as v1's eval forward computes it:

    activations (PACT2): c = range, bw = 7 (signed) or 8, scale = 2^bw / c,
                         q = clamp(floor(x * scale + 0.5), -2^bw or 0, 2^bw - 1) / scale
    weights:             scale = 128 / ceil2(max|w|), q = clamp(round_sym(w * scale), -128, 127) / scale
    biases:              8 bits on their own power-of-two grid, then TI's 15-bit joint-grid rule

Training is QAT with straight-through estimators and PACT2 range statistics (moving maxima,
rounded up to powers of two). output_0.pb is this script's float32 torch forward pass.
Everything is seeded and single-threaded: two runs write byte-identical files.

Models:
  ti_pact2_mbv2  MobileNetV2-style block: input Clip, conv 3x3 + ReLU, depthwise 3x3 + ReLU,
                 pointwise 1x1 (signed), residual add, conv 3x3 stride 2 (signed), Linear.
"""
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_qat_models import tensor_bytes, write_model_dir  # noqa: E402

OPSET = 11
NUM_DATA_SETS = 5
INPUT_NAME, OUTPUT_NAME = "input", "output"


def ceil2(v):
    return 2.0 ** math.ceil(math.log2(max(v, 2.0 ** -16)))


def round_sym(v):
    return torch.trunc(v + torch.where(v < 0, -0.5, 0.5))


def pact2(x, c, signed):
    bw = 7 if signed else 8
    scale = 2.0 ** bw / c
    return torch.clamp(torch.floor(x * scale + 0.5), -2.0 ** bw if signed else 0.0, 2.0 ** bw - 1) / scale


def quantize_weight(w):
    scale = 128.0 / ceil2(float(w.detach().abs().max()))
    return torch.clamp(round_sym(w * scale), -128, 127) / scale, scale


def quantize_bias(b, input_scale, weight_scale, signed_input):
    bias_scale = 128.0 / ceil2(float(b.abs().max()))
    b8 = torch.clamp(round_sym(b * bias_scale), -128, 127) / bias_scale
    joint = input_scale * weight_scale
    ratio = math.trunc(joint / bias_scale)
    qmax = 127 if signed_input else 255
    if ratio > qmax:
        bq = torch.clamp(b8 * joint, -32768, 32767)
        return torch.clamp(torch.trunc(bq / qmax), -128, 127) * qmax / joint
    return torch.trunc(b8 * joint) / joint


class Net(torch.nn.Module):
    # (name, signed) of the PACT2 points in forward order.
    points = [("input", True), ("conv1", False), ("dw", False), ("pw", True), ("add", True), ("down", True), ("fc", True)]
    input_shape = (1, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(8, 8, 1)
        self.down = torch.nn.Conv2d(8, 4, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 10)
        self.ranges = {name: 1.0 for name, _ in self.points}

    def layers(self):
        return [("conv1", self.conv1), ("dw", self.dw), ("pw", self.pw), ("down", self.down), ("fc", self.fc)]

    def forward(self, x, point, layer):
        """point(name, x, signed) at every PACT2 point; layer(name, module, x) for every conv/linear."""
        x = point("input", x, True)
        a = point("conv1", F.relu(layer("conv1", self.conv1, x)), False)
        y = point("dw", F.relu(layer("dw", self.dw, a)), False)
        y = point("pw", layer("pw", self.pw, y), True)
        y = point("add", a + y, True)
        y = point("down", layer("down", self.down, y), True)
        return point("fc", layer("fc", self.fc, y.flatten(1)), True)


def apply(module, x, w, b):
    if isinstance(module, torch.nn.Linear):
        return F.linear(x, w, b)
    return F.conv2d(x, w, b, module.stride, module.padding, module.dilation, module.groups)


def train(model, teacher, gen, steps=300):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def point(name, v, signed):
        model.ranges[name] = 0.9 * model.ranges[name] + 0.1 * float(v.detach().abs().max())
        return v + (pact2(v, ceil2(model.ranges[name]), signed) - v).detach()

    def layer(name, module, x):
        w = module.weight
        return apply(module, x, w + (quantize_weight(w)[0] - w).detach(), module.bias)

    plain = (lambda name, v, signed: v), (lambda name, module, x: module(x))
    for _ in range(steps):
        x = make_input((8, *model.input_shape[1:]), gen)
        loss = F.mse_loss(model(x, point, layer), teacher(x, *plain).detach())
        opt.zero_grad()
        loss.backward()
        opt.step()


def make_input(shape, gen):
    return torch.randn(*shape, generator=gen) + 1.5 * torch.randn(shape[0], shape[1], 1, 1, generator=gen)


def quantized_forward(model, x):
    """TI v1's eval forward: PACT2 points, quantized weights, TI's biases."""
    ranges = {name: ceil2(model.ranges[name]) for name, _ in model.points}
    scales = {}  # the PACT2 scale (2^bw / c) and signedness of the last point each layer reads

    def point(name, v, signed):
        scales["last"] = (2.0 ** (7 if signed else 8) / ranges[name], signed)
        return pact2(v, ranges[name], signed)

    def layer(name, module, x):
        w, weight_scale = quantize_weight(module.weight.detach())
        input_scale, signed_input = scales["last"]
        b = quantize_bias(module.bias.detach(), input_scale, weight_scale, signed_input)
        return apply(module, x, w, b)

    return model(x, point, layer)


def export(model):
    ranges = {name: ceil2(model.ranges[name]) for name, _ in model.points}
    nodes, inits = [], []

    def clip(name, src, signed):
        out = "/%s/Clip_output" % name
        lo, hi = (-ranges[name] if signed else 0.0), ranges[name]
        nodes.append(helper.make_node("Clip", [src], [out], name="/%s/Clip" % name, min=lo, max=hi)
                     if OPSET < 11 else
                     helper.make_node("Clip", [src, "/%s/min" % name, "/%s/max" % name], [out], name="/%s/Clip" % name))
        inits.append(numpy_helper.from_array(np.array(lo, np.float32), "/%s/min" % name))
        inits.append(numpy_helper.from_array(np.array(hi, np.float32), "/%s/max" % name))
        return out

    def conv(name, module, src):
        inits.append(numpy_helper.from_array(module.weight.detach().numpy().astype(np.float32), name + ".weight"))
        inits.append(numpy_helper.from_array(module.bias.detach().numpy().astype(np.float32), name + ".bias"))
        out = "/%s/Conv_output" % name
        nodes.append(helper.make_node("Conv", [src, name + ".weight", name + ".bias"], [out], name="/%s/Conv" % name,
                                      kernel_shape=list(module.kernel_size), pads=[module.padding[0]] * 4,
                                      strides=list(module.stride), group=module.groups, dilations=[1, 1]))
        return out

    def relu(name, src):
        out = "/%s/Relu_output" % name
        nodes.append(helper.make_node("Relu", [src], [out], name="/%s/Relu" % name))
        return out

    x = clip("input", INPUT_NAME, True)
    a = clip("conv1", relu("conv1", conv("conv1", model.conv1, x)), False)
    y = clip("dw", relu("dw", conv("dw", model.dw, a)), False)
    y = clip("pw", conv("pw", model.pw, y), True)
    nodes.append(helper.make_node("Add", [a, y], ["/add/Add_output"], name="/add/Add"))
    y = clip("add", "/add/Add_output", True)
    y = clip("down", conv("down", model.down, y), True)
    nodes.append(helper.make_node("Flatten", [y], ["/flatten/Flatten_output"], name="/flatten/Flatten", axis=1))
    inits.append(numpy_helper.from_array(model.fc.weight.detach().numpy().astype(np.float32), "fc.weight"))
    inits.append(numpy_helper.from_array(model.fc.bias.detach().numpy().astype(np.float32), "fc.bias"))
    nodes.append(helper.make_node("Gemm", ["/flatten/Flatten_output", "fc.weight", "fc.bias"], ["/fc/Gemm_output"],
                                  name="/fc/Gemm", transB=1))
    last = clip("fc", "/fc/Gemm_output", True)
    nodes.append(helper.make_node("Identity", [last], [OUTPUT_NAME], name="/output/Identity"))
    graph = helper.make_graph(nodes, "ti_model",
                              [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(model.input_shape))],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(graph, producer_name="pytorch (edgeai-torchmodelopt v1 QuantTrainModule, generated by qatc)",
                          opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 6
    onnx.checker.check_model(m)
    return m.SerializeToString()


def generate(out_dir, name, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    teacher = Net().eval()
    model = Net()
    with torch.no_grad():
        # A large bias in the downsampling conv puts it on TI's saturating 15-bit bias path
        # (joint grid / bias grid > qmax); the other layers take the truncating one.
        teacher.down.bias.mul_(16)
        for s, d in zip(teacher.parameters(), model.parameters()):
            d.copy_(s + 0.05 * torch.randn(s.shape, generator=gen))
    train(model, teacher, gen)
    model.eval()
    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_DATA_SETS):
            x = make_input(model.input_shape, gen)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME), tensor_bytes(quantized_forward(model, x).numpy(), OUTPUT_NAME)))
    write_model_dir(os.path.join(out_dir, name), export(model), data_sets)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")
    torch.set_num_threads(1)
    generate(out_dir, "ti_pact2_mbv2", 8001)


if __name__ == "__main__":
    main()
