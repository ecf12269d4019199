#!/usr/bin/python3
"""Generate Sony MCT test models in MCTQ export format, with ONNX-backend-test data sets.

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_mct_models.py [OUTDIR]

MCT itself cannot be installed here (no PyPI), so this script follows its documented export
(REFERENCE.md 1.3; sony/mct_quantizers): float weights and a per-channel threshold tensor feed a
`mct_quantizers::WeightsPOTQuantizer`, every quantized activation passes an
`mct_quantizers::ActivationPOTQuantizer` (attributes threshold, signed, num_bits, mctq_version),
biases stay float, BatchNorm is folded before training, ONNX opset 15. The quantizers' math is
written here a second time, independently of qatc's C++, as MCT's torch quantizers compute it:

    delta = t / 2^(n-1) (signed) or t / 2^n (unsigned)
    q(x)  = torch.round(torch.clip(x, -t or 0, t - delta) / delta) * delta   (round half to even)

Training is QAT as MCT does it: straight-through-estimator fake-quant on weights (per-channel
power-of-two thresholds 2^ceil(log2 max|w_c|)) and activations (thresholds from a moving maximum,
rounded to a power of two at export), Adam steps against a teacher network. output_0.pb is this
script's own float32 torch forward pass of the exported quantizers: what MCT's model computes.
Everything is seeded and single-threaded: two runs write byte-identical files.

Models:
  mct_pot_convnet   MCTQ format. Signed input, conv 3x3 + ReLU (unsigned activation), depthwise 3x3
                    stride 2 + ReLU (unsigned), pointwise 1x1 (signed), global average pool (signed),
                    Linear (signed); per-channel 8-bit power-of-two weights.
  mct_fakely_quant  the same network (another seed) in FAKELY_QUANT format: weights stored already
                    fake-quantized as floats, activations as QuantizeLinear/DequantizeLinear.
  mct_uniform       MCTQ format, the pointwise conv's output through an ActivationUniformQuantizer
                    with the asymmetric range [-r/2, r]: its grid is not a power of two, so qatc
                    refuses it unless --allow-non-pot.
  mct_int16         MCTQ format, every activation 16-bit (num_bits = 16), weights 8-bit.
  mct_mixed         MCTQ format, 16-bit activations after conv1, the depthwise conv and the
                    classifier, 8-bit elsewhere; 16-bit weights in the pointwise conv (16x16-bit
                    products, whose sums need 64 bits) and the classifier.
  mct_uniform_weights
                    MCTQ format, WeightsUniformQuantizer on the depthwise and pointwise weights
                    (per-channel ranges from the channel's min and max): grids that are not powers
                    of two with zero points, refused by the lowering unless --allow-non-pot.
"""
import contextlib
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

MCTQ_VERSION = "1.5.0"
OPSET = 15
NUM_DATA_SETS = 5
INPUT_NAME, OUTPUT_NAME = "input", "output"


def pot(t):
    return 2.0 ** math.ceil(math.log2(max(t, 2.0 ** -20)))


def quantize(x, t, bits, signed):
    """MCT's symmetric/POT fake-quant, as its torch quantizers compute it."""
    delta = t / 2 ** (bits - 1 if signed else bits)
    return torch.round(torch.clip(x, -t if signed else 0.0, t - delta) / delta) * delta


def quantize_uniform(x, lo, hi, bits):
    """MCT's uniform fake-quant: the range is nudged so that 0 is on the grid."""
    levels = 2 ** bits - 1
    scale = (hi - lo) / levels
    lo_nudged = scale * round(lo / scale)
    hi_nudged = hi - lo + lo_nudged
    delta = (hi_nudged - lo_nudged) / levels
    return torch.round((torch.clip(x, lo_nudged, hi_nudged) - lo_nudged) / delta) * delta + lo_nudged


def uniform_range(r):
    """The asymmetric range a uniform quantizer gets from a moving maximum r."""
    return -0.5 * r, r


def ste(x, t, bits, signed):
    return x + (quantize(x, t, bits, signed) - x).detach()


def weight_thresholds(w):
    return [pot(float(m)) for m in w.detach().abs().flatten(1).max(dim=1).values]


