#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Folds an integer clip into the requantize that produces its operand (the only reader): the
// clip's bounds narrow the requantize's saturation bounds. This is where activations that follow a
// fake-quant end up (PyTorch's residual "add -> Q -> DQ -> ReLU", reduce_range's
// "Q -> Clip(0, 127) -> DQ"). The fused result takes the clip's name: its values are the clipped
// ones, not those of the quantized layer before the activation.
void fuse_saturation(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
