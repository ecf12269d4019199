#include "passes/requantize_builder.h"

#include "ir/error.h"

#include <algorithm>
#include <cmath>

namespace qatc::passes {

using sim::Exact;

namespace {

struct ChannelRequant {
  int64_t shift = 0;
  int64_t bias = 0;
  int64_t fraction_class = 0;
  int64_t multiplier = 0;  // 0: the ratio is a power of two
};

Exact times_power_of_two(const Exact& v, int k) { return sim::mul(v, Exact::from_scaled(1, k)); }

// ratio = 2^-n exactly: v = (acc + b') / 2^n, with b' split into integer part and fraction class
// on the grid the rounding sees (acc's own for n >= 1, the output's for n <= 0).
ChannelRequant power_of_two_channel(int n, const Exact& bias_in_acc_units) {
  FloorAndFraction f = floor_and_fraction(n >= 1 ? bias_in_acc_units : times_power_of_two(bias_in_acc_units, -n));
  return {n, f.floor, f.fraction_class, 0};
}

// ratio = M * 2^-(31 + n) with M in [2^30, 2^31), rounded half to even; the bias is rounded to an
// integer on the accumulator grid. Both roundings are why --allow-non-pot is not exact.
ChannelRequant q31_channel(const Exact& ratio, const Exact& bias_in_acc_units) {
  int n = -static_cast<int>(std::floor(std::log2(ratio.approximate_double()))) - 1;
  auto scaled = [&](int k) { return sim::divide_for_rounding(times_power_of_two(ratio, 31 + k), 1.0); };
  // Settle n exactly: the scaled ratio's integer part must lie in [2^30, 2^31).
  while (scaled(n).magnitude >= (int64_t{1} << 31)) --n;
  while (scaled(n).magnitude < (int64_t{1} << 30)) ++n;
  auto q = scaled(n);
  int64_t m = sim::round_by_rule(ir::Rounding::half_even, false, q.magnitude, q.fraction);
  if (m == (int64_t{1} << 31)) {
    m >>= 1;
    --n;
  }
  auto b = sim::divide_for_rounding(bias_in_acc_units, 1.0);
  return {n, sim::round_by_rule(ir::Rounding::half_even, b.negative, b.magnitude, b.fraction), 0, m};
}

// ratio = 2^-n / D with D odd (D = 1: a power of two): the exact shift and divisor, if it is one.
struct ShiftAndDivisor {
  int shift;
  uint64_t divisor;
};
std::optional<ShiftAndDivisor> shift_and_divisor(const Exact& ratio) {
  if (ratio.negative()) return std::nullopt;
  const sim::BinaryParts p = sim::decompose(ratio.num);
  if (p.odd != 1) return std::nullopt;
  return ShiftAndDivisor{-p.exp, ratio.den};
}

}  // namespace

int64_t quantized_bound(const Exact& v, const ir::QuantParams& q, ir::Rounding rule, int64_t channel) {
  auto quotient = sim::divide_for_rounding(v, q.scales[static_cast<size_t>(channel)]);
  int64_t r = sim::round_by_rule(rule, quotient.negative, quotient.magnitude, quotient.fraction);
  return std::clamp(r, q.qmin() - q.zero_points[0], q.qmax() - q.zero_points[0]) + q.zero_points[0];
}

ir::Value* emit_requantize(ir::Graph& g, const Accumulator& acc, const AffineChain& chain, const ir::Op& quantize,
                           const PassOptions& options, const std::string& name) {
  // The quantize's element type and parameters, on the accumulator's shape (a concat operand's).
  const ir::TensorType out{quantize.outputs[0]->type.dtype, acc.value->type.shape, quantize.outputs[0]->type.quant};
  const ir::QuantParams& q = *out.quant;
  // A per-axis quantized activation: each channel's scale goes into its own shift; one zero point.
  if (q.per_axis() && std::any_of(q.zero_points.begin(), q.zero_points.end(), [&](int64_t z) { return z != q.zero_points[0]; }))
    fail("{}: per-axis quantization of an activation with different zero points is not supported", quantize.describe());
  auto rule = *ir::parse_rounding(quantize.get_string("round"));
  int axis = std::max(acc.axis, chain.axis);
  for (int other : {acc.axis, chain.axis, q.axis})
    if (other >= 0 && axis >= 0 && other != axis)
      fail("{}: per-channel scales or constants along axes {} and {}", quantize.describe(), axis, other);
    else axis = std::max(axis, other);
  const int64_t channels = axis < 0 ? 1 : acc.value->type.shape[axis];
  auto out_scale_of = [&](int64_t c) { return Exact::from_double(q.scales[q.per_axis() ? static_cast<size_t>(c) : 0]); };

  std::vector<Exact> ratios, biases;
  std::vector<ShiftAndDivisor> exact;  // every channel's ratio 2^-n / D, one D for all
  for (int64_t c = 0; c < channels; ++c) {
    const Exact step = sim::mul(AffineChain::at(chain.scale, c), AffineChain::at(acc.unit, c));  // real value of acc 1
    if (step.negative() || sim::compare(step, Exact::from_int(0)) == 0)
      fail("{}: the accumulator's scale is not positive (channel {})", quantize.describe(), c);
    const Exact out_scale = out_scale_of(c);
    ratios.push_back(sim::div(step, out_scale));
    biases.push_back(sim::div(AffineChain::at(chain.offset, c), step));
    if (auto e = shift_and_divisor(ratios.back()); e && (exact.empty() || e->divisor == exact[0].divisor))
      exact.push_back(*e);
  }
  // A power of two, or one over an odd divisor (an average's count, 49 for 7x7, moved into the
  // requantize of the product that reads the window sums): both round exactly.
  const bool all_pot = exact.size() == static_cast<size_t>(channels);
  const uint64_t divisor = all_pot ? exact[0].divisor : 1;
  if (!all_pot && !options.allow_non_pot)
    fail("{}: the scale ratio {} is not a power of two (pass --allow-non-pot)", quantize.describe(),
         ratios[0].approximate_double());
  if (divisor >= (uint64_t{1} << 31))
    fail("{}: the scale ratio divides by {}, beyond the 2^31 an exact requantize divides by", quantize.describe(), divisor);
  std::vector<ChannelRequant> per_channel;
  for (int64_t c = 0; c < channels; ++c) {
    if (all_pot && divisor > 1 && exact[c].shift > 62)
      fail("{}: the scale ratio 2^-{} / {} of channel {} is too small to divide by exactly", quantize.describe(),
           exact[c].shift, divisor, c);
    per_channel.push_back(all_pot ? power_of_two_channel(exact[c].shift, biases[c]) : q31_channel(ratios[c], biases[c]));
    if (std::llabs(per_channel.back().bias) > (int64_t{1} << 31) - 1)
      fail("{}: the bias of channel {} needs more than 32 bits on the accumulator grid", quantize.describe(), c);
  }

  auto list = [&](int64_t ChannelRequant::*field) {
    std::vector<int64_t> v;
    for (const auto& ch : per_channel) v.push_back(ch.*field);
    if (std::all_of(v.begin(), v.end(), [&](int64_t x) { return x == v[0]; })) v.resize(1);
    return v;
  };
  auto all_zero = [](const std::vector<int64_t>& v) { return v.size() == 1 && v[0] == 0; };

  // Activation bounds on the output grid: one integer bound for all channels, or refused.
  auto bound = [&](const std::optional<Exact>& v, int64_t absent) {
    if (!v) return absent;
    const int64_t b = quantized_bound(*v, q, rule, 0);
    for (int64_t c = 1; q.per_axis() && c < static_cast<int64_t>(q.scales.size()); ++c)
      if (quantized_bound(*v, q, rule, c) != b)
        fail("{}: the activation bound {} falls on different integers in different channels of its per-axis grid",
             quantize.describe(), v->approximate_double());
    return b;
  };
  std::map<std::string, ir::AttrValue> attrs{{"shift", list(&ChannelRequant::shift)},
                                             {"axis", static_cast<int64_t>(axis)},
                                             {"round", std::string(ir::rounding_name(rule))},
                                             {"min", bound(chain.lo, q.qmin())},
                                             {"max", bound(chain.hi, q.qmax())}};
  if (auto frac = list(&ChannelRequant::fraction_class); !all_zero(frac)) attrs["bias_frac"] = frac;
  if (!all_pot) attrs["multiplier"] = list(&ChannelRequant::multiplier);
  if (divisor > 1) attrs["divisor"] = static_cast<int64_t>(divisor);
  if (std::get<int64_t>(attrs["min"]) > std::get<int64_t>(attrs["max"]))
    fail("{}: the activation bounds leave no value", quantize.describe());

  std::vector<ir::Value*> operands{acc.value};
  if (std::any_of(per_channel.begin(), per_channel.end(), [](const auto& ch) { return ch.bias != 0; })) {
    ir::TensorData bias(acc.value->type.dtype, {channels});
    ir::visit_dtype(acc.value->type.dtype, [&](auto z) {
      using T = decltype(z);
      if constexpr (std::is_integral_v<T>)
        for (int64_t c = 0; c < channels; ++c) bias.as<T>()[c] = static_cast<T>(per_channel[c].bias);
    });
    operands.push_back(g.add_constant(name + "/bias", std::move(bias)));
  }
  return g.add_op(ir::OpKind::requantize, operands, {{name, out}}, attrs, quantize.name)->outputs[0];
}

}  // namespace qatc::passes
