// Ops that only move data: Identity, Constant, the reshape family, Transpose, Concat and Pad.
// Flatten, Squeeze and Unsqueeze become reshapes to their static result shape.
#include "frontend/converters.h"
#include "frontend/tensor_proto.h"

#include <algorithm>

namespace qatc::frontend {

namespace {

void emit_reshape(ImportContext& ctx, ir::Value* x, std::vector<int64_t> shape) {
  ctx.emit(ir::OpKind::reshape, {x}, {{"shape", std::move(shape)}});
}

// Axes from the attribute (before opset 13) or the optional operand 1 (from opset 13 on).
std::optional<std::vector<int64_t>> axes_operand_or_attr(ImportContext& ctx) {
  if (ctx.opset() < 13) {
    if (!ctx.attr("axes")) return std::nullopt;
    return ctx.attr_ints("axes", {});
  }
  if (!ctx.has_input(1)) return std::nullopt;
  return ctx.constant_ints(1, "axes");
}

}  // namespace

// Identity of a constant stays a constant, so later nodes can read it (torch exports zero points so).
void convert_identity(ImportContext& ctx) {
  if (const ir::TensorData* c = ctx.constant_input(0)) ctx.bind_constant_output(*c);
  else ctx.alias_output(ctx.input(0));
}

void convert_constant(ImportContext& ctx) {
  const auto& node = ctx.node();
  if (node.attribute_size() != 1) ctx.refuse("needs exactly one value attribute");
  const auto& a = node.attribute(0);
  if (a.name() == "value") {
    ctx.bind_constant_output(tensor_from_proto(a.t()));
  } else if (a.name() == "value_float") {
    float v = a.f();
    ctx.bind_constant_output(ir::TensorData::from<float>({}, std::span<const float>(&v, 1)));
  } else if (a.name() == "value_floats") {
    std::vector<float> v(a.floats().begin(), a.floats().end());
    ctx.bind_constant_output(ir::TensorData::from<float>({static_cast<int64_t>(v.size())}, v));
  } else if (a.name() == "value_int") {
    int64_t v = a.i();
    ctx.bind_constant_output(ir::TensorData::from<int64_t>({}, std::span<const int64_t>(&v, 1)));
  } else if (a.name() == "value_ints") {
    std::vector<int64_t> v(a.ints().begin(), a.ints().end());
    ctx.bind_constant_output(ir::TensorData::from<int64_t>({static_cast<int64_t>(v.size())}, v));
  } else {
    ctx.refuse("attribute '{}' is not supported", a.name());
  }
}

void convert_flatten(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  const ir::Shape& s = x->type.shape;
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -rank || axis > rank) ctx.refuse("axis {} is out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  int64_t outer = ir::num_elements(ir::Shape(s.begin(), s.begin() + axis));
  emit_reshape(ctx, x, {outer, ir::num_elements(s) / std::max<int64_t>(outer, 1)});
}

void convert_reshape(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  std::vector<int64_t> shape = ctx.constant_ints(1, "shape");
  bool allowzero = ctx.attr_int("allowzero", 0) != 0;
  const int64_t total = ir::num_elements(x->type.shape);
  auto refuse_shape = [&] {
    ctx.refuse("cannot reshape [{}] to [{}]", fmt::join(x->type.shape, ","), fmt::join(shape, ","));
  };
  int64_t known = 1;  // never beyond `total`, so the product cannot overflow
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->type.shape.size()) ctx.refuse("shape entry {} copies a dimension the input does not have", i);
      shape[i] = x->type.shape[i];
    }
    if (shape[i] == -1) {
      if (inferred >= 0) ctx.refuse("the shape has more than one -1");
      inferred = static_cast<int>(i);
    } else if (shape[i] < 0) {
      ctx.refuse("shape entry {} is {}", i, shape[i]);
    } else {
      if (shape[i] > 0 && known > total / shape[i]) refuse_shape();
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || total % known != 0) refuse_shape();
    shape[inferred] = total / known;
  }
  emit_reshape(ctx, x, shape);
}

