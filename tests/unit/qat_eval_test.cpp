// The QAT reference evaluator's arithmetic rules, on tiny graphs written as IR text. Expected
// values are worked out by hand in the comments (exact quotients via Python's fractions).
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "sim/qat/evaluator.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <random>
#include <set>

using namespace qatc;
using sim::Arithmetic;

namespace {

std::vector<int64_t> run_ints(const std::string& text, std::vector<float> input, Arithmetic arithmetic,
                              bool by_reciprocal = false) {
  ir::Graph g = ir::parse_graph(text, "test.qir");
  ir::verify(g);
  auto shape = g.inputs()[0]->type.shape;
  auto out = sim::evaluate_qat(g, {ir::TensorData::from<float>(shape, input)},
                               {.arithmetic = arithmetic, .quantize_by_reciprocal = by_reciprocal});
  std::vector<int64_t> v;
  for (int64_t i = 0; i < out[0].size(); ++i) v.push_back(out[0].int_at(i));
  return v;
}

std::string quantize_graph(const std::string& rule, const std::string& scale) {
  return R"(graph @q {
    input %x : f32[8]
    %q = quantize(%x) {round = ")" +
         rule + R"("} : i8[8] quant<i8: scale = )" + scale + R"(, zp = 0>
    output %q
  })";
}

}  // namespace

TEST_CASE("quantize ties follow the op's rounding rule, then saturate") {
  const std::vector<float> x{2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 127.5f, -128.5f};
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases{
      {"half_even", {2, -2, 0, 0, 2, -2, 127, -128}},
      {"half_up", {3, -2, 1, 0, 2, -1, 127, -128}},
      {"half_away", {3, -3, 1, -1, 2, -2, 127, -128}},
      {"floor", {2, -3, 0, -1, 1, -2, 127, -128}},
  };
  for (const auto& [rule, want] : cases)
    for (Arithmetic a : {Arithmetic::float32, Arithmetic::exact}) {
      INFO(rule << (a == Arithmetic::exact ? " exact" : " float32"));
      CHECK(run_ints(quantize_graph(rule, "2^0"), x, a) == want);
    }
}

TEST_CASE("exact mode rounds the real quotient; float32 mode the float32 one") {
  // 0.35f / 0.1f: float32 division gives exactly 3.5 (-> 4 half-even), while the real quotient
  // 46976204/13421773 = 3.49999989 rounds to 3. Likewise 0.45f / 0.1f: float32 4.5, real 4.4999998.
  std::vector<float> x{0.35f, 0.45f, 0, 0, 0, 0, 0, 0};
  CHECK(run_ints(quantize_graph("half_even", "0.10000000149011612"), x, Arithmetic::float32)[0] == 4);
  CHECK(run_ints(quantize_graph("half_even", "0.10000000149011612"), x, Arithmetic::exact)[0] == 3);
  CHECK(run_ints(quantize_graph("half_up", "0.10000000149011612"), x, Arithmetic::float32)[1] == 5);
  CHECK(run_ints(quantize_graph("half_up", "0.10000000149011612"), x, Arithmetic::exact)[1] == 4);
  // PyTorch's x * (1/s): 1.0f/0.1f rounds to 10.0f, and 0.35f * 10 = 3.5 -> 4 as well.
  CHECK(run_ints(quantize_graph("half_even", "0.10000000149011612"), x, Arithmetic::float32, true)[0] == 4);
}

