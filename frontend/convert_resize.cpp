// Resize and Upsample, nearest neighbour only (the other modes interpolate, which has no exact
// integer form on a quantization grid). The IR gets static output sizes plus the scales the
// coordinate transformation uses.
#include "frontend/converters.h"

#include <cmath>

namespace qatc::frontend {

namespace {

// ONNX: output size = floor(input size * scale).
void emit_resize(ImportContext& ctx, ir::Value* x, std::vector<double> scales, std::vector<int64_t> sizes,
                 const std::string& coordinate_mode, const std::string& nearest_mode) {
  const ir::Shape& s = x->type.shape;
  if (sizes.empty()) {
    if (scales.size() != s.size()) ctx.refuse("{} scales for rank {}", scales.size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (!(scales[i] > 0) || !std::isfinite(scales[i])) ctx.refuse("scale {} is not positive", scales[i]);
      const double size = std::floor(static_cast<double>(s[i]) * scales[i]);
      // Converted only when it fits (an oversized result is refused by the tensor limits).
      if (size >= 0x1p62) ctx.refuse("scale {} makes dimension {} of size {} too large", scales[i], i, s[i]);
      sizes.push_back(static_cast<int64_t>(size));
    }
  } else {
    if (sizes.size() != s.size()) ctx.refuse("{} sizes for rank {}", sizes.size(), s.size());
    scales.clear();
    for (size_t i = 0; i < s.size(); ++i) scales.push_back(static_cast<double>(sizes[i]) / static_cast<double>(s[i]));
  }
  ctx.emit(ir::OpKind::resize, {x},
           {{"sizes", sizes},
            {"scales", scales},
            {"coordinate_transformation_mode", coordinate_mode},
            {"nearest_mode", nearest_mode}});
}

std::vector<double> float_values(const ir::TensorData& d) {
  std::vector<double> v(d.size());
  for (int64_t i = 0; i < d.size(); ++i) v[i] = d.float_at(i);
  return v;
}

void require_nearest(ImportContext& ctx) {
  std::string mode = ctx.attr_string("mode", "nearest");
  if (mode != "nearest") ctx.refuse("mode '{}' is not supported (nearest only)", mode);
}

}  // namespace

void convert_resize(ImportContext& ctx) {
  require_nearest(ctx);
  ir::Value* x = ctx.input(0);
  if (ctx.opset() < 11) {  // Resize-10 is Upsample-9 under a new name
    emit_resize(ctx, x, float_values(ctx.require_constant(1, "scales")), {}, "asymmetric", "floor");
    return;
  }
  std::string coordinate_mode = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  static const std::vector<std::string> kModes{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                               "tf_half_pixel_for_nn"};
  if (std::find(kModes.begin(), kModes.end(), coordinate_mode) == kModes.end())
    ctx.refuse("coordinate_transformation_mode '{}' is not supported", coordinate_mode);
  std::string nearest_mode = ctx.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest_mode != "round_prefer_floor" && nearest_mode != "round_prefer_ceil" && nearest_mode != "floor" &&
      nearest_mode != "ceil")
    ctx.refuse("nearest_mode '{}' is not supported", nearest_mode);
  if (ctx.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
    ctx.refuse("keep_aspect_ratio_policy other than 'stretch' is not supported");
  const ir::TensorData* scales = ctx.constant_input(2);
  if (ctx.has_input(2) && !scales) ctx.refuse("the scales '{}' must be a constant", ctx.node().input(2));
  std::vector<double> scale_values = scales ? float_values(*scales) : std::vector<double>{};
  std::vector<int64_t> sizes = ctx.has_input(3) ? ctx.constant_ints(3, "sizes") : std::vector<int64_t>{};
  if (scale_values.empty() == sizes.empty()) ctx.refuse("needs exactly one of scales and sizes");
  // Opset 18 `axes`: scales/sizes given for some axes only; the others keep their size.
  if (ctx.attr("axes")) {
    size_t rank = x->type.shape.size();
    auto axes = ctx.attr_ints("axes", {});
    if (axes.size() != std::max(scale_values.size(), sizes.size()))
      ctx.refuse("{} axes for {} scales/sizes", axes.size(), std::max(scale_values.size(), sizes.size()));
    std::vector<double> full_scales(rank, 1.0);
    std::vector<int64_t> full_sizes(x->type.shape);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t axis = normalize_axis(ctx, axes[i], rank);
      if (!scale_values.empty()) full_scales[axis] = scale_values[i];
      else full_sizes[axis] = sizes[i];
    }
    if (!scale_values.empty()) scale_values = full_scales;
    else sizes = full_sizes;
  }
  emit_resize(ctx, x, scale_values, sizes, coordinate_mode, nearest_mode);
}

void convert_upsample(ImportContext& ctx) {
  require_nearest(ctx);
  std::vector<double> scales =
      ctx.opset() < 9 ? ctx.attr_floats("scales") : float_values(ctx.require_constant(1, "scales"));
  emit_resize(ctx, ctx.input(0), scales, {}, "asymmetric", "floor");
}

}  // namespace qatc::frontend
