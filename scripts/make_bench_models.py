#!/usr/bin/python3
"""Generate the benchmark models: torchvision's ResNet-18, MobileNetV2 and MobileNetV3-Large at
224x224 (1000 classes), power-of-two eager QAT, each exported twice, and MobileNetV3's first
HardSwish alone (a lookup-table layer).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, onnx, numpy):

    /usr/bin/python3 scripts/make_bench_models.py OUTDIR

For each network OUTDIR/<name>/ holds
    model.onnx         the QAT export (fake-quant as Q/DQ): what qatc compiles, and ONNX Runtime's
                       "QAT export" column (ORT runs its Conv -> Div -> BatchNormalization in float);
    int8.onnx          the same weights after PyTorch's convert() (qnnpack): DQ -> Conv (batch norm
                       folded) -> Q with int8 per-channel weights, the graph an ORT user deploys and
                       ORT runs as QLinearConv: the peer the benchmark's ratios are against;
    test_data_set_0/   one input and torch's output of the QAT model, so the benchmark can check
                       that what it timed is also right.

Training is the torchvision regression models' eager QAT (scripts/make_torchvision_models.py:
calibrated BatchNorm, a perturbed teacher, a few SGD steps on random data): the weights need not be
meaningful, only realistically quantized. Activations are quint8 (qnnpack's convert needs it),
power-of-two: zero point 0 after a fused ReLU (so ORT folds the ReLU into QLinearConv, as a user's
int8 export has it) and symmetric around 128 elsewhere (the input, residual sums, projections,
HardSwish outputs, logits). Weights int8 per-channel power-of-two.

ONNX Runtime's QDQ fusion wants scalar scales and zero points, where torch exports shape [1]:
they are made scalars (the same values; qatc reads both).

The files are large (ResNet-18: ~47 MB), so they are generated into a build directory on demand,
not committed. Two runs write byte-identical files.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_qat_models as qat  # noqa: E402  (first: it pins torch's CPU kernels before torch loads)
import make_torchvision_models as tv  # noqa: E402

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.ao.nn.intrinsic as nni  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision.models.quantization as tvq  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torch.ao.quantization import QConfig  # noqa: E402

QC_AFTER_RELU = QConfig(activation=qat.ACT_U8, weight=qat.W_PER_CHANNEL)  # quint8, zero point 0


def relu_outputs_at_zero_point_0(model):
    """tv.QCONFIG (zero point 128) everywhere, QC_AFTER_RELU on what ends in a ReLU: the fused
    Conv+BN+ReLU modules and ResNet's add_relu."""
    model.qconfig = tv.QCONFIG
    for name, m in model.named_modules():
        if isinstance(m, (nni.ConvBnReLU2d, nni.ConvReLU2d, nni.LinearReLU)) or name.endswith("skip_add_relu"):
            m.qconfig = QC_AFTER_RELU


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


# name, torchvision constructor (None: the HardSwish layer), seed
MODELS = [("resnet18", tvq.resnet18, 9001), ("mobilenet_v2", tvq.mobilenet_v2, 9002),
          ("mobilenet_v3_large", tvq.mobilenet_v3_large, 9004), ("hardswish", None, 9003)]
SIDE = 224


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: make_bench_models.py OUTDIR")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name, ctor, seed in MODELS:
        if ctor is None:
            model, shape = HardSwish().eval(), HardSwish.input_shape
        else:
            model, shape = tv.build("eager", lambda: ctor(weights=None, quantize=False, num_classes=1000), SIDE, seed,
                                    assign_qconfigs=relu_outputs_at_zero_point_0)
        onnx_bytes = scalar_qparams(qat.export_onnx(model, shape))
        gen = torch.Generator().manual_seed(seed + 500)
        x = qat.make_input(shape, gen)
        with torch.no_grad():
            y = model(x)
        data_sets = [(qat.tensor_bytes(x.numpy(), qat.INPUT_NAME), qat.tensor_bytes(y.numpy(), qat.OUTPUT_NAME))]
        out = os.path.join(argv[0], name)
        qat.write_model_dir(out, onnx_bytes, data_sets)
        print("%-18s %9d bytes" % (name, len(onnx_bytes)), flush=True)
        if ctor is not None:
            int8_bytes = qat.export_onnx(tv.convert_int8(model), shape)
            onnx.checker.check_model(onnx.load_from_string(int8_bytes))
            qat.write_if_changed(os.path.join(out, "int8.onnx"), int8_bytes)
            print("%-18s %9d bytes" % (name + " int8", len(int8_bytes)), flush=True)


if __name__ == "__main__":
    main()