TEST_CASE("average pooling is exact: 1/3 is carried as a fraction") {
  const std::string g = R"(graph @avg {
    input %x : f32[1,1,3]
    %a = avgpool(%x) {ceil_mode = 0, count_include_pad = 0, dilations = [1], kernel_shape = [3], pads = [0, 0], strides = [1]} : f32[1,1,1]
    %q = quantize(%a) {round = "half_even"} : i8[1,1,1] quant<i8: scale = 2^-4, zp = 0>
    output %q
  })";
  // (0 + 0 + 1.5) / 3 = 0.5 = 8/16.
  CHECK(run_ints(g, {0, 0, 1.5f}, Arithmetic::exact) == std::vector<int64_t>{8});
  // 1/3 = 5.33/16 -> 5.
  CHECK(run_ints(g, {0, 0, 1}, Arithmetic::exact) == std::vector<int64_t>{5});
  // As a graph output, 1/3 is not a double: exact mode refuses to round it silently.
  ir::Graph raw = ir::parse_graph(R"(graph @avg {
    input %x : f32[1,1,3]
    %a = avgpool(%x) {ceil_mode = 0, count_include_pad = 0, dilations = [1], kernel_shape = [3], pads = [0, 0], strides = [1]} : f32[1,1,1]
    output %a
  })",
                                  "avg.qir");
  std::vector<float> in{0, 0, 1};
  CHECK_THROWS_AS(sim::evaluate_qat(raw, {ir::TensorData::from<float>({1, 1, 3}, in)}, {}), Error);
}

TEST_CASE("PyTorch's Conv -> Div -> BatchNormalization export folds exactly") {
  // PyTorch's fused QAT conv divides by sf = float32(gamma / sqrt(var + eps)) and batch norm then
  // multiplies by its own float32 alpha = float32(float32(1 / sqrt(var + eps)) * gamma). With
  // gamma 0.3 and var 5 they differ by one ulp (sf 0.13416395, alpha 0.13416396). The exact
  // semantics cancel them: y = x + (bias - mean) * sf + beta = x, so x = 0.5 is a tie -> 0
  // (half-even). Taking the float32 alpha literally would give 0.5 * alpha / sf > 0.5 -> 1.
  const std::string g = R"(graph @bn {
    input %x : f32[1,1,1,1]
    const %sf : f32[1,1,1,1] = [0.13416395]
    const %gamma : f32[1] = [0.3]
    const %beta : f32[1] = [0]
    const %mean : f32[1] = [0]
    const %var : f32[1] = [5]
    %d = div(%x, %sf) : f32[1,1,1,1]
    %bn = batchnorm(%d, %gamma, %beta, %mean, %var) {epsilon = 9.999999747378752e-06} : f32[1,1,1,1]
    %q = quantize(%bn) {round = "half_even"} : i8[1,1,1,1] quant<i8: scale = 2^0, zp = 0>
    output %q
  })";
  CHECK(run_ints(g, {0.5f}, Arithmetic::exact) == std::vector<int64_t>{0});
}

// The exact evaluator runs a folding chain as one per-channel addition at its batchnorm (evaluator.h's
// literal_conv_bn_chains): the same outputs, bit for bit, as running it op by op, here with a bias
// add, three channels whose divisors are within an ulp of the batchnorm's float32 alpha (as
// PyTorch exports them); and the observer
// sees the div and add only when asked for the literal chain.
TEST_CASE("a folded Conv -> Div -> Add -> BatchNormalization chain equals its literal evaluation") {
  ir::Graph g = ir::parse_graph(R"(graph @bn {
    input %x : f32[1,3,2,4]
    const %w : f32[3,3,1,1] = [0.5, -0.25, 1, 0.125, 2, -1, 0.75, 0.5, -0.5]
    const %sf : f32[1,3,1,1] = [0.13416395, 1.7320479, 0.89999545]
    const %b : f32[1,3,1,1] = [0.1, -2.5, 0.3]
    const %gamma : f32[3] = [0.3, 3, 0.9]
    const %beta : f32[3] = [0.25, -1, 0.1]
    const %mean : f32[3] = [0.5, 0.2, -0.7]
    const %var : f32[3] = [5, 3, 1]
    %c = conv(%x, %w) {dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1]} : f32[1,3,2,4]
    %d = div(%c, %sf) : f32[1,3,2,4]
    %a = add(%d, %b) : f32[1,3,2,4]
    %bn = batchnorm(%a, %gamma, %beta, %mean, %var) {epsilon = 9.999999747378752e-06} : f32[1,3,2,4]
    %q = quantize(%bn) {round = "half_even"} : i8[1,3,2,4] quant<i8: scale = 2^-3, zp = 0>
    output %q
  })", "chain.qir");
  ir::verify(g);
  std::mt19937 rng(7);
  std::vector<float> x(24);
  for (float& v : x) v = static_cast<float>(std::uniform_int_distribution<int>(-64, 64)(rng)) / 16;
  const std::vector<ir::TensorData> in{ir::TensorData::from<float>({1, 3, 2, 4}, x)};
  std::set<std::string> seen_fused, seen_literal;
  auto observe = [](std::set<std::string>& seen) {
    return [&seen](const ir::Op& op, const ir::TensorData&) { seen.insert(op.outputs[0]->name); };
  };
  const auto fused = sim::QatEvaluator(g, {.arithmetic = Arithmetic::exact}, true).run(in, observe(seen_fused));
  const auto literal = sim::QatEvaluator(g, {.arithmetic = Arithmetic::exact, .literal_conv_bn_chains = true}, true)
                           .run(in, observe(seen_literal));
  REQUIRE(fused[0].bytes() == literal[0].bytes());
  CHECK(seen_fused.count("bn"));
  CHECK_FALSE(seen_fused.count("d"));
  CHECK_FALSE(seen_fused.count("a"));
  CHECK(seen_literal.count("d"));
  CHECK(seen_literal.count("a"));
}

