// The integer simulator (sim/int) on tiny lowered graphs written as IR text. Every expected value
// is derived by hand in the comment above it, from docs/ir.md's integer semantics.
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using namespace qatc;

namespace {

template <class T>
ir::TensorData tensor(ir::Shape shape, std::vector<T> values) {
  return ir::TensorData::from<T>(std::move(shape), std::span<const T>(values));
}

// `text` with each "$KEY" replaced: one graph template serves several rules or attributes.
std::string subst(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values)
    for (size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
  return text;
}

ir::Graph parsed(const std::string& text) {
  ir::Graph g = ir::parse_graph(text, "test.qir");
  ir::verify(g);
  return g;
}

std::vector<int64_t> ints(const ir::TensorData& d) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < d.size(); ++i) v.push_back(d.int_at(i));
  return v;
}

std::vector<int64_t> run_ints(const std::string& text, const std::vector<ir::TensorData>& inputs) {
  return ints(sim::simulate_integer(parsed(text), inputs)[0]);
}

const std::vector<std::string> kRules{"half_even", "half_up", "half_away", "floor"};

// requantize of an i32[N] input, per tensor, to i8 with scale 1 and zero point 0.
const std::string kRequantize = R"(graph @rq {
  input %acc : i32[$N]
  const %b : i32[1] = [$BIAS]
  %y = requantize(%acc, %b) {axis = -1, $ATTRS, max = 127, min = -128, round = "$ROUND"} : i8[$N] quant<i8: scale = 2^0, zp = 0>
  output %y
})";

std::vector<int64_t> requantize(const std::vector<int32_t>& acc, const std::string& rule, const std::string& attrs,
                                int bias = 0) {
  const auto n = static_cast<int64_t>(acc.size());
  return run_ints(subst(kRequantize, {{"$N", std::to_string(n)}, {"$BIAS", std::to_string(bias)},
                                      {"$ATTRS", attrs}, {"$ROUND", rule}}),
                  {tensor<int32_t>({n}, acc)});
}

}  // namespace

TEST_CASE("requantize rounds ties by the op's rule, for positive and negative values") {
  // shift 2 divides by 4: 10 -> 2.5, -10 -> -2.5, 6 -> 1.5, -6 -> -1.5, 2 -> 0.5, -2 -> -0.5, and
  // 11 -> 2.75, -11 -> -2.75 (no tie: nearest, except floor).
  //   half_even: ties to the even neighbour.        half_up: floor(v + 1/2), ties towards +inf.
  //   half_away: ties away from zero.               floor: towards -inf.
  const std::vector<int32_t> acc{10, -10, 6, -6, 2, -2, 11, -11};
  const std::map<std::string, std::vector<int64_t>> want{
      {"half_even", {2, -2, 2, -2, 0, 0, 3, -3}},
      {"half_up", {3, -2, 2, -1, 1, 0, 3, -3}},
      {"half_away", {3, -3, 2, -2, 1, -1, 3, -3}},
      {"floor", {2, -3, 1, -2, 0, -1, 2, -3}},
  };
  for (const std::string& rule : kRules) {
    INFO(rule);
    CHECK(requantize(acc, rule, "shift = [2]") == want.at(rule));
  }
}

TEST_CASE("requantize saturates at min and max, including fused ReLU/ReLU6 bounds") {
  // u8 with zero point 10; ReLU6 at scale 2^-3: real [0, 6] is q in [10, 10 + 6 * 8 = 58].
  // shift 1: 1000 -> 500 + 10 = 510 -> 58; -1000 -> -490 -> 10; -30 -> -5 -> 10; 40 -> 30;
  // 96 -> 58 (exactly the bound); 98 -> 59 -> 58.
  const std::string g = R"(graph @relu6 {
    input %acc : i32[6]
    %y = requantize(%acc) {axis = -1, max = 58, min = 10, round = "half_even", shift = [1]} : u8[6] quant<u8: scale = 2^-3, zp = 10>
    output %y
  })";
  CHECK(run_ints(g, {tensor<int32_t>({6}, {1000, -1000, -30, 40, 96, 98})}) == std::vector<int64_t>{58, 10, 10, 30, 58, 58});
  // The full i8 range: 1000 / 4 = 250 -> 127, -1000 / 4 -> -128; 508 / 4 = 127, -512 / 4 = -128 exactly.
  CHECK(requantize({1000, -1000, 508, -512}, "half_even", "shift = [2]") == std::vector<int64_t>{127, -128, 127, -128});
}

