// Rounding a real quotient to an integer under a quantize op's tie rule. Both arithmetic modes reduce
// their quotient to (sign, integer part, fraction class) and share this one decision.
#pragma once

#include "ir/quant.h"

#include <cstdint>

namespace qatc::sim {

// Integer parts at or above this saturate: it is beyond every quantized range (bits <= 32), and
// adding a zero point to it cannot overflow int64.
inline constexpr int64_t kSaturatedMagnitude = int64_t{1} << 62;

// What the tie rules need to know about the fractional part f of |quotient| (0 <= f < 1).
struct Fraction {
  int vs_half = -1;      // -1: f < 1/2, 0: f == 1/2, +1: f > 1/2
  bool nonzero = false;  // f != 0
};

// Rounds (negative ? -1 : 1) * (magnitude + f) to an integer by `rule`. A magnitude at
// kSaturatedMagnitude or above returns +-kSaturatedMagnitude.
int64_t round_by_rule(ir::Rounding rule, bool negative, int64_t magnitude, Fraction f);

// Rounds floor + f (f the fraction above the integer `floor`) by `rule`, saturating as round_by_rule:
// the form in which an integer shifted right or divided exactly comes (the integer simulator).
int64_t round_floored(ir::Rounding rule, __int128 floor, Fraction f);

// An integer quotient's floor and the fraction above it, for round_floored.
struct Floored {
  __int128 floor;
  Fraction fraction;
};

// floor((numerator + φ) / divisor) and the fraction above it, for any divisor >= 1, exactly; φ in
// [0, 1) is known by class: 0 (φ = 0), 1 (0 < φ < ½), 2 (φ = ½), 3 (½ < φ < 1). An average's sum
// over its count, a requantize's numerator over its divisor.
Floored divide_floored(__int128 numerator, __int128 divisor, int phi_class = 0);

}  // namespace qatc::sim
