#!/usr/bin/python3
"""Schema-driven hostile models: for every operator of ONNX's default and ai.onnx.ml domains that
python3-onnx knows, at each of its versions within opsets 9-17, a one-node model with well-typed
inputs, then variants with each attribute at 0, -1, +-2^31, 2^62, -2^63, an empty and an oversized
list, int64 constant inputs (shapes, axes, pads, repeats) at the same extremes or with a malformed
7-byte raw payload, scalar and rank-1 inputs, and models that add a subgraph attribute or a
model-local function. These are the inputs that crashed, hung or exhausted libonnx 1.12's checker and
shape inference inside qatc; qatc must answer each with exit 0 or a one-line refusal (exit 2).
    schema_models.py DIR [--every K]   writes DIR/NNNNN_<op>_<variant>.onnx; --every K keeps every Kth
"""
import argparse
import os

import onnx
from onnx import AttributeProto as A, TensorProto as T, defs, helper

EXTREMES = [0, -1, 2**31, -(2**31), 2**62, -(2**63)]
INT64_INPUT_HINTS = ("shape", "axes", "pads", "repeats", "starts", "ends", "steps", "split", "k", "sizes",
                     "indices", "input_shape", "output_shape", "kernel_shape", "depth", "blocksize", "limit",
                     "delta", "start", "num_outputs", "axis", "frame_step", "frame_length", "dft_length")

args = argparse.ArgumentParser()
args.add_argument("out")
args.add_argument("--every", type=int, default=1)
opts = args.parse_args()
os.makedirs(opts.out, exist_ok=True)


def elem_type(schema, formal):
    """A concrete element type for a formal input: float if allowed, else its first tensor type."""
    allowed = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}.get(formal.typeStr, [formal.typeStr])
    names = [t[7:-1].upper() for t in allowed if t.startswith("tensor(")]
    if "FLOAT" in names or not names:
        return T.FLOAT
    return T.DataType.Value(names[0]) if names[0] in T.DataType.keys() else T.FLOAT


def attribute(name, kind, value):
    """An attribute of `kind` holding `value` (a list for the list kinds; an empty list stays typed)."""
    if kind == A.TENSOR:
        return helper.make_attribute(name, helper.make_tensor(name, T.FLOAT, [1], [float(value)]))
    scalar = {A.INT: int, A.FLOAT: float, A.STRING: str}
    listed = {A.INTS: int, A.FLOATS: float, A.STRINGS: str}
    if kind in scalar:
        return helper.make_attribute(name, scalar[kind](value))
    if kind in listed:
        return helper.make_attribute(name, [listed[kind](v) for v in value]) if value else onnx.AttributeProto(name=name, type=kind)
    return None


def plain_value(kind):
    return {A.INT: 1, A.INTS: [1, 1], A.FLOAT: 1.0, A.FLOATS: [1.0], A.STRING: "", A.STRINGS: ["a"], A.TENSOR: 1.0}.get(kind)


def int64_const(name, values, raw7=False):
    t = T(name=name, data_type=T.INT64, dims=[len(values)])
    if raw7:
        t.dims[:] = [1]
        t.raw_data = b"1234567"
    else:
        t.int64_data.extend(values)
    return t


# Plausible constants for operands after the first, by name, so that the base model of a supported
# operator imports and reaches libonnx, and its variants bend one thing at a time.
INT64_DEFAULTS = {"pads": [0] * 8, "shape": [1, 192], "axes": [1], "repeats": [1, 1, 1, 1], "starts": [0],
                  "ends": [1], "steps": [1], "sizes": [1, 3, 8, 8], "split": [1, 2], "k": [1]}
FLOAT_SHAPES = {"w": [4, 3, 3, 3], "b": [4], "scale": [3], "mean": [3], "var": [3], "input_mean": [3],
                "input_var": [3], "slope": [1], "roi": [0], "scales": [4]}