TEST_CASE("requantize with n >= 1: a bias fraction breaks ties upwards, and nothing else") {
  // bias 8, shift 3: (acc + 8 + φ) / 8 for acc = -4, 12, 3, -12, -20, 5, i.e. (4, 20, 11, -4, -12, 13) / 8
  // = 0.5, 2.5, 1.375, -0.5, -1.5, 1.625, each plus φ/8 < 1/8.
  const std::vector<int32_t> acc{-4, 12, 3, -12, -20, 5};
  // φ = 0, half_even: ties go to the even neighbour: 0, 2, (1), 0, -2, (2).
  CHECK(requantize(acc, "half_even", "shift = [3], bias_frac = [0]", 8) == std::vector<int64_t>{0, 2, 1, 0, -2, 2});
  // φ > 0 (any class; only φ > 0 matters): every tie lies a little above one half and rounds up:
  // 0.5+ -> 1, 2.5+ -> 3, -0.5+ -> 0, -1.5+ -> -1. 1.375 + φ/8 < 1.5 stays 1, 1.625+ stays 2.
  for (const char* cls : {"1", "2", "3"}) {
    INFO("class " << cls);
    CHECK(requantize(acc, "half_even", std::string("shift = [3], bias_frac = [") + cls + "]", 8) ==
          std::vector<int64_t>{1, 3, 1, 0, -1, 2});
  }
  // half_away: -0.5 -> -1 and -1.5 -> -2 without φ; upwards to 0 and -1 with it.
  CHECK(requantize(acc, "half_away", "shift = [3], bias_frac = [0]", 8) == std::vector<int64_t>{1, 3, 1, -1, -2, 2});
  CHECK(requantize(acc, "half_away", "shift = [3], bias_frac = [1]", 8) == std::vector<int64_t>{1, 3, 1, 0, -1, 2});
  // floor ignores φ: floor((r + φ) / 8) = floor(r / 8) for integer r, since φ < 1.
  CHECK(requantize(acc, "floor", "shift = [3], bias_frac = [3]", 8) == std::vector<int64_t>{0, 2, 1, -1, -2, 1});
}

TEST_CASE("requantize with n <= 0: the bias fraction class decides the rounding") {
  // bias -4. n = -1: v = 2 * acc - 4 + φ for acc = 5, -5; n = 0: v = acc - 4 + φ for acc = 10, -10.
  // Either way v = 6 + φ and -14 + φ, with φ by class: 0 (= 0), 1 (< 1/2), 2 (= 1/2), 3 (> 1/2).
  //   class 0 and 1: 6 and -14 by every rule (6 + φ < 6.5; -14 + φ in (-14, -13.5): nearest -14, floor -14).
  //   class 2: ties 6.5 and -13.5: half_even 6, -14; half_up 7, -13; half_away 7, -14; floor 6, -14.
  //   class 3: 6 + φ in (6.5, 7) -> 7 and -14 + φ in (-13.5, -13) -> -13 to nearest; floor 6, -14.
  const std::map<std::string, std::vector<std::vector<int64_t>>> want{
      {"half_even", {{6, -14}, {6, -14}, {6, -14}, {7, -13}}},
      {"half_up", {{6, -14}, {6, -14}, {7, -13}, {7, -13}}},
      {"half_away", {{6, -14}, {6, -14}, {7, -14}, {7, -13}}},
      {"floor", {{6, -14}, {6, -14}, {6, -14}, {6, -14}}},
  };
  for (const std::string& rule : kRules)
    for (int cls = 0; cls < 4; ++cls) {
      INFO(rule << " class " << cls);
      const std::string frac = ", bias_frac = [" + std::to_string(cls) + "]";
      CHECK(requantize({5, -5}, rule, "shift = [-1]" + frac, -4) == want.at(rule)[cls]);
      CHECK(requantize({10, -10}, rule, "shift = [0]" + frac, -4) == want.at(rule)[cls]);
    }
}

