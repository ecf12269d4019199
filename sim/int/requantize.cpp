// requantize: clamp(R(v) + zp, min, max) with, per channel c along `axis` (docs/ir.md):
//   v = (acc + bias_c + φ_c) / 2^n          for n = shift_c >= 1
//   v = acc · 2^-n + bias_c + φ_c           for n <= 0
//   v = (acc + bias_c) · M_c / 2^(31 + n)   with a multiplier (φ = 0)
// and, with a divisor D, the first two divided by D as well (an average's count).
// Each case is brought to "an integer plus φ, shifted right by s >= 0", whose floor and fraction
// class are exact integer facts; the shared rounding rules (sim/qat/rounding.h) take it from there.
#include "sim/int/int_types.h"
#include "sim/int/kernels.h"
#include "sim/qat/rounding.h"

#include <algorithm>

namespace qatc::sim::integer {

namespace {

// φ ∈ [0, 1), known by class: 0 (φ = 0), 1 (0 < φ < ½), 2 (φ = ½), 3 (½ < φ < 1).
Fraction fraction_of_class(int64_t phi_class) {
  static constexpr Fraction kClasses[4] = {{-1, false}, {-1, true}, {0, true}, {1, true}};
  return kClasses[phi_class];
}

// Shifts beyond these change no result, and keep every intermediate inside 127 bits: a numerator
// below 2^119 shifted right by 120 or more has floor 0 or -1 and the same fraction class whatever the
// shift; a nonzero value shifted left by 64 (or a Q31 product by 31) is beyond every 32-bit range
// and saturates as it would have anyway.
constexpr int64_t kMaxRightShift = 120;
constexpr int64_t kMaxLeftShift = 64;
constexpr int64_t kMaxMultiplierLeftShift = 31;

// floor((numerator + φ) / 2^shift) and the fraction above it, for shift >= 0.
Floored shift_right(i128 numerator, int64_t shift, int64_t phi_class) {
  if (shift == 0) return {numerator, fraction_of_class(phi_class)};
  shift = std::min(shift, kMaxRightShift);
  const i128 floor = numerator >> shift;  // arithmetic: rounds towards -infinity
  const i128 rem = numerator - (floor << shift), half = i128{1} << (shift - 1);
  // rem + φ < rem + 1, so φ only matters at rem == half, where any φ > 0 lifts it above one half.
  const bool sticky = phi_class != 0;
  return {floor, {rem < half ? -1 : rem > half || sticky ? 1 : 0, rem != 0 || sticky}};
}

i128 shift_left(i128 v, int64_t shift, int64_t max_shift) { return v * (i128{1} << std::min(shift, max_shift)); }

// One channel's parameters.
struct Channel {
  int64_t shift = 0, bias = 0, phi_class = 0, multiplier = 0;  // multiplier 0: none
  int64_t divisor = 1;
};

// An attribute list has one entry for all channels, or one per channel.
int64_t entry(const ir::Op& op, const std::string& attr, int64_t c) {
  const auto& v = op.get_ints(attr);
  return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)];
}

std::vector<Channel> channels_of(const ir::Op& op, const ir::TensorData* bias, int64_t count) {
  std::vector<Channel> channels(static_cast<size_t>(count));
  for (int64_t c = 0; c < count; ++c) {
    Channel& ch = channels[static_cast<size_t>(c)];
    // Beyond ±kMaxRightShift every shift gives the same result (see above); clamping also keeps
    // 31 + shift and -shift from overflowing.
    ch.shift = std::clamp(entry(op, "shift", c), -kMaxRightShift, kMaxRightShift);
    if (op.has("bias_frac")) ch.phi_class = entry(op, "bias_frac", c);
    if (op.has("multiplier")) ch.multiplier = entry(op, "multiplier", c);
    if (bias) ch.bias = bias->int_at(c);
    if (op.has("divisor")) ch.divisor = op.get_int("divisor");
    if (ch.multiplier != 0 && ch.phi_class != 0)
      fail("{}: the multiplier path takes no bias fraction (bias_frac must be 0)", op.describe());
  }
  return channels;
}

Floored scaled(int64_t acc, const Channel& ch) {
  if (ch.multiplier != 0) {
    const i128 product = (i128{acc} + ch.bias) * ch.multiplier;  // < 2^65 · 2^31
    const int64_t s = 31 + ch.shift;
    return s >= 0 ? shift_right(product, s, 0) : shift_right(shift_left(product, -s, kMaxMultiplierLeftShift), 0, 0);
  }
  if (ch.divisor > 1) {  // the IR verifier keeps shift <= 62 here: the divisor stays below 2^93
    const i128 numerator = ch.shift >= 1 ? i128{acc} + ch.bias : shift_left(acc, -ch.shift, kMaxLeftShift) + ch.bias;
    return divide_floored(numerator, i128{ch.divisor} << std::max<int64_t>(ch.shift, 0), ch.phi_class);
  }
  if (ch.shift >= 1) return shift_right(i128{acc} + ch.bias, ch.shift, ch.phi_class);
  return shift_right(shift_left(acc, -ch.shift, kMaxLeftShift) + ch.bias, 0, ch.phi_class);
}

}  // namespace

ir::TensorData requantize(const ir::Op& op, const ir::TensorData& acc, const ir::TensorData* bias) {
  const ir::Shape& shape = acc.shape();
  const int64_t axis = op.get_int("axis");
  // Elements in (outer, channel, inner) order; per tensor, everything is one channel.
  int64_t outer = 1, channels = 1, inner = ir::num_elements(shape);
  if (axis >= 0) {
    channels = shape[axis];
    outer = ir::num_elements(ir::Shape(shape.begin(), shape.begin() + axis));
    inner = ir::num_elements(ir::Shape(shape.begin() + axis + 1, shape.end()));
  }
  const std::vector<Channel> params = channels_of(op, bias, channels);
  const auto rule = *ir::parse_rounding(op.get_string("round"));
  const int64_t zp = op.outputs[0]->type.quant->zero_points[0], lo = op.get_int("min"), hi = op.get_int("max");
  ir::TensorData y(op.outputs[0]->type.dtype, shape);
  visit_int_dtype(acc.dtype(), [&](auto a) {
    const auto in = acc.as<decltype(a)>();
    visit_int_dtype(y.dtype(), [&](auto t) {
      using Out = decltype(t);
      Out* out = y.as<Out>().data();
      int64_t i = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c) {
          const Channel& ch = params[static_cast<size_t>(c)];
          for (int64_t e = 0; e < inner; ++e, ++i) {
            const Floored v = scaled(static_cast<int64_t>(in[i]), ch);
            out[i] = static_cast<Out>(std::clamp(round_floored(rule, v.floor, v.fraction) + zp, lo, hi));
          }
        }
    });
  });
  return y;
}

}  // namespace qatc::sim::integer
