#!/usr/bin/python3
"""Generate the benchmark models: power-of-two QAT ResNet-18 and MobileNetV2 at 224x224, and
MobileNetV3's first HardSwish alone (a lookup-table layer).

Run with Debian's interpreter (torch 1.13, onnx, numpy):

    /usr/bin/python3 scripts/make_bench_models.py OUTDIR

The networks are torchvision's ResNet-18 and MobileNetV2 (width 1.0, 1000 classes), written out
here because Debian has no torchvision. Training is the same eager QAT as the regression models
(scripts/make_qat_models.py: power-of-two observers, fused Conv+BN, a few SGD steps towards a
perturbed teacher on random data): the weights need not be meaningful, only realistically
quantized. Each model gets one data set (torch's own output) so a benchmark can check that what
it timed is also right.

ONNX Runtime's QDQ fusion wants scalar scales and zero points, where torch exports shape [1]:
they are made scalars (the same values; qatc reads both).

The files are large (ResNet-18: ~47 MB), so they are generated into a build directory on demand,
not committed. Two runs write byte-identical files.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_qat_models as qat  # noqa: E402  (first: it pins torch's CPU kernels before torch loads)
from make_qat_models import QC_S8_PC, QC_U8_PC, conv_bn  # noqa: E402

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torch.ao.quantization import DeQuantStub, QuantStub  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, 3, stride)
        self.relu1 = nn.ReLU()
        self.conv2, self.bn2 = conv_bn(cout, cout, 3)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(*conv_bn(cin, cout, 1, stride))
        self.add = nn.quantized.FloatFunctional()
        self.relu2 = nn.ReLU()

    def forward(self, x):
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu2(self.add.add(y, x if self.down is None else self.down(x)))

    def fuse_list(self, prefix):
        fuse = [[prefix + "conv1", prefix + "bn1", prefix + "relu1"], [prefix + "conv2", prefix + "bn2"]]
        return fuse + ([[prefix + "down.0", prefix + "down.1"]] if self.down is not None else [])


class ResNet18(nn.Module):
    input_shape = (1, 3, 224, 224)
    train_batch = 2

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        self.conv1, self.bn1 = conv_bn(3, 64, 7, 2)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)):
            blocks.append(BasicBlock(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()
        self.fc = nn.Linear(512, 1000)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.quant(x)))))
        x = self.pool_q(self.pool(self.blocks(x)))
        return self.dequant(self.fc(torch.flatten(x, 1)))

    @property
    def fuse_list(self):
        fuse = [["conv1", "bn1", "relu"]]
        for i, b in enumerate(self.blocks):
            fuse += b.fuse_list("blocks.%d." % i)
        return fuse

    def set_qconfigs(self):
        self.qconfig = QC_S8_PC  # the input, the residual sums (before their ReLU), the classifier
        for m in self.modules():
            if isinstance(m, nn.ReLU):
                m.qconfig = QC_U8_PC
        self.conv1.qconfig = QC_U8_PC
        for b in self.blocks:
            b.conv1.qconfig = QC_U8_PC
        self.pool_q.qconfig = QC_U8_PC


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers += [*conv_bn(cin, hidden, 1), nn.ReLU6()]
        layers += [*conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(), *conv_bn(hidden, cout, 1)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.add = nn.quantized.FloatFunctional()

    def forward(self, x):
        return self.add.add(x, self.conv(x)) if self.residual else self.conv(x)

    def fuse_list(self, prefix):
        n = len(self.conv)
        # Conv-BN pairs; ReLU6 keeps its own fake-quant (not an eager fusion pattern).
        return [[prefix + "conv.%d" % i, prefix + "conv.%d" % (i + 1)] for i in range(n)
                if isinstance(self.conv[i], nn.Conv2d)]


class MobileNetV2(nn.Module):
    input_shape = (1, 3, 224, 224)
    train_batch = 2
    # (expansion, output channels, repeats, first stride): torchvision's inverted_residual_setting
    setting = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))

    def __init__(self):
        super().__init__()
        self.quant = QuantStub()
        layers, cin = [*conv_bn(3, 32, 3, 2), nn.ReLU6()], 32
        for t, c, n, s in self.setting:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += [*conv_bn(cin, 1280, 1), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = QuantStub()
        self.classifier = nn.Linear(1280, 1000)
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.pool_q(self.pool(self.features(self.quant(x))))
        return self.dequant(self.classifier(torch.flatten(x, 1)))

    @property
    def fuse_list(self):
        fuse = []
        for i, m in enumerate(self.features):
            if isinstance(m, nn.Conv2d):
                fuse.append(["features.%d" % i, "features.%d" % (i + 1)])
            elif isinstance(m, InvertedResidual):
                fuse += m.fuse_list("features.%d." % i)
        return fuse

    def set_qconfigs(self):
        self.qconfig = QC_S8_PC


class HardSwish(nn.Module):
    """MobileNetV3-Large's first activation alone: HardSwish on 16x112x112 between power-of-two
    fake-quants, exported as torch does at opset 13 (Mul(x, HardSigmoid(x))). qatc makes it one
    lookup table; ORT runs what the QDQ graph says. Nothing to train."""
    input_shape = (1, 16, 112, 112)

    def forward(self, x):
        x = torch.fake_quantize_per_tensor_affine(x, 2.0 ** -4, 0, -128, 127)
        return torch.fake_quantize_per_tensor_affine(nn.functional.hardswish(x), 2.0 ** -4, 0, -128, 127)


def scalar_qparams(model_bytes):
    """Q/DQ scales and zero points of shape [1] become scalars."""
    m = onnx.load_from_string(model_bytes)
    qdq_params = {n.input[i] for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                  for i in (1, 2) if i < len(n.input)}
    for i, init in enumerate(m.graph.initializer):
        if init.name in qdq_params and list(init.dims) == [1]:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).reshape(()), init.name))
    for node in m.graph.node:  # torch may also emit them as Constant nodes
        if node.op_type == "Constant" and node.output[0] in qdq_params:
            t = node.attribute[0].t
            if list(t.dims) == [1]:
                t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).reshape(()), t.name))
    onnx.checker.check_model(m)
    return m.SerializeToString()


MODELS = [("resnet18", ResNet18, 9001), ("mobilenet_v2", MobileNetV2, 9002), ("hardswish", HardSwish, 9003)]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: make_bench_models.py OUTDIR")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    qat.TRAIN_STEPS, qat.CALIB_BATCHES = 4, 2  # 224x224 on two cores: a few steps are enough
    for name, cls, seed in MODELS:
        if cls is HardSwish:
            model = HardSwish().eval()
        else:
            qat.BATCH = cls.train_batch
            model = qat.build_qat_model(cls, seed)
        onnx_bytes = scalar_qparams(qat.export_onnx(model, cls.input_shape))
        gen = torch.Generator().manual_seed(seed + 500)
        x = qat.make_input(cls.input_shape, gen)
        with torch.no_grad():
            y = model(x)
        data_sets = [(qat.tensor_bytes(x.numpy(), qat.INPUT_NAME), qat.tensor_bytes(y.numpy(), qat.OUTPUT_NAME))]
        qat.write_model_dir(os.path.join(argv[0], name), onnx_bytes, data_sets)
        print("%-14s %9d bytes" % (name, len(onnx_bytes)))


if __name__ == "__main__":
    main()
