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
  ti_pact2_mbv2  TI's defaults (per-tensor weights, saturating bias rule), BatchNorm folded by the
                 export. MobileNetV2-style block: input Clip, conv 3x3 + ReLU, depthwise 3x3 + ReLU,
                 pointwise 1x1 (signed), residual add, conv 3x3 stride 2 (signed), Linear.
  ti_pact2_bn_dw_per_channel
                 per_channel_q=True (depthwise weights per channel), constrain_bias=
                 CONSTRAIN_BIAS_TYPE_REDUCE_WEIGHT_SCALE (what TI advises with per-channel weights),
                 BatchNormalization nodes left in the export for TI's merge. Conv/BN/ReLU, depthwise,
                 pointwise (signed, a large bias that coarsens its weight grid), residual add,
                 MaxPool, depthwise stride 2 (one channel's weights tiny: TI's 256x per-channel
                 limit), global average pool, Linear. TI leaves the pool's output in float; the
                 user quantizes it with qatc's --ti-range (so does this script: range [0, 16]).
                 qatc flags: see FLAGS below.
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


class Settings:
    """The QuantTrainModule arguments a model was trained with (qatc's --ti-* flags repeat them)."""

    def __init__(self, per_channel_q=False, constrain_bias="saturate"):
        self.per_channel_q, self.constrain_bias = per_channel_q, constrain_bias


def is_depthwise(module):
    return isinstance(module, torch.nn.Conv2d) and module.groups == module.in_channels == module.out_channels > 1


def weight_scale(w, per_channel):
    """128 / ceil2(max|w|); per output channel the channel's own, at most 256 times the tensor's."""
    scale = 128.0 / ceil2(float(w.detach().abs().max()))
    if not per_channel:
        return scale
    channels = [min(128.0 / ceil2(float(c.detach().abs().max())), scale * 256) for c in w]
    return torch.tensor(channels).view(-1, *[1] * (w.dim() - 1))


def quantize_weight(w, per_channel=False, scale=None):
    scale = weight_scale(w, per_channel) if scale is None else scale
    return torch.clamp(round_sym(w * scale), -128, 127) / scale, scale


def merge_bn(module):
    """TI's conv + BatchNorm merge (merge_quantize_weights), float32 in its order."""
    if not isinstance(module, tuple):
        return module.weight, module.bias
    conv, bn = module
    conv_bias = conv.bias if conv.bias is not None else torch.tensor(0.0)
    merged_scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight * merged_scale.view(-1, 1, 1, 1), (conv_bias - bn.running_mean) * merged_scale + bn.bias


def quantize_bias(b, input_scale, weight_scale, signed_input, constrain_bias="saturate"):
    bias_scale = 128.0 / ceil2(float(b.abs().max()))
    b8 = torch.clamp(round_sym(b * bias_scale), -128, 127) / bias_scale
    if constrain_bias != "saturate":
        return b8
    joint = input_scale * weight_scale
    ratio = math.trunc(joint / bias_scale)
    qmax = 127 if signed_input else 255
    if ratio > qmax:
        bq = torch.clamp(b8 * joint, -32768, 32767)
        return torch.clamp(torch.trunc(bq / qmax), -128, 127) * qmax / joint
    return torch.trunc(b8 * joint) / joint


