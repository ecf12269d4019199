#!/usr/bin/python3
"""Generate real-architecture QAT regression models from torchvision (QDQ / int8 ONNX + data sets).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_torchvision_models.py OUTDIR [--only NAME ...] [-j N]

For every model <name> it writes, in the ONNX backend-test layout of scripts/make_qat_models.py
(whose helpers it imports: observers, seeding, BatchNorm randomization and calibration, teacher,
training loop, export, data-set writing),

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_<N>/input_0.pb    (N = 0..2; float32, standard normal, seeded)
    OUTDIR/<name>/test_data_set_<N>/output_0.pb   (PyTorch's own eval-mode output of the model
                                                   that was exported)

Everything is seeded and each model runs single-threaded in its own seeded state: two runs write
byte-identical files, with or without --only and -j (one process per model, N at a time).

Networks: torchvision's own (weights=None, num_classes=10) at 64x64 inputs (inception_v3: 75x75,
its minimum), narrowed where the constructor allows (MobileNetV2 width_mult=0.5; ResNet-18,
GoogLeNet, Inception-v3 and MobileNetV3 take no width; ShuffleNetV2 is the x0.5 variant).
Inception-v3 uses init_weights=False (torch's default init): its own truncated-normal init (std
0.1 everywhere, slow) gave a float teacher with logits ~1e4.  At these sizes the last stages are
2x2 (1x1 for Inception-v3), so every global pool divides by 4 (Inception-v3: 1).

Training (all flows): random BatchNorm affine parameters; BatchNorm running statistics calibrated
on 2 batches of 8; the teacher is a perturbed copy whose BatchNorm statistics are re-estimated the
same way (without that, deep networks amplify the weight noise: Inception-v3's teacher logits were
~8x the student's); after prepare_qat, one eval-mode batch of 8 with fake-quant off initializes
the observers (QAT from a calibrated model: otherwise a train-mode batch of 2 sets the ranges and
a moving average with constant 0.01 cannot follow in 4 steps); then QAT_STEPS = 4 SGD steps of
batch 2 in train mode at lr 5e-4 (make_qat_models' 5e-3 overshoots on 1024..2048-input
classifiers), towards the teacher.  Weights, observer ranges (a few scales change) and BatchNorm
running statistics all move.  Observers are then disabled, eval mode, torch.onnx.export(opset 13,
constant folding on).  Output quantizer clipping on the 30 logits of the 3 data sets: 0 except
tv_googlenet (2) and tv_inception_v3 (~9; its train-mode BatchNorm sees 2 values per channel).

Quantization: activations quint8 with a power-of-two scale, symmetric around zero point 128
(PotSymmetricU8Observer: scale = 2^ceil(log2(max(|min|, |max|) / 127)), make_qat_models' signed
rule shifted by 128, i.e. the power-of-two form of what torch's per_tensor_symmetric gives for
quint8), so signed tensors (the input, residual sums before their ReLU, logits) are representable
and post-ReLU tensors use the upper half.  quint8 because torch's FX native backend config only
inserts activation fake-quant for quint8 and the converted qnnpack export needs it.  Weights qint8
per-channel (axis 0) power-of-two symmetric, zero point 0 (make_qat_models.W_PER_CHANNEL); qnnpack's
convert accepts per-channel, no per-tensor fallback was needed.  The input quantizer ends at scale
2^-4 (range [-8, 7.9375]), so the standard-normal data sets never clip there.

Models and what their exports contain:
  Eager QAT (torchvision.models.quantization.*, quantize=False; fuse_model(is_qat=True), qconfig,
  prepare_qat): QuantizeLinear -> DequantizeLinear for every activation fake-quant; weights as float
  initializers -> QuantizeLinear -> DequantizeLinear(axis 0); fused Conv+BN(+ReLU) as
  Conv(zero bias) -> Div(scale factor) -> BatchNormalization (-> Relu); FloatFunctional
  add/add_relu/cat/mul as Add (-> Relu) / Concat / Mul, each followed by its Q/DQ.  Surprising: eager
  mode gives nn.AdaptiveAvgPool2d and F.avg_pool2d NO observer, so GlobalAveragePool -> Flatten ->
  Gemm (and Inception's Pad -> AveragePool(3x3, count_include_pad) -> Conv) read an unrounded mean.
  Dropout vanishes in eval mode.  torchvision's quantizable models replace ReLU6 by ReLU.
    tv_resnet18            BasicBlocks, Conv 7x7/2 stem, MaxPool, add_relu, GAP -> Flatten -> Gemm.
    tv_mobilenet_v2        width 0.5; depthwise convs, residual Add without ReLU.
    tv_shufflenet_v2_x0_5  channel shuffle as Reshape -> Transpose(0,2,1,3,4) -> Reshape; chunk(2) as
                           Shape -> Gather -> Add -> Div -> Mul -> Slice; Concat; ReduceMean(axes
                           [2,3], keepdims 0) as the global pool.
    tv_googlenet           aux_logits=False, transform_input=False: Inception blocks (4-way Concat,
                           MaxPool 3x3/1 branch), ceil-mode MaxPools.
    tv_inception_v3        aux_logits=False, transform_input=False: 1x7/7x1 convs, Pad ->
                           AveragePool 3x3/1 -> Conv branches, MaxPool 3x3/2, Concats.
    tv_mobilenet_v3_large  Hardswish exports as Q/DQ -> HardSigmoid(alpha 1/6 as float32, beta 0.5)
                           -> Mul(x, .) at opset 13 (a lookup table); squeeze-excitation is
                           GlobalAveragePool (unobserved) -> Conv -> Relu -> Conv -> Q/DQ ->
                           HardSigmoid -> Q/DQ (fixed qparams 1/256, zp 0) -> Mul of two quantized
                           tensors (an integer product).
  FX QAT (quantize_fx.prepare_qat_fx on the plain torchvision.models.resnet18 / mobilenet_v2,
  QConfigMapping().set_global(qconfig), example input): FX fuses Conv+BN(+ReLU) itself; same Q/DQ
  and Conv -> Div -> BatchNormalization shapes; the pooled tensor gets Q/DQ with its input's
  qparams (GlobalAveragePool -> Q/DQ -> Flatten -> Q/DQ -> Gemm); ReLU6 stays Clip(0, 6).
    fx_resnet18, fx_mobilenet_v2 (width 0.5), fx_mobilenet_v3_small (torch's fixed qparams for
    hardsigmoid, as its default QAT mapping sets them; FX observes the Hardswish outputs).
  Converted int8 (the eager QAT models of tv_resnet18 / tv_mobilenet_v2 converted with eager
  torch.ao.quantization.convert, engine qnnpack; not convert_fx): QuantizeLinear -> Cast(uint8) ->
  DequantizeLinear around every quantized op, weights as int8 constants -> DequantizeLinear(axis 0),
  biases as int32 constants -> DequantizeLinear(zero point Cast(ConstantOfShape)), Conv -> Relu ->
  QuantizeLinear, DQ -> GlobalAveragePool -> Q with its input's qparams.  Surprising: output_0.pb is
  qnnpack's output, and qnnpack's quantized::add / add_relu round ties half away from zero where
  QuantizeLinear rounds half to even (a +-1 step at exact .5 ties when the operands' scales differ;
  conv, linear and the pool match the export exactly), so the export's ONNX semantics does NOT
  reproduce the data sets (measured: up to 18 (ResNet-18) / 37 (MobileNetV2) output steps).
    int8_resnet18, int8_mobilenet_v2 (width 0.5).
  Eager QAT with torch's default qconfig (default_qat_qconfig, the exportable FakeQuantize form: affine quint8
  activations and per-tensor qint8 weights, scales that are NOT powers of two), for --allow-non-pot:
    tv_mobilenet_v2_default (width 0.5): residual adds of two non-power-of-two grids.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_qat_models as qat  # noqa: E402  (first: it pins torch's CPU kernels before torch loads)

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
import torchvision  # noqa: E402
import torchvision.models.quantization as tvq  # noqa: E402
from torch.ao.quantization import (FakeQuantize, MovingAverageMinMaxObserver, QConfig,  # noqa: E402
                                   QConfigMapping)
from torch.ao.quantization.quantize_fx import prepare_qat_fx  # noqa: E402

NUM_DATA_SETS = 3
QAT_STEPS = 4
QAT_LR = 0.0005   # make_qat_models' 0.005 overshoots on classifiers with 1024-2048 inputs
TRAIN_BATCH = 2
CALIB_BATCHES = 2  # BatchNorm and observer calibration: batches of CALIB_BATCH
CALIB_BATCH = 8


class PotSymmetricU8Observer(MovingAverageMinMaxObserver):
    """quint8 activation observer: power-of-two scale, symmetric around zero point 128, i.e.
    make_qat_models' signed power-of-two rule (amax / 127) shifted by 128."""

    @torch.jit.export
    def calculate_qparams(self):
        scale, zero_point = qat._pot_qparams(self.min_val, self.max_val, self.quant_min - 128,
                                             self.quant_max - 128)
        return scale, zero_point + 128


