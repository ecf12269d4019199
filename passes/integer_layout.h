#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Moves the ops that only move or saturate values from the dequantized floats onto the quantized
// integers, exactly:  op(dequantize(q)) -> dequantize(op'(q)), for reshape, transpose, resize,
// maxpool, pad, concat (operands on one grid), relu (an integer clip at the zero point) and clip
// (bounds exactly on the grid). A quantize of a dequantize with the same type and parameters is the
// identity and goes. A reshape, transpose or slice between a computed float and its per-tensor
// quantize moves below it: quantize(m(t)) -> m(quantize(t)). Runs to a fixed point, so chains
// (dequantize -> reshape -> transpose) move whole.
// A dequantize with other readers stays for them: the moved op gets its own (duplicated) dequantize.
void integer_layout(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
