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

// The integer tensor a quantize op's layer ends in: itself, or where torch's reduce_range exports
// clip the quantized integers (QuantizeLinear -> Clip(0, 127)), the clipped tensor, which is all the
// lowered graph holds.
const ir::Value& quantized_layer(const ir::Graph& g, const ir::Op& quantize);
// The reverse: the quantize op whose layer ends in v, or null.
const ir::Op* layer_quantize(const ir::Value& v);

// Compares every quantize result of `qat` (each quantized layer) between traces a and b;
// `a_name`/`b_name` label them in the cause. Values the traces lack are skipped.
LayerComparison compare_layers(const ir::Graph& qat, const Trace& a, const std::string& a_name, const Trace& b,
                               const std::string& b_name);

}  // namespace qatc::driver