void convert_transpose(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  std::vector<int64_t> reversed(x->type.shape.size());
  for (size_t i = 0; i < reversed.size(); ++i) reversed[i] = static_cast<int64_t>(reversed.size() - 1 - i);
  ctx.emit(ir::OpKind::transpose, {x}, {{"perm", ctx.attr_ints("perm", reversed)}});
}

void convert_squeeze(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  const ir::Shape& s = x->type.shape;
  std::vector<bool> drop(s.size(), false);
  if (auto axes = axes_operand_or_attr(ctx)) {
    for (int64_t a : *axes) {
      int64_t axis = normalize_axis(ctx, a, s.size());
      if (s[axis] != 1) ctx.refuse("cannot squeeze axis {} of size {}", axis, s[axis]);
      drop[axis] = true;
    }
  } else {
    for (size_t i = 0; i < s.size(); ++i) drop[i] = s[i] == 1;
  }
  std::vector<int64_t> shape;
  for (size_t i = 0; i < s.size(); ++i)
    if (!drop[i]) shape.push_back(s[i]);
  emit_reshape(ctx, x, shape);
}

void convert_unsqueeze(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  auto axes = axes_operand_or_attr(ctx);
  if (!axes) ctx.refuse("needs axes");
  size_t rank = x->type.shape.size() + axes->size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : *axes) {
    int64_t axis = normalize_axis(ctx, a, rank);
    if (inserted[axis]) ctx.refuse("axis {} is given twice", axis);
    inserted[axis] = true;
  }
  std::vector<int64_t> shape;
  auto dim = x->type.shape.begin();
  for (size_t i = 0; i < rank; ++i) shape.push_back(inserted[i] ? 1 : *dim++);
  emit_reshape(ctx, x, shape);
}

void convert_concat(ImportContext& ctx) {
  std::vector<ir::Value*> inputs;
  for (int i = 0; i < ctx.node().input_size(); ++i) inputs.push_back(ctx.input(i));
  if (inputs.empty()) ctx.refuse("needs at least one operand");
  if (!ctx.attr("axis")) ctx.refuse("attribute 'axis' is required");
  int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), inputs[0]->type.shape.size());
  ctx.emit(ir::OpKind::concat, inputs, {{"axis", axis}});
}

// Pads and value: attributes before opset 11, operands from 11 on (with optional axes from 18).
void convert_pad(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  size_t rank = x->type.shape.size();
  std::string mode = ctx.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") ctx.refuse("pad mode '{}' is not supported", mode);
  std::vector<int64_t> pads;
  double value = 0;
  if (ctx.opset() < 11) {
    pads = ctx.attr_ints("pads", {});
    value = ctx.attr_float("value", 0.0);
  } else {
    std::vector<int64_t> given = ctx.constant_ints(1, "pads");
    if (ctx.has_input(2)) value = ctx.constant_scalar(2, "constant value");
    std::vector<int64_t> axes(rank);
    for (size_t i = 0; i < rank; ++i) axes[i] = static_cast<int64_t>(i);
    if (ctx.has_input(3)) axes = ctx.constant_ints(3, "axes");
    if (given.size() != 2 * axes.size()) ctx.refuse("pads has {} values for {} axes", given.size(), axes.size());
    pads.assign(2 * rank, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t axis = normalize_axis(ctx, axes[i], rank);
      pads[axis] = given[i];
      pads[axis + rank] = given[i + axes.size()];
    }
  }
  if (pads.size() != 2 * rank) ctx.refuse("pads has {} values, rank {} needs {}", pads.size(), rank, 2 * rank);
  for (size_t i = 0; i < pads.size(); ++i) {
    if (pads[i] < 0) ctx.refuse("negative pads (cropping) are not supported");
    if (mode == "reflect" && pads[i] >= x->type.shape[i % rank])
      ctx.refuse("reflect padding of {} needs a dimension larger than {}", pads[i], pads[i]);
  }
  ctx.emit(ir::OpKind::pad, {x}, {{"pads", pads}, {"mode", mode}, {"value", value}});
}

}  // namespace qatc::frontend