TEST_CASE("requantize with a divisor rounds (acc + bias + φ) / (D · 2^n) and (acc · 2^-n + bias + φ) / D exactly") {
  // Reference: φ stands for 0, 1/4, 1/2, 3/4 (one of each class), so 4 · value is P / Q with integers
  // P = 4 · numerator + 4φ and Q = 4 · D · 2^max(n, 0); its floor and remainder decide every rule.
  auto reference = [](const std::string& rule, int64_t acc, int64_t bias, int cls, int64_t d, int64_t n) {
    const int64_t numerator = n >= 1 ? acc + bias : acc * (int64_t{1} << -n) + bias;
    const int64_t p = 4 * numerator + cls, q = 4 * d * (int64_t{1} << std::max<int64_t>(n, 0));
    int64_t floor = p / q, rem = p % q;
    if (rem < 0) --floor, rem += q;
    const bool up = rule == "floor"       ? false
                    : 2 * rem > q         ? true
                    : 2 * rem < q         ? false
                    : rule == "half_up"   ? true
                    : rule == "half_away" ? floor >= 0
                                          : floor % 2 != 0;
    return std::clamp<int64_t>(floor + (up ? 1 : 0), -128, 127);
  };
  std::vector<int32_t> acc;
  for (int32_t a = -300; a <= 300; ++a) acc.push_back(a);
  for (const std::string& rule : kRules)
    for (int64_t d : {3, 9, 49})
      for (int64_t n : {-1, 0, 1, 3})
        for (int cls = 0; cls < 4; ++cls) {
          // With n >= 1 only φ > 0 matters; a class stands for its representative either way.
          INFO(rule << " D " << d << " n " << n << " class " << cls);
          const int bias = -7;
          std::vector<int64_t> want;
          for (int32_t a : acc) want.push_back(reference(rule, a, bias, n >= 1 && cls > 0 ? 1 : cls, d, n));
          const std::string attrs = fmt::format("shift = [{}], divisor = {}, bias_frac = [{}]", n, d, cls);
          CHECK(requantize(acc, rule, attrs, bias) == want);
        }
}

TEST_CASE("requantize applies per-channel shifts and biases along axis 1 and along the last axis") {
  // Axis 1 of [1, 2, 2]: channel 0 = (5, 7) with shift 1, bias 1: 6 / 2 = 3, 8 / 2 = 4;
  // channel 1 = (9, -3) with shift 2, bias -2: 7 / 4 = 1.75 -> 2, -5 / 4 = -1.25 -> -1.
  const std::string axis1 = R"(graph @pc {
    input %acc : i32[1,2,2]
    const %b : i32[2] = [1, -2]
    %y = requantize(%acc, %b) {axis = 1, max = 127, min = -128, round = "half_even", shift = [1, 2]} : i8[1,2,2] quant<i8: scale = 2^0, zp = 0>
    output %y
  })";
  CHECK(run_ints(axis1, {tensor<int32_t>({1, 2, 2}, {5, 7, 9, -3})}) == std::vector<int64_t>{3, 4, 2, -1});
  // Last axis of [2, 1, 3]: channels c = 0, 1, 2 with shifts 0, 1, 2 and biases 1, 0, -1 over the
  // rows (4, 4, 4) and (-4, -3, 6):
  //   c0: 4 + 1 = 5, -4 + 1 = -3;  c1: 4 / 2 = 2, -3 / 2 = -1.5 -> -2 (even);
  //   c2: (4 - 1) / 4 = 0.75 -> 1, (6 - 1) / 4 = 1.25 -> 1.
  const std::string last = R"(graph @pc {
    input %acc : i32[2,1,3]
    const %b : i32[3] = [1, 0, -1]
    %y = requantize(%acc, %b) {axis = 2, max = 127, min = -128, round = "half_even", shift = [0, 1, 2]} : i8[2,1,3] quant<i8: scale = 2^0, zp = 0>
    output %y
  })";
  CHECK(run_ints(last, {tensor<int32_t>({2, 1, 3}, {4, 4, 4, -4, -3, 6})}) == std::vector<int64_t>{5, 2, 1, -3, -2, 1});
}

