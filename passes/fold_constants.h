#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Replaces an op whose operands are all constants by a constant holding its result, computed by the
// exact QAT evaluator on that op alone (so the folded value is what the exact semantics says, not a
// re-derivation). Folds only where the exact result is stored without rounding in the op's result
// type (an f32 result: every element exactly a float32). Never folds a dequantize: the lowering
// wants integer weights behind their dequantize. A quantize of a constant weight becomes an integer
// constant carrying the quantize's result parameters; a data-movement op on a quantized integer
// constant (transpose, reshape, ...) keeps the parameters, the per-axis axis moved with the data.
void fold_constants(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
