#!/usr/bin/python3
"""Joins the --json reports of `qatc verify --shard K/N` runs (one per machine of a CI matrix) into
the report one run over every data set would have written, and prints its summary as verify does.

    merge_verify_reports.py OUT.json SHARD.json...

The shards must be 1/N ... N/N of the same N, each once, for the same model, engine and options.
Exit 0 iff every data set is bit-exact, 1 if not, 2 on bad input (named)."""
import json
import re
import sys


def fail(message):
    print("merge_verify_reports: error: " + message, file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))


def set_number(result):
    m = re.search(r"test_data_set_(\d+)$", result["data_set"])
    return int(m.group(1)) if m else -1


def main(argv):
    if len(argv) < 3:
        fail("usage: merge_verify_reports.py OUT.json SHARD.json...")
    out, paths = argv[1], argv[2:]
    reports = [load(p) for p in paths]
    shards = {}
    for path, r in zip(paths, reports):
        k, _, n = r.get("shard", "").partition("/")
        if not (k.isdigit() and n.isdigit()):
            fail("%s: no shard K/N in the report (run verify --shard K/N --json)" % path)
        if (int(k), int(n)) in shards:
            fail("%s: shard %s/%s is also %s" % (path, k, n, shards[(int(k), int(n))]))
        shards[(int(k), int(n))] = path
        for field in ("model", "engine", "allow_non_pot"):
            if r.get(field) != reports[0].get(field):
                fail("%s: %s %r differs from %s's %r" % (path, field, r.get(field), paths[0], reports[0].get(field)))
    total = {n for _, n in shards}
    if len(total) != 1 or sorted(k for k, _ in shards) != list(range(1, next(iter(total)) + 1)):
        fail("the shards are %s: expected 1/N ... N/N, each once" % ", ".join("%d/%d" % s for s in sorted(shards)))

    rows = {}
    for r in reports:
        for c in r["comparisons"]:
            key = (c["a"], c["b"], c["output"])
            row = rows.setdefault(key, {"a": c["a"], "b": c["b"], "output": c["output"], "elements": 0,
                                        "mismatches": 0, "max_abs_diff_lsb": 0})
            row["elements"] += c["elements"]
            row["mismatches"] += c["mismatches"]
            row["max_abs_diff_lsb"] = max(row["max_abs_diff_lsb"], c["max_abs_diff_lsb"])
    results = sorted((s for r in reports for s in r["data_set_results"]), key=set_number)
    merged = {"model": reports[0]["model"], "data_sets": sum(r["data_sets"] for r in reports),
              "shard": "1/1", "bit_exact": all(r["bit_exact"] for r in reports),
              "allow_non_pot": reports[0]["allow_non_pot"], "engine": reports[0]["engine"],
              "comparisons": list(rows.values()), "data_set_results": results}
    with open(out, "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")
    width = max((len(c["a"]) for c in rows.values()), default=0)
    for c in rows.values():
        print("%-*s vs %-11s output '%s': %d of %d elements differ (max %d LSB)" % (
            width, c["a"], c["b"], c["output"], c["mismatches"], c["elements"], c["max_abs_diff_lsb"]))
    passed = sum(1 for s in results if s["bit_exact"])
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if merged["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