ACT_U8_SYM = FakeQuantize.with_args(observer=PotSymmetricU8Observer, quant_min=0, quant_max=255,
                                    dtype=torch.quint8, qscheme=torch.per_tensor_symmetric)
QCONFIG = QConfig(activation=ACT_U8_SYM, weight=qat.W_PER_CHANNEL)


def fx_qconfig_mapping():
    """QCONFIG everywhere, except torch's fixed-qparams ops (hardsigmoid, sigmoid: 1/256; tanh: 1/128,
    zero point 128), which FX refuses to prepare with any other activation fake-quant; the table is
    the one torch's own get_default_qat_qconfig_mapping reads."""
    from torch.ao.quantization.fake_quantize import FixedQParamsFakeQuantize
    from torch.ao.quantization.qconfig_mapping import _FIXED_QPARAMS_OP_TO_OBSERVER
    mapping = QConfigMapping().set_global(QCONFIG)
    for op, observer in _FIXED_QPARAMS_OP_TO_OBSERVER.items():
        fixed = QConfig(activation=FixedQParamsFakeQuantize.with_args(observer=observer), weight=qat.W_PER_CHANNEL)
        mapping.set_object_type(op, fixed)
    return mapping


def _eager(ctor, **kw):
    return lambda: ctor(weights=None, quantize=False, num_classes=10, **kw)


