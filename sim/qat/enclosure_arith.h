// Arithmetic policy of the exact mode's irrational tensors (after sigmoid, tanh, erf, exp, elu):
// interval arithmetic on Enclosures, for the elementwise steps between such a function and the
// quantize that decides each value's code.
#pragma once

#include "ir/quant.h"
#include "sim/qat/enclosure.h"
#include "sim/qat/numeric_error.h"

namespace qatc::sim {

struct EnclosureArith {
  using Num = Enclosure;
  using Stored = double;  // element type of exported float tensors
  static constexpr bool integer = false;

  static Num from_double(double v) { return Enclosure(Exact::from_double(v)); }
  static double to_double(const Num& v) {
    if (auto d = v.exact_double()) return *d;
    throw NumericError("the value is irrational (it lies strictly between two doubles) and has no exact double");
  }
  static double approximate_double(const Num& v) { return v.approximate_double(); }

  static Num add(const Num& a, const Num& b) { return sim::add(a, b); }
  static Num sub(const Num& a, const Num& b) { return sim::sub(a, b); }
  static Num mul(const Num& a, const Num& b) { return sim::mul(a, b); }
  static Num div(const Num& a, const Num& b) { return sim::div(a, b); }
  static Num at_least(const Num& v, const Num& lo) { return sim::at_least(v, lo); }
  static Num at_most(const Num& v, const Num& hi) { return sim::at_most(v, hi); }

  static int64_t quantize(const Num& x, double scale, ir::Rounding rule, bool /*by_reciprocal*/) {
    return sim::quantize(x, scale, rule);
  }
};

}  // namespace qatc::sim