TEST_CASE("requantize's multiplier path: (acc + bias) * M / 2^(31 + n)") {
  // Per channel along axis 0 of [2, 2], n = 0: M = 1.5 * 2^30 scales by 0.75, M = 2^30 by 0.5.
  //   channel 0, bias 1: (4 + 1) * 0.75 = 3.75 -> 4, (2 + 1) * 0.75 = 2.25 -> 2;
  //   channel 1, bias 0: 3 * 0.5 = 1.5 -> 2 (even), -3 * 0.5 = -1.5 -> -2.
  const std::string g = R"(graph @mul {
    input %acc : i32[2,2]
    const %b : i32[2] = [1, 0]
    %y = requantize(%acc, %b) {axis = 0, max = 127, min = -128, multiplier = [1610612736, 1073741824], round = "half_even", shift = [0]} : i8[2,2] quant<i8: scale = 2^0, zp = 0>
    output %y
  })";
  CHECK(run_ints(g, {tensor<int32_t>({2, 2}, {4, 2, 3, -3})}) == std::vector<int64_t>{4, 2, 2, -2});
  // n = -1: v = acc * 1.5 * 2^30 / 2^30 = 1.5 acc: 3 -> 4.5 -> 4 (even), -1 -> -1.5 -> -2.
  // n = -40 (31 + n < 0): v = acc * M * 2^9 = +-1.5 * 2^39, saturated.
  CHECK(requantize({3, -1}, "half_even", "shift = [-1], multiplier = [1610612736]") == std::vector<int64_t>{4, -2});
  CHECK(requantize({1, -1}, "half_even", "shift = [-40], multiplier = [1610612736]") == std::vector<int64_t>{127, -128});
  // The multiplier path has no bias fraction.
  CHECK_THROWS_WITH(requantize({1}, "half_even", "shift = [0], multiplier = [1073741824], bias_frac = [2]"),
                    Catch::Contains("requantize") && Catch::Contains("bias_frac"));
}

TEST_CASE("widen moves a tensor exactly onto a finer grid, and refuses overflow") {
  // (x - 5) * 2^3: -128 -> -1064, 127 -> 976, 5 -> 0, 0 -> -40.
  const std::string g = R"(graph @w {
    input %x : i8[4]
    %y = widen(%x) {shift = 3, zero_point = 5} : i32[4]
    output %y
  })";
  CHECK(run_ints(g, {tensor<int8_t>({4}, {-128, 127, 5, 0})}) == std::vector<int64_t>{-1064, 976, 0, -40});
  // 32767 * 2^20 = 2^35 - 2^20 does not fit i32.
  const std::string wide = R"(graph @w {
    input %x : i16[1]
    %y = widen(%x) {shift = 20, zero_point = 0} : i32[1] loc("too_wide")
    output %y
  })";
  CHECK_THROWS_WITH(run_ints(wide, {tensor<int16_t>({1}, {32767})}),
                    Catch::Contains("widen 'too_wide'") && Catch::Contains("overflow"));
}

