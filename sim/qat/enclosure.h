// The exact evaluator's number after a transcendental function: sigmoid, tanh, erf, exp, softplus
// and elu of a nonzero rational are irrational (log of a rational other than 1 too), so no Exact holds them. An Enclosure is an interval [lo, hi] of
// MPFR numbers (kEnclosureBits of significand) that contains the real value: every operation rounds
// lo down and hi up, and MPFR's functions are correctly rounded, so the bounds are proven.
//
// A quantize decides the code of the real value when both bounds round to the same integer: every
// tie rule is monotone, so then every value between them does too. The width is about 2^-240
// relative, so only a value exactly at a rounding boundary escapes that, and such values come from
// exact steps only (sigmoid(0) = 1/2, exp(0) = 1: MPFR returns them exactly, and the interval is a
// single point, which rounds by the rule like any exact value). Anything else left undecided is
// refused (NumericError), never guessed.
#pragma once

#include "ir/quant.h"
#include "sim/qat/exact.h"

#include <mpfr.h>

#include <optional>

namespace qatc::sim {

inline constexpr mpfr_prec_t kEnclosureBits = 256;

class Enclosure {
 public:
  Enclosure();  // the point 0
  explicit Enclosure(const Exact& v);
  Enclosure(const Enclosure& other);
  Enclosure(Enclosure&& other) noexcept;
  Enclosure& operator=(Enclosure other) noexcept;
  ~Enclosure();

  mpfr_srcptr lo() const { return lo_; }
  mpfr_srcptr hi() const { return hi_; }
  mpfr_ptr lo() { return lo_; }
  mpfr_ptr hi() { return hi_; }
  bool point() const { return mpfr_equal_p(lo_, hi_) != 0; }

  // The double equal to the value, if the enclosure is a point that is a double.
  std::optional<double> exact_double() const;
  double approximate_double() const;  // for dumps

 private:
  mpfr_t lo_, hi_;
};

Enclosure add(const Enclosure& a, const Enclosure& b);
Enclosure sub(const Enclosure& a, const Enclosure& b);
Enclosure mul(const Enclosure& a, const Enclosure& b);
Enclosure div(const Enclosure& a, const Enclosure& b);  // NumericError if b may be zero
// max(x, b) and min(x, b), for relu and clip.
Enclosure at_least(const Enclosure& x, const Enclosure& b);
Enclosure at_most(const Enclosure& x, const Enclosure& b);

enum class Function { sigmoid, tanh, erf, exp, log, softplus };
Enclosure apply(Function f, const Enclosure& x);  // NumericError if a bound is not finite
// x < 0 ? alpha·x : x and x < 0 ? alpha·(e^x − 1) : x.
Enclosure leaky_relu(const Enclosure& x, const Enclosure& alpha);
Enclosure elu(const Enclosure& x, const Enclosure& alpha);

// round(x / scale) by `rule`, saturated at ±kSaturatedMagnitude; NumericError when the bounds round
// differently (see above).
int64_t quantize(const Enclosure& x, double scale, ir::Rounding rule);

}  // namespace qatc::sim