def _float(ctor, **kw):
    return lambda: ctor(weights=None, num_classes=10, **kw)


# name, flow, constructor, input side, seed
MODELS = [
    ("tv_resnet18", "eager", _eager(tvq.resnet18), 64, 3001),
    ("tv_mobilenet_v2", "eager", _eager(tvq.mobilenet_v2, width_mult=0.5), 64, 3002),
    ("tv_shufflenet_v2_x0_5", "eager", _eager(tvq.shufflenet_v2_x0_5), 64, 3003),
    ("tv_googlenet", "eager",
     _eager(tvq.googlenet, aux_logits=False, transform_input=False, init_weights=True), 64, 3004),
    ("tv_inception_v3", "eager",
     _eager(tvq.inception_v3, aux_logits=False, transform_input=False, init_weights=False), 75, 3005),
    ("tv_mobilenet_v3_large", "eager", _eager(tvq.mobilenet_v3_large), 64, 3006),
    ("fx_resnet18", "fx", _float(torchvision.models.resnet18), 64, 3101),
    ("fx_mobilenet_v2", "fx", _float(torchvision.models.mobilenet_v2, width_mult=0.5), 64, 3102),
    ("fx_mobilenet_v3_small", "fx", _float(torchvision.models.mobilenet_v3_small), 64, 3103),
    ("int8_resnet18", "int8", _eager(tvq.resnet18), 64, 3201),
    ("int8_mobilenet_v2", "int8", _eager(tvq.mobilenet_v2, width_mult=0.5), 64, 3202),
    ("tv_mobilenet_v2_default", "eager-default", _eager(tvq.mobilenet_v2, width_mult=0.5), 64, 3301),
]

# Seconds per model on one core (for -j: the slowest start first).
SLOWNESS = {"tv_inception_v3": 35, "tv_mobilenet_v3_large": 20, "fx_mobilenet_v2": 15,
            "tv_googlenet": 12, "tv_shufflenet_v2_x0_5": 10}


