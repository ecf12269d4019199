#!/usr/bin/python3
"""Prints bench/run.sh's measurements as Markdown tables: per model, and the largest 3x3 convs.

    bench/report.py BUILD/bench

Ratios are against ONNX Runtime measured in the same run ("x ORT" > 1 means faster than ORT), the
engines taking turns in rounds (bench/run.sh): each figure is a median over all rounds' runs, on
the same weights' int8 export (PyTorch's convert(): QLinearConv); the report refuses to print when
ORT ran any conv or matrix product in float there.
The int8 peak is this core's, measured by bench/int8_peak.c: 64 MACs per vpdpbusd (AVX-512
VNNI) x vpdpbusd issued per second, or without VNNI 32 per AVX2 vpmaddubsw + vpmaddwd pair (the
widest 8-bit multiply-accumulate qatc's kernels use there, exact with the plan's clamped weights).
"""
import json
import os
import platform
import re
import sys

import numpy
import onnx
from onnx import numpy_helper


def load(path):
    with open(path) as f:
        return json.load(f)


def load_rounds(directory, name):
    """An engine's measurements of every round (NAME.1.json, NAME.2.json, ...) as one: all runs and
    their median, each layer's (or ORT node's) median over the rounds' medians."""
    rounds = [load(os.path.join(directory, f)) for f in sorted(os.listdir(directory))
              if re.fullmatch(re.escape(name) + r"\.\d+\.json", f)]
    if not rounds:
        sys.exit("%s: no measurements of %s" % (directory, name))
    merged = dict(rounds[0])
    merged["runs_ms"] = [t for r in rounds for t in r["runs_ms"]]
    merged["median_ms"] = float(numpy.median(merged["runs_ms"]))
    if "layers_ms" in merged:
        merged["layers_ms"] = {k: float(numpy.median([r["layers_ms"][k] for r in rounds])) for k in merged["layers_ms"]}
        if len({r["output_fnv1a"] for r in rounds}) != 1:
            sys.exit("%s: %s computed different outputs in different rounds" % (directory, name))
    if "nodes" in merged:
        times = {}
        for r in rounds:
            for n in r["nodes"]:
                times.setdefault(n["name"], []).append(n["ms"])
        merged["nodes"] = [dict(n, ms=float(numpy.median(times[n["name"]]))) for n in rounds[0]["nodes"]]
    return merged


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


