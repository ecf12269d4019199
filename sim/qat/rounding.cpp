#include "sim/qat/rounding.h"

namespace qatc::sim {

int64_t round_by_rule(ir::Rounding rule, bool negative, int64_t magnitude, Fraction f) {
  if (magnitude >= kSaturatedMagnitude) return negative ? -kSaturatedMagnitude : kSaturatedMagnitude;
  bool away = false;  // whether the magnitude rounds up (away from zero)
  switch (rule) {
    case ir::Rounding::half_even: away = f.vs_half > 0 || (f.vs_half == 0 && (magnitude & 1)); break;
    case ir::Rounding::half_away: away = f.vs_half >= 0; break;
    // floor(v + 1/2): a tie moves towards +infinity, i.e. away from zero only for positive v.
    case ir::Rounding::half_up: away = negative ? f.vs_half > 0 : f.vs_half >= 0; break;
    case ir::Rounding::floor: away = negative && f.nonzero; break;
  }
  int64_t m = magnitude + (away ? 1 : 0);
  return negative ? -m : m;
}

int64_t round_floored(ir::Rounding rule, __int128 floor, Fraction f) {
  auto saturated = [](__int128 m) { return m >= kSaturatedMagnitude ? kSaturatedMagnitude : static_cast<int64_t>(m); };
  if (floor >= 0 || !f.nonzero) return round_by_rule(rule, floor < 0, saturated(floor < 0 ? -floor : floor), f);
  // floor + f = -((-floor - 1) + (1 - f)): the fraction of the magnitude is 1 - f, on the other side of 1/2.
  return round_by_rule(rule, true, saturated(-floor - 1), {-f.vs_half, true});
}

// With the rest r in [0, divisor), (r + φ) / divisor against one half is 2r + 2φ against the
// divisor, where 2φ is 0, in (0, 1), 1 or in (1, 2) by φ's class.
Floored divide_floored(__int128 numerator, __int128 divisor, int phi_class) {
  __int128 floor = numerator / divisor, rem = numerator % divisor;
  if (rem < 0) {  // C++ division truncates towards zero
    floor -= 1;
    rem += divisor;
  }
  const __int128 k = divisor - 2 * rem;
  const int cmp = k >= 2  ? -1
                  : k < 0 ? 1
                  : k == 0 ? (phi_class == 0 ? 0 : 1)
                           : (phi_class <= 1 ? -1 : phi_class == 2 ? 0 : 1);
  return {floor, {cmp, rem != 0 || phi_class != 0}};
}

}  // namespace qatc::sim
