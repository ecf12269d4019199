#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Weights that arrive already fake-quantized as plain floats (Sony MCT's FAKELY_QUANT export: no
// quantizer node, the initializer holds q · s) become integer constants behind a dequantize again,
// so the lowering treats them like any quantized weight. For each output channel (a conv's axis 0,
// a matmul's last axis) the grid is the coarsest power of two on which every value is an integer;
// the values must then fit int8. This is exact: the dequantized constant equals the float one bit
// for bit. Only weights of a product whose activation operand is quantized are considered; one
// that is on no 8-bit power-of-two grid is refused, naming the tensor, channel and value.
void recover_weight_grids(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
