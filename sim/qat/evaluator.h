// The QAT forward-pass reference evaluator: runs an imported float/fake-quant graph (or the integer
// graph) either as a float32 framework does or exactly, in real-number arithmetic.
#pragma once

#include "ir/graph.h"

#include <functional>
#include <memory>
#include <vector>

namespace qatc::sim {

enum class Arithmetic { float32, exact };

struct QatOptions {
  Arithmetic arithmetic = Arithmetic::exact;
  // float32 mode only: PyTorch's fake-quant multiplies by the float32 reciprocal of the scale
  // (x * (1.0f/scale)); ONNX QuantizeLinear divides (x / scale). Identical for power-of-two scales.
  bool quantize_by_reciprocal = false;
  // Exact mode only: a Conv -> Div -> [Add] -> BatchNormalization chain whose batchnorm folds
  // (conv_bn_pattern.h) runs as what it equals exactly, x + ((b - mean) * c + beta) per channel,
  // and the observer sees no result of its div and add. True runs the chain op by op and reports
  // every result (qatc run --dump). The outputs are the same bits either way.
  bool literal_conv_bn_chains = false;
};

// Called after each op with the op and its result (for dumping intermediates; see
// literal_conv_bn_chains for the ops it may not see). May be empty.
// Float results come as f32 (float32 mode) or f64 (exact mode; values that are not doubles are
// rounded for the dump), integer results in the op's integer dtype.
using QatObserver = std::function<void(const ir::Op&, const ir::TensorData&)>;

// A graph prepared for evaluation with one arithmetic: the values that depend on constants only
// (weights and their fake-quant) are computed once, here, and shared by every run; runs may go on
// several threads at once. `observed`: runs will pass an observer, so the prepared values' results
// are kept for it too.
class QatEvaluator {
 public:
  QatEvaluator(const ir::Graph& g, const QatOptions& options, bool observed);
  // As evaluate_qat below; g must outlive this evaluator.
  std::vector<ir::TensorData> run(const std::vector<ir::TensorData>& inputs, const QatObserver& observer = {}) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Inputs in graph-input order (float inputs as f32 TensorData; shapes must match, else qatc::Error
// naming the input). Returns graph outputs in order: float results as f32 in float32 mode and as f64
// in exact mode (exact mode throws qatc::Error if an output value is not exactly a double); integer
// results in their integer dtype.
std::vector<ir::TensorData> evaluate_qat(const ir::Graph& g, const std::vector<ir::TensorData>& inputs,
                                         const QatOptions& options, const QatObserver& observer = {});

}  // namespace qatc::sim
