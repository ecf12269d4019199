#!/usr/bin/python3
"""Random power-of-two QDQ graphs with exactly known outputs, for differential testing of qatc.

Run with Debian's interpreter (torch 1.13, onnx 1.12, numpy):

    /usr/bin/python3 scripts/make_random_qdq_graphs.py OUT [--count 120] [--seed 1] [--data-sets 2]

writes OUT/g_NNN/model.onnx and OUT/g_NNN/test_data_set_K/{input_0,output_0[,output_1]}.pb (the
ONNX backend-test layout). Same arguments -> byte-identical files.

Why: the regression models exercise the graph shapes PyTorch, MCT and TI happen to export. This
generator draws small DAGs (opset 13) the way a QAT toolkit writes them -- activations fake-quantized
by QuantizeLinear -> DequantizeLinear with power-of-two scales (about one in ten of those on an
NCHW tensor or a Gemm/MatMul output per-axis along axis 1: a power-of-two scale per channel, one
zero point for all), int8 weights -> DequantizeLinear, float biases -- but in combinations no
exporter has produced yet, above all *multi-path float regions*: a Conv/BatchNormalization output
that is not re-quantized meeting another branch in Add/Sub/Concat before one QuantizeLinear, with
Relu/Clip/MaxPool/Pad/arithmetic inside the region.

Why the expected outputs can be trusted: output_K.pb comes from an evaluator written here, not from
qatc -- an interpreter of the written model.onnx on PyTorch float64 (torch.nn.functional for
conv/linear/pooling/pad, fake quant as (clamp(round(x/s) + zp, qmin, qmax) - zp) * s, torch.round
being round-half-to-even like ONNX QuantizeLinear). Every constant is dyadic with few significant
bits, so every intermediate is a dyadic number well inside float64's 53 bits; the interpreter
*proves* that for each node (a bound on every sum's magnitude against its finest binary grid, and
at most 50 significant bits in every value) and stops otherwise. The only non-dyadic operation is
averaging over a window whose count is not a power of two (GlobalAveragePool over 6x7); such a
tensor is carried as an exact numerator over an integer denominator, and the single rounding
QuantizeLinear does on it is provably correct (see quantize()). So float64 here is exact
arithmetic and output_K.pb is the true QAT forward pass; outputs lie on power-of-two grids, so
float32 holds them exactly (asserted).
"""
import argparse
import math
import os
import random

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto as TP, helper, numpy_helper

torch.set_num_threads(1)
F64 = torch.float64
INT_RANGE = {TP.UINT8: (0, 255), TP.INT8: (-128, 127)}
NP_TYPE = {TP.UINT8: np.uint8, TP.INT8: np.int8, TP.INT64: np.int64, TP.FLOAT: np.float32}


# ------------------------------------------------------------------------------------------------
# Exact float64 evaluator of the ONNX operator subset used here (ONNX semantics, not PyTorch's).

class V:
    """A tensor's exact value num / den: num a float64 tensor of dyadic values, den a positive int
    (1 except below a non-power-of-two average). ty is the ONNX element type."""
    __slots__ = ("num", "den", "ty")

    def __init__(self, num, den=1, ty=TP.FLOAT):
        self.num, self.den, self.ty = num, den, ty

    def approx(self):
        return self.num / self.den


class Inexact(Exception):
    pass


def lo_exp(t):
    """Per element: the exponent of its lowest set bit (+inf for 0)."""
    m, e = torch.frexp(t)
    mi = (m * 2.0 ** 53).to(torch.int64)  # |m| in [0.5, 1): an exact 53-bit integer
    low = (mi & -mi).abs().to(F64)
    out = e.to(F64) - 53 + torch.log2(low)
    return torch.where(t == 0, torch.full_like(out, math.inf), out)


def min_lo(t):
    return float(lo_exp(t).min()) if t.numel() else math.inf


def check_bits(t, what):
    """The brief's criterion: every value is dyadic with at most 50 significant bits."""
    if not torch.isfinite(t).all():
        raise Inexact(f"{what}: non-finite value")
    if t.numel() == 0:
        return
    sig = torch.where(t == 0, torch.zeros_like(t), torch.frexp(t)[1].to(F64) - lo_exp(t))
    if float(sig.max()) > 50:
        raise Inexact(f"{what}: a value needs {int(sig.max())} significant bits")


def check_sum(bound, grid, what):
    """Every partial sum of terms on the binary grid 2^grid whose absolute values sum to at most
    `bound` is an integer multiple of 2^grid below 2^(51+grid): exact in float64 in any order."""
    limit = torch.exp2(torch.as_tensor(grid, dtype=F64) + 51)
    if not bool((torch.as_tensor(bound, dtype=F64) < limit).all()):
        raise Inexact(f"{what}: a sum may exceed float64's exact range")