TEST_CASE("integer avgpool rounds Σ(x - zx) / (count * 2^n) exactly, by count_include_pad") {
  // 3x3 kernel, stride 1, pads 1 over a 3x3 plane; shift n = 1, z_x = 2, z_y = 1. Channel 0 holds
  // x = d + 2 and channel 1 holds x = 2 - d for
  //   d = [[1, 2, 3], [6, 8, 10], [4, 5, 6]].
  // Window sums of d (rows/columns clipped to the plane) and in-input counts:
  //   corners (0,0) 17, (0,2) 23, (2,0) 23, (2,2) 29 with count 4; edges (0,1) 30, (1,0) 26,
  //   (1,2) 34, (2,1) 39 with count 6; centre 45 with count 9.
  // count_include_pad = 0 divides by 2 * count: 17/8 = 2.125, 30/12 = 2.5 (tie), 23/8 = 2.875,
  //   26/12 = 2.17, 45/18 = 2.5 (tie), 34/12 = 2.83, 23/8, 39/12 = 3.25, 29/8 = 3.625.
  //   half_even: 2, 2, 3, 2, 2, 3, 3, 3, 4 (+ z_y = 1: 3, 3, 4, 3, 3, 4, 4, 4, 5);
  //   channel 1 negates every quotient: -2, -2, -3, -2, -2, -3, -3, -3, -4 (+1).
  //   half_away moves the four ties away from zero: 2.5 -> 3 and -2.5 -> -3.
  // count_include_pad = 1 divides by 18 everywhere: 17/18 = 0.94, 30/18 = 1.67, 23/18 = 1.28,
  //   26/18 = 1.44, 45/18 = 2.5 (tie), 34/18 = 1.89, 23/18, 39/18 = 2.17, 29/18 = 1.61.
  //   half_even: 1, 2, 1, 1, 2, 2, 1, 2, 2 (+1); channel 1 negated (+1).
  const std::string g = R"(graph @avg {
    input %x : i8[1,2,3,3] quant<i8: scale = 2^-3, zp = 2>
    %y = avgpool(%x) {ceil_mode = 0, count_include_pad = $CIP, dilations = [1, 1], kernel_shape = [3, 3], pads = [1, 1, 1, 1], round = "$ROUND", shift = 1, strides = [1, 1]} : i8[1,2,3,3] quant<i8: scale = 2^-3, zp = 1>
    output %y
  })";
  const std::vector<int8_t> d{1, 2, 3, 6, 8, 10, 4, 5, 6};
  std::vector<int8_t> x;
  for (int8_t v : d) x.push_back(static_cast<int8_t>(v + 2));
  for (int8_t v : d) x.push_back(static_cast<int8_t>(2 - v));
  const std::vector<ir::TensorData> in{tensor<int8_t>({1, 2, 3, 3}, x)};
  CHECK(run_ints(subst(g, {{"$CIP", "0"}, {"$ROUND", "half_even"}}), in) ==
        std::vector<int64_t>{3, 3, 4, 3, 3, 4, 4, 4, 5, -1, -1, -2, -1, -1, -2, -2, -2, -3});
  CHECK(run_ints(subst(g, {{"$CIP", "0"}, {"$ROUND", "half_away"}}), in) ==
        std::vector<int64_t>{3, 4, 4, 3, 4, 4, 4, 4, 5, -1, -2, -2, -1, -2, -2, -2, -2, -3});
  CHECK(run_ints(subst(g, {{"$CIP", "1"}, {"$ROUND", "half_even"}}), in) ==
        std::vector<int64_t>{2, 3, 2, 2, 3, 3, 2, 3, 3, 0, -1, 0, 0, -1, -1, 0, -1, -1});
}

TEST_CASE("integer conv subtracts x_zero_point, and padding acts as x = x_zero_point") {
  // d = x - 5 = [[0, 1], [2, 3]], w = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], pads 1, so output (i, j)
  // sums d[i+u-1][j+v-1] * w[u][v] over the taps inside the plane (padding contributes 0):
  //   (0,0): 0*5 + 1*6 + 2*8 + 3*9 = 49    (0,1): 0*4 + 1*5 + 2*7 + 3*8 = 43
  //   (1,0): 0*2 + 1*3 + 2*5 + 3*6 = 31    (1,1): 0*1 + 1*2 + 2*4 + 3*5 = 25
  // plus bias 100. (Were padding x = 0, (0,0) would gain (0 - 5) * (1 + 2 + 3 + 4 + 7) = -85.)
  const std::string g = R"(graph @conv {
    input %x : u8[1,1,2,2]
    const %w : i8[1,1,3,3] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    const %b : i32[1] = [100]
    %y = conv(%x, %w, %b) {dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 5} : i32[1,1,2,2]
    output %y
  })";
  const std::vector<ir::TensorData> in{tensor<uint8_t>({1, 1, 2, 2}, {5, 6, 7, 8})};
  const std::vector<int64_t> want{149, 143, 131, 125};
  CHECK(run_ints(g, in) == want);
  // The QAT evaluator's integer path agrees.
  CHECK(ints(sim::evaluate_qat(parsed(g), in, {})[0]) == want);
}