def quantize_weight(w, thresholds, bits):
    t = torch.tensor(thresholds, dtype=torch.float32).view(-1, *([1] * (w.dim() - 1)))
    delta = t / 2 ** (bits - 1)
    return torch.round(torch.clip(w, -t, t - delta) / delta) * delta


def weight_ranges(w):
    """A uniform weight quantizer's per-channel range: the channel's min and max."""
    flat = w.detach().flatten(1)
    return flat.min(dim=1).values, flat.max(dim=1).values


def quantize_weight_uniform(w, lo, hi, bits):
    """MCT's uniform weight fake-quant (quantize_uniform_weights_torch), float32: each channel's
    range moved to include 0 (fix_range_to_include_zero), then round(clip(w) / delta) * delta."""
    levels = 2 ** bits - 1
    min_positive, max_negative = lo > 0, hi < 0
    mid_range = torch.logical_and(torch.logical_not(min_positive), torch.logical_not(max_negative)).float()
    scale = (hi - lo) / levels
    a = scale * torch.round(lo / scale)
    b = hi - lo + a
    a = a * mid_range + max_negative.float() * lo
    b = b * mid_range + min_positive.float() * hi
    delta = (b - a) / levels
    shape = (-1, *([1] * (w.dim() - 1)))
    a, b, delta = a.view(shape), b.view(shape), delta.view(shape)
    return torch.round(torch.where(w > b, b, torch.where(w < a, a, w)) / delta) * delta


class ConvNet(torch.nn.Module):
    # (name, signed) of the activation quantizers, in forward order.
    activations = [("input", True), ("conv1", False), ("dw", False), ("pw", True), ("pool", True), ("fc", True)]
    input_shape = (1, 3, 16, 16)

    def __init__(self, uniform=(), bits=None, weight_bits=None, uniform_weights=()):
        super().__init__()
        self.uniform = set(uniform)  # activation quantizers that are uniform instead of POT
        self.bits = {name: (bits or {}).get(name, 8) for name, _ in self.activations}  # activation widths
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(8, 16, 1)
        self.fc = torch.nn.Linear(16, 10)
        names = {"conv1": self.conv1, "dw": self.dw, "pw": self.pw, "fc": self.fc}
        self.weight_bits = {m: (weight_bits or {}).get(n, 8) for n, m in names.items()}
        self.uniform_weights = {names[n] for n in uniform_weights}  # layers with a uniform weight quantizer
        self.ranges = {name: 1.0 for name, _ in self.activations}

    def layers(self):
        return [self.conv1, self.dw, self.pw, self.fc]

    def forward(self, x, fake_quant=None):
        """fake_quant(name, tensor, signed) is applied at every activation quantizer."""
        fq = fake_quant or (lambda name, v, signed: v)
        x = fq("input", x, True)
        x = fq("conv1", F.relu(self.conv1(x)), False)
        x = fq("dw", F.relu(self.dw(x)), False)
        x = fq("pw", self.pw(x), True)
        x = fq("pool", F.adaptive_avg_pool2d(x, 1), True).flatten(1)
        return fq("fc", self.fc(x), True)


def make_input(shape, gen):
    """Standard-normal pixels around a random per-channel level, so that samples differ after pooling."""
    return torch.randn(*shape, generator=gen) + 1.5 * torch.randn(shape[0], shape[1], 1, 1, generator=gen)


def train(model, teacher, gen, steps=300):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def observe(name, v, signed):
        model.ranges[name] = 0.9 * model.ranges[name] + 0.1 * float(v.detach().abs().max())
        if name in model.uniform:
            return v + (quantize_uniform(v, *uniform_range(model.ranges[name]), model.bits[name]) - v).detach()
        return ste(v, pot(model.ranges[name]), model.bits[name], signed)

    for _ in range(steps):
        x = make_input((8, *model.input_shape[1:]), gen)
        loss = F.mse_loss(forward_with_weight_ste(model, x, observe), teacher(x).detach())
        opt.zero_grad()
        loss.backward()
        opt.step()


