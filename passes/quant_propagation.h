// How quantization parameters travel through the ops that only move values: reshape, transpose,
// resize, pad, concat, maxpool, and the saturating clip and relu. Every result element of such an op
// is one of its operand elements (or a pad value or clip bound, which the caller must have put on the
// grid), so a quantized integer operand gives a result on the same grid: a per-tensor grid stays as it
// is, and a per-axis grid follows its axis wherever the op keeps each slice of that axis apart.
#pragma once

#include "ir/graph.h"

#include <optional>
#include <vector>

namespace qatc::passes {

// The quantization parameters of `op`'s result when `operands` (quantized integer tensors, of the
// shapes of op's operands) take the place of its operands; nullopt if op is not one of the ops above,
// if the operands are on different grids, or if op mixes the slices of a per-axis grid (a reshape
// that splits or merges the axis, a resize, a pad or concat along it, a maxpool over it).
std::optional<ir::QuantParams> propagated_quant(const ir::Op& op, const std::vector<ir::Value*>& operands);

// Where the slices along `axis` of op's operand (of `shape`) go in its result: the result's axis
// and, in order, the operand slice each of its slices is; nullopt if op mixes the slices.
struct MovedAxis {
  int axis;
  std::vector<int64_t> from;
};
std::optional<MovedAxis> moved_axis(const ir::Op& op, const ir::Shape& shape, int axis);

}  // namespace qatc::passes
