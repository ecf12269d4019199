#!/usr/bin/python3
"""Generate the QAT test models of qatc (QDQ ONNX + ONNX-backend-test data sets).

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_qat_models.py [OUTDIR]

OUTDIR defaults to <repo>/tests/models.  For every model <name> it writes

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_<N>/input_0.pb    (float32, named like the graph input)
    OUTDIR/<name>/test_data_set_<N>/output_0.pb   (float32, PyTorch's own fake-quant eval output)

(examples/resnet_tiny, the shipped demo model, links to tests/models/resnet_tiny).  Everything
is seeded and runs single-threaded, so two runs produce byte-identical
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
fma(x, a, fma(-mean, a, bias)) with a = (1/sqrt(var + eps)) * gamma in float32; small dense convs
(Slow2d: im2col + reference BLAS sgemm) accumulate in float32 starting from the bias in
(cin, kh, kw) order, one rounding for the product and one for the add; depthwise convs
(groups = channels, oneDNN's jit kernel on AVX2/AVX-512) also start from the bias and go in
(kh, kw) order but accumulate with FMA (one rounding per tap); Linear adds the bias once after a
float32 dot product summed in k order; AvgPool2d sums the window in float32 row-major then
divides by the count; global average pool is ATen's cascade sum (8 lanes) divided by H*W.
On the fake-quant models most of this is invisible (operands on the quantization grids make the
products and partial sums exact); the f32_* models below check it on off-grid float data.

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
                  Data sets 5 and 6 are later draws of the same input stream on which
                  quantizing by division (x / scale) instead of torch's x * (1/scale) changes
                  an input integer and, through conv, pool and fc, one output element.

Float models (no fake-quant, torch's default init, 4 data sets of standard-normal inputs each),
one operator family each, on off-grid data where the plausible float32 formulas disagree:
  f32_batchnorm   eval BatchNorm2d(16) alone, random running stats and affine parameters, 7x9.
  f32_conv_bias   dense Conv2d(4, 6, 3, pad 1) and depthwise Conv2d(4, 4, 3, pad 1, groups 4),
                  both with bias, on one 1x4x8x8 input, concatenated along channels.
  f32_linear      Linear(300, 16) with bias on a 1x300 input (Gemm).
  f32_avgpool     AvgPool2d(3, 1, 1) with count_include_pad False and True (the latter exported
                  as Pad -> AveragePool), concatenated along channels.
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
# oneDNN, which runs torch's grouped/depthwise convs and the batch-8 training convs, picks its own
# ISA independently of ATen's and is NOT pinned here: the committed files were made with oneDNN's
# AVX-512 kernels, and DNNL_MAX_CPU_ISA=AVX2 changes some last bits of concat_pool_up's trained
# weights (not its data sets). The f32_conv_bias outputs are the same with oneDNN's AVX2 and AVX-512
# jit depthwise kernels (both accumulate with FMA); without AVX2 oneDNN takes a GEMM path instead.

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

    # Later draws of the data-set input stream (standard normal) on which quantizing by division
    # instead of by torch's reciprocal multiply changes the output: in each, one input element's
    # integer differs (x / scale and x * (1/scale) fall on both sides of a .5), which changes 8
    # (resp. 5) conv activations, one pooled integer and finally one output element. Found by
    # scanning draws 5..19999 with forward_quantizing_by_division; only these two reach the output.
    extra_draws = (1852, 9912)


MODELS = [
    ("resnet_tiny", ResnetTiny, 1001),
    ("mobilenet_tiny", MobilenetTiny, 1002),
    ("concat_pool_up", ConcatPoolUp, 1003),
    ("mlp_k1024", MlpK1024, 1004),
    ("nonpot_default", NonPotDefault, 1005),
]


# ----------------------------------------------------------------------------------------------
# Float models (no fake-quant): one float32 operator each, on off-grid float data, so that the
# float32 evaluation rules are checked where the plausible alternatives give different bits.
# ----------------------------------------------------------------------------------------------

class F32BatchNorm(nn.Module):
    """Eval-mode BatchNorm2d alone (exported as a lone BatchNormalization node). H*W = 63 is not a
    multiple of the AVX2 vector width, so the kernel's tail path runs too."""
    input_shape = (1, 16, 7, 9)
    onnx_ops = ["BatchNormalization"]

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(16)

    def forward(self, x):
        return self.bn(x)

    def init_params(self, gen):
        c = self.bn.num_features
        with torch.no_grad():
            self.bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
            self.bn.bias.copy_(torch.randn(c, generator=gen) * 0.5)
            self.bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
            self.bn.running_var.copy_(torch.empty(c).uniform_(0.2, 3.0, generator=gen))


class F32ConvBias(nn.Module):
    """A dense 3x3 conv (N=1, small: ATen's Slow2d path, im2col + reference BLAS sgemm) and a
    depthwise 3x3 conv (groups = channels: oneDNN's jit depthwise kernel), both with float bias,
    on the same input; outputs concatenated along channels (0-5 dense, 6-9 depthwise)."""
    input_shape = (1, 4, 8, 8)
    onnx_ops = ["Conv", "Conv", "Concat"]

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1, bias=True)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=True)

    def forward(self, x):
        return torch.cat([self.conv(x), self.dw(x)], dim=1)


