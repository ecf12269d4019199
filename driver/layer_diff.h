// Layer-by-layer comparison of two runs of one model: the first quantized tensor where they
// differ, and why (rounding tie, float32 arithmetic, integer engine).
#pragma once

#include "ir/graph.h"
#include "ir/tensor_data.h"

#include <map>
#include <optional>
#include <string>

namespace qatc::driver {

// Every op result of one run, by value name.
using Trace = std::map<std::string, ir::TensorData>;

struct Divergence {
  std::string layer;    // the quantized tensor (a quantize's result in the QAT graph)
  std::string index;    // "[0,3,1,2]"
  int64_t a = 0, b = 0;  // the two integers
  std::string cause;    // one sentence
};

struct LayerComparison {
  int layers = 0;     // quantized tensors both traces hold
  int differing = 0;  // of those, how many differ somewhere
  std::optional<Divergence> first;  // the first differing one, in `qat`'s op order
};

// Compares every quantize result of `qat` (each quantized layer) between traces a and b;
// `a_name`/`b_name` label them in the cause. Values the traces lack are skipped.
LayerComparison compare_layers(const ir::Graph& qat, const Trace& a, const std::string& a_name, const Trace& b,
                               const std::string& b_name);

}  // namespace qatc::driver