class Exporter:
    """Builds the opset-11 float graph TI's export holds: float weights, a power-of-two Clip at every
    PACT2 point."""

    def __init__(self, model):
        self.model, self.nodes, self.inits = model, [], []

    def clip(self, name, src, signed):
        c = self.model.clip_range(name)
        out = "/%s/Clip_output" % name
        lo, hi = (-c if signed else 0.0), c
        self.nodes.append(helper.make_node("Clip", [src, "/%s/min" % name, "/%s/max" % name], [out], name="/%s/Clip" % name))
        self.init(np.array(lo, np.float32), "/%s/min" % name)
        self.init(np.array(hi, np.float32), "/%s/max" % name)
        return out

    def init(self, array, name):
        self.inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(self, op, name, inputs, **attrs):
        out = "/%s/%s_output" % (name, op)
        self.nodes.append(helper.make_node(op, inputs, [out], name="/%s/%s" % (name, op), **attrs))
        return out

    def conv(self, name, module, src):
        """The Conv, and after it the BatchNormalization of a (conv, bn) pair."""
        conv, bn = module if isinstance(module, tuple) else (module, None)
        inputs = [src, self.init(conv.weight.detach().numpy(), name + ".weight")]
        if conv.bias is not None:
            inputs.append(self.init(conv.bias.detach().numpy(), name + ".bias"))
        out = self.node("Conv", name, inputs, kernel_shape=list(conv.kernel_size), pads=[conv.padding[0]] * 4,
                        strides=list(conv.stride), group=conv.groups, dilations=[1, 1])
        if bn is None:
            return out
        params = [self.init(getattr(bn, p).detach().numpy(), "%s.bn.%s" % (name, p))
                  for p in ("weight", "bias", "running_mean", "running_var")]
        return self.node("BatchNormalization", name, [out] + params, epsilon=bn.eps, momentum=1 - bn.momentum)

    def relu(self, name, src):
        return self.node("Relu", name, [src])

    def linear(self, name, module, src):
        flat = self.node("Flatten", "flatten", [src], axis=1)
        inputs = [flat, self.init(module.weight.detach().numpy(), name + ".weight"),
                  self.init(module.bias.detach().numpy(), name + ".bias")]
        return self.node("Gemm", name, inputs, transB=1)

    def finish(self, last):
        self.nodes.append(helper.make_node("Identity", [last], [OUTPUT_NAME], name="/output/Identity"))
        m = self.model
        graph = helper.make_graph(self.nodes, "ti_model",
                                  [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(m.input_shape))],
                                  [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 10])], self.inits)
        onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                       producer_name="pytorch (edgeai-torchmodelopt v1 QuantTrainModule, generated by qatc)")
        onnx_model.ir_version = 6
        onnx.checker.check_model(onnx_model)
        return onnx_model.SerializeToString()


class TiNet(torch.nn.Module):
    """forward(x, point, layer) calls point(name, x, signed) at every PACT2 point and
    layer(name, module, x) for every conv/linear (module: a layer, or a (conv, bn) pair)."""
    fixed_ranges = {}  # PACT2 points with a range set by the user, not learnt

    def __init__(self):
        super().__init__()
        self.ranges = {name: 1.0 for name, _ in self.points}

    def after_training(self):
        pass

    def clip_range(self, name):
        return self.fixed_ranges.get(name, ceil2(self.ranges[name]))

    def residual_block(self, x, point, layer):
        """What both models start with: the input's point, conv 3x3 + ReLU, depthwise 3x3 + ReLU,
        pointwise 1x1 (signed), and the residual add of the first conv's output."""
        x = point("input", x, True)
        a = point("conv1", F.relu(layer("conv1", self.conv1, x)), False)
        y = point("dw", F.relu(layer("dw", self.dw, a)), False)
        y = point("pw", layer("pw", self.pw, y), True)
        return point("add", a + y, True)

    def export_residual_block(self, ex):
        x = ex.clip("input", INPUT_NAME, True)
        a = ex.clip("conv1", ex.relu("conv1", ex.conv("conv1", self.conv1, x)), False)
        y = ex.clip("dw", ex.relu("dw", ex.conv("dw", self.dw, a)), False)
        y = ex.clip("pw", ex.conv("pw", self.pw, y), True)
        return ex.clip("add", ex.node("Add", "add", [a, y]), True)