def lcm_align(vals):
    """The operands over one common denominator (exact: multiplying by a small integer)."""
    den = math.lcm(*[v.den for v in vals])
    return [v.num * (den // v.den) if v.den != den else v.num for v in vals], den


def divide_exact(num, den, count):
    """num/den divided elementwise by the integer tensor `count`: the power-of-two part of each
    count divides num (exact), the odd part goes into the common denominator."""
    counts = count.to(torch.int64)
    odd = counts.clone()
    while bool(((odd % 2) == 0).any()):
        odd = torch.where(odd % 2 == 0, odd // 2, odd)
    pot = counts // odd
    L = math.lcm(*sorted(set(int(o) for o in odd.flatten().tolist())))
    return num * (L // odd).to(F64) / pot.to(F64), den * L


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def torch_pads(p):
    """ONNX [top, left, bottom, right] -> F.pad's (left, right, top, bottom)."""
    return (p[1], p[3], p[0], p[2])


def per_axis(x, s, zp, axis):
    """The scale and zero point as tensors broadcasting against x: a 1-D scale of more than one
    element is per-axis (opset 13) -- one value per slice of x along axis, viewed along that axis."""
    sv = s.num
    zv = zp.num if zp is not None else torch.zeros(sv.shape, dtype=F64)
    if sv.dim() == 1 and sv.numel() > 1:
        axis = axis % x.num.dim()
        assert sv.numel() == x.num.shape[axis] and zv.shape == sv.shape, "per-axis parameters do not fit"
        shape = [1] * x.num.dim()
        shape[axis] = -1
        sv, zv = sv.view(shape), zv.view(shape)
    else:
        assert sv.numel() == 1 and zv.numel() == 1
    return sv, zv


def quantize(x, s, zp, axis, what):
    """ONNX QuantizeLinear: saturate(round_half_even(x / s) + zp). s is a power of two (per element
    of a per-axis scale, each channel's own), so num/s is exact; with den > 1 the one float64
    division (num/s)/den is correctly rounded, and since num/s has at most 50 significant bits
    (checked), a tie is representable (found exactly) and any other quotient is farther from a tie
    than float64's error, so torch.round sees the right side."""
    sv, zv = per_axis(x, s, zp, axis)
    if not bool((torch.frexp(sv)[0].abs() == 0.5).all()):
        raise Inexact(f"{what}: scale not a power of two")
    y = x.num / sv
    check_bits(y, what)
    if x.den != 1:
        y = y / x.den
    lo, hi = INT_RANGE[zp.ty]
    return V(torch.clamp(torch.round(y) + zv, lo, hi), 1, zp.ty)


def dequantize(x, s, zp, axis):
    """(q - zp) * s: an integer of at most 9 bits times a power of two (per channel if per-axis): exact."""
    sv, zv = per_axis(x, s, zp, axis)
    return V((x.num - zv) * sv)


def eval_node(node, get):
    """Evaluates one node; get(name) -> V (None for an omitted optional input)."""
    op, a, ins = node.op_type, attrs(node), [get(n) if n else None for n in node.input]
    what = f"{node.name} ({op})"
    x = ins[0]
    if op == "QuantizeLinear":
        return quantize(x, ins[1], ins[2], a.get("axis", 1), what)
    if op == "DequantizeLinear":
        return dequantize(x, ins[1], ins[2] if len(ins) > 2 else None, a.get("axis", 1))
    if op == "Conv":
        w, b = ins[1], (ins[2] if len(ins) > 2 else None)
        assert w.den == 1 and "auto_pad" not in a
        pads, strides = a.get("pads", [0] * 4), a.get("strides", [1, 1])
        dil, group = a.get("dilations", [1, 1]), a.get("group", 1)
        xp = F.pad(x.num, torch_pads(pads))
        y = F.conv2d(xp, w.num, None, strides, 0, dil, group)
        bound = F.conv2d(xp.abs(), w.num.abs(), None, strides, 0, dil, group)
        grid = min_lo(xp) + min_lo(w.num)
        if b is not None:
            bb = (b.num * x.den).view(1, -1, 1, 1)
            y, bound, grid = y + bb, bound + bb.abs(), min(grid, min_lo(bb))
        check_sum(bound, grid, what)
        return V(y, x.den)
    if op in ("Gemm", "MatMul"):
        A, B = x.num, ins[1].num
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        if a.get("transA", 0):
            A = A.t()
        if a.get("transB", 0):
            B = B.t()
        assert ins[1].den == 1 and (op == "MatMul" or A.dim() == 2)
        y = torch.matmul(A, B) * alpha  # alpha, beta are powers of two: scaling is exact
        bound = torch.matmul(A.abs(), B.abs()) * abs(alpha)
        grid = min_lo(A) + min_lo(B) + min_lo(torch.tensor([alpha], dtype=F64))
        C = ins[2] if len(ins) > 2 else None
        if C is not None:
            cc = C.num * beta * x.den
            y, bound, grid = y + cc, bound + cc.abs(), min(grid, min_lo(cc))
        check_sum(bound, grid, what)
        return V(y, x.den)
    if op in ("Add", "Sub"):
        (p, q), den = lcm_align([x, ins[1]])
        y = p + q if op == "Add" else p - q
        grid = torch.minimum(*torch.broadcast_tensors(lo_exp(p), lo_exp(q)))
        check_sum(p.abs() + q.abs(), grid, what)
        return V(y, den)
    if op == "Mul":
        c = ins[1]
        p, q = torch.broadcast_tensors(x.num, c.num)
        bits = lambda t: torch.where(t == 0, torch.zeros_like(t), torch.frexp(t)[1].to(F64) - lo_exp(t))
        if float((bits(p) + bits(q)).max()) > 53:
            raise Inexact(f"{what}: product needs more than 53 bits")
        return V(x.num * c.num, x.den * c.den)
    if op == "Div":
        c = ins[1]
        if c.den != 1 or not bool((torch.frexp(c.num)[0].abs() == 0.5).all()):
            raise Inexact(f"{what}: divisor not a power of two")
        return V(x.num / c.num, x.den)
    if op == "Relu":
        return V(x.num.clamp(min=0), x.den)
    if op == "Clip":
        lo = ins[1].num * x.den if len(ins) > 1 and ins[1] is not None else None
        hi = ins[2].num * x.den if len(ins) > 2 and ins[2] is not None else None
        return V(torch.clamp(x.num, lo, hi), x.den)
    if op == "MaxPool":
        k, s, p = a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0] * 4)
        assert not a.get("ceil_mode", 0) and a.get("dilations", [1, 1]) == [1, 1]
        xp = F.pad(x.num, torch_pads(p), value=-math.inf)  # ONNX: a pad never wins
        return V(F.max_pool2d(xp, k, s), x.den)
    if op == "AveragePool":
        k, s, p = a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0] * 4)
        assert not a.get("ceil_mode", 0)
        xp = F.pad(x.num, torch_pads(p))
        sums = F.avg_pool2d(xp, k, s, divisor_override=1)
        check_sum(F.avg_pool2d(xp.abs(), k, s, divisor_override=1), min_lo(xp), what)
        if a.get("count_include_pad", 0):  # ONNX's default is 0, PyTorch's True
            count = torch.full_like(sums, k[0] * k[1])
        else:
            ones = F.pad(torch.ones_like(x.num), torch_pads(p))
            count = F.avg_pool2d(ones, k, s, divisor_override=1)
        return V(*divide_exact(sums, x.den, count))
    if op == "GlobalAveragePool":
        check_sum(x.num.abs().sum(dim=(2, 3), keepdim=True), min_lo(x.num), what)
        sums = x.num.sum(dim=(2, 3), keepdim=True)
        return V(*divide_exact(sums, x.den, torch.full_like(sums, x.num.shape[2] * x.num.shape[3])))
    if op == "Pad":
        assert a.get("mode", b"constant") in (b"constant", "constant")
        pads = [int(v) for v in ins[1].num.tolist()]
        c = float(ins[2].num) * x.den if len(ins) > 2 and ins[2] is not None else 0.0
        r = x.num.dim()
        tp = []
        for d in reversed(range(r)):
            tp += [pads[d], pads[d + r]]
        return V(F.pad(x.num, tuple(tp), value=c), x.den)
    if op == "Concat":
        nums, den = lcm_align(ins)
        return V(torch.cat(nums, dim=a["axis"]), den)
    if op == "Reshape":
        shape = [int(v) for v in ins[1].num.tolist()]
        shape = [x.num.shape[i] if v == 0 else v for i, v in enumerate(shape)]  # allowzero = 0
        return V(x.num.reshape(shape), x.den)
    if op == "Flatten":
        ax = a.get("axis", 1)
        return V(x.num.reshape(int(np.prod(x.num.shape[:ax])), -1), x.den)
    if op == "Transpose":
        return V(x.num.permute(a["perm"]), x.den)
    if op == "BatchNormalization":
        gamma, beta, mean, var = (v.num for v in ins[1:5])
        sd = torch.sqrt(var)
        if a.get("epsilon", 1e-5) != 0 or not bool((sd * sd == var).all()) or \
                not bool((torch.frexp(sd)[0] == 0.5).all()):
            raise Inexact(f"{what}: sqrt(var + epsilon) is not an exact power of two")
        sh = (1, -1, 1, 1)
        mm = mean.view(sh) * x.den
        grid = torch.minimum(*torch.broadcast_tensors(lo_exp(x.num), lo_exp(mm)))
        check_sum(x.num.abs() + mm.abs(), grid, what)
        c = (x.num - mm) / sd.view(sh)  # / a power of two: exact
        y = eval_node(helper.make_node("Mul", ["c", "g"], ["y"], name=node.name),
                      {"c": V(c), "g": V(gamma.view(sh))}.get).num
        bb = beta.view(sh) * x.den
        grid = torch.minimum(*torch.broadcast_tensors(lo_exp(y), lo_exp(bb)))
        check_sum(y.abs() + bb.abs(), grid, what)
        return V(y + bb, x.den)
    raise NotImplementedError(op)


