// The bit-exact integer simulator: runs the lowered integer graph (docs/ir.md, "The integer ops of
// the lowered graph") with one simple reference kernel per op kind, the twins of the code generators.
#pragma once

#include "ir/graph.h"

#include <functional>
#include <vector>

namespace qatc::sim {

// Called after each op with the op and its result (in the result's native integer type; f64 for
// dequantize). May be empty.
using IntObserver = std::function<void(const ir::Op&, const ir::TensorData&)>;

// Runs a lowered integer graph. Inputs come in graph-input order with the inputs' exact dtypes and
// shapes (else qatc::Error naming the input). Float inputs (f32) enter through boundary quantize
// ops, which round the real quotient exactly by the op's rule; dequantize results leave as f64
// holding exactly (q - zp) * scale. Any other float op is refused with qatc::Error naming it, and so
// is an integer result that does not fit its dtype ("overflow"): nothing wraps.
std::vector<ir::TensorData> simulate_integer(const ir::Graph& g, const std::vector<ir::TensorData>& inputs,
                                             const IntObserver& observer = {});

}  // namespace qatc::sim
