// Arithmetic policy of the exact mode: real-number arithmetic on Exact values, with no rounding
// anywhere except a quantize op's own rule.
#pragma once

#include "ir/quant.h"
#include "sim/qat/exact.h"

#include <optional>
#include <span>
#include <vector>

namespace qatc::sim {

// Conv/matmul accumulation in the general case: checked exact multiply-adds.
struct ExactDot {
  using Operand = Exact;
  using Acc = Exact;
  Acc zero() const { return {}; }
  void madd(Acc& acc, const Exact& a, const Exact& b) const { acc = add(acc, mul(a, b)); }
  Exact finish(const Acc& acc) const { return acc; }
};

// The fast path: when both operands are integer multiples of powers of two (what fake-quant values
// are), products of the multiples accumulate in __int128 without any check per term.
struct ScaledIntDot {
  using Operand = int64_t;
  using Acc = i128;
  int exponent;  // of the products: the sum of the operands' exponents
  Acc zero() const { return 0; }
  void madd(Acc& acc, int64_t a, int64_t b) const { acc += static_cast<i128>(a) * b; }
  Exact finish(Acc acc) const { return Exact::from_scaled(acc, exponent); }
};

// The same when every partial sum fits 63 bits (8-bit activations and weights, any realistic
// reduction): int64 multiply-adds, several times cheaper than __int128 ones.
struct ScaledInt64Dot {
  using Operand = int64_t;
  using Acc = int64_t;
  int exponent;
  Acc zero() const { return 0; }
  void madd(Acc& acc, int64_t a, int64_t b) const { acc += a * b; }
  Exact finish(Acc acc) const { return Exact::from_scaled(acc, exponent); }
};

// Two tensors as integer multiples of 2^exponent each, when that is possible without overflow.
struct ScaledIntOperands {
  std::vector<int64_t> a, b;
  int exponent;  // of the products
  bool fits_64;  // `terms` products of the largest magnitudes stay below 2^63
};
// Null when an operand has a denominator, spans more than 62 bits, or `terms` products of the
// largest magnitudes could overflow the __int128 accumulator.
std::optional<ScaledIntOperands> scaled_int_operands(std::span<const Exact> a, std::span<const Exact> b, int64_t terms);

struct ExactArith {
  using Num = Exact;
  using Stored = double;  // element type of exported float tensors
  static constexpr bool integer = false;
  static constexpr bool bias_seeds_accumulator = false;  // exact: the order of additions is moot

  static Num from_double(double v) { return Exact::from_double(v); }
  static Num from_int(int64_t v) { return Exact::from_int(v); }
  static double to_double(const Num& v);  // NumericError if the value is not a double
  static double approximate_double(const Num& v) { return v.approximate_double(); }

  static Num add(const Num& a, const Num& b) { return sim::add(a, b); }
  static Num sub(const Num& a, const Num& b) { return sim::sub(a, b); }
  static Num mul(const Num& a, const Num& b) { return sim::mul(a, b); }
  static Num div(const Num& a, const Num& b) { return sim::div(a, b); }
  static bool less(const Num& a, const Num& b) { return compare(a, b) < 0; }
  static Num mul_add(const Num& a, const Num& b, const Num& c) { return sim::add(sim::mul(a, b), c); }
  static Num sub_mul(const Num& c, const Num& a, const Num& b) { return sim::sub(c, sim::mul(a, b)); }

  // The real quotient x / scale, rounded by `rule`; the reciprocal option is a float32 matter.
  static int64_t quantize(const Num& x, double scale, ir::Rounding rule, bool /*by_reciprocal*/) {
    ExactQuotient q = divide_for_rounding(x, scale);
    return round_by_rule(rule, q.negative, q.magnitude, q.fraction);
  }
  static Num dequantize(int64_t q_minus_zp, double scale) {
    return sim::mul(Exact::from_int(q_minus_zp), Exact::from_double(scale));
  }

  template <class F>
  static void with_dot(std::span<const Exact> a, std::span<const Exact> b, int64_t terms, bool /*depthwise*/, F&& f) {
    if (auto ints = scaled_int_operands(a, b, terms)) {
      if (ints->fits_64) f(ScaledInt64Dot{ints->exponent}, ints->a.data(), ints->b.data());
      else f(ScaledIntDot{ints->exponent}, ints->a.data(), ints->b.data());
    } else
      f(ExactDot{}, a.data(), b.data());
  }
};

}  // namespace qatc::sim
