#!/usr/bin/python3
"""Runs the README's walkthrough exactly as written, so the README cannot drift from what works.

    run_readme_walkthrough.py README.md --source SRC --build BUILD --workdir DIR

Takes the ```sh block that follows the line `<!-- walkthrough -->` in README.md and runs it with
`bash -euo pipefail` in DIR, where `examples` links to SRC/examples and `build` to BUILD, as a
reader's checkout would have them after `make`. Its output goes to stdout; its exit code is ours.
"""

import argparse
import os
import subprocess
import sys


def walkthrough(readme):
    lines = open(readme, encoding="utf-8").read().splitlines()
    start = lines.index("<!-- walkthrough -->")
    begin = next(i for i in range(start, len(lines)) if lines[i].startswith("```sh")) + 1
    end = next(i for i in range(begin, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[begin:end]) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("readme")
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    for name, target in (("examples", os.path.join(args.source, "examples")), ("build", args.build)):
        link = os.path.join(args.workdir, name)
        if not os.path.islink(link):
            os.symlink(os.path.abspath(target), link)
    script = walkthrough(args.readme)
    print(script, flush=True)
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=args.workdir).returncode


if __name__ == "__main__":
    sys.exit(main())
