#!/usr/bin/python3
"""Generate the QAT test models of qatc (QDQ ONNX + ONNX-backend-test data sets).

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_qat_models.py [OUTDIR] [--examples-dir DIR | --no-examples]

OUTDIR defaults to <repo>/tests/models.  For every model <name> it writes

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_<N>/input_0.pb    (float32, named like the graph input)
    OUTDIR/<name>/test_data_set_<N>/output_0.pb   (float32, PyTorch's own fake-quant eval output)

and copies resnet_tiny to <examples>/resnet_tiny.onnx + <examples>/resnet_tiny_data/ (the shipped
demo model).  Everything is seeded and runs single-threaded, so two runs produce byte-identical
files; files whose content is unchanged are not rewritten.

Every model gets random weights, random BatchNorm affine parameters and BatchNorm running
statistics calibrated on data (stand-in for a pretrained float model), then real eager-mode QAT
(torch.ao.quantization: fuse_modules_qat, prepare_qat, SGD steps in train mode against a
perturbed-copy teacher, so weights, observers and BatchNorm running statistics all move).
Observers are then disabled, the model is put in eval mode and exported with
torch.onnx.export(opset 13), which turns every FakeQuantize into QuantizeLinear ->
DequantizeLinear (weights stay float initializers feeding a QuantizeLinear; fused Conv+BN
becomes Conv(zero bias) -> Div(scale_factor) -> BatchNormalization).

Numerics of output_0.pb (torch 1.13 CPU, ATen AVX2 kernels, one thread): fake-quant is
clamp(nearbyint(x * (1.0f/scale)) + zp) then (q - zp) * scale rounded once; eval BatchNorm is
fma(x, a, fma(-mean, a, bias)) with a = (1/sqrt(var + eps)) * gamma in float32; small convs
(Slow2d / oneDNN depthwise) accumulate in float32 starting from the bias in (cin, kh, kw) order;
Linear adds the bias once after a float32 dot product summed in k order; AvgPool2d sums the
window in float32 row-major then divides by the count; global average pool is ATen's cascade
sum (8 lanes) divided by H*W.

Models:
  resnet_tiny     power-of-two scales; quint8 (0..255, zp 0) after ReLUs, qint8 elsewhere;
                  per-channel symmetric int8 weights; basic residual block with a
                  FloatFunctional add; global average pool; Linear.
  mobilenet_tiny  power-of-two scales; qint8 activations everywhere; per-tensor int8 weights;
                  MobileNetV2 inverted residual (expand 1x1, depthwise 3x3, project 1x1) with ReLU6.
  concat_pool_up  power-of-two scales; two branches concatenated whose ranges differ ~4x (branch b
                  has 4x BatchNorm affine parameters and is signed, so its scale is 8x branch a's),
                  MaxPool2d(2), AvgPool2d(3,1,1,count_include_pad=False), nearest Upsample(x2),
                  explicit fake-quant points after avgpool and upsample, final conv with bias;
                  mixed per-tensor / per-channel weights.
  mlp_k1024       power-of-two scales; Linear 1024->64, ReLU, Linear 64->10 on a 1x1024 input.
  nonpot_default  torch's default (non-power-of-two) qnnpack QAT qconfig (version 0): affine
                  uint8 activations with non-zero zero points, per-tensor int8 weights.
"""

import argparse
import copy
import io
import math
import os
import random
import shutil
import sys
import warnings

# The reference outputs depend on which ATen CPU kernel variant runs: the AVX2 kernels (compiled
# with FMA contraction) evaluate eval-mode BatchNorm as fma(x, alpha, fma(-mean, alpha, bias)),
# the DEFAULT kernels with two roundings each; reduction order depends on the vector width.
# Pin AVX2 (must be set before torch is imported); main() checks that it took effect.
os.environ["ATEN_CPU_CAPABILITY"] = "avx2"

import numpy as np
import torch
import torch.nn as nn
import torch.ao.quantization as tq
from torch.ao.quantization import (DeQuantStub, FakeQuantize, MovingAverageMinMaxObserver,
                                   MovingAveragePerChannelMinMaxObserver, QConfig, QuantStub)

import onnx
from onnx import numpy_helper

OPSET = 13
NUM_DATA_SETS = 5
TRAIN_STEPS = 40
CALIB_BATCHES = 10
LR = 0.005
BATCH = 8
INPUT_NAME = "input"
OUTPUT_NAME = "output"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_MODEL_BYTES = 1 << 20


# ----------------------------------------------------------------------------------------------
# Power-of-two observers
# ----------------------------------------------------------------------------------------------

