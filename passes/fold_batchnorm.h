#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Removes every batchnorm with constant parameters, keeping the exact QAT semantics bit for bit:
//  - PyTorch's fused conv-bn export  x -> div(c) -> [add(b)] -> batchnorm, wherever the exact evaluator
//    reads it so (the sim/qat/conv_bn_pattern.h criterion), becomes  x -> add(K)  with
//    K = (b - mean) * c + beta per channel: the div and the batchnorm's scale cancel exactly;
//  - any other batchnorm becomes  x -> mul(alpha) -> add(beta - mean * alpha), alpha being the
//    float32 value the evaluator multiplies by.
// The offsets are exact: each is a chain of adds of f64 constants [1, C, 1, ...] whose sum is the
// offset (one add where it is a double, at most three). The batchnorm's result keeps its name.
void fold_batchnorm(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
