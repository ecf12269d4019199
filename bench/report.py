#!/usr/bin/python3
"""Prints bench/run.sh's measurements as Markdown tables: per model, and the largest 3x3 convs.

    bench/report.py BUILD/bench

Ratios are against ONNX Runtime measured in the same run ("x ORT" > 1 means faster than ORT).
The int8 peak is this core's, measured by bench/int8_peak.c: 64 MACs per vpdpbusd x vpdpbusd
issued per second.
"""
import json
import os
import platform
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(bench_dir):
    results = os.path.join(bench_dir, "results")
    peak = load(os.path.join(results, "peak.json"))
    peak_macs = peak.get("int8_macs_per_s", 0.0)
    print("machine: %s, one core; int8 peak %.0f GMAC/s = 64 MACs x %.2f G vpdpbusd/s (measured)\n"
          % (cpu_name(), peak_macs / 1e9, peak.get("vpdpbusd_per_s", 0.0) / 1e9))
    print("| model | GMAC | ORT ms | host ms | host x ORT | C ms | C x ORT | C / host | sim ms | sim GMAC/s "
          "| host GMAC/s | host % peak | compile cold / warm s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    layers = []
    for model in ("resnet18", "mobilenet_v2"):
        r = os.path.join(results, model)
        report = load(os.path.join(bench_dir, "out", model, "report.json"))
        host, c, sim, ort = (load(os.path.join(r, f + ".json")) for f in ("host", "c", "sim", "ort"))
        compile_times = load(os.path.join(r, "compile.json"))
        if host["output_fnv1a"] != c["output_fnv1a"]:  # the C is verified against the simulator
            sys.exit("%s: the host objects computed another output than the generated C" % model)
        macs = report["macs"]

        def gmacs(ms):
            return macs / (ms / 1e3) / 1e9

        print("| %s | %.2f | %.1f | %.1f | %.2f | %.1f | %.2f | %.2f | %.0f | %.1f | %.1f | %.1f %% | %.1f / %.1f |" % (
            model, macs / 1e9, ort["median_ms"], host["median_ms"], ort["median_ms"] / host["median_ms"],
            c["median_ms"], ort["median_ms"] / c["median_ms"], host["median_ms"] / c["median_ms"], sim["median_ms"],
            gmacs(sim["median_ms"]), gmacs(host["median_ms"]), 100 * gmacs(host["median_ms"]) * 1e9 / peak_macs,
            compile_times["cold_ms"] / 1e3, compile_times["warm_ms"] / 1e3))
        ort_nodes = {n["name"]: n for n in ort["nodes"]}
        for step, layer in enumerate(report["layers"]):
            if layer["op"] != "conv" or layer.get("window", [])[-2:] != [3, 3] or str(step) not in host["layers_ms"]:
                continue
            layers.append((layer["macs"], model, layer, host["layers_ms"][str(step)], c["layers_ms"][str(step)],
                           ort_nodes.get(layer["layer"])))
    print()
    ort_ops = {n["op"] for m in ("resnet18", "mobilenet_v2") for n in load(os.path.join(results, m, "ort.json"))["nodes"]}
    print("ORT ran these operator kinds: %s" % ", ".join(sorted(ort_ops)))
    print()
    lut = os.path.join(results, "hardswish")
    host, c, sim, ort = (load(os.path.join(lut, f + ".json")) for f in ("host", "c", "sim", "ort"))
    if host["output_fnv1a"] != c["output_fnv1a"]:
        sys.exit("hardswish: the host objects computed another output than the generated C")
    elements = 16 * 112 * 112
    print("A lookup-table layer: MobileNetV3's first HardSwish alone (1x16x112x112, int8 in and out):\n")
    print("| ORT ms | host ms | host x ORT | host Gelem/s | C ms | C x ORT | sim ms |")
    print("|---|---|---|---|---|---|---|")
    print("| %.3f | %.3f | %.2f | %.2f | %.3f | %.2f | %.1f |" % (
        ort["median_ms"], host["median_ms"], ort["median_ms"] / host["median_ms"],
        elements / (host["median_ms"] / 1e3) / 1e9, c["median_ms"], ort["median_ms"] / c["median_ms"],
        sim["median_ms"]))
    print("ORT ran: %s" % ", ".join(sorted({n["op"] for n in ort["nodes"]})))
    print()
    print("The largest 3x3 conv layers (by MACs), alone:\n")
    print("| model | layer | kernel | MMAC | ORT ms | host ms | host x ORT | host GMAC/s | host % peak | C ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for macs, model, layer, host_ms, c_ms, ort_node in sorted(layers, key=lambda x: -x[0])[:8]:
        ort_ms = ort_node["ms"] if ort_node else float("nan")
        rate = macs / (host_ms / 1e3)
        print("| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f %% | %.2f |" % (
            model, layer["layer"], layer["kernel"], macs / 1e6, ort_ms, host_ms, ort_ms / host_ms, rate / 1e9,
            100 * rate / peak_macs, c_ms))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py BUILD/bench")
    main(sys.argv[1])
