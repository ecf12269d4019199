// Sony MCT's MCTQ export: the `mct_quantizers` domain's fake-quant ops (REFERENCE.md 1.3). Each
// becomes quantize (round half to even, as torch.round) + dequantize with the quantizer's grid:
//   symmetric/POT, signed:   scale = t / 2^(n-1), range [-t, t - scale]  (q in [-2^(n-1), 2^(n-1) - 1])
//   symmetric/POT, unsigned: scale = t / 2^n,     range [0, t - scale]   (q in [0, 2^n - 1])
//   uniform: s = (max - min) / (2^n - 1), min' = s · round(min / s): q = round((x - min') / s) in [0, 2^n - 1]
//   (weights: per channel, after MCT's fix_range_to_include_zero; see emit_uniform_weights)
// Clipping to the range first and rounding after is the same as rounding and clamping the integer:
// the range ends are grid points, and a value between the last point and half a step beyond it
// rounds back onto it either way (at the exact half, to the even neighbour, which clamps back).
#include "frontend/converters.h"
#include "frontend/quant_operands.h"

#include <cmath>

namespace qatc::frontend {

namespace {

// The num_bits attribute, checked before any arithmetic uses it as a shift.
int64_t num_bits(ImportContext& ctx) {
  const int64_t bits = ctx.attr_int("num_bits", 8);
  if (bits < 2 || bits > 16) ctx.refuse("num_bits {} is outside the supported 2..16", bits);
  return bits;
}

// Storage for an n-bit integer (2..16): the smallest of int8/uint8/int16/uint16 that holds it.
ir::DType storage_for(int64_t bits, bool is_signed) {
  if (bits <= 8) return is_signed ? ir::DType::i8 : ir::DType::u8;
  return is_signed ? ir::DType::i16 : ir::DType::u16;
}

void check_threshold(ImportContext& ctx, double t, bool power_of_two) {
  if (!(t > 0) || !std::isfinite(t)) ctx.refuse("threshold {} is not a positive finite number", t);
  int exponent = 0;
  if (power_of_two && std::frexp(t, &exponent) != 0.5) ctx.refuse("threshold {} of a POT quantizer is not a power of two", t);
}

// quantize + dequantize with `q`; the dequantized value takes the node's output name.
void emit_fake_quant(ImportContext& ctx, ir::Value* x, ir::DType storage, const ir::QuantParams& q) {
  ir::Value* quantized = ctx.emit(ir::OpKind::quantize, {x}, {{"round", std::string("half_even")}}, "q",
                                  ir::TensorType{storage, {}, q});
  emit_dequantize(ctx, quantized, q, "");
}

ir::QuantParams symmetric_params(int64_t bits, bool is_signed) {
  ir::QuantParams q;
  q.bits = static_cast<int>(bits);
  q.is_signed = is_signed;
  return q;
}

// MCT's WeightsUniformQuantizer (quantize_uniform_weights_torch), in float32 as MCT computes it:
// each channel's range moves to include 0 (fix_range_to_include_zero: [0, max] if min > 0,
// [min, 0] if max < 0, else min' = s · round(min / s) with s = (max - min) / (2^n - 1) and
// max' = max - min + min'), Δ = (max' - min') / (2^n - 1), and w becomes round(clip(w) / Δ) · Δ:
// unsigned n bits with zero point -round(min' / Δ).
void emit_uniform_weights(ImportContext& ctx, ir::Value* w, int64_t bits, ir::QuantParams q) {
  const ir::DType storage = storage_for(bits, false);
  const ir::TensorData& lo = ctx.require_constant(1, "min_range");
  const ir::TensorData& hi = ctx.require_constant(2, "max_range");
  const size_t channels = q.per_axis() ? static_cast<size_t>(w->type.shape[q.axis]) : 1;
  if (static_cast<size_t>(lo.size()) != channels || static_cast<size_t>(hi.size()) != channels)
    ctx.refuse("{} and {} range bounds for {} channel(s)", lo.size(), hi.size(), channels);
  const float levels = static_cast<float>((int64_t{1} << bits) - 1);
  for (size_t c = 0; c < channels; ++c) {
    const auto min = static_cast<float>(lo.float_at(static_cast<int64_t>(c)));
    const auto max = static_cast<float>(hi.float_at(static_cast<int64_t>(c)));
    if (!(min < max) || !std::isfinite(min) || !std::isfinite(max))
      ctx.refuse("range [{}, {}] of channel {} is empty or not finite", min, max, c);
    float a = 0, b = max;
    if (max < 0) {
      a = min;
      b = 0;
    } else if (min <= 0) {
      const float s = (max - min) / levels;
      a = s * std::nearbyint(min / s);
      b = max - min + a;
    }
    const float step = (b - a) / levels;
    q.scales.push_back(step);
    q.zero_points.push_back(static_cast<int64_t>(-std::nearbyint(a / step)));
  }
  emit_fake_quant(ctx, w, storage, q);
}

}  // namespace

void convert_mct_activation_quantizer(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  if (x->type.dtype != ir::DType::f32) ctx.refuse("quantizes float32 tensors; '{}' is {}", x->name, ir::dtype_name(x->type.dtype));
  const int64_t bits = num_bits(ctx);
  const std::string& op = ctx.node().op_type();
  if (op == "ActivationUniformQuantizer") {
    // float32 arithmetic, as MCT computes the grid.
    const auto lo = static_cast<float>(ctx.attr_float("min_range", 0)), hi = static_cast<float>(ctx.attr_float("max_range", 0));
    if (!(lo <= 0 && 0 <= hi && lo < hi)) ctx.refuse("range [{}, {}] must contain 0 and not be empty", lo, hi);
    const float step = (hi - lo) / static_cast<float>((int64_t{1} << bits) - 1);
    const auto zero_point = static_cast<int64_t>(-std::nearbyint(lo / step));
    ir::QuantParams q = symmetric_params(bits, false);
    q.scales = {step};
    q.zero_points = {zero_point};
    return emit_fake_quant(ctx, x, storage_for(bits, false), q);
  }
  const double t = ctx.attr_float("threshold", 0);
  check_threshold(ctx, t, op == "ActivationPOTQuantizer");
  const bool is_signed = ctx.attr_int("signed", 1) != 0;
  ir::QuantParams q = symmetric_params(bits, is_signed);
  q.scales = {std::ldexp(t, -static_cast<int>(is_signed ? bits - 1 : bits))};
  q.zero_points = {0};
  emit_fake_quant(ctx, x, storage_for(bits, is_signed), q);
}

void convert_mct_weights_quantizer(ImportContext& ctx) {
  ir::Value* w = ctx.input(0);
  if (!w->is_constant()) ctx.refuse("quantizes constant weights; '{}' is computed at run time", w->name);
  const int64_t bits = num_bits(ctx);
  const bool uniform = ctx.node().op_type() == "WeightsUniformQuantizer";
  ir::QuantParams q = symmetric_params(bits, !uniform);
  if (ctx.attr_int("per_channel", 0) != 0)
    q.axis = static_cast<int>(normalize_axis(ctx, ctx.attr_int("channel_axis", 0), w->type.shape.size()));
  if (uniform) return emit_uniform_weights(ctx, w, bits, q);
  const ir::TensorData& threshold = ctx.require_constant(1, "threshold");
  if (ctx.attr_int("signed", 1) == 0) ctx.refuse("unsigned weight quantizers are not supported");
  if (q.per_axis()) {
    if (threshold.size() != w->type.shape[q.axis])
      ctx.refuse("{} thresholds for axis {} of size {}", threshold.size(), q.axis, w->type.shape[q.axis]);
  } else if (threshold.size() != 1) {
    ctx.refuse("a per-tensor quantizer with {} thresholds", threshold.size());
  }
  for (int64_t i = 0; i < threshold.size(); ++i) {
    const double t = threshold.float_at(i);
    check_threshold(ctx, t, ctx.node().op_type() == "WeightsPOTQuantizer");
    q.scales.push_back(std::ldexp(t, -static_cast<int>(bits - 1)));
    q.zero_points.push_back(0);
  }
  emit_fake_quant(ctx, w, storage_for(bits, true), q);
}

}  // namespace qatc::frontend