TEST_CASE("integer conv and matmul subtract x_zero_point; padding contributes 0") {
  // Σ (x − 3)·w: x = [4, 5, 6] centred is [1, 2, 3]. With one pad each side and w = [1, 10], the
  // first window is pad·1 + 1·10 = 10 (a padded tap is 0, not −3), then 1 + 20, 2 + 30, 3 + pad.
  ir::Graph g = ir::parse_graph(R"(graph @int_products {
    input %x : u8[1,1,3]
    const %w : i8[1,1,2] = [1, 10]
    const %b : i8[3,2] = [1, 0, 0, 1, 1, 1]
    %c = conv(%x, %w) {dilations = [1], group = 1, pads = [1, 1], strides = [1], x_zero_point = 3} : i32[1,1,4]
    %m = matmul(%x, %b) {x_zero_point = 3} : i32[1,1,2]
    output %c
    output %m
  })",
                                "int_products.qir");
  ir::verify(g);
  std::vector<uint8_t> x{4, 5, 6};
  for (Arithmetic a : {Arithmetic::float32, Arithmetic::exact}) {
    auto out = sim::evaluate_qat(g, {ir::TensorData::from<uint8_t>({1, 1, 3}, x)}, {.arithmetic = a});
    std::vector<int64_t> conv, matmul;
    for (int64_t i = 0; i < out[0].size(); ++i) conv.push_back(out[0].int_at(i));
    for (int64_t i = 0; i < out[1].size(); ++i) matmul.push_back(out[1].int_at(i));
    CHECK(conv == std::vector<int64_t>{10, 21, 32, 3});
    CHECK(matmul == std::vector<int64_t>{1 + 3, 2 + 3});  // [1, 2, 3] · columns [1, 0, 1], [0, 1, 1]
  }
}

TEST_CASE("exact mode stops, naming the op, when 113 bits are not enough") {
  ir::Graph g = ir::parse_graph(R"(graph @wide {
    input %x : f32[1]
    const %tiny : f32[1] = [1e-30]
    %y = add(%x, %tiny) : f32[1] loc("wide_add")
    output %y
  })",
                                "wide.qir");
  std::vector<float> in{1e30f};
  CHECK_THROWS_WITH(sim::evaluate_qat(g, {ir::TensorData::from<float>({1}, in)}, {}),
                    Catch::Contains("add 'wide_add'") && Catch::Contains("113 bits"));
  // float32 mode just rounds, as a framework would.
  auto out = sim::evaluate_qat(g, {ir::TensorData::from<float>({1}, in)}, {.arithmetic = Arithmetic::float32});
  CHECK(out[0].float_at(0) == static_cast<double>(1e30f));
}

TEST_CASE("inputs must match the graph's input shapes") {
  ir::Graph g = ir::parse_graph("graph @g { input %x : f32[2]\n %y = relu(%x) : f32[2]\n output %y }", "g.qir");
  std::vector<float> in{1, 2, 3};
  CHECK_THROWS_WITH(sim::evaluate_qat(g, {ir::TensorData::from<float>({3}, in)}, {}), Catch::Contains("'x'"));
}

