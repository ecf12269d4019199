// TI edgeai-torchmodelopt v1 (QuantTrainModule, PACT2): the export is a float graph whose
// quantization points are power-of-two Clips; TI's QAT quantization is re-derived here on the IR
// (REFERENCE.md 1.4), so that the graph then holds explicit fake-quant like any other dialect:
//   - each Clip [0, c] or [-c, c] (c a power of two) becomes quantize + dequantize with step
//     c / 2^8 (unsigned) or c / 2^7 (signed), rounding half up (PACT2's floor(x·scale + 0.5));
//   - each conv/matmul weight is quantized per tensor on the grid ceil2(max|w|) / 128, rounding
//     half away from zero (TI's round_sym), clamped to [-128, 127];
//   - each bias is first put on its own 8-bit power-of-two grid, then on the joint grid
//     J = input_scale · weight_scale with TI's 15-bit saturation rule (part · qmax / J).
#pragma once

#include "ir/graph.h"

namespace qatc::frontend {

// Whether a float graph looks like a PACT2 export: every graph input is read by a Clip with
// power-of-two bounds, and it has a conv or matmul.
bool looks_like_ti_pact2(const ir::Graph& g);

// Applies TI's quantization; throws Error naming the node for a Clip whose bounds are not a
// power-of-two range.
void apply_ti_pact2(ir::Graph& g);

}  // namespace qatc::frontend
