// The exact evaluator's number: a rational num/den whose numerator is a binary floating-point number
// with a 113-bit significand (__float128) and whose denominator is a 64-bit odd integer (usually 1).
// Fake-quant graphs only ever need dyadic numbers plus the odd factors brought in by dividing by a
// non-power-of-two constant or an average-pool count, so this holds every value of such a graph
// exactly. No operation rounds: one whose result would need more bits throws NumericError.
#pragma once

#include "sim/qat/rounding.h"

#include <cstdint>
#include <optional>

namespace qatc::sim {

using u128 = unsigned __int128;
using i128 = __int128;

// |v| = odd * 2^exp with `odd` an odd integer of at most 113 bits; odd == 0 for zero.
struct BinaryParts {
  bool negative = false;
  u128 odd = 0;
  int exp = 0;
};
BinaryParts decompose(__float128 v);

// A finite double as significand * 2^exp with |significand| < 2^53 (0 for zero).
struct DoubleParts {
  int64_t significand;
  int exp;
};
DoubleParts split_double(double v);
int bit_length(u128 v);

struct Exact {
  // Canonical form, so that equal values have equal representations: den is odd and shares no factor
  // with num's odd significand; zero is 0/1.
  __float128 num = 0;
  uint64_t den = 1;

  static Exact from_double(double v);  // NumericError for NaN and infinities
  static Exact from_int(int64_t v);
  static Exact from_scaled(i128 m, int exp2);  // m * 2^exp2

  bool negative() const { return num < 0; }
  // The double equal to this value, if there is one.
  std::optional<double> exact_double() const;
  // A double close to this value (within an ulp), for dumping intermediates that are not doubles.
  double approximate_double() const;
};

Exact add(const Exact& a, const Exact& b);
Exact sub(const Exact& a, const Exact& b);
Exact mul(const Exact& a, const Exact& b);
// Exact when the divisor's odd significand fits 64 bits, as for every float32 or integer divisor.
Exact reciprocal(const Exact& b);
Exact div(const Exact& a, const Exact& b);  // mul(a, reciprocal(b))
int compare(const Exact& a, const Exact& b);  // -1, 0 or 1

// |x / scale| split into its integer part (saturated at kSaturatedMagnitude) and fraction class,
// computed exactly for any positive finite double scale.
struct ExactQuotient {
  bool negative = false;
  int64_t magnitude = 0;
  Fraction fraction;
};
ExactQuotient divide_for_rounding(const Exact& x, double scale);

}  // namespace qatc::sim
