// Arithmetic policy of the exact mode: real-number arithmetic on Exact values, with no rounding
// anywhere except a quantize op's own rule.
#pragma once

#include "ir/quant.h"
#include "sim/qat/dot_rows.h"
#include "sim/qat/exact.h"

#include <optional>
#include <span>
#include <type_traits>
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
// are), products of the multiples accumulate in integers without any check per term, in Acc: the
// narrowest of int32, int64 and __int128 that the operands' magnitudes prove wide enough (int32
// rows run four times as many lanes per vector as int64 ones, which a plain x86-64 cannot multiply).
template <class Operand_, class Acc_>
struct ScaledIntDot {
  using Operand = Operand_;
  using Acc = Acc_;
  int exponent;  // of the products: the sum of the operands' exponents
  Acc zero() const { return 0; }
  void madd(Acc& acc, Operand a, Operand b) const { acc += static_cast<Acc>(a) * b; }
  void madd_taps(Acc* acc, const Operand* x, const int64_t* offsets, const Operand* w, int64_t taps, int64_t n) const
    requires std::is_same_v<Operand, Acc>
  {
    sim::madd_taps(acc, x, offsets, w, taps, n);
  }
  Exact finish(Acc acc) const { return Exact::from_scaled(acc, exponent); }
};

// A tensor as integer multiples of 2^exponent.
struct ScaledInts {
  std::vector<int64_t> values;
  std::vector<int32_t> values32;  // the same, in a prepared operand whose values fit 31 bits; else empty
  int exponent = 0;
  int bits = 0;  // every |value| < 2^bits
};
// Null when a value has a denominator or the values span more than 62 bits.
std::optional<ScaledInts> to_scaled_ints(std::span<const Exact> v);

// Two tensors as integer multiples of 2^exponent each, when that is possible without overflow.
struct ScaledIntOperands {
  std::vector<int64_t> a;
  ScaledInts b_converted;               // b, where it was not prepared
  const ScaledInts* b_prepared;         // else b as the evaluator prepared it
  int exponent;  // of the products
  int sum_bits;  // `terms` products of the largest magnitudes stay below 2^sum_bits (at most 126)
  const ScaledInts& b() const { return b_prepared ? *b_prepared : b_converted; }
};
// Null when an operand has a denominator, spans more than 62 bits, or `terms` products of the
// largest magnitudes could overflow the __int128 accumulator. `b_prepared`: b, already converted.
std::optional<ScaledIntOperands> scaled_int_operands(std::span<const Exact> a, std::span<const Exact> b, int64_t terms,
                                                     const ScaledInts* b_prepared = nullptr);

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
  static Num reciprocal(const Num& b) { return sim::reciprocal(b); }
  static bool less(const Num& a, const Num& b) { return compare(a, b) < 0; }
  static Num mul_add(const Num& a, const Num& b, const Num& c) { return sim::add(sim::mul(a, b), c); }
  static Num sub_mul(const Num& c, const Num& a, const Num& b) { return sim::sub(c, sim::mul(a, b)); }

  // The real quotient x / scale, rounded by `rule`; the reciprocal option is a float32 matter.
  static int64_t quantize(const Num& x, double scale, ir::Rounding rule, bool /*by_reciprocal*/) {
    ExactQuotient q = divide_for_rounding(x, scale);
    return round_by_rule(rule, q.negative, q.magnitude, q.fraction);
  }
  // (q - zp) * scale, the product of the integer and the scale's significand composed at once.
  static Num dequantize(int64_t q_minus_zp, double scale) {
    const DoubleParts s = split_double(scale);
    return Exact::from_scaled(static_cast<i128>(q_minus_zp) * s.significand, s.exp);
  }

  // What the evaluator prepares of a constant second operand of conv and matmul (with_dot's b),
  // once for every run: its scaled integers, with their int32 copy where they fit.
  using PreparedOperand = ScaledInts;
  static std::optional<ScaledInts> prepare_operand(std::span<const Exact> b);

  template <class F>
  static void with_dot(std::span<const Exact> a, std::span<const Exact> b, int64_t terms, bool /*depthwise*/, F&& f,
                       const ScaledInts* b_prepared = nullptr) {
    if (auto ints = scaled_int_operands(a, b, terms, b_prepared)) {
      const ScaledInts& bi = ints->b();
      if (ints->sum_bits <= 31) {
        const std::vector<int32_t> a32(ints->a.begin(), ints->a.end());
        std::vector<int32_t> b32;  // where b has no int32 copy of its own
        if (bi.values32.size() != bi.values.size()) b32.assign(bi.values.begin(), bi.values.end());
        f(ScaledIntDot<int32_t, int32_t>{ints->exponent}, a32.data(), b32.empty() ? bi.values32.data() : b32.data());
      } else if (ints->sum_bits <= 62)
        f(ScaledIntDot<int64_t, int64_t>{ints->exponent}, ints->a.data(), bi.values.data());
      else
        f(ScaledIntDot<int64_t, i128>{ints->exponent}, ints->a.data(), bi.values.data());
    } else
      f(ExactDot{}, a.data(), b.data());
  }
};

}  // namespace qatc::sim
