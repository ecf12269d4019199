#!/usr/bin/python3
"""Differential test: qatc verify on random power-of-two QDQ graphs (scripts/make_random_qdq_graphs.py)
whose expected outputs come from an independent exact evaluator.

    random_qdq_graphs.py --qatc QATC --out DIR [--count 120] [--seed 1] [--jobs 2] [--timeout 120]

Generates DIR/g_NNN (only when the generator or its arguments changed: DIR/stamp), runs
`qatc verify MODEL --data DIR --json J -q` on each graph, and classifies it:
  EXACT    exit 0, and the JSON shows int-sim equal to qat-exact and to every data set's own
           output_K.pb (a difference from output_K.pb is a FAIL even though verify then exits 0:
           it means qatc's exact reference and the independent one disagree);
  REFUSED  exit 2 with one line on stderr naming a node of the model (qatc's promise for what it
           cannot lower: windows of different counts, grids too far apart for 32 bits...), and
           `qatc run --engine qat-exact` (no lowering) reproducing output_K.pb exactly: a refused
           graph still checks qatc's exact reference against the independent evaluator;
  FAIL     anything else: a mismatch, exit 1 or 3, a signal, a timeout, a refusal of several lines
           or naming nothing.
With --non-pot the same graphs are first made non-power-of-two (every QuantizeLinear/DequantizeLinear
scale times a random factor in [0.55, 0.95]; no output_K.pb, since no exact reference exists for
them) and verified with --allow-non-pot: a graph is LOWERED when verify runs to its end (exit 0, or
1 for the difference it measures, with an int-sim vs qat-exact comparison of every output element in
its JSON), REFUSED as above, and FAIL otherwise.
Prints the counts and a histogram of refusal reasons (names and numbers stripped) and exits 1 on
any FAIL. Logs and JSON of each run are kept in DIR/results/ for a look afterwards.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

import onnx

GENERATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                         "make_random_qdq_graphs.py")


def build_once(out, stamp, write):
    """Runs write(tmp) unless OUT already holds what `stamp` names, then renames tmp into place, so
    an interrupted run never leaves a half-written set that a later run would take as current."""
    stamp_file = os.path.join(out, "stamp")
    if os.path.exists(stamp_file) and open(stamp_file).read().strip() == stamp:
        return
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    with open(os.path.join(tmp, "stamp"), "w") as f:
        f.write(stamp + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


def generate(out, count, seed, jobs):
    with open(GENERATOR, "rb") as f:
        stamp = hashlib.sha256(f.read() + f"{count} {seed}".encode()).hexdigest()

    def write(tmp):
        # Split by graph number over `jobs` processes (each graph depends only on seed and number).
        procs = [subprocess.Popen([sys.executable, GENERATOR, tmp, "--seed", str(seed), "--only"]
                                  + [str(i) for i in range(j, count, jobs)], stdout=subprocess.PIPE, text=True)
                 for j in range(min(jobs, count))]
        for p in procs:
            p.communicate()
            if p.returncode:
                sys.exit(f"random_qdq_graphs: the generator failed (exit {p.returncode})")

    build_once(out, stamp, write)


def derive_non_pot(src, dst, seed):
    """DST/g_NNN: SRC's graphs with every quantizer scale times a factor in [0.55, 0.95] (one per scale
    tensor, so a QuantizeLinear and its DequantizeLinear keep sharing it), inputs only."""
    import random
    from onnx import numpy_helper

    def write(tmp):
        rng = random.Random(seed)
        for g in sorted(d for d in os.listdir(src) if d.startswith("g_")):
            m = onnx.load(os.path.join(src, g, "model.onnx"))
            scales = sorted({n.input[1] for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")})
            inits = {t.name: t for t in m.graph.initializer}
            for name in scales:
                if name in inits:
                    a = numpy_helper.to_array(inits[name])
                    scaled = (a * a.dtype.type(rng.uniform(0.55, 0.95))).astype(a.dtype)
                    inits[name].CopyFrom(numpy_helper.from_array(scaled, name))
            os.makedirs(os.path.join(tmp, g))
            onnx.save(m, os.path.join(tmp, g, "model.onnx"))
            for ds in sorted(d for d in os.listdir(os.path.join(src, g)) if d.startswith("test_data_set_")):
                os.makedirs(os.path.join(tmp, g, ds))
                for f in os.listdir(os.path.join(src, g, ds)):
                    if f.startswith("input_"):
                        shutil.copy(os.path.join(src, g, ds, f), os.path.join(tmp, g, ds, f))

    build_once(dst, open(os.path.join(src, "stamp")).read().strip() + f" non-pot {seed}", write)


def names_of(model_path):
    m = onnx.load(model_path)
    names = {n.name for n in m.graph.node}
    values = {o for n in m.graph.node for o in n.output} | {i.name for i in m.graph.input} | \
        {t.name for t in m.graph.initializer}
    outputs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output}
    return names, values, outputs


C_FLAGS = "-O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


def run_one(qatc, case, results, timeout, check_reference, c_target=None, non_pot=False):
    """Returns (class, detail, refusal reason or None)."""
    name = os.path.basename(case)
    model = os.path.join(case, "model.onnx")
    j = os.path.join(results, name + ".json")
    if os.path.exists(j):
        os.remove(j)
    t0 = time.time()
    try:
        r = subprocess.run([qatc, "verify", model, "--data", case, "--json", j, "-q"]
                           + (["--allow-non-pot"] if non_pot else []), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "FAIL", f"timeout after {timeout} s", None, time.time() - t0
    dt = time.time() - t0
    with open(os.path.join(results, name + ".log"), "w") as f:
        f.write(f"exit {r.returncode}\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}")
    nodes, values, outputs = names_of(model)
    if r.returncode == 2:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        # Model names as whole tokens (qatc quotes them, and derives some: 'batc_68.folded').
        token = lambda names: re.compile(r"(?<![\w.])(" + "|".join(
            map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w])")
        if len(lines) == 1 and token(nodes).search(lines[0]):
            # (not the graph input: "input" is also an English word in the messages)
            reason = token((nodes | values) - {"input"}).sub("…", lines[0].replace("qatc: error: ", ""))
            reason = re.sub(r"\d+", "N", reason)
            if check_reference:
                # A refused graph still tests qatc's exact QAT evaluator (no lowering involved)
                # against the independent one: they must agree on every output of every data set.
                try:
                    e = subprocess.run([qatc, "run", model, "--data", case, "--engine", "qat-exact", "-q"],
                                       capture_output=True, text=True, timeout=timeout)
                except subprocess.TimeoutExpired:
                    return "FAIL", f"refused; qatc run --engine qat-exact: timeout after {timeout} s", None, dt
                if e.returncode != 0:
                    return "FAIL", (f"refused ({lines[0]}); but qatc run --engine qat-exact exits {e.returncode}: "
                                    + (e.stdout + e.stderr).strip()[-600:]), None, time.time() - t0
            return "REFUSED", lines[0], reason, time.time() - t0
        return "FAIL", "refusal that is not one line naming a node: " + r.stderr.strip()[:500], None, dt
    if r.returncode < 0:
        return "FAIL", f"killed by signal {-r.returncode}: " + r.stderr.strip()[-800:], None, dt
    if non_pot:
        return non_pot_result(r, j, outputs, dt)
    if r.returncode != 0:
        return "FAIL", f"exit {r.returncode}: " + (r.stdout + r.stderr).strip()[-800:], None, dt
    if not os.path.exists(j):
        return "FAIL", "exit 0 but no JSON written", None, dt
    rep = json.load(open(j))
    data_sets = rep.get("data_sets", 0)
    want = {o: data_sets * math.prod(dims) for o, dims in outputs.items()}
    cmp = {(c["a"], c["b"], c["output"]): c for c in rep.get("comparisons", [])}
    problems = []
    if not rep.get("bit_exact"):
        problems.append("bit_exact is false")
    if data_sets < 1:
        problems.append("no data sets")
    for o, n in want.items():
        for b in ("qat-exact", "expected"):
            c = cmp.get(("int-sim", b, o))
            if c is None:
                problems.append(f"no int-sim vs {b} comparison for '{o}'")
            elif c["mismatches"] or c["elements"] != n:
                problems.append(f"int-sim vs {b} output '{o}': {c['mismatches']} of {c['elements']} differ "
                                f"(max {c['max_abs_diff_lsb']} LSB; {n} expected)")
    for ds in rep.get("data_set_results", []):
        if ds.get("differing_layers"):
            problems.append(f"{os.path.basename(ds['data_set'])}: {ds['differing_layers']} layers differ")
    if problems:
        lines = [l for l in r.stdout.splitlines() if "differs" in l or "!=" in l]
        return "FAIL", "; ".join(problems) + ("\n    " + "\n    ".join(lines[:4]) if lines else ""), None, dt
    # qatc's float32 engine may legitimately differ (float32 rounds where these graphs need more
    # bits); reported, not a failure: exactness is judged against qat-exact and output_K.pb.
    f32 = any(cmp.get(("int-sim", "qat-float32", o), {}).get("mismatches") for o in outputs)
    note = " (qat-float32 differs)" if f32 else ""
    if c_target:
        # The generated C of this exact graph, built with the sanitizers, must equal the simulator.
        try:
            c = subprocess.run([qatc, "verify", model, "--data", case, "--engine", "c", "--target", c_target, "-q",
                                "--cflags", C_FLAGS, "--work-dir", os.path.join(results, name + ".c")],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "FAIL", f"generated C for {c_target}: timeout after {timeout} s", None, dt
        if c.returncode != 0:
            return "FAIL", f"generated C for {c_target}: exit {c.returncode}: " + (c.stdout + c.stderr).strip()[-800:], None, dt
        note += f" (C for {c_target} too)"
    return "EXACT", note, None, time.time() - t0


def non_pot_result(r, j, outputs, dt):
    """LOWERED when verify ran to its end under --allow-non-pot: exit 0, or 1 for a difference it
    measured and reported, with every output element compared with qat-exact."""
    if r.returncode not in (0, 1):
        return "FAIL", f"exit {r.returncode}: " + (r.stdout + r.stderr).strip()[-800:], None, dt
    if not os.path.exists(j):
        return "FAIL", f"exit {r.returncode} but no JSON written", None, dt
    rep = json.load(open(j))
    cmp = {(c["a"], c["b"], c["output"]): c for c in rep.get("comparisons", [])}
    want = {o: rep.get("data_sets", 0) * math.prod(dims) for o, dims in outputs.items()}
    missing = [o for o, n in want.items() if n == 0 or cmp.get(("int-sim", "qat-exact", o), {}).get("elements") != n]
    if missing or not rep.get("allow_non_pot") or (r.returncode == 0) != bool(rep.get("bit_exact")):
        return "FAIL", f"exit {r.returncode}, JSON incomplete or inconsistent (outputs {missing})", None, dt
    lsb = max(cmp[("int-sim", "qat-exact", o)]["max_abs_diff_lsb"] for o in want)
    return "LOWERED", f"max {lsb} LSB from qat-exact", None, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qatc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=120, help="seconds per graph")
    ap.add_argument("--no-reference-check", action="store_true",
                    help="do not also run qatc's exact evaluator (run --engine qat-exact) on refused graphs")
    ap.add_argument("--no-generate", action="store_true", help="use the graphs already in --out")
    ap.add_argument("--c-every", type=int, default=0,
                    help="also check the generated C (under ASan/UBSan) of every Nth graph, if exact, "
                         "cycling through --c-targets")
    ap.add_argument("--c-targets", default="host,c7x-mma,c7x-256")
    ap.add_argument("--non-pot", action="store_true",
                    help="verify non-power-of-two variants of the graphs with --allow-non-pot (see above)")
    ap.add_argument("--max-refused", type=float, default=1.0,
                    help="fail if a larger fraction is refused: guards the lowering's reach against regressions")
    o = ap.parse_args()
    t0 = time.time()
    out = os.path.abspath(o.out)
    if not o.no_generate:
        generate(out, o.count, o.seed, o.jobs)
    if o.non_pot:
        derive_non_pot(out, out + "-nonpot", o.seed)
        out += "-nonpot"
    t_gen = time.time() - t0
    cases = sorted(os.path.join(out, d) for d in os.listdir(out) if d.startswith("g_"))
    results = os.path.join(out, "results")
    os.makedirs(results, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(o.jobs) as pool:
        targets = o.c_targets.split(",")
        c_target = lambda i: targets[(i // o.c_every) % len(targets)] if o.c_every and i % o.c_every == 0 else None
        runs = list(pool.map(lambda ic: run_one(o.qatc, ic[1], results, o.timeout,
                                                not o.no_reference_check and not o.non_pot,
                                                None if o.non_pot else c_target(ic[0]), o.non_pot),
                             enumerate(cases)))
    counts = collections.Counter(r[0] for r in runs)
    reasons = collections.Counter(r[2] for r in runs if r[2])
    for case, (cls, detail, _, dt) in zip(cases, runs):
        if cls == "FAIL":
            print(f"FAIL {case}: {detail}")
    f32 = sum(1 for r in runs if r[0] == "EXACT" and "float32" in r[1])
    with_c = sum(1 for r in runs if r[0] == "EXACT" and "C for" in r[1])
    if o.non_pot:
        lsb = collections.Counter(int(r[1].split()[1]) for r in runs if r[0] == "LOWERED")
        print(f"non-power-of-two variants: {counts['LOWERED']} lowered (max difference from qat-exact in LSB: "
              + ", ".join(f"{k}: {lsb[k]} graphs" for k in sorted(lsb)) + ")")
    print(f"random QDQ graphs ({out}): {counts['EXACT']} exact ({with_c} with their generated C), {counts['REFUSED']} refused, {counts['FAIL']} failed"
          f" of {len(cases)}; generated in {t_gen:.0f} s, verified in {time.time() - t0 - t_gen:.0f} s"
          + (f"; {f32} exact graphs differ from qatc's float32 engine (float32 rounding; not a failure)" if f32 else ""))
    if reasons:
        print("refusal reasons:")
        for reason, n in reasons.most_common():
            print(f"  {n:4d}  {reason}")
    refused = counts["REFUSED"] / max(1, len(cases))
    if refused > o.max_refused:
        print(f"FAIL: {refused:.0%} of the graphs were refused, more than --max-refused {o.max_refused:.0%}")
        return 1
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