class F32Linear(nn.Module):
    """Linear 300 -> 16 with bias on a 1x300 input (addmm: reference BLAS sgemm, transposed A)."""
    input_shape = (1, 300)
    onnx_ops = ["Gemm"]

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(300, 16)

    def forward(self, x):
        return self.fc(x)


class F32AvgPool(nn.Module):
    """AvgPool2d(3, 1, 1) without and with count_include_pad on the same input, concatenated along
    channels (0-3 exclude padding: divisors 4/6/9; 4-7 include it: divisor 9, exported as Pad ->
    AveragePool)."""
    input_shape = (1, 4, 8, 8)
    onnx_ops = ["AveragePool", "Pad", "AveragePool", "Concat"]

    def __init__(self):
        super().__init__()
        self.pool_ex = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.pool_in = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)

    def forward(self, x):
        return torch.cat([self.pool_ex(x), self.pool_in(x)], dim=1)


FLOAT_MODELS = [
    ("f32_batchnorm", F32BatchNorm, 2001),
    ("f32_conv_bias", F32ConvBias, 2002),
    ("f32_linear", F32Linear, 2003),
    ("f32_avgpool", F32AvgPool, 2004),
]
NUM_FLOAT_DATA_SETS = 4


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
    train_qat(model, teacher, batch_shape, gen)

    model.apply(tq.disable_observer)
    model.eval()
    return model


def train_qat(model, teacher, batch_shape, gen, steps=None, lr=None):
    """QAT proper: `steps` (default TRAIN_STEPS) SGD steps (learning rate `lr`, default LR) in train
    mode on random inputs, MSE towards the teacher's output; weights, observers and BatchNorm
    running statistics all move."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR if lr is None else lr, momentum=0.9)
    for _ in range(TRAIN_STEPS if steps is None else steps):
        x = make_input(batch_shape, gen)
        with torch.no_grad():
            target = teacher(x)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()       # BatchNorm running statistics are updated by the train-mode forwards


def forward_quantizing_by_division(model, x):
    """model(x) with every per-tensor FakeQuantize computing nearbyint(x / scale) in float32 instead
    of torch's nearbyint(x * (1.0f / scale)) (dequantization as torch's: (q - zp) * scale in double,
    rounded once). Only used to check that some data sets tell the two apart."""
    def by_division(self, X):
        assert self.qscheme in (torch.per_tensor_affine, torch.per_tensor_symmetric)
        s = self.scale.to(torch.float32)
        zp = int(self.zero_point.item())
        q = torch.clamp(torch.round(X / s) + zp, self.quant_min, self.quant_max)
        return ((q.double() - zp) * s.double()).float()
    saved = FakeQuantize.forward
    FakeQuantize.forward = by_division
    try:
        with torch.no_grad():
            return model(x)
    finally:
        FakeQuantize.forward = saved


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
    # Draws 0..NUM_DATA_SETS-1 of the input stream, then the listed later draws of the same stream.
    extra = tuple(getattr(cls, "extra_draws", ()))
    keep = list(range(NUM_DATA_SETS)) + list(extra)
    data_sets = []
    with torch.no_grad():
        for draw in range(max(keep) + 1):
            x = make_input(cls.input_shape, gen)
            if draw not in keep:
                continue
            y = model(x)
            if draw in extra:
                # The point of these draws: quantizing by division changes torch's output.
                assert not torch.equal(y, forward_quantizing_by_division(model, x)), (name, draw)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME),
                              tensor_bytes(y.numpy(), OUTPUT_NAME)))
    return onnx_bytes, data_sets


def generate_float(name, cls, seed):
    seed_all(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cls()                       # default torch init (seeded): float weights and biases
    if hasattr(model, "init_params"):
        model.init_params(gen)
    model.eval()
    onnx_bytes = export_onnx(model, cls.input_shape)

    m = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(m, full_check=True)
    assert len(onnx_bytes) <= MAX_MODEL_BYTES, (name, len(onnx_bytes))
    assert [i.name for i in m.graph.input] == [INPUT_NAME], name
    assert [o.name for o in m.graph.output] == [OUTPUT_NAME], name
    ops = [n.op_type for n in m.graph.node if n.op_type != "Constant"]
    assert ops == cls.onnx_ops, (name, ops)

    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_FLOAT_DATA_SETS):
            x = make_input(cls.input_shape, gen)
            y = model(x)
            data_sets.append((tensor_bytes(x.numpy(), INPUT_NAME),
                              tensor_bytes(y.numpy(), OUTPUT_NAME)))
    return onnx_bytes, data_sets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(REPO_ROOT, "tests", "models"),
                    help="output directory (default: <repo>/tests/models)")
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
    for name, cls, seed in FLOAT_MODELS:
        onnx_bytes, data_sets = generate_float(name, cls, seed)
        write_model_dir(os.path.join(args.outdir, name), onnx_bytes, data_sets)
        print("%-16s %7d bytes, %d data sets" % (name, len(onnx_bytes), len(data_sets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
