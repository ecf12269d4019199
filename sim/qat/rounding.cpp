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

}  // namespace qatc::sim
