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
  const auto moved = moved_axis(op, operands[0]->type.shape, q.axis);
  if (!moved) return std::nullopt;
  ir::QuantParams out = q;
  out.axis = moved->axis;
  out.scales.clear();
  out.zero_points.clear();
  for (int64_t from : moved->from) {  // the selected slices keep their parameters
    out.scales.push_back(q.scales[static_cast<size_t>(from)]);
    out.zero_points.push_back(q.zero_points[static_cast<size_t>(from)]);
  }
  return out;
}

std::optional<MovedAxis> moved_axis(const ir::Op& op, const ir::Shape& shape, int axis) {
  using K = ir::OpKind;
  std::vector<int64_t> all(static_cast<size_t>(shape[axis]));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  switch (op.kind) {
    case K::reshape:
      if (auto to = reshaped_axis(shape, op.get_ints("shape"), axis)) return MovedAxis{*to, all};
      return std::nullopt;
    case K::transpose: {
      const auto& perm = op.get_ints("perm");
      for (size_t d = 0; d < perm.size(); ++d)
        if (perm[d] == axis) return MovedAxis{static_cast<int>(d), all};
      return std::nullopt;
    }
    case K::pad: {
      const auto& pads = op.get_ints("pads");
      if (pads[axis] != 0 || pads[axis + shape.size()] != 0) return std::nullopt;
      return MovedAxis{axis, all};
    }
    case K::concat:
      if (op.get_int("axis") == axis) return std::nullopt;
      return MovedAxis{axis, all};
    case K::maxpool:  // windows slide over the spatial axes, 2 and up; batch and channel slices stay apart
      if (axis > 1) return std::nullopt;
      return MovedAxis{axis, all};
    case K::slice: {
      const auto &starts = op.get_ints("starts"), &steps = op.get_ints("steps"), &sizes = op.get_ints("shape");
      std::vector<int64_t> from;
      for (int64_t i = 0; i < sizes[axis]; ++i) from.push_back(starts[axis] + i * steps[axis]);
      return MovedAxis{axis, from};
    }
    case K::clip:
    case K::relu: return MovedAxis{axis, all};
    default: return std::nullopt;  // resize: its index map along the axis is not worth modelling
  }
}

}  // namespace qatc::passes
