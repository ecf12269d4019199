// Sliding-window ops: Conv, MaxPool, AveragePool and their global forms. auto_pad is resolved here
// into explicit pads, so the IR always carries kernel, strides, pads and dilations.
#include "frontend/converters.h"
#include "frontend/window_attrs.h"

#include <algorithm>

namespace qatc::frontend {

namespace {

// strides/pads/dilations of a node over the spatial dims of `x`, with auto_pad applied.
Attrs window_attrs(ImportContext& ctx, const ir::Shape& x, const std::vector<int64_t>& kernel) {
  if (x.size() < 3) ctx.refuse("the input needs rank >= 3 (N, C, spatial...), has rank {}", x.size());
  size_t n = x.size() - 2;
  if (kernel.size() != n) ctx.refuse("kernel has {} dimensions, the input has {} spatial ones", kernel.size(), n);
  auto strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  auto dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  auto pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (strides.size() != n || dilations.size() != n || pads.size() != 2 * n)
    ctx.refuse("strides, dilations and pads must have {}, {} and {} values", n, n, 2 * n);
  for (size_t i = 0; i < n; ++i)
    if (strides[i] < 1 || dilations[i] < 1 || kernel[i] < 1) ctx.refuse("kernel, strides and dilations must be >= 1");
  std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < n; ++i) {
      int64_t in = x[i + 2], out = (in + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in);
      // SAME_UPPER puts the odd extra pad at the end, SAME_LOWER at the beginning.
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      pads[i + n] = total - pads[i];
    }
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  } else if (auto_pad != "NOTSET") {
    ctx.refuse("auto_pad '{}' is not supported", auto_pad);
  }
  for (int64_t p : pads)
    if (p < 0) ctx.refuse("negative pads are not supported");
  return {{"strides", strides}, {"pads", pads}, {"dilations", dilations}};
}

}  // namespace

Attrs conv_attrs(ImportContext& ctx, const ir::Value& x, const ir::Value& w) {
  const ir::Shape& ws = w.type.shape;
  if (ws.size() < 3) ctx.refuse("the weight '{}' needs rank >= 3, has rank {}", w.name, ws.size());
  std::vector<int64_t> kernel(ws.begin() + 2, ws.end());
  if (ctx.attr("kernel_shape") && ctx.attr_ints("kernel_shape", {}) != kernel)
    ctx.refuse("kernel_shape does not match the weight '{}'", w.name);
  Attrs attrs = window_attrs(ctx, x.type.shape, kernel);
  attrs["group"] = ctx.attr_int("group", 1);
  return attrs;
}

namespace {

std::vector<int64_t> required_kernel(ImportContext& ctx) {
  if (!ctx.attr("kernel_shape")) ctx.refuse("attribute 'kernel_shape' is required");
  return ctx.attr_ints("kernel_shape", {});
}

// A ceil-mode window that would start past the input, in the end padding, holds no input element:
// qatc drops it, as PyTorch does, where ONNX 1.12's shape inference keeps it. A model declaring the
// kept window's shape is refused here, at the pool; otherwise the difference is noted for any later
// shape mismatch it may cause.
void check_ceil_windows(ImportContext& ctx, const ir::Shape& x, const Attrs& a) {
  const auto& kernel = std::get<std::vector<int64_t>>(a.at("kernel_shape"));
  const auto& strides = std::get<std::vector<int64_t>>(a.at("strides"));
  const auto& pads = std::get<std::vector<int64_t>>(a.at("pads"));
  const auto& dilations = std::get<std::vector<int64_t>>(a.at("dilations"));
  const size_t n = kernel.size();
  for (size_t i = 0; i < n; ++i) {
    if (!ir::ceil_window_dropped(x[i + 2], kernel[i], strides[i], pads[i], pads[i + n], dilations[i])) continue;
    const int64_t out = ir::window_output_size(x[i + 2], kernel[i], strides[i], pads[i], pads[i + n], dilations[i], true);
    const std::string rule = fmt::format(
        "with ceil_mode, its last window along spatial axis {} would start past the input, in the end padding: qatc "
        "drops it as PyTorch does ({} windows), where ONNX 1.12's shape inference keeps it ({})",
        i, out, out + 1);
    if (auto declared = ctx.declared_shape(ctx.node().output(0));
        declared && declared->size() == x.size() && (*declared)[i + 2] == out + 1)
      ctx.refuse("{}, as the model's declared shape [{}] does; that window holds no input element", rule,
                 fmt::join(*declared, ","));
    ctx.add_shape_note(ctx.describe_node() + ": " + rule);
  }
}

Attrs pool_attrs(ImportContext& ctx, const ir::Shape& x, const std::vector<int64_t>& kernel) {
  Attrs a = window_attrs(ctx, x, kernel);
  a["kernel_shape"] = kernel;
  a["ceil_mode"] = ctx.attr_int("ceil_mode", 0) != 0 ? int64_t{1} : int64_t{0};
  if (std::get<int64_t>(a["ceil_mode"])) check_ceil_windows(ctx, x, a);
  return a;
}

// Global pooling: one window covering all spatial positions.
Attrs global_pool_attrs(ImportContext& ctx, const ir::Shape& x) {
  if (x.size() < 3) ctx.refuse("the input needs rank >= 3 (N, C, spatial...), has rank {}", x.size());
  size_t n = x.size() - 2;
  return {{"kernel_shape", std::vector<int64_t>(x.begin() + 2, x.end())},
          {"strides", std::vector<int64_t>(n, 1)},
          {"pads", std::vector<int64_t>(2 * n, 0)},
          {"dilations", std::vector<int64_t>(n, 1)},
          {"ceil_mode", int64_t{0}}};
}

}  // namespace