def operand_const(schema, formal, name, index):
    lower = formal.name.lower()
    et = elem_type(schema, formal)
    if et == T.INT64 or lower in INT64_DEFAULTS:
        return int64_const(name, next((v for k, v in INT64_DEFAULTS.items() if k in lower), [1]))
    if "scale" in lower and "zero" not in lower and lower != "scales":
        return helper.make_tensor(name, T.FLOAT, [], [0.5])
    if "zero_point" in lower:
        return helper.make_tensor(name, T.UINT8 if et in (None, T.FLOAT) else et, [], [0])
    if lower == "scales":
        return helper.make_tensor(name, T.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    dims = FLOAT_SHAPES.get(lower, [1, 3, 8, 8]) if schema.name in ("Conv", "ConvTranspose", "BatchNormalization",
                                                                     "PRelu", "Resize", "Upsample") else [1, 3, 8, 8]
    count = 1
    for d in dims:
        count *= d
    return helper.make_tensor(name, et if et in (T.FLOAT, T.INT8, T.UINT8, T.INT32) else T.FLOAT, dims,
                              [0.25] * count if et in (None, T.FLOAT) else [1] * count)


def build(schema, opset, attrs, input_rank=4, consts=None, extra=None):
    """One node of `schema` reading a graph input and constants, giving every output."""
    inputs, inits, names = [], [], []
    for i, formal in enumerate(schema.inputs):
        name = f"in{i}"
        if consts and i in consts:
            inits.append(consts[i](name))
        elif i == 0:
            inputs.append(helper.make_tensor_value_info(name, elem_type(schema, formal),
                                                        [1, 3, 8, 8][:input_rank] if input_rank else []))
        elif formal.option == defs.OpSchema.FormalParameterOption.Optional:
            names.append("")
            continue
        else:
            inits.append(operand_const(schema, formal, name, i))
        names.append(name)
    while names and names[-1] == "":
        names.pop()
    outs = [f"out{i}" for i in range(max(1, len(schema.outputs)))]
    node = helper.make_node(schema.name, names, outs, domain=schema.domain)
    node.attribute.extend(a for a in attrs if a is not None)
    # Outputs of unknown size and element type float: libonnx's inference fills them in (or refuses).
    out_infos = [helper.make_tensor_value_info(o, T.FLOAT, [None] * 4) for o in outs]
    graph = helper.make_graph([node], "probe", inputs, out_infos, inits)
    opsets = [helper.make_opsetid("", opset if schema.domain == "" else 13)]
    if schema.domain:
        opsets.append(helper.make_opsetid(schema.domain, schema.since_version))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    if extra:
        extra(model)
    return model


def variants(schema, opset):
    required = [a for a in schema.attributes.values() if a.required]
    base = [attribute(a.name, a.type, plain_value(a.type)) for a in required]
    yield "base", build(schema, opset, base)
    yield "rank0", build(schema, opset, base, input_rank=0)
    yield "rank1", build(schema, opset, base, input_rank=1)
    for a in schema.attributes.values():
        others = [b for b in base if b is not None and b.name != a.name]
        if a.type == A.INT:
            for v in EXTREMES:
                yield f"{a.name}={v}", build(schema, opset, others + [attribute(a.name, A.INT, v)])
        elif a.type == A.INTS:
            for v in EXTREMES:
                yield f"{a.name}=[{v}]x4", build(schema, opset, others + [attribute(a.name, A.INTS, [v] * 4)])
            yield f"{a.name}=[]", build(schema, opset, others + [attribute(a.name, A.INTS, [])])
            yield f"{a.name}=[1]x300", build(schema, opset, others + [attribute(a.name, A.INTS, [1] * 300)])
        elif a.type == A.FLOAT:
            for v in [0.0, -1.0, float("inf"), float("nan")]:
                yield f"{a.name}={v}", build(schema, opset, others + [attribute(a.name, A.FLOAT, v)])
        elif a.type == A.STRING:
            for v in ["", "SAME_UPPER", "x" * 300]:
                yield f"{a.name}=str{len(v)}", build(schema, opset, others + [attribute(a.name, A.STRING, v)])
    for i, formal in enumerate(schema.inputs):
        if i == 0 or not any(h in formal.name.lower() for h in INT64_INPUT_HINTS):
            continue
        for v in EXTREMES:
            yield f"{formal.name}=[{v}]x4", build(schema, opset, base, consts={i: lambda n, v=v: int64_const(n, [v] * 4)})
        yield f"{formal.name}=raw7", build(schema, opset, base, consts={i: lambda n: int64_const(n, [], raw7=True)})
    body = helper.make_graph([helper.make_node("Relu", ["bx"], ["by"])], "body",
                             [helper.make_tensor_value_info("bx", T.FLOAT, [1])], [helper.make_tensor_value_info("by", T.FLOAT, [1])])
    yield "subgraph", build(schema, opset, base + [helper.make_attribute("body", body)])

    def add_function(model):
        fn = onnx.FunctionProto(name=schema.name, domain=schema.domain or "local", input=["a"], output=["b"],
                                opset_import=[helper.make_opsetid("", opset)])
        fn.node.extend([helper.make_node(schema.name, ["a"], ["b"], domain=schema.domain or "local")])
        model.functions.extend([fn])
    yield "local_function", build(schema, opset, base, extra=add_function)


count = 0
schemas = [s for s in defs.get_all_schemas_with_history() if s.domain in ("", "ai.onnx.ml") and not s.deprecated]
for schema in sorted(schemas, key=lambda s: (s.domain, s.name, s.since_version)):
    opset = max(schema.since_version, 9) if schema.domain == "" else 13
    if opset > 17:
        continue
    for tag, model in variants(schema, opset):
        count += 1
        if count % opts.every:
            continue
        safe = "".join(c if c.isalnum() or c in "=-_[]" else "_" for c in tag)[:60]
        with open(os.path.join(opts.out, f"{count:05d}_{schema.name}-{schema.since_version}_{safe}.onnx"), "wb") as f:
            f.write(model.SerializeToString())
print(f"schema_models: {count} variants of {len(schemas)} operator versions, {len(os.listdir(opts.out))} written")
