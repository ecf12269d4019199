#include "driver/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace qatc::driver {

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) { return fmt::format("{:g}", v); }

// Bar colours: what is expected, and what needs a look (saturated values, errors beyond ±½ LSB).
constexpr const char* kBar = "#3465a4";
constexpr const char* kAlert = "#e8590c";
constexpr int kPlotHeight = 48, kTop = 14, kLeft = 4;

// A histogram as an inline SVG bar chart, counts on a log scale: one bar per non-empty bin, the x range under it (`first` .. `last`) and the tallest bar's count over
// it. `alert(lo, hi)` says which bins to draw in the alert colour.
template <typename Alert>
std::string svg_histogram(const Histogram& h, const std::string& kind, const std::string& title, double first,
                          double last, const std::string& x_unit, Alert alert) {
  const int bins = static_cast<int>(h.counts.size());
  const int bar = std::max(1, 256 / bins), width = bar * bins;
  const int64_t tallest = std::max<int64_t>(1, *std::max_element(h.counts.begin(), h.counts.end()));
  std::string svg = fmt::format(
      "<svg class=\"hist {}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" shape-rendering=\"crispEdges\" role=\"img\"><title>{}</title>"
      "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f4f4f4\"/>",
      kind, width + 2 * kLeft, kPlotHeight + kTop + 14, width + 2 * kLeft, kPlotHeight + kTop + 14, escape(title),
      kLeft, kTop, width, kPlotHeight);
  for (int i = 0; i < bins; ++i) {
    const int64_t c = h.counts[static_cast<size_t>(i)];
    if (c == 0) continue;
    // Log scale: a ReLU's spike at zero next to a few hundred other values, or one element
    // beyond ±½ LSB next to thousands within, both stay visible.
    const int height = std::max<int>(
        1, static_cast<int>(std::lround(kPlotHeight * std::log1p(static_cast<double>(c)) /
                                         std::log1p(static_cast<double>(tallest)))));
    const double lo = h.lo + i * h.bin_width();
    svg += fmt::format("<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>[{}, {}) {}: {}</title></rect>",
                       kLeft + i * bar, kTop + kPlotHeight - height, bar, height, alert(lo, lo + h.bin_width()) ? kAlert : kBar,
                       number(lo), number(lo + h.bin_width()), escape(x_unit), c);
  }
  std::string beyond;
  if (h.below) beyond += fmt::format(" {} below", h.below);
  if (h.above) beyond += fmt::format(" {} above", h.above);
  svg += fmt::format("<text x=\"{}\" y=\"10\" font-size=\"10\">log scale, max {}{}</text>", kLeft, tallest, beyond);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>", kLeft, kTop + kPlotHeight + 12, number(first));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{} {}</text>", kLeft + width,
                     kTop + kPlotHeight + 12, number(last), escape(x_unit));
  return svg + "</svg>";
}