void convert_conv(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  ir::Value* w = ctx.input(1);
  std::vector<ir::Value*> inputs{x, w};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.emit(ir::OpKind::conv, inputs, conv_attrs(ctx, *x, *w));
}

void convert_max_pool(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  ctx.emit(ir::OpKind::maxpool, {x}, pool_attrs(ctx, x->type.shape, required_kernel(ctx)));
}

void convert_average_pool(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  Attrs attrs = pool_attrs(ctx, x->type.shape, required_kernel(ctx));
  attrs["count_include_pad"] = ctx.attr_int("count_include_pad", 0) != 0 ? int64_t{1} : int64_t{0};
  ctx.emit(ir::OpKind::avgpool, {x}, attrs);
}

void convert_global_average_pool(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  Attrs attrs = global_pool_attrs(ctx, x->type.shape);
  attrs["count_include_pad"] = int64_t{0};
  ctx.emit(ir::OpKind::avgpool, {x}, attrs);
}

// The mean over every spatial axis (torch's `x.mean([2, 3])`, ShuffleNetV2's global pool) is a
// global average pool, followed by a reshape where the reduced axes are dropped.
void convert_reduce_mean(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  const ir::Shape& s = x->type.shape;
  std::vector<int64_t> axes = ctx.opset() < 18 ? ctx.attr_ints("axes", {}) : ctx.has_input(1) ? ctx.constant_ints(1, "axes")
                                                                                                : std::vector<int64_t>{};
  for (int64_t& a : axes) a = normalize_axis(ctx, a, s.size());
  std::sort(axes.begin(), axes.end());
  std::vector<int64_t> spatial;
  for (size_t d = 2; d < s.size(); ++d) spatial.push_back(static_cast<int64_t>(d));
  if (s.size() < 3 || axes != spatial)
    ctx.refuse("only a mean over all spatial axes (2 and up, a global average pool) is supported, not over axes [{}]",
               fmt::join(axes, ","));
  Attrs attrs = global_pool_attrs(ctx, s);
  attrs["count_include_pad"] = int64_t{0};
  if (ctx.attr_int("keepdims", 1) != 0) {
    ctx.emit(ir::OpKind::avgpool, {x}, attrs);
    return;
  }
  ir::Value* mean = ctx.emit(ir::OpKind::avgpool, {x}, attrs, "mean");
  ctx.emit(ir::OpKind::reshape, {mean}, {{"shape", std::vector<int64_t>{s[0], s[1]}}});
}

void convert_global_max_pool(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  ctx.emit(ir::OpKind::maxpool, {x}, global_pool_attrs(ctx, x->type.shape));
}

}  // namespace qatc::frontend