TEST_CASE("an f64 constant in an f32 add is exact in exact mode and rounded in float32 mode") {
  // 1 + 2^-40 is a double but no float32: exact mode adds it as it is; a float32 framework would
  // hold the constant as 1.0f. The verifier accepts f64 operands of f32 arithmetic, not the reverse.
  ir::Graph g = ir::parse_graph(R"(graph @wide_constant {
    input %x : f32[1]
    const %k : f64[1] = [1.0000000000009095]
    %y = add(%x, %k) : f32[1]
    output %y
  })",
                                "wide_constant.qir");
  ir::verify(g);
  std::vector<float> in{0.5f};
  CHECK(sim::evaluate_qat(g, {ir::TensorData::from<float>({1}, in)}, {})[0].float_at(0) == 1.5 + 0x1p-40);
  CHECK(sim::evaluate_qat(g, {ir::TensorData::from<float>({1}, in)}, {.arithmetic = Arithmetic::float32})[0].float_at(0) ==
        1.5);
  ir::Graph narrow = ir::parse_graph(R"(graph @narrow_operand {
    input %x : f64[1]
    const %k : f32[1] = [1]
    %y = add(%x, %k) : f64[1] loc("mixed")
    output %y
  })",
                                     "narrow_operand.qir");
  CHECK_THROWS_WITH(ir::verify(narrow), "add 'mixed': operand 'k' is f32 but the result is f64");
}

TEST_CASE("exact convs of power-of-two multiples (the integer planes) equal the float32 sums") {
  // Every value a small multiple of 2^-3 (input) or 2^-5 (weights): float32 computes these sums
  // exactly too, in its own order of additions, so the two modes must agree on every element, over
  // strides, dilations, asymmetric padding (taps in the padding skipped) and groups.
  const std::string g = R"(graph @dyadic_conv {
    input %x : f32[1,4,9,11]
    const %w : f32[6,2,3,2] = [)" + [] {
    std::string v;
    for (int i = 0; i < 6 * 2 * 3 * 2; ++i) v += (i ? ", " : "") + std::to_string(((i * 37) % 29 - 14) / 32.0);
    return v;
  }() + R"(]
    %c = conv(%x, %w) {dilations = [2, 1], group = 2, pads = [2, 0, 1, 3], strides = [2, 3]} : f32[1,6,4,5]
    output %c
  })";
  ir::Graph graph = ir::parse_graph(g, "dyadic_conv.qir");
  ir::verify(graph);
  std::vector<float> x(4 * 9 * 11);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((static_cast<int>(i * 53) % 41 - 20) / 8.0);
  const auto input = ir::TensorData::from<float>({1, 4, 9, 11}, x);
  auto exact = sim::evaluate_qat(graph, {input}, {.arithmetic = Arithmetic::exact});
  auto f32 = sim::evaluate_qat(graph, {input}, {.arithmetic = Arithmetic::float32});
  REQUIRE(exact[0].size() == 6 * 4 * 5);
  int nonzero = 0;
  for (int64_t i = 0; i < exact[0].size(); ++i) {
    CHECK(exact[0].float_at(i) == f32[0].float_at(i));
    nonzero += exact[0].float_at(i) != 0;
  }
  CHECK(nonzero > 60);
}

