// A fake-quant region that computes, element by element, a function of one quantized tensor that
// no integer grid holds (sigmoid, tanh, erf, exp, elu, leaky_relu, or a product of two values both
// computed from that tensor: HardSwish as x · hardsigmoid(x), SiLU as x · sigmoid(x), GELU as
// x · (1 + erf(x/√2)) / 2) becomes one integer lookup: an 8-bit (16-bit) input has only 256
// (65,536) codes, so the region is evaluated on every code by the QAT reference evaluator in exact
// arithmetic and its results become the table. The integer model then equals the exact QAT forward
// pass by construction, whatever the formula.
#pragma once

#include "ir/graph.h"

#include <optional>
#include <vector>

namespace qatc::passes {

struct TableRegion {
  ir::Value* input = nullptr;       // the quantized tensor every dequantize in the region reads
  std::vector<const ir::Op*> ops;   // dequantizes and float ops, in topological order
};

// The region ending at `quantize` if it is elementwise in one quantized tensor and needs a table;
// an affine region keeps its requantize unless `affine_too` (for one whose integer form was refused:
// a slope of 0.2 has no exact shift, but a table of it is exact). Refuses (Error naming the op) a
// table region with a per-channel grid or constant, or a 32-bit input.
std::optional<TableRegion> table_region(const ir::Op& quantize, bool affine_too = false);

// lut(input, table) with `quantize`'s result type, named `name`; Error naming `quantize` and the
// input code when the region's value at some code has no correctly rounded code (not finite, or
// undecidable).
ir::Value* emit_lookup_table(ir::Graph& g, const TableRegion& region, const ir::Op& quantize, const std::string& name);

}  // namespace qatc::passes
