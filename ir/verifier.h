// Structural and type checks of a graph. Throws Error naming the first offending op or value.
#pragma once

#include "ir/graph.h"

namespace qatc::ir {

void verify(const Graph& graph);

// The resource limits alone (ir/limits.h): the op count and every tensor's bytes. A pass that
// widens tensors (8-bit to i32, i32 accumulators to i64) can push a graph past them, which is a
// refusal of the model, not a malformed graph.
void check_limits(const Graph& graph);

// A value's type: dimensions of at least 1 (an empty tensor means nothing in a QAT model and no pass
// or kernel handles one), within the limits, with consistent quant params; `what` names the value.
void verify_type(const TensorType& type, const std::string& what);

// Quant params must be self-consistent and fit the value's type; `what` names the value.
void verify_quant(const QuantParams& q, const TensorType& type, const std::string& what);

}  // namespace qatc::ir
