#!/usr/bin/python3
"""Fuzzing seeds from real models: for each model, copies in which one integer attribute of one node
is set to 0, -1 or 2^31 (every element of a list attribute), at most PER_MODEL copies per model,
spread over its nodes. Attribute values at the edges are where importers and libonnx's inference
have failed; libFuzzer's mutations start from here instead of finding them byte by byte.
    attribute_seeds.py OUT_DIR MODEL.onnx... [--per-model N]
"""
import argparse
import os

import onnx
from onnx import AttributeProto

args = argparse.ArgumentParser()
args.add_argument("out")
args.add_argument("models", nargs="+")
args.add_argument("--per-model", type=int, default=60)
opts = args.parse_args()
os.makedirs(opts.out, exist_ok=True)

written = 0
for path in opts.models:
    model = onnx.load(path)
    sites = [(i, a.name) for i, n in enumerate(model.graph.node) for a in n.attribute
             if a.type in (AttributeProto.INT, AttributeProto.INTS)]
    variants = [(i, name, v) for i, name in sites for v in (0, -1, 2**31)]
    step = max(1, len(variants) // opts.per_model)
    stem = os.path.basename(os.path.dirname(path)) or os.path.splitext(os.path.basename(path))[0]
    for k, (i, name, value) in enumerate(variants[::step][:opts.per_model]):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        attr = next(a for a in m.graph.node[i].attribute if a.name == name)
        if attr.type == AttributeProto.INT:
            attr.i = value
        else:
            attr.ints[:] = [value] * len(attr.ints)
        with open(os.path.join(opts.out, f"{stem}_attr{k}.onnx"), "wb") as f:
            f.write(m.SerializeToString())
        written += 1
print(f"attribute_seeds: {written} seeds from {len(opts.models)} models")
