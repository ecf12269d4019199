// Lookup tables against an independent reference: the lowered graph, run on the integer simulator
// over every int8 code, must give the correctly rounded quantization of the real function, here
// computed with the C library's long double functions (64-bit significands, not MPFR). A code whose
// long double quotient lies within 2^-40 of a rounding boundary without being on it is one the
// reference cannot decide; the test counts those and requires there be none.
#include "ir/text.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <functional>

using namespace qatc;

namespace {

struct Case {
  std::string name;
  std::string ops;  // IR text computing %f from %xd
  std::function<long double(long double)> f;
};

long double sigmoid(long double x) { return 1.0L / (1.0L + expl(-x)); }

const std::vector<Case> kCases = {
    {"sigmoid", "%f = sigmoid(%xd) : f32[256]", sigmoid},
    {"tanh", "%f = tanh(%xd) : f32[256]", [](long double x) { return tanhl(x); }},
    {"erf", "%f = erf(%xd) : f32[256]", [](long double x) { return erfl(x); }},
    {"exp", "%f = exp(%xd) : f32[256]", [](long double x) { return expl(x); }},
    {"elu", "%f = elu(%xd) {alpha = 1.0} : f32[256]", [](long double x) { return x < 0 ? expm1l(x) : x; }},
    {"silu", "%s = sigmoid(%xd) : f32[256]\n  %f = mul(%xd, %s) : f32[256]",
     [](long double x) { return x * sigmoid(x); }},
    {"softplus", "%f = softplus(%xd) : f32[256]", [](long double x) { return log1pl(expl(x)); }},
    {"mish", "%p = softplus(%xd) : f32[256]\n  %t = tanh(%p) : f32[256]\n  %f = mul(%xd, %t) : f32[256]",
     [](long double x) { return x * tanhl(log1pl(expl(x))); }},
    {"leaky_relu", "%f = leaky_relu(%xd) {alpha = 0.125} : f32[256]",
     [](long double x) { return x < 0 ? x * 0.125L : x; }},
};

std::string graph_text(const Case& c, int in_exp, int out_exp) {
  return fmt::format(R"(graph @lut {{
  input %x : f32[256]
  %xq = quantize(%x) {{round = "half_even"}} : i8[256] quant<i8: scale = 2^{}, zp = 0>
  %xd = dequantize(%xq) : f32[256]
  {}
  %y = quantize(%f) {{round = "half_even"}} : i8[256] quant<i8: scale = 2^{}, zp = 0>
  %yd = dequantize(%y) : f32[256]
  output %yd
}}
)",
                     in_exp, c.ops, out_exp);
}

}  // namespace

TEST_CASE("lookup tables are the correctly rounded function on every int8 code") {
  for (const Case& c : kCases) {
    for (int in_exp : {-2, -4, -6}) {
      for (int out_exp : {-3, -7}) {
        INFO(c.name << " input 2^" << in_exp << " output 2^" << out_exp);
        ir::Graph g = ir::parse_graph(graph_text(c, in_exp, out_exp), c.name);
        passes::lower(g, {});
        size_t tables = 0;
        for (const ir::Op* op : g.ops()) tables += op->kind == ir::OpKind::lut;
        REQUIRE(tables == 1);

        std::vector<float> x(256);
        for (int code = -128; code < 128; ++code) x[code + 128] = std::ldexp(static_cast<float>(code), in_exp);
        auto out = sim::simulate_integer(g, {ir::TensorData::from<float>({256}, x)});
        int undecided = 0;
        for (int code = -128; code < 128; ++code) {
          const long double q = c.f(ldexpl(code, in_exp)) / ldexpl(1, out_exp);
          const long double below = floorl(q), frac = q - below;
          // An exact tie (leaky_relu's products are exact in long double) rounds half to even.
          const bool tie = frac == 0.5L;
          if (!tie && fabsl(frac - 0.5L) < ldexpl(1, -40)) {
            ++undecided;
            continue;
          }
          const bool up = tie ? fmodl(below, 2) != 0 : frac > 0.5L;
          const long double rounded = std::clamp(up ? below + 1 : below, -128.0L, 127.0L);
          INFO("code " << code);
          CHECK(out[0].float_at(code + 128) == static_cast<double>(ldexpl(rounded, out_exp)));
        }
        CHECK(undecided == 0);
      }
    }
  }
}