TEST_CASE("an integer result that does not fit its type is refused, naming the op") {
  // 3 * 32767^2 = 3221028867 > 2^31 - 1: the i32 accumulator cannot hold it; i64 can.
  const std::string conv = R"(graph @big {
    input %x : i16[1,1,1,3]
    const %w : i16[1,1,1,3] = [32767, 32767, 32767]
    %y = conv(%x, %w) {dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1]} : $ACC[1,1,1,1] loc("big_conv")
    output %y
  })";
  const std::vector<ir::TensorData> in{tensor<int16_t>({1, 1, 1, 3}, {32767, 32767, 32767})};
  CHECK_THROWS_WITH(run_ints(subst(conv, {{"$ACC", "i32"}}), in),
                    Catch::Contains("conv 'big_conv'") && Catch::Contains("overflow"));
  CHECK(run_ints(subst(conv, {{"$ACC", "i64"}}), in) == std::vector<int64_t>{3221028867});
  // (2^31 - 1) + 1 overflows i32; -2^31 + (-1) too.
  const std::string add = R"(graph @add {
    input %a : i32[2]
    const %one : i32[2] = [1, -1]
    %y = add(%a, %one) : i32[2] loc("acc_add")
    output %y
  })";
  CHECK_THROWS_WITH(run_ints(add, {tensor<int32_t>({2}, {2147483647, 0})}),
                    Catch::Contains("add 'acc_add'") && Catch::Contains("overflow"));
  CHECK_THROWS_WITH(run_ints(add, {tensor<int32_t>({2}, {0, -2147483647 - 1})}), Catch::Contains("overflow"));
  CHECK(run_ints(add, {tensor<int32_t>({2}, {2147483646, -2147483647})}) ==
        std::vector<int64_t>{2147483647, -2147483647 - 1});
}

TEST_CASE("floats enter through quantize and leave through dequantize; other float ops are refused") {
  // scale 2^-2, half_even: 0.375 -> 1.5 -> 2, -0.375 -> -2, 1 -> 4, 100 -> 400 -> 127 (saturated);
  // then clip to [-1, 3] and dequantize: (2, -1, 3, 3) * 0.25, exactly, as f64.
  const std::string g = R"(graph @io {
    input %x : f32[4]
    %q = quantize(%x) {round = "half_even"} : i8[4] quant<i8: scale = 2^-2, zp = 0>
    %c = clip(%q) {max = 3.5, min = -1.0} : i8[4] quant<i8: scale = 2^-2, zp = 0>
    %y = dequantize(%c) : f32[4]
    output %y
  })";
  std::vector<std::string> seen;
  auto out = sim::simulate_integer(parsed(g), {tensor<float>({4}, {0.375f, -0.375f, 1.0f, 100.0f})},
                                   [&](const ir::Op& op, const ir::TensorData&) { seen.emplace_back(op.info().name); });
  REQUIRE(out[0].dtype() == ir::DType::f64);
  CHECK(out[0].as<double>()[0] == 0.5);
  CHECK(out[0].as<double>()[1] == -0.25);
  CHECK(out[0].as<double>()[2] == 0.75);
  CHECK(out[0].as<double>()[3] == 0.75);
  CHECK(seen == std::vector<std::string>{"quantize", "clip", "dequantize"});

  const std::string float_op = R"(graph @f {
    input %x : f32[4]
    %r = relu(%x) : f32[4] loc("float_relu")
    output %r
  })";
  CHECK_THROWS_WITH(sim::simulate_integer(parsed(float_op), {tensor<float>({4}, {1, 2, 3, 4})}),
                    Catch::Contains("relu 'float_relu'") && Catch::Contains("float op"));
}
