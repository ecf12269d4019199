// What every quantized layer of the lowered graph did over all of verify's data sets: its
// requantization (shift, rounding rule), the range it used of the bits it has, and how its integers
// compare with the QAT forward pass, exactly and in float32. The HTML report shows these.
#pragma once

#include "driver/layer_diff.h"
#include "ir/graph.h"

#include <string>
#include <vector>

namespace qatc::driver {

// Counts of values in equal bins over [lo, hi); values outside land in `below` / `above`.
struct Histogram {
  double lo = 0, hi = 1;
  std::vector<int64_t> counts;
  int64_t below = 0, above = 0;

  Histogram() = default;
  Histogram(double lo, double hi, size_t bins) : lo(lo), hi(hi), counts(bins, 0) {}
  void add(double v);
  double bin_width() const { return (hi - lo) / static_cast<double>(counts.size()); }
  int64_t total() const;
};

struct LayerStats {
  std::string name;    // the quantized tensor
  std::string op;      // the lowered op computing it: "requantize", "avgpool", "quantize", ...
  std::string source;  // the ONNX node it came from, if known
  std::string storage;  // "i8", "u8", "i16"
  int64_t qmin = 0, qmax = 0;  // what the storage holds
  int64_t clamp_lo = 0, clamp_hi = 0;  // what the op saturates to (a fused ReLU narrows it)
  std::string shift;     // "8", "7..9 per channel", "" where the op does not rescale
  std::string rounding;  // "half_even", ..., "" where nothing is rounded
  std::string scale;     // "2^-5"
  int64_t zero_point = 0;

  int64_t elements = 0;  // over all data sets
  int64_t min = 0, max = 0;  // the integers seen
  int64_t clipped = 0;  // elements whose exact value before rounding lay beyond the storage's range
  int acc_bits = 0;     // the width of the accumulator requantized, 0 where there is none
  int64_t acc_elements = 0, acc_min = 0, acc_max = 0;  // the accumulator values seen

  // Against the QAT forward pass (absent where the QAT graph has no such tensor).
  bool has_reference = false;
  int64_t exact_mismatches = 0, float32_mismatches = 0;
  Histogram values;  // the integers, one bin per integer up to 256 bins
  Histogram error;   // integer result minus the float32 framework's value before rounding, in LSB
};

// The error histogram spans ±kErrorSpan LSB in bins of 1/kErrorBinsPerLsb centred on multiples of
// the bin width, so that a tie's error of exactly ±½ sits in the middle of its bin.
constexpr double kErrorSpan = 1.5;
constexpr int kErrorBinsPerLsb = 16;

// Bits a signed or unsigned integer needs to hold every value in [lo, hi].
int bits_for_range(int64_t lo, int64_t hi, bool is_signed);

class LayerStatsCollector {
 public:
  // `lowered` is what runs (its quantized tensors are the rows), `qat` the graph the traces of the
  // QAT forward pass come from.
  LayerStatsCollector(const ir::Graph& lowered, const ir::Graph& qat);
  // One data set's traces: the integer engine's, the exact and the float32 QAT forward passes.
  void add(const Trace& ints, const Trace& exact, const Trace& float32);
  const std::vector<LayerStats>& layers() const { return layers_; }

 private:
  struct Row {
    const ir::Value* value;
    const ir::Op* qat_quantize;     // the QAT quantize computing the same tensor, or
    const ir::Value* qat_on_grid;   // the QAT float tensor these integers are on the grid of
  };
  std::vector<Row> rows_;
  std::vector<LayerStats> layers_;
};

}  // namespace qatc::driver
