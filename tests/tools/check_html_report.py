#!/usr/bin/python3
"""Checks a `qatc verify --html` report the way a reader meets it: in a browser.

    check_html_report.py REPORT.html --layers N [--alert] [--input-data DIR --input-scale S]

Renders REPORT in headless Chromium twice:
  - --dump-dom: the parsed page must be self-contained (no script, no external resource), hold a
    layer table of N rows, each with a value histogram (an SVG with at least one bar) and an error
    histogram or the note that there is no float32 counterpart;
  - --screenshot: the bars must really be painted, i.e. the PNG must hold pixels of the bar colour
    (at least 20 per plot), and with --alert also of the alert colour.
With --input-data, the first row's value histogram (the quantized model input) must count exactly
what numpy computes from DIR's input_0.pb files: clip(rint(x / S), -128, 127), rint rounding half to
even like the model's quantizer.
Exits 1 with a one-line reason when a check fails.
"""

import argparse
import html.parser
import os
import subprocess
import sys
import tempfile

from PIL import Image  # python3-pil

BAR = (0x34, 0x65, 0xA4)    # driver/html_report.cpp kBar
ALERT = (0xE8, 0x59, 0x0C)  # driver/html_report.cpp kAlert


def chromium(*args):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []       # per layer-table row: {"svgs": {kind: bars}, "note": bool}
        self.in_layers = False
        self.svg_kind = None
        self.bar_title = False  # inside a value bar's title
        self.external = []   # src/href attributes and script elements

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" or "src" in a or ("href" in a and tag != "svg"):
            self.external.append(tag)
        if tag == "table" and a.get("class") == "layers":
            self.in_layers = True
        elif self.in_layers and tag == "tr" and a.get("class") == "layer":
            self.rows.append({"svgs": {}, "note": False, "values": {}})
        elif self.in_layers and tag == "svg" and self.rows:
            self.svg_kind = a.get("class", "").replace("hist ", "")
            self.rows[-1]["svgs"][self.svg_kind] = 0
        elif self.svg_kind and tag == "rect" and a.get("class") == "bar":
            self.rows[-1]["svgs"][self.svg_kind] += 1
            self.bar_title = self.svg_kind == "values"
        elif self.in_layers and tag == "span" and self.rows:
            self.rows[-1]["note"] = True

    def handle_data(self, data):
        if self.bar_title:  # "[lo, hi) : count" of a value bar
            lo, count = data.split(",")[0].lstrip("["), data.rsplit(":", 1)[1]
            self.rows[-1]["values"][int(lo)] = int(count)
            self.bar_title = False

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg_kind = None
        elif tag == "table":
            self.in_layers = False


def count_colour(image, colour):
    return sum(n for n, c in image.getcolors(image.width * image.height) if c[:3] == colour)


def input_histogram(data_dir, scale):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    counts = {}
    for entry in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, entry, "input_0.pb")
        if entry.startswith("test_data_set_") and os.path.exists(path):
            x = numpy_helper.to_array(onnx.load_tensor(path)).astype(np.float64)
            for v, n in zip(*np.unique(np.clip(np.rint(x / scale), -128, 127), return_counts=True)):
                counts[int(v)] = counts.get(int(v), 0) + int(n)
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--alert", action="store_true", help="the report must paint alert-coloured bars")
    ap.add_argument("--input-data")
    ap.add_argument("--input-scale", type=float)
    args = ap.parse_args()
    url = "file://" + os.path.abspath(args.report)

    page = Page()
    page.feed(chromium("--dump-dom", url))
    fail = None
    if page.external:
        fail = "the page is not self-contained: it has %s" % ", ".join(sorted(set(page.external)))
    elif len(page.rows) != args.layers:
        fail = "the layer table has %d rows, expected %d" % (len(page.rows), args.layers)
    else:
        for i, row in enumerate(page.rows):
            if row["svgs"].get("values", 0) < 1:
                fail = "layer row %d has no value histogram with bars" % i
            elif row["svgs"].get("error", 0) < 1 and not row["note"]:
                fail = "layer row %d has neither an error histogram with bars nor a note" % i
            if fail:
                break
    if not fail and args.input_data:
        expected = input_histogram(args.input_data, args.input_scale)
        if page.rows[0]["values"] != expected:
            fail = "the input's value histogram %s is not numpy's %s" % (page.rows[0]["values"], expected)
    if not fail:
        plots = sum(len(r["svgs"]) for r in page.rows)
        with tempfile.TemporaryDirectory() as tmp:
            shot = os.path.join(tmp, "report.png")
            chromium("--window-size=1600,%d" % (800 + 80 * args.layers), "--screenshot=" + shot, url)
            image = Image.open(shot).convert("RGB")
            bars, alerts = count_colour(image, BAR), count_colour(image, ALERT)
        if bars < 20 * plots:
            fail = "the screenshot shows %d bar pixels for %d plots" % (bars, plots)
        elif args.alert and alerts == 0:
            fail = "the screenshot shows no alert-coloured bars"
        else:
            print("%d layers, %d plots, %d bar pixels, %d alert pixels" % (len(page.rows), plots, bars, alerts))
    if fail:
        print("check_html_report: %s: %s" % (args.report, fail), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