def tensor_value(t):
    arr = numpy_helper.to_array(t)
    return V(torch.from_numpy(np.array(arr, dtype=np.float64)), 1, t.data_type)


def evaluate(model, inputs):
    """Runs the model on {input name: float32 array}; returns {name: V} for every value."""
    env = {t.name: tensor_value(t) for t in model.graph.initializer}
    for name, arr in inputs.items():
        env[name] = V(torch.from_numpy(arr.astype(np.float64)))
    for node in model.graph.node:
        v = eval_node(node, env.get)
        check_bits(v.num, f"{node.name} ({node.op_type})")
        env[node.output[0]] = v
    return env


# ------------------------------------------------------------------------------------------------
# Random graph construction.

class H:
    """A handle on a computed tensor. q = (coarsest scale, finest scale, zp type) when it is a
    DequantizeLinear output of an activation quantizer (on a grid; the two scales differ for a
    per-axis one); fq caches its quantized twin (one quantizer per tensor, as in QAT)."""

    def __init__(self, name, shape, q=None):
        self.name, self.shape, self.q = name, tuple(shape), q
        self.used, self.fq = False, None


class Builder:
    def __init__(self, rng, inputs, rng_axis):
        self.rng, self.nodes, self.inits = rng, [], []
        # Per-axis activation quantizers draw from their own stream: the main one (and with it
        # every graph without one) is the same as before they existed.
        self.rng_axis = rng_axis
        self.producer = {}
        self.envs = [dict() for _ in inputs]  # one per data set, filled as nodes are added
        self.n = 0
        self.live = []
        self.quant_all = False

    def fresh(self, stem):
        self.n += 1
        return f"{stem}{self.n}"

    def const(self, stem, arr, ty):
        name = self.fresh(stem)
        arr = np.asarray(arr, dtype=NP_TYPE[ty])
        self.inits.append(numpy_helper.from_array(arr, name))
        for env in self.envs:
            env[name] = V(torch.from_numpy(arr.astype(np.float64)), 1, ty)
        return name

    def node(self, op, ins, **kw):
        out = self.fresh(op.lower()[:4] + "_")
        n = helper.make_node(op, ins, [out], name=self.fresh(op), **kw)
        self.nodes.append(n)
        self.producer[out] = n
        for env in self.envs:
            v = eval_node(n, env.get)
            check_bits(v.num, n.name)
            env[out] = v
        return out

    def shape(self, name):
        return tuple(self.envs[0][name].num.shape)

    def handle(self, name, q=None):
        h = H(name, self.shape(name), q)
        self.live.append(h)
        # "easy" graphs quantize every op's output (the common, re-quantize-everything export)
        return self.act_quant(h) if self.quant_all and q is None else h

    def use(self, *hs):
        for h in hs:
            h.used = True

    # --- quantizers

    def act_quant(self, h):
        """QuantizeLinear -> DequantizeLinear on h with a power-of-two scale 2^-3..2^-7 fitted to the
        data (the finest that holds every value; sometimes one finer, so some values saturate)."""
        if h.q:
            return h
        if h.fq:
            return h.fq
        rng = self.rng
        m = max(float(env[h.name].approx().abs().max()) for env in self.envs)
        k = rng.randint(3, 7) if m == 0 else math.floor(math.log2(127 / m)) + (rng.random() < 0.15)
        k = min(max(k, 3), 7)
        return self.quant_pair(h, k, fit=True)

    def channel_axis(self, h):
        """Whether h may be quantized per axis along axis 1: a rank-4 (NCHW) tensor, or an [N, C]
        tensor whose axis 1 is a Gemm/MatMul's output channels (followed back through elementwise
        ops and quantizers; not a Flatten/Reshape of a 4-D tensor)."""
        if len(h.shape) == 4:
            return True
        name = h.name
        while len(h.shape) == 2 and name in self.producer:
            n = self.producer[name]
            if n.op_type in ("Gemm", "MatMul"):
                return True
            if n.op_type not in ("QuantizeLinear", "DequantizeLinear", "Add", "Sub", "Mul", "Div", "Relu", "Clip"):
                return False
            # the first operand of this op's shape (a constant of another shape is not followed)
            ins = [i for i in n.input if i and i in self.envs[0] and tuple(self.envs[0][i].num.shape) == h.shape]
            if not ins:
                return False
            name = ins[0]
        return False

    def channel_ks(self, h, k, fit):
        """Per-channel scale exponents in 3..7 for a per-axis quantizer on h (axis 1): fitted to each
        channel's data like act_quant's (fit), or k moved by -1..1 per channel (the input's
        quantizer, whose k leaves some values beyond the range on purpose). Never all equal."""
        ra, C = self.rng_axis, h.shape[1]
        ks = []
        for c in range(C):
            if fit:
                m = max(float(env[h.name].approx().select(1, c).abs().max()) for env in self.envs)
                kc = ra.randint(3, 7) if m == 0 else math.floor(math.log2(127 / m)) + (ra.random() < 0.15)
            else:
                kc = k + ra.choice([-1, 0, 0, 1])
            ks.append(min(max(kc, 3), 7))
        if len(set(ks)) == 1 and C > 1:
            c = ra.randrange(C)
            ks[c] += 1 if ks[c] == 3 else -1 if ks[c] == 7 else ra.choice([-1, 1])
        return ks

    def quant_pair(self, h, k, fit=False):
        """QuantizeLinear -> DequantizeLinear on h with scale 2^-k, or (about one in ten where
        channel_axis allows) per-axis along axis 1 with a scale 2^-k_c per channel and one zero
        point repeated for every channel."""
        rng = self.rng
        ty, zp = rng.choice([(TP.UINT8, 128), (TP.INT8, 0)])
        if self.channel_axis(h) and self.rng_axis.random() < 0.1:
            ks = self.channel_ks(h, k, fit)
            C = len(ks)
            s = self.const("s", np.array([2.0 ** -kc for kc in ks], np.float32), TP.FLOAT)
            z = self.const("zp", np.full(C, zp, NP_TYPE[ty]), ty)
            kw, grid = dict(axis=1), (2.0 ** -min(ks), 2.0 ** -max(ks))
        else:
            s = self.const("s", np.float32(2.0 ** -k), TP.FLOAT)
            z = self.const("zp", zp, ty)
            kw, grid = {}, (2.0 ** -k, 2.0 ** -k)
        self.use(h)
        qv = self.node("QuantizeLinear", [h.name, s, z], **kw)
        dq = self.node("DequantizeLinear", [qv, s, z], **kw)
        out = self.handle(dq, q=grid + (ty,))
        h.fq = out
        return out

    def weight(self, shape, axis_len, axis, fan_in):
        """int8 constant -> DequantizeLinear, per-tensor or per-channel (axis), scales 2^-5..2^-9
        chosen so the output's magnitude is about the input's, zero point 0."""
        rng = self.rng
        base = round(math.log2(127 * math.sqrt(fan_in) / 1.5))
        wq = np.array([rng.randint(-127, 127) for _ in range(int(np.prod(shape)))], dtype=np.int8).reshape(shape)
        if rng.random() < 0.2:  # some sparsity
            wq[np.array([rng.random() < 0.5 for _ in range(wq.size)]).reshape(shape)] = 0
        w = self.const("w", wq, TP.INT8)
        if rng.random() < 0.5:
            ks = [min(max(base + rng.randint(-1, 1), 5), 9) for _ in range(axis_len)]
            s = self.const("ws", np.array([2.0 ** -k for k in ks], np.float32), TP.FLOAT)
            z = self.const("wz", np.zeros(axis_len, np.int8), TP.INT8)
            return self.node("DequantizeLinear", [w, s, z], axis=axis)
        k = min(max(base + rng.randint(-1, 1), 5), 9)
        sshape = () if rng.random() < 0.7 else (1,)
        s = self.const("ws", np.full(sshape, 2.0 ** -k, np.float32), TP.FLOAT)
        z = self.const("wz", np.zeros(sshape, np.int8), TP.INT8)
        return self.node("DequantizeLinear", [w, s, z])

    def dyadic(self, n, step, limit, nonzero=False):
        rng = self.rng
        out = []
        while len(out) < n:
            v = rng.randint(-int(limit / step) + 1, int(limit / step) - 1) * step
            if not (nonzero and v == 0):
                out.append(v)
        return np.array(out, np.float32)

    def pot(self, lo, hi, neg=0.0):
        rng = self.rng
        return (-1 if rng.random() < neg else 1) * 2.0 ** rng.randint(lo, hi)