@contextlib.contextmanager
def replaced_weights(model, replace):
    """Runs the block with each layer's weight replaced by replace(layer, weight)."""
    saved = {}
    for m in model.layers():
        saved[m] = m.weight
        new = replace(m, m.weight)
        del m.weight
        m.weight = new
    try:
        yield
    finally:
        for m, w in saved.items():
            del m.weight
            m.weight = w


def fake_quant_weight(model, m, w):
    """Layer m's weight quantizer applied to w."""
    if m in model.uniform_weights:
        return quantize_weight_uniform(w, *weight_ranges(w), model.weight_bits[m])
    return quantize_weight(w, weight_thresholds(w), model.weight_bits[m])


def forward_with_weight_ste(model, x, observe):
    """The forward pass on fake-quantized weights whose gradient passes straight to the floats."""
    def ste_weight(m, w):
        return w + (fake_quant_weight(model, m, w) - w).detach()

    with replaced_weights(model, ste_weight):
        return model(x, observe)


def thresholds_of(model):
    return {name: pot(model.ranges[name]) for name, _ in model.activations}


def quantized_forward(model, x):
    """The exported model's forward pass: MCT's quantizers on weights and activations."""
    t = thresholds_of(model)

    def fq(name, v, signed):
        if name in model.uniform:
            return quantize_uniform(v, *uniform_range(model.ranges[name]), model.bits[name])
        return quantize(v, t[name], model.bits[name], signed)

    def quantized_weight(m, w):
        return fake_quant_weight(model, m, w.detach())

    with replaced_weights(model, quantized_weight):
        return model(x, fq)


