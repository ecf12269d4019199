#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Replaces every fake-quant region "dequantize -> float arithmetic -> quantize" by integer ops:
// conv/matmul on the integers plus requantize, aligned integer add/sub and products, integer
// avgpool, requantize for concat inputs and plain rescales, and a lookup table for a nonlinear
// function of one quantized tensor (passes/lookup_table.h). Afterwards only the boundary ops are float:
// quantize of a graph input and dequantize of a graph output. Refuses (Error naming the op)
// what has no exact integer form, and non-power-of-two scales unless options.allow_non_pot.
void lower_fake_quant(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
