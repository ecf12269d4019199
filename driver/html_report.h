// qatc verify --html: one self-contained page (inline CSS and SVG; no script, no network) with the
// verdict, the output comparisons, one line per data set and a table of every quantized layer with
// its value and error histograms.
#pragma once

#include "driver/layer_stats.h"

#include <string>
#include <vector>

namespace qatc::driver {

// One comparison pair for one output, totalled over the data sets.
struct OutputComparison {
  std::string a, b, output;
  int64_t elements = 0, mismatches = 0;
  int64_t max_abs_diff_lsb = 0;
};

struct DataSetLine {
  bool bit_exact = false;
  std::string text;  // what verify prints for it
};

struct VerifyReport {
  std::string model, dialect, engine, target;
  bool allow_non_pot = false;
  int passed = 0, failed = 0;
  std::vector<OutputComparison> comparisons;
  std::vector<DataSetLine> data_sets;
  std::vector<LayerStats> layers;
};

std::string render_html(const VerifyReport& report);

}  // namespace qatc::driver