def export(model, fakely_quant):
    """MCTQ format: mct_quantizers ops. FAKELY_QUANT format: the weights already fake-quantized as
    float initializers, each activation quantizer a QuantizeLinear -> DequantizeLinear pair."""
    t = thresholds_of(model)
    nodes, inits = [], []

    def act(name, src, signed, out=None):
        out = out or "/%s/act_quant_output" % name
        if name in model.uniform:
            lo, hi = uniform_range(model.ranges[name])
            nodes.append(helper.make_node("ActivationUniformQuantizer", [src], [out],
                                          name="/%s/ActivationUniformQuantizer" % name, domain="mct_quantizers",
                                          min_range=lo, max_range=hi, num_bits=model.bits[name], mctq_version=MCTQ_VERSION))
            return out
        if not fakely_quant:
            nodes.append(helper.make_node("ActivationPOTQuantizer", [src], [out], name="/%s/ActivationPOTQuantizer" % name,
                                          domain="mct_quantizers", threshold=t[name], signed=int(signed), num_bits=model.bits[name],
                                          mctq_version=MCTQ_VERSION))
            return out
        scale = t[name] / 2 ** (7 if signed else 8)
        inits.append(numpy_helper.from_array(np.array(scale, np.float32), "/%s/scale" % name))
        inits.append(numpy_helper.from_array(np.array(0, np.int8 if signed else np.uint8), "/%s/zero_point" % name))
        q = "/%s/QuantizeLinear_output" % name
        nodes.append(helper.make_node("QuantizeLinear", [src, "/%s/scale" % name, "/%s/zero_point" % name], [q],
                                      name="/%s/QuantizeLinear" % name))
        nodes.append(helper.make_node("DequantizeLinear", [q, "/%s/scale" % name, "/%s/zero_point" % name], [out],
                                      name="/%s/DequantizeLinear" % name))
        return out

    def weights(name, module):
        inits.append(numpy_helper.from_array(module.bias.detach().numpy().astype(np.float32), name + ".bias"))
        if fakely_quant:
            q = quantize_weight(module.weight.detach(), weight_thresholds(module.weight), model.weight_bits[module])
            inits.append(numpy_helper.from_array(q.numpy().astype(np.float32), name + ".weight"))
            return name + ".weight"
        w = module.weight.detach().numpy().astype(np.float32)
        inits.append(numpy_helper.from_array(w, name + ".weight"))
        out = "/%s/weights_quant_output" % name
        if module in model.uniform_weights:
            lo, hi = (r.numpy().astype(np.float32) for r in weight_ranges(module.weight))
            inits.append(numpy_helper.from_array(lo, name + ".weight_min_range"))
            inits.append(numpy_helper.from_array(hi, name + ".weight_max_range"))
            nodes.append(helper.make_node("WeightsUniformQuantizer",
                                          [name + ".weight", name + ".weight_min_range", name + ".weight_max_range"], [out],
                                          name="/%s/WeightsUniformQuantizer" % name, domain="mct_quantizers",
                                          num_bits=model.weight_bits[module], per_channel=1, channel_axis=0, signed=0,
                                          mctq_version=MCTQ_VERSION))
            return out
        inits.append(numpy_helper.from_array(np.array(weight_thresholds(module.weight), np.float32), name + ".weight_threshold"))
        nodes.append(helper.make_node("WeightsPOTQuantizer", [name + ".weight", name + ".weight_threshold"], [out],
                                      name="/%s/WeightsPOTQuantizer" % name, domain="mct_quantizers",
                                      num_bits=model.weight_bits[module],
                                      per_channel=1, channel_axis=0, signed=1, mctq_version=MCTQ_VERSION))
        return out

    def conv(name, module, src):
        out = "/%s/Conv_output" % name
        nodes.append(helper.make_node("Conv", [src, weights(name, module), name + ".bias"], [out], name="/%s/Conv" % name,
                                      kernel_shape=list(module.kernel_size), pads=[module.padding[0]] * 4,
                                      strides=list(module.stride), group=module.groups, dilations=[1, 1]))
        return out

    def unary(op, name, src, **attrs):
        out = "/%s/%s_output" % (name, op)
        nodes.append(helper.make_node(op, [src], [out], name="/%s/%s" % (name, op), **attrs))
        return out

    x = act("input", INPUT_NAME, True)
    x = act("conv1", unary("Relu", "conv1", conv("conv1", model.conv1, x)), False)
    x = act("dw", unary("Relu", "dw", conv("dw", model.dw, x)), False)
    x = act("pw", conv("pw", model.pw, x), True)
    # Like MCT, no quantizer after Flatten (a reshape keeps its input's quantization).
    x = unary("Flatten", "pool", act("pool", unary("GlobalAveragePool", "pool", x), True), axis=1)
    fc = "/fc/Gemm_output"
    nodes.append(helper.make_node("Gemm", [x, weights("fc", model.fc), "fc.bias"], [fc], name="/fc/Gemm", transB=1))
    act("fc", fc, True, OUTPUT_NAME)
    graph = helper.make_graph(nodes, "mct_model",
                              [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(model.input_shape))],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 10])], inits)
    opsets = [helper.make_opsetid("", OPSET)] + ([] if fakely_quant else [helper.make_opsetid("mct_quantizers", 1)])
    m = helper.make_model(graph, producer_name="model_optimization (%s format, generated by qatc)"
                          % ("FAKELY_QUANT" if fakely_quant else "MCTQ"), opset_imports=opsets)
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def generate(out_dir, name, seed, fakely_quant=False, uniform=(), bits=None, weight_bits=None, uniform_weights=()):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    teacher = ConvNet().eval()
    model = ConvNet(uniform, bits, weight_bits, uniform_weights)
    with torch.no_grad():
        for s, d in zip(teacher.parameters(), model.parameters()):
            d.copy_(s + 0.05 * torch.randn(s.shape, generator=gen))
    train(model, teacher, gen)
    model.eval()
    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_DATA_SETS):
            x = make_input(model.input_shape, gen)
            y = quantized_forward(model, x)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME), tensor_bytes(y.numpy(), OUTPUT_NAME)))
    write_model_dir(os.path.join(out_dir, name), export(model, fakely_quant), data_sets)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")
    torch.set_num_threads(1)
    generate(out_dir, "mct_pot_convnet", 7001)
    generate(out_dir, "mct_fakely_quant", 7002, fakely_quant=True)
    generate(out_dir, "mct_uniform", 7003, uniform=("pw",))
    generate(out_dir, "mct_int16", 7004, bits={name: 16 for name, _ in ConvNet.activations})
    generate(out_dir, "mct_mixed", 7005, bits={"conv1": 16, "dw": 16, "fc": 16}, weight_bits={"pw": 16, "fc": 16})
    generate(out_dir, "mct_uniform_weights", 7006, uniform_weights=("dw", "pw"))


if __name__ == "__main__":
    main()