def pick(b, pred, fresh_bias=4.0):
    """A live handle satisfying pred, preferring unused and recent ones (so the DAG grows deep
    and few tensors dangle)."""
    cands = [h for h in b.live if pred(h)]
    if not cands:
        return None
    w = [(fresh_bias if not h.used else 1.0) * (1 + i) for i, h in enumerate(cands)]
    return b.rng.choices(cands, w)[0]


def is4d(h):
    return len(h.shape) == 4


# --- ops: each takes the builder and returns a new handle (or None if not applicable)

def op_conv(b, h=None, cout=None, stride=None, square=False):
    rng = b.rng
    h = h or pick(b, is4d)
    if h is None:
        return None
    x = b.act_quant(h)  # a product reads quantized activations
    _, C, Hh, Ww = x.shape
    k = rng.choice([1, 3, 3])
    stride = stride or rng.choice([1, 1, 2])
    if k == 3:
        pads = [1, 1, 1, 1] if square or rng.random() < 0.6 else [rng.randint(0, 1) for _ in range(4)]
    else:
        pads = [0] * 4 if square or rng.random() < 0.8 else [rng.randint(0, 1) for _ in range(4)]
    if (Hh + pads[0] + pads[2] - k) < 0 or (Ww + pads[1] + pads[3] - k) < 0:
        pads, k = [0] * 4, 1
    r = rng.random()
    groups = 1
    if r < 0.25 and (cout is None or cout % C == 0):
        groups = C  # depthwise (cout a multiple of C)
        cout = cout or C * (1 if rng.random() < 0.8 else 2)
    elif r < 0.4:
        cout = cout or rng.randint(2, 8)
        gs = [g for g in range(2, C + 1) if C % g == 0 and cout % g == 0]
        groups = rng.choice(gs) if gs else 1
    else:
        cout = cout or rng.randint(2, 8)
    w = b.weight((cout, C // groups, k, k), cout, 0, C // groups * k * k)
    ins = [x.name, w]
    if rng.random() < 0.8:
        ins.append(b.const("bias", b.dyadic(cout, 2.0 ** -10, 4), TP.FLOAT))
    b.use(x)
    kw = dict(kernel_shape=[k, k], pads=pads, strides=[stride, stride])
    if groups > 1:
        kw["group"] = groups
    y = b.node("Conv", ins, **kw)
    return b.handle(y)


def bn_params(b, C, sf=None):
    rng = b.rng
    ks = [rng.randint(-2, 2) for _ in range(C)]
    var = np.array([4.0 ** k for k in ks], np.float32)
    if sf is not None:  # gamma / sqrt(var) = sf: PyTorch's Conv -> Div(sf) -> BN
        gamma = np.array([sf[i] * 2.0 ** ks[i] for i in range(C)], np.float32)
    elif rng.random() < 0.5:
        gamma = np.array([b.pot(-2, 1, neg=0.2) for _ in range(C)], np.float32)
    else:
        gamma = b.dyadic(C, 2.0 ** -4, 2, nonzero=True)
    mean = b.dyadic(C, 2.0 ** -6, 2)
    beta = b.dyadic(C, 2.0 ** -8, 2)
    return [b.const(n, v, TP.FLOAT) for n, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]


def op_bn(b, h=None):
    h = h or pick(b, is4d)
    if h is None:
        return None
    b.use(h)
    y = b.node("BatchNormalization", [h.name] + bn_params(b, h.shape[1]), epsilon=0.0)
    return b.handle(y)


def op_conv_bn(b):
    """Conv whose output is not re-quantized, then BN (sometimes PyTorch's Conv -> Div(sf) -> BN)."""
    c = op_conv(b)
    if c is None:
        return None
    C = c.shape[1]
    b.use(c)
    if b.rng.random() < 0.4:
        sf = [b.pot(-2, 2) for _ in range(C)]
        d = b.node("Div", [c.name, b.const("sf", np.array(sf, np.float32).reshape(1, C, 1, 1), TP.FLOAT)])
        y = b.node("BatchNormalization", [d] + bn_params(b, C, sf), epsilon=0.0)
    else:
        y = b.node("BatchNormalization", [c.name] + bn_params(b, C), epsilon=0.0)
    return b.handle(y)


def op_fc(b):
    """Gemm/MatMul reading a Flatten/GlobalAveragePool/Reshape of a 4-D tensor, or a 2-D one."""
    rng = b.rng
    h = pick(b, lambda h: True)
    if h is None:
        return None
    if is4d(h):
        how = rng.choice(["flatten", "gap", "reshape"])
        hw = h.shape[2] * h.shape[3]
        if how == "gap" and hw & (hw - 1) == 0 and rng.random() < 0.5:
            # torchvision's eager QAT: GlobalAveragePool -> Flatten -> Gemm, the mean unquantized
            # (only over power-of-two windows here: the mean then stays dyadic for the product)
            x = b.act_quant(h)
            b.use(x)
            g = b.handle(b.node("GlobalAveragePool", [x.name]))
            b.use(g)
            a = b.handle(b.node("Flatten", [g.name]))
        else:
            x = h
            b.use(x)
            if how == "gap":
                x = b.handle(b.node("GlobalAveragePool", [x.name]))
                b.use(x)
            if how == "reshape":
                y = b.node("Reshape", [x.name, b.const("shape", np.array([1, -1]), TP.INT64)])
            else:
                y = b.node("Flatten", [x.name], axis=1)
            a = b.act_quant(b.handle(y))
    else:
        a = b.act_quant(h)
    b.use(a)
    K, N = a.shape[1], rng.randint(2, 10)
    if rng.random() < 0.65:
        w = b.weight((N, K), N, 0, K)
        ins = [a.name, w]
        if rng.random() < 0.8:
            ins.append(b.const("bias", b.dyadic(N, 2.0 ** -10, 4), TP.FLOAT))
        kw = dict(transB=1)
        if rng.random() < 0.35:
            kw["alpha"] = rng.choice([0.25, 0.5, 2.0])
        if len(ins) == 3 and rng.random() < 0.35:
            kw["beta"] = rng.choice([0.5, 2.0, 0.25])
        y = b.node("Gemm", ins, **kw)
    else:
        y = b.node("MatMul", [a.name, b.weight((K, N), N, 1, K)])
        if rng.random() < 0.5:
            y = b.node("Add", [y, b.const("bias", b.dyadic(N, 2.0 ** -10, 4), TP.FLOAT)])
    return b.handle(y)


def branch_like(b, h):
    """A second tensor of h's shape computed from h: a residual branch."""
    rng = b.rng
    r = rng.random()
    if is4d(h) and r < 0.6:
        y = op_conv(b, h, cout=h.shape[1], stride=1, square=True)
        if rng.random() < 0.4:
            y = op_bn(b, y)
        return y
    if is4d(h) and r < 0.75:
        b.use(h)
        return b.handle(b.node("MaxPool", [h.name], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    if not is4d(h) and r < 0.6:
        x = b.act_quant(h)
        b.use(x)
        return b.handle(b.node("Gemm", [x.name, b.weight((h.shape[1], h.shape[1]), h.shape[1], 0, h.shape[1])],
                               transB=1))
    return rng.choice([op_relu, op_const_arith])(b, h)


def op_binary(b):
    """Add/Sub of two branches of one shape (quantized or not: a float region with two paths)."""
    rng = b.rng
    h = pick(b, lambda h: True)
    if h is None:
        return None
    others = [o for o in b.live if o is not h and o.shape == h.shape]
    o = rng.choice(others) if others and rng.random() < 0.6 else branch_like(b, h)
    if o is None:
        return None
    p, q = (h, o) if rng.random() < 0.5 else (o, h)
    b.use(p, q)
    return b.handle(b.node(rng.choice(["Add", "Add", "Sub"]), [p.name, q.name]))


def op_concat(b):
    rng = b.rng
    h = pick(b, lambda h: True)
    if h is None:
        return None
    same = lambda o: o is not h and len(o.shape) == len(h.shape) and o.shape[2:] == h.shape[2:]
    others = [o for o in b.live if same(o)]
    if others and rng.random() < 0.6:
        o = rng.choice(others)
    elif is4d(h):
        o = op_conv(b, h, stride=1, square=True)
        if rng.random() < 0.4:
            o = op_bn(b, o)
    else:
        o = branch_like(b, h)
    ins = [h, o] if rng.random() < 0.5 else [o, h]
    b.use(*ins)
    return b.handle(b.node("Concat", [i.name for i in ins], axis=1))


def op_const_arith(b, h=None):
    """Add/Sub/Mul/Div by a scalar or per-channel constant; Sub(constant, x); negative and
    non-power-of-two (dyadic) multipliers, negative power-of-two divisors."""
    rng = b.rng
    h = h or pick(b, lambda h: True)
    if h is None:
        return None
    C = h.shape[1]
    per_channel = rng.random() < 0.4
    cshape = () if not per_channel else ((C, 1, 1) if rng.random() < 0.5 else (1, C, 1, 1)) if is4d(h) else (C,)
    n = int(np.prod(cshape))
    op = rng.choice(["Add", "Sub", "Mul", "Mul", "Div"])
    if op in ("Add", "Sub"):
        c = b.dyadic(n, 2.0 ** -6, 4)
    elif op == "Mul" and rng.random() < 0.15:
        c = b.dyadic(n, 2.0 ** -3, 4, nonzero=True)  # e.g. 0.375: not a power of two
    else:
        c = np.array([b.pot(-3, 2, neg=0.3) for _ in range(n)], np.float32)
    cn = b.const("c", c.reshape(cshape), TP.FLOAT)
    b.use(h)
    ins = [cn, h.name] if op == "Sub" and rng.random() < 0.4 else [h.name, cn]
    return b.handle(b.node(op, ins))


def op_relu(b, h=None):
    h = h or pick(b, lambda h: True)
    if h is None:
        return None
    b.use(h)
    if b.rng.random() < 0.5:
        return b.handle(b.node("Relu", [h.name]))
    rng = b.rng
    lo, hi = rng.choice([(0.0, 6.0), (0.0, 6.0), (-1.0, 1.0), (0.0, 2.0 ** rng.randint(-1, 3)),
                         (-2.0 ** rng.randint(-2, 2), 2.0 ** rng.randint(-2, 2)), (-0.75, 1.5),
                         (None, 1.25), (-0.5, None)])
    ins = [h.name, b.const("lo", np.float32(lo), TP.FLOAT) if lo is not None else ""]
    if hi is not None:
        ins.append(b.const("hi", np.float32(hi), TP.FLOAT))
    return b.handle(b.node("Clip", ins))


def op_pool(b):
    rng = b.rng
    h = pick(b, lambda h: is4d(h) and min(h.shape[2:]) >= 2)
    if h is None:
        return None
    b.use(h)
    r = rng.random()
    if r < 0.4:
        k = rng.choice([2, 3])
        s = rng.choice([1, 2])
        pads = [rng.randint(0, k - 1) for _ in range(4)] if rng.random() < 0.4 else [0] * 4
        if h.shape[2] + pads[0] + pads[2] < k or h.shape[3] + pads[1] + pads[3] < k:
            k, pads = 2, [0] * 4
        return b.handle(b.node("MaxPool", [h.name], kernel_shape=[k, k], strides=[s, s], pads=pads))
    if r < 0.8:
        kw = dict(kernel_shape=[2, 2], strides=[2, 2])
        if rng.random() < 0.4:
            kw["pads"] = [rng.randint(0, 1) for _ in range(4)]
        if rng.random() < 0.4:
            kw["count_include_pad"] = 1
        return b.handle(b.node("AveragePool", [h.name], **kw))
    return b.handle(b.node("GlobalAveragePool", [h.name]))


def op_pad(b):
    rng = b.rng
    h = pick(b, is4d)
    if h is None:
        return None
    b.use(h)
    pads = [0, 0] + [rng.randint(0, 2) for _ in range(2)] + [0, 0] + [rng.randint(0, 2) for _ in range(2)]
    ins = [h.name, b.const("pads", np.array(pads, np.int64), TP.INT64)]
    if rng.random() < 0.5:
        if h.q:  # on the input's grid: up to 100 steps of it (of the finest channel's, on every channel's)
            coarse, fine, _ = h.q
            v = coarse * math.trunc(rng.randint(-100, 100) * fine / coarse)
        else:
            v = float(b.dyadic(1, 2.0 ** -5, 2)[0])
        ins.append(b.const("padv", np.float32(v), TP.FLOAT))
    return b.handle(b.node("Pad", ins))


def op_layout(b):
    rng = b.rng
    h = pick(b, lambda h: True)
    if h is None:
        return None
    b.use(h)
    if not is4d(h):
        return b.handle(b.node("Reshape", [h.name, b.const("shape", np.array([1, -1, 1, 1]), TP.INT64)]))
    _, C, Hh, Ww = h.shape
    r = rng.random()
    if r < 0.35:
        perm = rng.choice([[0, 1, 3, 2], [0, 2, 1, 3], [0, 3, 2, 1], [0, 2, 3, 1], [0, 3, 1, 2]])
        return b.handle(b.node("Transpose", [h.name], perm=perm))
    if r < 0.5:
        return b.handle(b.node("Flatten", [h.name], axis=1))
    shapes = [[0, 0, Ww, Hh], [1, C * Hh, Ww, 1], [0, -1, 1, 1], [1, C, Hh * Ww, 1]]
    if Hh % 2 == 0:
        shapes.append([1, C * 2, Hh // 2, Ww])
    return b.handle(b.node("Reshape", [h.name, b.const("shape", np.array(rng.choice(shapes)), TP.INT64)]))


OPS = [(op_conv, 4), (op_conv_bn, 3), (op_bn, 1), (op_fc, 1.5), (op_binary, 4), (op_concat, 2),
       (op_const_arith, 3), (op_relu, 3), (op_pool, 2.5), (op_pad, 1), (op_layout, 1.5)]


def prune(nodes, outputs):
    need, keep = set(outputs), []
    for n in reversed(nodes):
        if n.output[0] in need:
            keep.append(n)
            need.update(i for i in n.input if i)
    return list(reversed(keep)), need


def make_graph(seed, n_sets):
    rng = random.Random(seed)
    C, Hh, Ww = rng.randint(2, 6), rng.randint(6, 10), rng.randint(6, 10)
    k_in = rng.randint(3, 7)
    # Inputs on a grid 4x finer than the input quantizer's: a quarter of the values are exact
    # ties (round half to even decides), a few beyond the quantizer's range (saturation).
    inputs = [np.array([rng.randint(-150 * 4, 150 * 4) for _ in range(C * Hh * Ww)], np.float32).reshape(1, C, Hh, Ww)
              * np.float32(2.0 ** -(k_in + 2)) for _ in range(n_sets)]
    b = Builder(rng, inputs, random.Random(f"per-axis {seed}"))
    for env, x in zip(b.envs, inputs):
        env["input"] = V(torch.from_numpy(x.astype(np.float64)))
    mode = rng.choice(["easy", "mixed", "region", "region"])
    p_quant = {"easy": 1.0, "mixed": 0.5, "region": 0.15}[mode]
    b.quant_all = mode == "easy"
    x0 = b.quant_pair(H("input", (1, C, Hh, Ww)), k_in)
    n_ops = rng.randint(3, 10)
    done = 0
    while done < n_ops:
        op = rng.choices([o for o, _ in OPS], [w for _, w in OPS])[0]
        h = op(b)
        if h is None:
            continue
        done += 1
        if rng.random() < p_quant:
            b.act_quant(h)
    # Outputs: the newest unused tensors (1 or 2), each quantized (the output is then a
    # DequantizeLinear of a QuantizeLinear, exactly on a grid).
    leaves = [h for h in b.live if not h.used and h is not x0]
    if not leaves:
        leaves = [b.live[-1]]
    outs = []
    for h in reversed(leaves):
        if len(outs) == (1 if rng.random() < 0.5 else 2):
            break
        outs.append(h)
    outs = [b.act_quant(h).name for h in outs]
    outs = list(dict.fromkeys(outs))
    nodes, needed = prune(b.nodes, outs)
    inits = [t for t in b.inits if t.name in needed]
    g = helper.make_graph(
        nodes, "random_qdq", [helper.make_tensor_value_info("input", TP.FLOAT, [1, C, Hh, Ww])],
        [helper.make_tensor_value_info(o, TP.FLOAT, list(b.shape(o))) for o in outs], inits)
    model = helper.make_model(g, producer_name="make_random_qdq_graphs", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model, inputs, outs, mode, float_merges(model)


def float_merges(model):
    """Add/Sub/Concat nodes with an operand that is neither a DequantizeLinear output nor a
    constant: the multi-path float regions this generator is for."""
    made_by = {n.output[0]: n.op_type for n in model.graph.node}
    consts = {t.name for t in model.graph.initializer}
    return sum(1 for n in model.graph.node if n.op_type in ("Add", "Sub", "Concat")
               and sum(1 for i in n.input if i not in consts) >= 2
               and any(made_by.get(i) not in ("DequantizeLinear", None) for i in n.input if i not in consts))


def write_case(out, seed, n_sets):
    model, inputs, outs, mode, merges = make_graph(seed, n_sets)
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    # The expected outputs: the serialized model, read back and interpreted from scratch.
    model = onnx.load_from_string(data)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(data)
    for k, x in enumerate(inputs):
        env = evaluate(model, {"input": x})
        d = os.path.join(out, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "input").SerializeToString())
        for i, o in enumerate(outs):
            v = env[o]
            assert v.den == 1
            y64 = v.num.numpy()
            y32 = y64.astype(np.float32)
            assert np.array_equal(y32.astype(np.float64), y64), f"{out}: output {o} not exact in float32"
            with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(y32, o).SerializeToString())
    return model, mode, merges


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-sets", type=int, default=2)
    ap.add_argument("--only", type=int, nargs="*", help="write only these graph numbers")
    o = ap.parse_args()
    ops, modes, merging = {}, {}, 0
    for i in (o.only if o.only else range(o.count)):
        model, mode, merges = write_case(os.path.join(o.out, f"g_{i:03d}"), o.seed * 100003 + i, o.data_sets)
        for n in model.graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        modes[mode] = modes.get(mode, 0) + 1
        merging += merges > 0
    print(f"wrote {sum(modes.values())} graphs to {o.out} ({', '.join(f'{v} {k}' for k, v in sorted(modes.items()))}; "
          f"{merging} with a multi-path float region)")
    print("ops: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))


if __name__ == "__main__":
    main()