std::string layer_row(size_t index, const LayerStats& s) {
  const bool seen = s.elements > 0;
  auto reference = [&](int64_t n) {
    if (!s.has_reference) return std::string("<td class=\"na\">—</td>");
    return fmt::format("<td class=\"{}\">{}</td>", n ? "bad" : "ok", n);
  };
  std::string row = fmt::format("<tr class=\"layer\"><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td>{} × {}</td>", index,
                                escape(s.name), s.source.empty() ? "" : "<br><small>" + escape(s.source) + "</small>",
                                escape(s.op), escape(s.storage), escape(s.scale));
  row += fmt::format("<td>{}</td><td>{}</td>", s.shift.empty() ? "—" : escape(s.shift),
                     s.rounding.empty() ? "— (exact)" : escape(s.rounding));
  if (seen)
    row += fmt::format("<td>[{}, {}] of [{}, {}]<br><small>{} of {} bits</small></td>", s.min, s.max, s.qmin, s.qmax,
                       bits_for_range(s.min, s.max, s.qmin < 0), bits_for_range(s.qmin, s.qmax, s.qmin < 0));
  else
    row += "<td class=\"na\">—</td>";
  if (s.acc_elements)
    row += fmt::format("<td>[{}, {}]<br><small>{} of {} bits</small></td>", s.acc_min, s.acc_max,
                       bits_for_range(s.acc_min, s.acc_max, true), s.acc_bits);
  else
    row += "<td class=\"na\">—</td>";
  row += s.has_reference ? fmt::format("<td>{}</td>", s.clipped) : "<td class=\"na\">—</td>";
  row += reference(s.exact_mismatches) + reference(s.float32_mismatches);
  // A bin holding a saturation bound is red, unless the bound is the zero point (a ReLU's floor).
  auto holds = [](double lo, double hi, int64_t v) { return lo <= static_cast<double>(v) && static_cast<double>(v) < hi; };
  row += "<td>" + svg_histogram(s.values, "values", "values of " + s.name, static_cast<double>(s.qmin),
                                static_cast<double>(s.qmax), "", [&](double lo, double hi) {
                                  return (holds(lo, hi, s.clamp_lo) && s.clamp_lo != s.zero_point) ||
                                         (holds(lo, hi, s.clamp_hi) && s.clamp_hi != s.zero_point);
                                }) +
         "</td>";
  row += "<td>";
  if (s.error.total())
    row += svg_histogram(s.error, "error", "integer result − float32 framework before rounding, " + s.name, -kErrorSpan,
                         kErrorSpan, "LSB", [](double lo, double hi) { return std::fabs((lo + hi) / 2) > 0.5; });
  else
    row += "<span class=\"na\">no float32 counterpart</span>";
  return row + "</td></tr>\n";
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}
th{background:#eee;text-align:left}.ok{color:#1a7f37}.bad{color:#cc0000;font-weight:bold}.na{color:#888}
.verdict{font-size:1.2em;padding:.5em 1em;border-radius:4px}.pass{background:#dff5e1}.fail{background:#fbe0e0}
code{font-size:12px;word-break:break-all}small{color:#555;word-break:break-all}table.layers td:nth-child(2){min-width:16em;max-width:22em}table.layers td:nth-child(4),table.layers td:nth-child(7),table.layers td:nth-child(8){white-space:nowrap})";

constexpr const char* kHowToRead = R"(<h2>How to read this report</h2>
<p>Each row is one quantized tensor the integer model computes, in execution order.
<b>shift</b> is the power of two the requantization divides by (per channel where the weights are
per-channel; negative multiplies), <b>rounding</b> the tie rule it applies (the one the QAT toolkit's
fake-quant uses). <b>range used</b> is the smallest and largest integer seen over all data sets next
to what the storage type holds, and the bits that range needs; <b>accumulator</b> the same for the
32-bit sums that were requantized. <b>clipped</b> counts elements whose exact value before rounding lay
outside the storage range (the quantizer saturated them, as in training).</p>
<p><b>≠ exact</b> counts elements where the integer model differs from the QAT forward pass computed in
exact arithmetic: it must be 0, and verify fails otherwise. <b>≠ float32</b> counts elements where it
differs from the QAT forward pass computed the way the framework does, in float32: a few are
possible, because float32 arithmetic can move a value across a rounding boundary (verify's data set
lines name the first such element and its cause).</p>
<p>The <b>values</b> histogram shows the integers over the storage range; red bars sit at a saturation
bound. The <b>error</b> histogram shows the integer result minus the float32 framework's value before
rounding, in LSB: the quantizer's own rounding error lies within ±½ LSB (blue); red bars beyond
±½ are elements the framework rounded or clipped differently.</p>
)";

}  // namespace

std::string render_html(const VerifyReport& r) {
  const bool exact = r.failed == 0;
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qatc verify: {}</title>\n"
      "<style>{}</style></head><body>\n<h1>qatc verify: {}</h1>\n",
      escape(r.model), kStyle, escape(r.model));
  html += fmt::format(
      "<p class=\"verdict {}\">{}: the integer model {} the exact QAT forward pass on {} of {} data sets.</p>\n",
      exact ? "pass" : "fail", exact ? "BIT-EXACT" : "NOT BIT-EXACT", exact ? "equals" : "differs from",
      exact ? r.passed : r.failed, r.passed + r.failed);
  html += fmt::format(
      "<table class=\"summary\"><tr><th>model</th><td>{}</td></tr><tr><th>QAT dialect</th><td>{}</td></tr>"
      "<tr><th>engines</th><td>{}</td></tr><tr><th>passed</th><td>{}</td></tr><tr><th>failed</th><td>{}</td></tr>"
      "</table>\n",
      escape(r.model), escape(r.dialect),
      escape(r.engine == "int-sim" ? "integer simulator" : "integer simulator and generated C for target " + r.target),
      r.passed, r.failed);
  if (r.allow_non_pot)
    html += "<p class=\"bad\">--allow-non-pot: requantization uses Q31 multipliers; exactness is measured, not "
            "guaranteed.</p>\n";

  html += "<h2>Outputs</h2>\n<table class=\"outputs\"><tr><th>engine</th><th>vs</th><th>output</th><th>elements</th>"
          "<th>differ</th><th>max |diff|</th></tr>\n";
  for (const OutputComparison& c : r.comparisons)
    html += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td>"
                        "<td>{} LSB</td></tr>\n",
                        escape(c.a), escape(c.b), escape(c.output), c.elements, c.mismatches ? "bad" : "ok",
                        c.mismatches, c.max_abs_diff_lsb);
  html += "</table>\n<h2>Data sets</h2>\n<ul class=\"data-sets\">\n";
  for (const DataSetLine& d : r.data_sets)
    html += fmt::format("<li class=\"{}\">{}</li>\n", d.bit_exact ? "ok" : "bad", escape(d.text));
  html += "</ul>\n<h2>Layers</h2>\n<table class=\"layers\"><tr><th>#</th><th>tensor<br><small>from</small></th>"
          "<th>op</th><th>storage × scale</th><th>shift</th><th>rounding</th><th>range used</th>"
          "<th>accumulator</th><th>clipped</th><th>≠ exact</th><th>≠ float32</th><th>values</th>"
          "<th>error vs float32</th></tr>\n";
  for (size_t i = 0; i < r.layers.size(); ++i) html += layer_row(i, r.layers[i]);
  return html + "</table>\n" + kHowToRead + "</body></html>\n";
}

}  // namespace qatc::driver