namespace {

// A float32 conv computed output by output as the evaluator's F32Dot defines it: the bias first,
// then each in-input tap's product in window order (input channel, then taps), rounded separately
// (fused for depthwise convs); taps in the padding skipped.
std::vector<float> walked_conv(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
                               int c_in, int h, int wd, int c_out, int group, int kh, int kw, std::array<int, 4> pads,
                               std::array<int, 2> strides, std::array<int, 2> dilations, int oh, int ow) {
  const int in_per_group = c_in / group, out_per_group = c_out / group;
  const bool fused = in_per_group == 1 && group > 1;
  std::vector<float> y;
  for (int oc = 0; oc < c_out; ++oc)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        float acc = bias.empty() ? 0.0f : bias[oc];
        for (int ic = 0; ic < in_per_group; ++ic)
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * strides[0] - pads[0] + ky * dilations[0], ix = ox * strides[1] - pads[1] + kx * dilations[1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              const float a = x[((oc / out_per_group * in_per_group + ic) * h + iy) * wd + ix];
              const float b = w[((oc * in_per_group + ic) * kh + ky) * kw + kx];
              if (fused) {
                acc = std::fma(a, b, acc);
              } else {
                volatile float product = a * b;  // rounded on its own, never contracted into the sum
                acc = acc + product;
              }
            }
        y.push_back(acc);
      }
  return y;
}

std::string floats(const std::vector<float>& v) {
  std::string s;
  for (float f : v) s += (s.empty() ? "" : ", ") + fmt::format("{:.17g}", static_cast<double>(f));  // round-trips
  return s;
}

}  // namespace

TEST_CASE("float32 convs keep every sum's order of additions, on any vector width") {
  // Values that are not on any small grid, so that the order of additions shows in the roundings.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  auto random = [&](size_t n) {
    std::vector<float> v(n);
    for (float& f : v) f = u(rng);
    return v;
  };
  struct Case {
    const char* what;
    int c_in, h, w, c_out, group, kh, kw;
    std::array<int, 4> pads;  // top, left, bottom, right
    std::array<int, 2> strides, dilations;
    bool bias;
  };
  const std::vector<Case> cases{
      {"3x3 same, bias", 3, 7, 9, 4, 1, 3, 3, {1, 1, 1, 1}, {1, 1}, {1, 1}, true},
      {"strided, dilated, asymmetric pads", 4, 9, 11, 6, 2, 3, 2, {2, 0, 1, 3}, {2, 3}, {2, 1}, false},
      {"depthwise (fused), stride 2", 5, 8, 8, 5, 5, 3, 3, {1, 1, 1, 1}, {2, 2}, {1, 1}, true},
      {"1x1", 6, 5, 5, 3, 1, 1, 1, {0, 0, 0, 0}, {1, 1}, {1, 1}, false},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const int oh = (c.h + c.pads[0] + c.pads[2] - c.dilations[0] * (c.kh - 1) - 1) / c.strides[0] + 1;
    const int ow = (c.w + c.pads[1] + c.pads[3] - c.dilations[1] * (c.kw - 1) - 1) / c.strides[1] + 1;
    const auto x = random(static_cast<size_t>(c.c_in * c.h * c.w));
    const auto w = random(static_cast<size_t>(c.c_out * c.c_in / c.group * c.kh * c.kw));
    const auto b = c.bias ? random(static_cast<size_t>(c.c_out)) : std::vector<float>{};
    const std::string text = fmt::format(
        R"(graph @conv {{
      input %x : f32[1,{0},{1},{2}]
      const %w : f32[{3},{4},{5},{6}] = [{7}]
      {8}
      %c = conv(%x, %w{9}) {{dilations = [{10}, {11}], group = {12}, pads = [{13}, {14}, {15}, {16}], strides = [{17}, {18}]}} : f32[1,{3},{19},{20}]
      output %c
    }})",
        c.c_in, c.h, c.w, c.c_out, c.c_in / c.group, c.kh, c.kw, floats(w),
        c.bias ? fmt::format("const %b : f32[{}] = [{}]", c.c_out, floats(b)) : "", c.bias ? ", %b" : "", c.dilations[0],
        c.dilations[1], c.group, c.pads[0], c.pads[1], c.pads[2], c.pads[3], c.strides[0], c.strides[1], oh, ow);
    ir::Graph g = ir::parse_graph(text, "conv.qir");
    ir::verify(g);
    const auto out = sim::evaluate_qat(g, {ir::TensorData::from<float>({1, c.c_in, c.h, c.w}, x)},
                                       {.arithmetic = Arithmetic::float32});
    const auto want =
        walked_conv(x, w, b, c.c_in, c.h, c.w, c.c_out, c.group, c.kh, c.kw, c.pads, c.strides, c.dilations, oh, ow);
    REQUIRE(out[0].size() == static_cast<int64_t>(want.size()));
    int differing = 0;
    for (size_t i = 0; i < want.size(); ++i) differing += out[0].float_at(static_cast<int64_t>(i)) != want[i];
    CHECK(differing == 0);
  }
}