NETWORKS = ("resnet18", "mobilenet_v2", "mobilenet_v3_large")
# Operator kinds that mean ORT computed a conv or a matrix product in float: the int8 peer must have none.
FLOAT_KERNELS = {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul"}
# The goals, printed against the measured ratios (never a timed test).
GOALS = (("host", 1.0), ("C", 0.5))


def int8_name(qat_layer):
    """The QAT export's node name as PyTorch names it in the converted export, where each scope is
    the attribute name alone: '/layer1/layer1.0/conv1/Conv' -> '/layer1/0/conv1/Conv'."""
    return "/".join(part.rsplit(".", 1)[-1] for part in qat_layer.split("/"))


def ort_layer_ms(ort):
    """ORT's profiled time per node, by its name in the int8 export (ORT's fusions append
    '_token_N' to the fused node's name)."""
    return {re.sub(r"_token_\d+$", "", n["name"]): n["ms"] for n in ort["nodes"]}


def conv_kinds(report, host, c, ort_layers):
    """Per conv kind ('3x3', '3x3 depthwise', ...): layers, MACs, and the host's, C's and ORT's
    summed per-layer ms, where all three timed the layer."""
    kinds = {}
    for step, layer in enumerate(report["layers"]):
        ort_ms = ort_layers.get(int8_name(layer["layer"]))
        if layer["op"] != "conv" or str(step) not in host["layers_ms"] or ort_ms is None:
            continue
        kind = "x".join(str(k) for k in layer["window"][-2:]) + (" depthwise" if layer.get("group", 1) > 1 else "")
        entry = kinds.setdefault(kind, [0, 0, 0.0, 0.0, 0.0])
        for i, v in enumerate((1, layer["macs"], host["layers_ms"][str(step)], c["layers_ms"][str(step)], ort_ms)):
            entry[i] += v
    return kinds


def peer_differences(bench_dir, model):
    """ORT int8's output on the first data set against the trained model's (its expected output,
    PyTorch's QAT forward pass, which qatc's verify matched bit for bit before the timing): how many
    elements differ, and the largest difference in steps of the output's grid."""
    want = numpy_helper.to_array(onnx.load_tensor(
        os.path.join(bench_dir, "models", model, "test_data_set_0", "output_0.pb"))).astype(numpy.float64).ravel()
    got = numpy.fromfile(os.path.join(bench_dir, "results", model, "ort_output_0.f32"), numpy.float32).astype(numpy.float64)
    step = numpy.diff(numpy.unique(numpy.concatenate([want, got]))).min()
    diff = numpy.abs(got - want)
    return int((diff > 0).sum()), want.size, float(diff.max() / step)


def main(bench_dir):
    results = os.path.join(bench_dir, "results")
    peaks = [load(os.path.join(results, f)) for f in sorted(os.listdir(results)) if re.fullmatch(r"peak\..+\.json", f)]
    if not peaks or not all(p.get("instruction") for p in peaks):
        sys.exit("bench/int8_peak.c found neither AVX-512 VNNI nor AVX2 on this CPU")
    peak = peaks[0]
    peak_macs = float(numpy.median([p["int8_macs_per_s"] for p in peaks]))
    print("machine: %s, one core; int8 peak %.0f GMAC/s = %d MACs x %.2f G %s/s (measured: the median of %d "
          "runs between the engines' rounds)\n"
          % (cpu_name(), peak_macs / 1e9, peak["macs_per_instruction"], peak_macs / peak["macs_per_instruction"] / 1e9,
             peak["instruction"], len(peaks)))
    print("Ratios are ORT int8 time / qatc time (> 1: qatc is faster). ORT int8 runs the same weights' "
          "int8 export (PyTorch convert()); ORT QAT runs the QAT export qatc compiles.\n")
    print("| model | GMAC | ORT int8 ms | ORT QAT ms | host ms | host x ORT int8 | C ms | C x ORT int8 | sim ms "
          "| host GMAC/s | host % peak | compile cold / warm s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    layers, ratios, peer_ops, kinds = [], [], set(), {}
    for model in NETWORKS:
        r = os.path.join(results, model)
        report = load(os.path.join(bench_dir, "out", model, "report.json"))
        host, c, ort = (load_rounds(r, f) for f in ("host", "c", "ort"))
        sim, ort_qat = (load(os.path.join(r, f + ".json")) for f in ("sim", "ort_qat"))
        compile_times = load(os.path.join(r, "compile.json"))
        if host["output_fnv1a"] != c["output_fnv1a"]:  # the C is verified against the simulator
            sys.exit("%s: the host objects computed another output than the generated C" % model)
        floats = sorted(n["name"] for n in ort["nodes"] if n["op"] in FLOAT_KERNELS)
        if floats:
            sys.exit("%s: the int8 peer is not int8: ORT ran %d float conv/matmul nodes (%s)"
                     % (model, len(floats), ", ".join(floats[:3])))
        peer_ops |= {n["op"] for n in ort["nodes"]}
        macs = report["macs"]

        def gmacs(ms):
            return macs / (ms / 1e3) / 1e9

        ort_ms = ort["median_ms"]
        ratios.append((model, {"host": ort_ms / host["median_ms"], "C": ort_ms / c["median_ms"]}))
        print("| %s | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f | %.1f | %.1f %% | %.1f / %.1f |" % (
            model, macs / 1e9, ort_ms, ort_qat["median_ms"], host["median_ms"], ort_ms / host["median_ms"],
            c["median_ms"], ort_ms / c["median_ms"], sim["median_ms"], gmacs(host["median_ms"]),
            100 * gmacs(host["median_ms"]) * 1e9 / peak_macs, compile_times["cold_ms"] / 1e3,
            compile_times["warm_ms"] / 1e3))
        ort_layers = ort_layer_ms(ort)
        kinds[model] = conv_kinds(report, host, c, ort_layers)
        for step, layer in enumerate(report["layers"]):
            if layer["op"] != "conv" or layer.get("window", [])[-2:] != [3, 3] or str(step) not in host["layers_ms"]:
                continue
            layers.append((layer["macs"], model, layer, host["layers_ms"][str(step)], c["layers_ms"][str(step)],
                           ort_layers.get(int8_name(layer["layer"]), float("nan"))))
    print()
    print("ORT int8 ran these operator kinds: %s" % ", ".join(sorted(peer_ops)))
    print()
    for model in NETWORKS:
        differ, total, steps = peer_differences(bench_dir, model)
        print("%s: ORT int8's output differs from the trained model's in %d of %d elements (up to %.0f steps "
              "of the output grid); qatc's in none (verify)" % (model, differ, total, steps))
    print()
    for engine, goal in GOALS:
        model, worst = min(((m, r[engine]) for m, r in ratios), key=lambda x: x[1])
        print("goal: %s >= %.1fx ORT int8 on every model: %s (lowest %.2fx, %s)" % (
            engine, goal, "met" if worst >= goal else "NOT met", worst, model))
    print()
    lut = os.path.join(results, "hardswish")
    host, c, ort = (load_rounds(lut, f) for f in ("host", "c", "ort"))
    sim = load(os.path.join(lut, "sim.json"))
    if host["output_fnv1a"] != c["output_fnv1a"]:
        sys.exit("hardswish: the host objects computed another output than the generated C")
    elements = 16 * 112 * 112
    print("A lookup-table layer: MobileNetV3's first HardSwish alone (1x16x112x112, int8 in and out; "
          "ORT runs the QDQ graph, there is no int8 export of one layer):\n")
    print("| ORT ms | host ms | host x ORT | host Gelem/s | C ms | C x ORT | sim ms |")
    print("|---|---|---|---|---|---|---|")
    print("| %.3f | %.3f | %.2f | %.2f | %.3f | %.2f | %.1f |" % (
        ort["median_ms"], host["median_ms"], ort["median_ms"] / host["median_ms"],
        elements / (host["median_ms"] / 1e3) / 1e9, c["median_ms"], ort["median_ms"] / c["median_ms"],
        sim["median_ms"]))
    print("ORT ran: %s" % ", ".join(sorted({n["op"] for n in ort["nodes"]})))
    print()
    print("Convs by kind (summed per-layer times; ORT int8: its profiler's QLinearConv times of the same layers):\n")
    print("| model | kind | layers | MMAC | ORT int8 ms | host ms | host x ORT int8 | host GMAC/s | C ms | C x ORT int8 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in NETWORKS:
        for kind, (count, macs, host_ms, c_ms, ort_ms) in sorted(kinds[model].items(), key=lambda x: -x[1][2]):
            print("| %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %.1f | %.2f | %.2f |" % (
                model, kind, count, macs / 1e6, ort_ms, host_ms, ort_ms / host_ms, macs / (host_ms / 1e3) / 1e9, c_ms,
                ort_ms / c_ms))
    print()
    print("The largest 3x3 conv layers (by MACs), alone (ORT int8: its profiler's QLinearConv time):\n")
    print("| model | layer | kernel | MMAC | ORT int8 ms | host ms | host x ORT int8 | host GMAC/s | host % peak "
          "| C ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for macs, model, layer, host_ms, c_ms, ort_ms in sorted(layers, key=lambda x: -x[0])[:8]:
        rate = macs / (host_ms / 1e3)
        print("| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f %% | %.2f |" % (
            model, layer["layer"], layer["kernel"], macs / 1e6, ort_ms, host_ms, ort_ms / host_ms, rate / 1e9,
            100 * rate / peak_macs, c_ms))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py BUILD/bench")
    main(sys.argv[1])