def build(flow, ctor, side, seed, assign_qconfigs=None):
    """The model to export (eval mode) and its input shape. An eager model's qconfigs are set
    after fusion by assign_qconfigs(model) when given (default: QCONFIG everywhere)."""
    qat.seed_all(seed)
    gen = torch.Generator().manual_seed(seed)
    shape = (1, 3, side, side)
    batch_shape = (TRAIN_BATCH, 3, side, side)

    model = ctor()
    qat.randomize_bn(model, gen)
    calib_shape = (CALIB_BATCH, 3, side, side)
    qat.calibrate_bn(model, calib_shape, gen, batches=CALIB_BATCHES)
    # The perturbed teacher's BatchNorm statistics are re-estimated: with the student's, deep
    # networks amplify the weight noise (Inception-v3's logits come out ~8x the student's).
    teacher = qat.perturbed_copy(model, gen)
    qat.calibrate_bn(teacher, calib_shape, gen, batches=CALIB_BATCHES)
    teacher.eval()

    model.train()
    if flow == "fx":
        model = prepare_qat_fx(model, fx_qconfig_mapping(), example_inputs=(torch.zeros(shape),))
    else:
        model.fuse_model(is_qat=True)
        if assign_qconfigs:
            assign_qconfigs(model)
        else:
            model.qconfig = tq.default_qat_qconfig if flow == "eager-default" else QCONFIG
        tq.prepare_qat(model, inplace=True)
    calibrate_observers(model, calib_shape, gen)
    qat.train_qat(model, teacher, batch_shape, gen, steps=QAT_STEPS, lr=QAT_LR)

    model.apply(tq.disable_observer)
    model.eval()
    if flow == "int8":
        model = convert_int8(model)
    return model, shape


def convert_int8(model):
    """PyTorch's int8 model of an eager QAT model (a copy): what torch.onnx exports as DQ -> op -> Q
    with integer weights."""
    torch.backends.quantized.engine = "qnnpack"  # Debian's torch has no fbgemm
    return tq.convert(model, inplace=False)


def calibrate_observers(model, batch_shape, gen):
    """Initial observer ranges from one eval-mode batch with fake-quant off (QAT starting from a
    calibrated model); the moving averages then follow the training batches."""
    model.eval()
    model.apply(tq.disable_fake_quant)
    with torch.no_grad():
        model(qat.make_input(batch_shape, gen))
    model.apply(tq.enable_fake_quant)
    model.train()


def generate(name, flow, ctor, side, seed):
    model, shape = build(flow, ctor, side, seed)
    onnx_bytes = qat.export_onnx(model, shape)
    m = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(m)
    assert [i.name for i in m.graph.input] == [qat.INPUT_NAME], name
    assert [o.name for o in m.graph.output] == [qat.OUTPUT_NAME], name

    gen = torch.Generator().manual_seed(seed + 500)
    data_sets = []
    with torch.no_grad():
        for _ in range(NUM_DATA_SETS):
            x = qat.make_input(shape, gen)
            y = model(x)
            data_sets.append((qat.tensor_bytes(x.numpy(), qat.INPUT_NAME),
                              qat.tensor_bytes(y.numpy(), qat.OUTPUT_NAME)))
    return onnx_bytes, data_sets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=[m[0] for m in MODELS],
                    help="generate only these models")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="models generated in parallel, one process each (default 1); the files "
                         "do not depend on it")
    args = ap.parse_args(argv)
    names = [m[0] for m in MODELS if not args.only or m[0] in args.only]

    if args.jobs > 1 and len(names) > 1:
        # One single-threaded process per model, slowest first; each model is seeded on its own.
        slow_first = sorted(names, key=lambda n: -SLOWNESS.get(n, 0))
        cmd = [sys.executable, os.path.abspath(__file__), args.outdir, "--only"]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            runs = pool.map(lambda n: subprocess.run(cmd + [n], stdout=subprocess.PIPE), slow_first)
            for run in runs:
                sys.stdout.write(run.stdout.decode())
                if run.returncode:
                    return run.returncode
        return 0

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if "CPU capability usage: AVX2" not in torch.__config__.show():
        print("warning: ATen is not using its AVX2 kernels; output_0.pb files may differ in the "
              "last bit from other machines'", file=sys.stderr)
    for name, flow, ctor, side, seed in MODELS:
        if name not in names:
            continue
        t0, c0 = time.time(), time.process_time()
        onnx_bytes, data_sets = generate(name, flow, ctor, side, seed)
        qat.write_model_dir(os.path.join(args.outdir, name), onnx_bytes, data_sets)
        print("%-22s %9d bytes, %d data sets, %5.1f s (%.1f s CPU)"
              % (name, len(onnx_bytes), len(data_sets), time.time() - t0,
                 time.process_time() - c0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