def _ceil_pow2(s):
    """Smallest power of two >= s (exact, via frexp)."""
    s = max(float(s), 2.0 ** -24)
    m, e = math.frexp(s)  # s = m * 2^e, 0.5 <= m < 1
    return math.ldexp(1.0, e - 1) if m == 0.5 else math.ldexp(1.0, e)


def _pot_qparams(min_val, max_val, quant_min, quant_max):
    """Symmetric power-of-two scale(s) and zero point(s) 0.

    signed (quant_min < 0): scale = 2^ceil(log2(max(|min|, |max|) / quant_max))
    unsigned:               scale = 2^ceil(log2(max(max, 0) / quant_max))
    """
    mins = min_val.detach().reshape(-1).tolist()
    maxs = max_val.detach().reshape(-1).tolist()
    scales = []
    for lo, hi in zip(mins, maxs):
        if quant_min < 0:
            amax = max(-lo, hi, 0.0)
        else:
            amax = max(hi, 0.0)
        scales.append(_ceil_pow2(amax / quant_max))
    # Shape [1] for per-tensor, [C] for per-channel (like torch's own observers).
    scale = torch.tensor(scales, dtype=torch.float32)
    zero_point = torch.zeros(len(scales), dtype=torch.int64)
    return scale, zero_point


class PotMovingAverageMinMaxObserver(MovingAverageMinMaxObserver):
    """MovingAverageMinMaxObserver with scale rounded up to a power of two, zero point 0."""

    @torch.jit.export
    def calculate_qparams(self):
        return _pot_qparams(self.min_val, self.max_val, self.quant_min, self.quant_max)


class PotMovingAveragePerChannelMinMaxObserver(MovingAveragePerChannelMinMaxObserver):
    """Per-channel variant: per-channel power-of-two scales, zero points 0."""

    @torch.jit.export
    def calculate_qparams(self):
        return _pot_qparams(self.min_val, self.max_val, self.quant_min, self.quant_max)


ACT_S8 = FakeQuantize.with_args(observer=PotMovingAverageMinMaxObserver, quant_min=-128,
                                quant_max=127, dtype=torch.qint8,
                                qscheme=torch.per_tensor_symmetric)
ACT_U8 = FakeQuantize.with_args(observer=PotMovingAverageMinMaxObserver, quant_min=0,
                                quant_max=255, dtype=torch.quint8,
                                qscheme=torch.per_tensor_symmetric)
W_PER_TENSOR = FakeQuantize.with_args(observer=PotMovingAverageMinMaxObserver, quant_min=-128,
                                      quant_max=127, dtype=torch.qint8,
                                      qscheme=torch.per_tensor_symmetric)
W_PER_CHANNEL = FakeQuantize.with_args(observer=PotMovingAveragePerChannelMinMaxObserver,
                                       quant_min=-128, quant_max=127, dtype=torch.qint8,
                                       qscheme=torch.per_channel_symmetric, ch_axis=0)

QC_S8_PC = QConfig(activation=ACT_S8, weight=W_PER_CHANNEL)
QC_U8_PC = QConfig(activation=ACT_U8, weight=W_PER_CHANNEL)
QC_S8_PT = QConfig(activation=ACT_S8, weight=W_PER_TENSOR)
QC_U8_PT = QConfig(activation=ACT_U8, weight=W_PER_TENSOR)


def conv_bn(cin, cout, k, stride=1, groups=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False), \
        nn.BatchNorm2d(cout)


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

