#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Proves that no integer op of the lowered graph can overflow its result type, whatever the
// input: interval arithmetic from the quantized ranges of the inputs and the actual weights
// (per output channel for conv and matmul, including requantize's bias addition). A conv or matmul
// whose sums need more than 32 bits (16x16-bit products, long reductions) gets a 64-bit
// accumulator, its requantize biases with it. An op whose worst case still does not fit is
// refused naming the layer and channel; nothing ever wraps.
void check_accumulator_ranges(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