TEST_CASE("a float32 conv whose padding taps would change a sum skips them, as the window walk does") {
  // 0 * inf is NaN, and -0 + 0 is +0: with an infinite weight or a -0 bias the zero-padded planes
  // would differ from skipping the padding, so the evaluator must skip it. Output 0 has its
  // infinite-weight tap in the padding; output 1 starts at -0 and adds only padding taps' products.
  ir::Graph g = ir::parse_graph(R"(graph @pad_taps {
    input %x : f32[1,1,1,2]
    const %w : f32[2,1,1,3] = [inf, 1, 0, 0, 0, 0]
    const %b : f32[2] = [1, -0]
    %c = conv(%x, %w, %b) {dilations = [1, 1], group = 1, pads = [0, 1, 0, 0], strides = [1, 1]} : f32[1,2,1,1]
    output %c
  })",
                                "pad_taps.qir");
  ir::verify(g);
  // Output (oc 0, x 0): taps at x = -1 (padding, weight inf), 0 and 1 (weights 1 and 0).
  const std::vector<float> x{2.0f, -0.0f};
  const auto out = sim::evaluate_qat(g, {ir::TensorData::from<float>({1, 1, 1, 2}, x)},
                                     {.arithmetic = Arithmetic::float32});
  CHECK(out[0].float_at(0) == 3.0f);
  // oc 1: -0 + 2*0 + (-0)*0 = -0 + 0 + -0 = +0 in IEEE arithmetic, and no padding tap changes it.
  CHECK(out[0].float_at(1) == 0.0f);
  CHECK_FALSE(std::signbit(out[0].float_at(1)));
}

TEST_CASE("a prepared evaluator computes the weights' fake-quant once and runs any number of data sets") {
  ir::Graph g = ir::parse_graph(R"(graph @prepared {
    input %x : f32[1,1,1,3]
    const %wf : f32[2,1,1,1] = [0.3, -0.7]
    %wq = quantize(%wf) {round = "half_even"} : i8[2,1,1,1] quant<i8: scale = 2^-4, zp = 0>
    %w = dequantize(%wq) : f32[2,1,1,1]
    %c = conv(%x, %w) {dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1]} : f32[1,2,1,3]
    output %c
  })",
                                "prepared.qir");
  ir::verify(g);
  for (Arithmetic a : {Arithmetic::exact, Arithmetic::float32}) {
    const sim::QatEvaluator evaluator(g, {.arithmetic = a}, /*observed=*/true);
    for (float scale : {1.0f, -2.0f}) {
      const std::vector<float> x{1 * scale, 2 * scale, 3 * scale};
      const auto input = ir::TensorData::from<float>({1, 1, 1, 3}, x);
      std::vector<std::string> seen;
      const auto out = evaluator.run({input}, [&](const ir::Op& op, const ir::TensorData&) {
        seen.push_back(op.outputs[0]->name);
      });
      // Every op reported in order, the prepared ones too; the conv uses round(0.3*16)/16 = 5/16
      // and round(-0.7*16)/16 = -11/16.
      CHECK(seen == std::vector<std::string>{"wq", "w", "c"});
      const auto once = sim::evaluate_qat(g, {input}, {.arithmetic = a});
      for (int64_t i = 0; i < 3; ++i) {
        CHECK(out[0].float_at(i) == (i + 1) * scale * 5 / 16.0);
        CHECK(out[0].float_at(i + 3) == (i + 1) * scale * -11 / 16.0);
        CHECK(once[0].float_at(i) == out[0].float_at(i));
      }
    }
    CHECK_THROWS_AS(sim::QatEvaluator(g, {.arithmetic = a}, false).run({}, [](const ir::Op&, const ir::TensorData&) {}),
                    std::logic_error);
  }
}
