#include "passes/quant_propagation.h"

namespace qatc::passes {

namespace {

// The axis of `to` that holds exactly the slices of axis `axis` of `from` in a row-major reshape:
// the same size, after the same number of elements. Unique unless the axis has size 1.
std::optional<int> reshaped_axis(const ir::Shape& from, const ir::Shape& to, int axis) {
  int64_t before = 1;
  for (int d = 0; d < axis; ++d) before *= from[d];
  std::optional<int> found;
  int64_t prefix = 1;
  for (size_t d = 0; d < to.size(); ++d) {
    if (prefix == before && to[d] == from[axis]) {
      if (found) return std::nullopt;
      found = static_cast<int>(d);
    }
    prefix *= to[d];
  }
  return found;
}

}  // namespace

std::optional<ir::QuantParams> propagated_quant(const ir::Op& op, const std::vector<ir::Value*>& operands) {
  using K = ir::OpKind;
  for (const ir::Value* v : operands)
    if (!v->type.quant || v->type.quant != operands[0]->type.quant) return std::nullopt;
  ir::QuantParams q = *operands[0]->type.quant;
  if (!q.per_axis()) {
    switch (op.kind) {
      case K::reshape: case K::transpose: case K::resize: case K::pad: case K::concat: case K::maxpool:
      case K::slice: case K::clip: case K::relu: return q;
      default: return std::nullopt;
    }
  }
  const ir::Shape& shape = operands[0]->type.shape;
  switch (op.kind) {
    case K::reshape:
      if (auto axis = reshaped_axis(shape, op.get_ints("shape"), q.axis)) {
        q.axis = *axis;
        return q;
      }
      return std::nullopt;
    case K::transpose: {
      const auto& perm = op.get_ints("perm");
      for (size_t d = 0; d < perm.size(); ++d)
        if (perm[d] == q.axis) {
          q.axis = static_cast<int>(d);
          return q;
        }
      return std::nullopt;
    }
    case K::pad: {
      const auto& pads = op.get_ints("pads");
      if (pads[q.axis] != 0 || pads[q.axis + shape.size()] != 0) return std::nullopt;
      return q;
    }
    case K::concat:
      if (op.get_int("axis") == q.axis) return std::nullopt;
      return q;
    case K::maxpool:  // windows slide over the spatial axes, 2 and up; batch and channel slices stay apart
      if (q.axis > 1) return std::nullopt;
      return q;
    case K::slice: {  // the selected slices keep their parameters
      const auto &starts = op.get_ints("starts"), &steps = op.get_ints("steps"), &sizes = op.get_ints("shape");
      ir::QuantParams sliced = q;
      sliced.scales.clear();
      sliced.zero_points.clear();
      for (int64_t i = 0; i < sizes[q.axis]; ++i) {
        const size_t from = static_cast<size_t>(starts[q.axis] + i * steps[q.axis]);
        sliced.scales.push_back(q.scales[from]);
        sliced.zero_points.push_back(q.zero_points[from]);
      }
      return sliced;
    }
    case K::clip:
    case K::relu: return q;
    default: return std::nullopt;  // resize: its index map along the axis is not worth modelling
  }
}

}  // namespace qatc::passes