class Net(TiNet):
    # (name, signed) of the PACT2 points in forward order.
    points = [("input", True), ("conv1", False), ("dw", False), ("pw", True), ("add", True), ("down", True), ("fc", True)]
    input_shape = (1, 3, 16, 16)
    settings = Settings()

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(8, 8, 1)
        self.down = torch.nn.Conv2d(8, 4, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 10)

    def make_teacher_distinct(self):
        # A large bias in the downsampling conv puts it on TI's saturating 15-bit bias path
        # (joint grid / bias grid > qmax); the other layers take the truncating one.
        self.down.bias.mul_(16)

    def forward(self, x, point, layer):
        y = self.residual_block(x, point, layer)
        y = point("down", layer("down", self.down, y), True)
        return point("fc", layer("fc", self.fc, y.flatten(1)), True)

    def export(self):
        ex = Exporter(self)
        y = self.export_residual_block(ex)
        y = ex.clip("down", ex.conv("down", self.down, y), True)
        return ex.finish(ex.clip("fc", ex.linear("fc", self.fc, y), True))


class NetBnPerChannel(TiNet):
    points = [("input", True), ("conv1", False), ("dw", False), ("pw", True), ("add", True), ("pool", True),
              ("dw2", False), ("gap", False), ("fc", True)]
    fixed_ranges = {"gap": 16.0}
    input_shape = (1, 3, 16, 16)
    settings = Settings(per_channel_q=True, constrain_bias="reduce-weight-scale")
    # The qatc flags that say what the export does not (tests/CMakeLists.txt passes the same).
    FLAGS = "--ti-per-channel depthwise --ti-bias reduce-weight-scale --ti-range /gap/GlobalAveragePool_output=0,16"

    def __init__(self):
        super().__init__()
        self.conv1 = (torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8))
        self.dw = (torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), torch.nn.BatchNorm2d(8))
        self.pw = (torch.nn.Conv2d(8, 8, 1, bias=False), torch.nn.BatchNorm2d(8))
        self.dw2 = (torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False), torch.nn.BatchNorm2d(8))
        self.fc = torch.nn.Linear(8, 10)
        self.mods = torch.nn.ModuleList([m for pair in (self.conv1, self.dw, self.pw, self.dw2) for m in pair])

    def make_teacher_distinct(self):
        gen = torch.Generator().manual_seed(1)
        for _, bn in (self.conv1, self.dw, self.pw, self.dw2):
            bn.running_mean.copy_(0.5 * torch.randn(bn.num_features, generator=gen))
            bn.running_var.copy_(0.5 + torch.rand(bn.num_features, generator=gen))
            bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=gen))
        # Depthwise channels of very different magnitudes: their per-channel grids differ.
        self.dw[1].weight.mul_(torch.linspace(0.2, 3.0, 8))
        # A bias beyond 16 bits on the joint grid: reduce-weight-scale coarsens pw's weight grid.
        self.pw[1].bias.add_(12.0)

    def after_training(self):
        # Channel 3 of dw2 all but pruned: TI's limit (256x the tensor's scale) sets its grid. (Its
        # small biases keep reduce-weight-scale from setting a coarser one.)
        self.dw2[1].weight[3] = 1e-4
        self.dw2[1].bias.mul_(0.01)
        self.dw2[1].running_mean.mul_(0.01)

    def forward(self, x, point, layer):
        y = self.residual_block(x, point, layer)
        y = point("pool", F.max_pool2d(y, 2), True)
        y = point("dw2", F.relu(layer("dw2", self.dw2, y)), False)
        y = point("gap", F.adaptive_avg_pool2d(y, 1), False)
        return point("fc", layer("fc", self.fc, y.flatten(1)), True)

    def export(self):
        ex = Exporter(self)
        y = self.export_residual_block(ex)
        y = ex.clip("pool", ex.node("MaxPool", "pool", [y], kernel_shape=[2, 2], strides=[2, 2]), True)
        y = ex.clip("dw2", ex.relu("dw2", ex.conv("dw2", self.dw2, y)), False)
        y = ex.node("GlobalAveragePool", "gap", [y])  # no Clip: TI leaves it in float
        return ex.finish(ex.clip("fc", ex.linear("fc", self.fc, y), True))


