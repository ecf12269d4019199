#!/usr/bin/python3
"""Train a tiny CNN with PyTorch quantization-aware training and export it for qatc.

    /usr/bin/python3 examples/pytorch_qat/train_qat.py OUTDIR

Needs torch (1.13 tested), onnx and numpy; downloads nothing. The script
  1. makes a synthetic 4-class task (noisy stripes: horizontal, vertical, diagonal and
     anti-diagonal, 3x16x16) and trains a small CNN on it in float,
  2. fine-tunes it with eager-mode QAT (torch.ao.quantization), then
  3. writes OUTDIR/model.onnx (QuantizeLinear/DequantizeLinear pairs, opset 13) and
     OUTDIR/test_data_set_{0,1,2}/{input_0,output_0}.pb, the ONNX backend-test layout, where
     output_0.pb is PyTorch's own output, which `qatc verify` checks bit for bit.

Why power-of-two scales: qatc lowers the model to integer arithmetic, and requires every scale to
be 2^k (zero point 0) so that requantizing an accumulator is just a rounding shift, with no
fixed-point multiplier. TI's edgeai-torchmodelopt trains with power-of-two scales natively; with
plain PyTorch we get them from observers that round the scale UP to the next power of two
(rounding up never clips more than the min/max observer would have).

Everything is seeded and single-threaded: two runs on the same machine write byte-identical
files (another CPU may pick other float kernels and get other, equally valid, last bits).
"""

import math
import os
import sys

import onnx.numpy_helper
import torch
import torch.ao.quantization as tq
import torch.nn as nn
from torch.ao.quantization import (DeQuantStub, FakeQuantize, MovingAverageMinMaxObserver,
                                   MovingAveragePerChannelMinMaxObserver, QConfig, QuantStub)

NUM_CLASSES = 4


def make_batch(n, gen):
    """n noisy stripe images (n x 3 x 16 x 16, values mostly within +-2) and their labels 0..3."""
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=gen)
    r = torch.arange(16.0).view(16, 1)
    c = torch.arange(16.0).view(1, 16)
    coord = torch.stack([r.expand(16, 16), c.expand(16, 16), r + c, r - c])[labels]
    period = torch.randint(3, 7, (n, 1, 1), generator=gen).float()
    phase = torch.rand(n, 1, 1, generator=gen) * 2 * math.pi
    stripes = torch.sin(2 * math.pi * coord / period + phase)             # n x 16 x 16
    color = torch.rand(n, 3, 1, 1, generator=gen) * 1.5 - 0.5              # per-channel gain
    noise = 0.4 * torch.randn(n, 3, 16, 16, generator=gen)
    return stripes.unsqueeze(1) * color + noise, labels


class StripeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = QuantStub()                       # float input -> int8 grid
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()                      # the mean is off-grid: re-quantize it
        self.fc = nn.Linear(16, NUM_CLASSES)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.pool_q(self.pool(x))
        return self.dequant(self.fc(torch.flatten(x, 1)))


# --- power-of-two observers ---------------------------------------------------------------------

def pow2_qparams(min_val, max_val, quant_min, quant_max):
    """Scale = 2^ceil(log2(range / quant_max)) per tensor or per channel, zero point 0.
    Signed grids cover max(|min|, |max|); unsigned ones (after ReLU) cover [0, max]."""
    amax = torch.maximum(-min_val, max_val) if quant_min < 0 else max_val
    mant, exp = torch.frexp((amax.clamp(min=1e-8) / quant_max).reshape(-1).float())
    exp = torch.where(mant == 0.5, exp - 1, exp)      # exact powers of two stay as they are
    return torch.exp2(exp.float()), torch.zeros(exp.numel(), dtype=torch.int64)


class Pow2Observer(MovingAverageMinMaxObserver):
    @torch.jit.export
    def calculate_qparams(self):
        return pow2_qparams(self.min_val, self.max_val, self.quant_min, self.quant_max)


class Pow2PerChannelObserver(MovingAveragePerChannelMinMaxObserver):
    @torch.jit.export
    def calculate_qparams(self):
        return pow2_qparams(self.min_val, self.max_val, self.quant_min, self.quant_max)


ACT_INT8 = FakeQuantize.with_args(observer=Pow2Observer, dtype=torch.qint8, quant_min=-128,
                                  quant_max=127, qscheme=torch.per_tensor_symmetric)
ACT_UINT8 = FakeQuantize.with_args(observer=Pow2Observer, dtype=torch.quint8, quant_min=0,
                                   quant_max=255, qscheme=torch.per_tensor_symmetric)
WEIGHT = FakeQuantize.with_args(observer=Pow2PerChannelObserver, dtype=torch.qint8, quant_min=-128,
                                quant_max=127, qscheme=torch.per_channel_symmetric, ch_axis=0)
SIGNED = QConfig(activation=ACT_INT8, weight=WEIGHT)
UNSIGNED = QConfig(activation=ACT_UINT8, weight=WEIGHT)


# --- training -----------------------------------------------------------------------------------

def train(model, gen, steps, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        x, y = make_batch(32, gen)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def accuracy(model, x, y):
    model.eval()                     # BN running statistics, as after export
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUTDIR" % sys.argv[0])
    outdir = sys.argv[1]

    # Same seed, one thread, deterministic kernels -> byte-identical files on every run.
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(0)
    test_x, test_y = make_batch(512, gen)

    model = StripeNet()
    train(model, gen, steps=150, lr=0.01)
    print("float accuracy: %.1f%% (chance %.0f%%)"
          % (100 * accuracy(model, test_x, test_y), 100 / NUM_CLASSES))

    # QAT: fold BN into the convs (fused Conv-BN-ReLU modules), then insert FakeQuantize.
    model.train()
    tq.fuse_modules_qat(model, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]],
                        inplace=True)
    model.qconfig = SIGNED           # input and Linear output: int8
    model.conv1.qconfig = UNSIGNED   # post-ReLU outputs: uint8 0..255 (one more bit of precision)
    model.conv2.qconfig = UNSIGNED
    model.pool_q.qconfig = UNSIGNED  # the mean of non-negative values
    tq.prepare_qat(model, inplace=True)
    train(model, gen, steps=100, lr=0.002)
    # Freeze the scales, and use BN's running statistics: this is the model that gets exported.
    model.apply(tq.disable_observer)
    model.eval()
    print("QAT accuracy:   %.1f%%" % (100 * accuracy(model, test_x, test_y)))

    os.makedirs(outdir, exist_ok=True)
    model_path = os.path.join(outdir, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 16, 16), model_path, opset_version=13,
                      input_names=["input"], output_names=["output"], do_constant_folding=True)

    # Reference data: fresh images, batch 1, with PyTorch's own (fake-quantized) outputs.
    for i in range(3):
        x, _ = make_batch(1, gen)
        with torch.no_grad():
            y = model(x)
        d = os.path.join(outdir, "test_data_set_%d" % i)
        os.makedirs(d, exist_ok=True)
        for fname, name, t in (("input_0.pb", "input", x), ("output_0.pb", "output", y)):
            tensor = onnx.numpy_helper.from_array(t.numpy(), name)
            with open(os.path.join(d, fname), "wb") as f:
                f.write(tensor.SerializeToString())
    print("wrote %s and 3 data sets" % model_path)


if __name__ == "__main__":
    main()