class ResnetTiny(nn.Module):
    input_shape = (1, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.conv1, self.bn1 = conv_bn(3, 8, 3)
        self.relu1 = nn.ReLU()
        self.b_conv1, self.b_bn1 = conv_bn(8, 8, 3)
        self.b_relu1 = nn.ReLU()
        self.b_conv2, self.b_bn2 = conv_bn(8, 8, 3)
        self.add = nn.quantized.FloatFunctional()
        self.relu_out = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()
        self.fc = nn.Linear(8, 10)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        y = self.b_relu1(self.b_bn1(self.b_conv1(x)))
        y = self.b_bn2(self.b_conv2(y))
        x = self.add.add(y, x)
        x = self.relu_out(x)
        x = self.pool(x)
        x = self.pool_q(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)

    fuse_list = [["conv1", "bn1", "relu1"], ["b_conv1", "b_bn1", "b_relu1"], ["b_conv2", "b_bn2"]]

    def set_qconfigs(self):
        self.qconfig = QC_S8_PC          # input, add output (pre-ReLU, signed), fc output
        self.conv1.qconfig = QC_U8_PC    # fused conv-bn-relu outputs are unsigned
        self.b_conv1.qconfig = QC_U8_PC
        self.pool_q.qconfig = QC_U8_PC   # mean of post-ReLU values


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.exp_conv, self.exp_bn = conv_bn(c, h, 1)
        self.exp_relu = nn.ReLU6()
        self.dw_conv, self.dw_bn = conv_bn(h, h, 3, groups=h)
        self.dw_relu = nn.ReLU6()
        self.proj_conv, self.proj_bn = conv_bn(h, c, 1)
        self.add = nn.quantized.FloatFunctional()

    def forward(self, x):
        y = self.exp_relu(self.exp_bn(self.exp_conv(x)))
        y = self.dw_relu(self.dw_bn(self.dw_conv(y)))
        y = self.proj_bn(self.proj_conv(y))
        return self.add.add(x, y)


class MobilenetTiny(nn.Module):
    input_shape = (1, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.stem_conv, self.stem_bn = conv_bn(3, 8, 3)
        self.stem_relu = nn.ReLU6()
        self.block = InvertedResidual(8, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()
        self.fc = nn.Linear(8, 10)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.stem_relu(self.stem_bn(self.stem_conv(x)))
        x = self.block(x)
        x = self.pool(x)
        x = self.pool_q(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)

    # Conv-BN-ReLU6 is not an eager-mode fusion pattern: Conv-BN is fused and ReLU6 keeps its own
    # fake-quant (as in real eager-mode MobileNetV2 QAT with ReLU6).
    fuse_list = [["stem_conv", "stem_bn"], ["block.exp_conv", "block.exp_bn"],
                 ["block.dw_conv", "block.dw_bn"], ["block.proj_conv", "block.proj_bn"]]

    def set_qconfigs(self):
        self.qconfig = QC_S8_PT


class ConcatPoolUp(nn.Module):
    input_shape = (1, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.a_conv, self.a_bn = conv_bn(3, 4, 3)
        self.a_relu = nn.ReLU()
        self.b_conv, self.b_bn = conv_bn(3, 4, 3)
        self.cat = nn.quantized.FloatFunctional()
        self.maxpool = nn.MaxPool2d(2)
        self.avgpool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.avg_q = QuantStub()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_q = QuantStub()
        self.out_conv = nn.Conv2d(8, 4, 3, padding=1, bias=True)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        a = self.a_relu(self.a_bn(self.a_conv(x)))
        b = self.b_bn(self.b_conv(x))
        x = self.cat.cat([a, b], dim=1)
        x = self.maxpool(x)
        x = self.avgpool(x)
        x = self.avg_q(x)
        x = self.up(x)
        x = self.up_q(x)
        x = self.out_conv(x)
        return self.dequant(x)

    fuse_list = [["a_conv", "a_bn", "a_relu"], ["b_conv", "b_bn"]]

    def set_qconfigs(self):
        self.qconfig = QC_S8_PC          # input, cat, avg_q, up_q, out_conv (per-channel)
        self.a_conv.qconfig = QC_U8_PC   # branch a: unsigned, per-channel weights
        self.b_conv.qconfig = QC_S8_PT   # branch b: signed, per-tensor weights, ~4x range

    def custom_init(self, gen):
        # Branch b gets a ~4x larger output range than branch a.
        with torch.no_grad():
            self.b_bn.weight.mul_(4.0)
            self.b_bn.bias.mul_(4.0)


class MlpK1024(nn.Module):
    input_shape = (1, 1024)

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.fc1 = nn.Linear(1024, 64)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu(self.fc1(x))
        x = self.fc2(x)
        return self.dequant(x)

    fuse_list = [["fc1", "relu"]]

    def set_qconfigs(self):
        self.qconfig = QC_S8_PT          # input, fc2 (per-tensor weights, signed output)
        self.fc1.qconfig = QC_U8_PC      # fused Linear-ReLU: per-channel weights, unsigned output


class NonPotDefault(nn.Module):
    input_shape = (1, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.conv, self.bn = conv_bn(3, 8, 3)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()
        self.fc = nn.Linear(8, 10)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu(self.bn(self.conv(x)))
        x = self.pool(x)
        x = self.pool_q(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)

    fuse_list = [["conv", "bn", "relu"]]

    def set_qconfigs(self):
        self.qconfig = tq.get_default_qat_qconfig("qnnpack", version=0)


MODELS = [
    ("resnet_tiny", ResnetTiny, 1001),
    ("mobilenet_tiny", MobilenetTiny, 1002),
    ("concat_pool_up", ConcatPoolUp, 1003),
    ("mlp_k1024", MlpK1024, 1004),
    ("nonpot_default", NonPotDefault, 1005),
]


# ----------------------------------------------------------------------------------------------
# Training / export
# ----------------------------------------------------------------------------------------------

def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def randomize_bn(model, gen):
    """Give BatchNorm affine parameters a 'pretrained' look (not 1/0)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.empty(m.num_features).uniform_(0.5, 1.5, generator=gen))
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)


def make_input(shape, gen):
    return torch.randn(*shape, generator=gen)


def calibrate_bn(model, batch_shape, gen, batches=CALIB_BATCHES):
    """Float 'pretraining' stand-in: set BatchNorm running statistics from data (cumulative
    average over a few train-mode batches), as a pretrained float model would have them."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(make_input(batch_shape, gen))
    for m in bns:
        m.momentum = 0.1


def perturbed_copy(model, gen, rel=0.1):
    """Teacher for the regression target: the float model with ~10% weight noise."""
    teacher = copy.deepcopy(model)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * (p.std() if p.numel() > 1 else 0.1) * rel)
    teacher.eval()
    return teacher


def build_qat_model(cls, seed):
    seed_all(seed)
    gen = torch.Generator().manual_seed(seed)
    batch_shape = (BATCH,) + tuple(cls.input_shape[1:])

    model = cls()
    randomize_bn(model, gen)
    if hasattr(model, "custom_init"):
        model.custom_init(gen)
    calibrate_bn(model, batch_shape, gen)
    teacher = perturbed_copy(model, gen)

    # Eager-mode QAT.
    model.train()
    tq.fuse_modules_qat(model, model.fuse_list, inplace=True)
    model.set_qconfigs()
    tq.prepare_qat(model, inplace=True)

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    for _ in range(TRAIN_STEPS):
        x = make_input(batch_shape, gen)
        with torch.no_grad():
            target = teacher(x)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()       # BatchNorm running statistics are updated by the train-mode forwards

    model.apply(tq.disable_observer)
    model.eval()
    return model


def export_onnx(model, shape):
    x = torch.zeros(*shape)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, buf, opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], do_constant_folding=True)
    return buf.getvalue()


def tensor_bytes(arr, name):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    return numpy_helper.from_array(arr, name).SerializeToString()


def write_if_changed(path, data):
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def remove_stale_data_sets(model_dir, keep):
    if not os.path.isdir(model_dir):
        return
    for entry in os.listdir(model_dir):
        if entry.startswith("test_data_set_") and entry not in keep:
            shutil.rmtree(os.path.join(model_dir, entry))


def write_data_sets(data_dir, data_sets):
    keep = set()
    for i, (inp, out) in enumerate(data_sets):
        d = "test_data_set_%d" % i
        keep.add(d)
        write_if_changed(os.path.join(data_dir, d, "input_0.pb"), inp)
        write_if_changed(os.path.join(data_dir, d, "output_0.pb"), out)
    remove_stale_data_sets(data_dir, keep)


def write_model_dir(model_dir, onnx_bytes, data_sets):
    write_if_changed(os.path.join(model_dir, "model.onnx"), onnx_bytes)
    write_data_sets(model_dir, data_sets)


def generate(name, cls, seed):
    model = build_qat_model(cls, seed)
    onnx_bytes = export_onnx(model, cls.input_shape)

    m = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(m, full_check=True)
    assert len(onnx_bytes) <= MAX_MODEL_BYTES, (name, len(onnx_bytes))
    assert [i.name for i in m.graph.input] == [INPUT_NAME], name
    assert [o.name for o in m.graph.output] == [OUTPUT_NAME], name

    gen = torch.Generator().manual_seed(seed + 500)
    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_DATA_SETS):
            x = make_input(cls.input_shape, gen)
            y = model(x)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME),
                              tensor_bytes(y.numpy(), OUTPUT_NAME)))
    return onnx_bytes, data_sets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(REPO_ROOT, "tests", "models"),
                    help="output directory (default: <repo>/tests/models)")
    ap.add_argument("--examples-dir", default=os.path.join(REPO_ROOT, "examples"),
                    help="where to copy the resnet_tiny demo (default: <repo>/examples)")
    ap.add_argument("--no-examples", action="store_true", help="do not write the demo copy")
    args = ap.parse_args(argv)

    # Single thread: reproducible training and a fixed choice of CPU kernels.
    torch.set_num_threads(1)
    if "CPU capability usage: AVX2" not in torch.__config__.show():
        print("warning: ATen is not using its AVX2 kernels; output_0.pb files may differ in the "
              "last bit from the committed ones", file=sys.stderr)
    torch.use_deterministic_algorithms(True)

    for name, cls, seed in MODELS:
        onnx_bytes, data_sets = generate(name, cls, seed)
        write_model_dir(os.path.join(args.outdir, name), onnx_bytes, data_sets)
        print("%-16s %7d bytes, %d data sets" % (name, len(onnx_bytes), len(data_sets)))
        if name == "resnet_tiny" and not args.no_examples:
            write_if_changed(os.path.join(args.examples_dir, "resnet_tiny.onnx"), onnx_bytes)
            write_data_sets(os.path.join(args.examples_dir, "resnet_tiny_data"), data_sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