def conv_of(module):
    return module[0] if isinstance(module, tuple) else module


def apply(module, x, w, b):
    module = conv_of(module)
    if isinstance(module, torch.nn.Linear):
        return F.linear(x, w, b)
    return F.conv2d(x, w, b, module.stride, module.padding, module.dilation, module.groups)


def plain_layer(name, module, x):
    return module[1](module[0](x)) if isinstance(module, tuple) else module(x)


def is_per_channel(settings, module):
    return settings.per_channel_q == "all" or (settings.per_channel_q is True and is_depthwise(conv_of(module)))


def train(model, teacher, gen, steps=300):
    """QAT as TI's QuantTrainModule after its BN freeze: straight-through weights, moving-maximum
    PACT2 ranges."""
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def point(name, v, signed):
        if name not in model.fixed_ranges:
            model.ranges[name] = 0.9 * model.ranges[name] + 0.1 * float(v.detach().abs().max())
        return v + (pact2(v, model.clip_range(name), signed) - v).detach()

    def layer(name, module, x):
        w, b = merge_bn(module)
        return apply(module, x, w + (quantize_weight(w, is_per_channel(model.settings, module))[0] - w).detach(), b)

    for _ in range(steps):
        x = make_input((8, *model.input_shape[1:]), gen)
        loss = F.mse_loss(model(x, point, layer), teacher(x, lambda name, v, signed: v, plain_layer).detach())
        opt.zero_grad()
        loss.backward()
        opt.step()


def make_input(shape, gen):
    return torch.randn(*shape, generator=gen) + 1.5 * torch.randn(shape[0], shape[1], 1, 1, generator=gen)


def quantized_forward(model, x):
    """TI v1's eval forward: PACT2 points, merged and quantized weights, TI's biases."""
    settings = model.settings
    scales = {}  # the PACT2 scale (2^bw / c) and signedness of the last point each layer reads

    def point(name, v, signed):
        scales["last"] = (2.0 ** (7 if signed else 8) / model.clip_range(name), signed)
        return pact2(v, model.clip_range(name), signed)

    def layer(name, module, x):
        w, b = (t.detach() for t in merge_bn(module))
        input_scale, signed_input = scales["last"]
        scale = weight_scale(w, is_per_channel(settings, module))
        if settings.constrain_bias == "reduce-weight-scale":
            # the largest weight scale that keeps the bias within 16 bits on the joint grid
            limit = 2.0 ** 15 / ceil2(float(b.abs().max())) / input_scale
            scale = torch.clamp(torch.as_tensor(scale), max=limit) if torch.is_tensor(scale) else min(scale, limit)
        w, scale = quantize_weight(w, scale=scale)
        b = quantize_bias(b, input_scale, scale, signed_input, settings.constrain_bias)
        return apply(module, x, w, b)

    return model(x, point, layer)


def generate(out_dir, name, cls, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    teacher = cls().eval()
    model = cls()
    with torch.no_grad():
        teacher.make_teacher_distinct()
        for s, d in zip(teacher.parameters(), model.parameters()):
            d.copy_(s + 0.05 * torch.randn(s.shape, generator=gen))
        for s, d in zip(teacher.buffers(), model.buffers()):
            d.copy_(s)
    model.eval()  # BatchNorm frozen, as TI's QuantTrainModule freezes it
    train(model, teacher, gen)
    with torch.no_grad():
        model.after_training()
    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_DATA_SETS):
            x = make_input(model.input_shape, gen)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME), tensor_bytes(quantized_forward(model, x).numpy(), OUTPUT_NAME)))
    write_model_dir(os.path.join(out_dir, name), model.export(), data_sets)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")
    torch.set_num_threads(1)
    generate(out_dir, "ti_pact2_mbv2", Net, 8001)
    generate(out_dir, "ti_pact2_bn_dw_per_channel", NetBnPerChannel, 8002)


if __name__ == "__main__":
    main()
