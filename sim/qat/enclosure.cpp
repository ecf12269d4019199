#include "sim/qat/enclosure.h"

#include "sim/qat/numeric_error.h"
#include "sim/qat/rounding.h"

#include <fmt/format.h>

#include <utility>

namespace qatc::sim {

namespace {

// A scratch MPFR number of the enclosures' precision.
class Scratch {
 public:
  Scratch() { mpfr_init2(v_, kEnclosureBits); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { mpfr_clear(v_); }
  operator mpfr_ptr() { return v_; }

 private:
  mpfr_t v_;
};

void require_finite(const Enclosure& r, const char* what) {
  if (!mpfr_number_p(r.lo()) || !mpfr_number_p(r.hi()))
    throw NumericError(fmt::format("{} is not finite", what));
}

// [f(lo) rounded down, f(hi) rounded up] for an increasing f with MPFR's (rop, op, rnd) signature.
template <class F>
Enclosure increasing(const Enclosure& x, F f) {
  Enclosure r;
  f(r.lo(), x.lo(), MPFR_RNDD);
  f(r.hi(), x.hi(), MPFR_RNDU);
  return r;
}

// 1 / (1 + e^-x), rounded in direction `rnd` (e^-x is rounded the other way).
void sigmoid(mpfr_ptr r, mpfr_srcptr x, mpfr_rnd_t rnd) {
  const mpfr_rnd_t other = rnd == MPFR_RNDD ? MPFR_RNDU : MPFR_RNDD;
  Scratch t;
  mpfr_neg(t, x, MPFR_RNDN);  // exact
  mpfr_exp(t, t, other);
  mpfr_add_ui(t, t, 1, other);
  mpfr_ui_div(r, 1, t, rnd);
}

// ln(1 + e^x), rounded in direction `rnd` (both steps increase, so both round that way).
void softplus(mpfr_ptr r, mpfr_srcptr x, mpfr_rnd_t rnd) {
  Scratch t;
  mpfr_exp(t, x, rnd);
  mpfr_log1p(r, t, rnd);
}

// g on the negative part of x and the identity on the rest: x < 0 ? g(x) : x, for g with g(0) = 0.
template <class G>
Enclosure split_at_zero(const Enclosure& x, G g) {
  if (mpfr_sgn(x.lo()) >= 0) return x;
  Enclosure negative = x;
  if (mpfr_sgn(x.hi()) > 0) mpfr_set_zero(negative.hi(), 1);
  Enclosure r = g(negative);
  if (mpfr_sgn(x.hi()) > 0) {  // joined with [0, hi]
    if (mpfr_sgn(r.lo()) > 0) mpfr_set_zero(r.lo(), 1);
    if (mpfr_cmp(r.hi(), x.hi()) < 0) mpfr_set(r.hi(), x.hi(), MPFR_RNDU);
  }
  return r;
}

// What the tie rules need of v: its sign, integer part and fraction class; exact (v has at most
// kEnclosureBits bits, and so do its integer and fractional parts).
int64_t round_exactly(mpfr_srcptr v, ir::Rounding rule) {
  Scratch a, whole, frac;
  mpfr_abs(a, v, MPFR_RNDN);
  const bool negative = mpfr_sgn(v) < 0;
  if (mpfr_cmp_si_2exp(a, 1, 62) >= 0) return negative ? -kSaturatedMagnitude : kSaturatedMagnitude;
  mpfr_floor(whole, a);
  mpfr_sub(frac, a, whole, MPFR_RNDN);
  const int vs_half = mpfr_cmp_d(frac, 0.5);
  const bool nonzero = mpfr_cmp_ui(frac, 0) != 0;
  return round_by_rule(rule, negative, mpfr_get_si(whole, MPFR_RNDN), {vs_half < 0 ? -1 : vs_half > 0 ? 1 : 0, nonzero});
}

}  // namespace

Enclosure::Enclosure() {
  mpfr_init2(lo_, kEnclosureBits);
  mpfr_init2(hi_, kEnclosureBits);
  mpfr_set_zero(lo_, 1);
  mpfr_set_zero(hi_, 1);
}

Enclosure::Enclosure(const Exact& v) : Enclosure() {
  // The numerator odd · 2^exp, exactly (113 bits fit); not mpfr_set_float128, which clang's C++
  // (the fuzz build) cannot declare.
  const BinaryParts n = decompose(v.num);
  mpfr_set_ui(lo_, static_cast<unsigned long>(n.odd >> 64), MPFR_RNDN);
  mpfr_mul_2ui(lo_, lo_, 64, MPFR_RNDN);
  mpfr_add_ui(lo_, lo_, static_cast<unsigned long>(n.odd), MPFR_RNDN);
  mpfr_mul_2si(lo_, lo_, n.exp, MPFR_RNDN);
  if (n.negative) mpfr_neg(lo_, lo_, MPFR_RNDN);
  mpfr_set(hi_, lo_, MPFR_RNDN);
  if (v.den != 1) {
    mpfr_div_ui(lo_, lo_, v.den, MPFR_RNDD);
    mpfr_div_ui(hi_, hi_, v.den, MPFR_RNDU);
  }
}

Enclosure::Enclosure(const Enclosure& other) {
  mpfr_init2(lo_, kEnclosureBits);
  mpfr_init2(hi_, kEnclosureBits);
  mpfr_set(lo_, other.lo_, MPFR_RNDN);
  mpfr_set(hi_, other.hi_, MPFR_RNDN);
}

Enclosure::Enclosure(Enclosure&& other) noexcept : Enclosure() {
  mpfr_swap(lo_, other.lo_);
  mpfr_swap(hi_, other.hi_);
}

Enclosure& Enclosure::operator=(Enclosure other) noexcept {
  mpfr_swap(lo_, other.lo_);
  mpfr_swap(hi_, other.hi_);
  return *this;
}

Enclosure::~Enclosure() {
  mpfr_clear(lo_);
  mpfr_clear(hi_);
}

std::optional<double> Enclosure::exact_double() const {
  if (!point()) return std::nullopt;
  const double d = mpfr_get_d(lo_, MPFR_RNDN);
  if (mpfr_cmp_d(lo_, d) != 0) return std::nullopt;
  return d;
}

double Enclosure::approximate_double() const { return mpfr_get_d(lo_, MPFR_RNDN); }

Enclosure add(const Enclosure& a, const Enclosure& b) {
  Enclosure r;
  mpfr_add(r.lo(), a.lo(), b.lo(), MPFR_RNDD);
  mpfr_add(r.hi(), a.hi(), b.hi(), MPFR_RNDU);
  return r;
}

Enclosure sub(const Enclosure& a, const Enclosure& b) {
  Enclosure r;
  mpfr_sub(r.lo(), a.lo(), b.hi(), MPFR_RNDD);
  mpfr_sub(r.hi(), a.hi(), b.lo(), MPFR_RNDU);
  return r;
}

namespace {

// The hull of op(u, v) over the four pairs of bounds: the extremes of a product or quotient.
template <class Op>
Enclosure corners(const Enclosure& a, const Enclosure& b, Op op) {
  Enclosure r;
  Scratch t;
  bool first = true;
  for (mpfr_srcptr u : {a.lo(), a.hi()})
    for (mpfr_srcptr v : {b.lo(), b.hi()}) {
      op(t, u, v, MPFR_RNDD);
      if (first || mpfr_cmp(t, r.lo()) < 0) mpfr_set(r.lo(), t, MPFR_RNDN);
      op(t, u, v, MPFR_RNDU);
      if (first || mpfr_cmp(t, r.hi()) > 0) mpfr_set(r.hi(), t, MPFR_RNDN);
      first = false;
    }
  return r;
}

}  // namespace

Enclosure mul(const Enclosure& a, const Enclosure& b) { return corners(a, b, mpfr_mul); }

Enclosure div(const Enclosure& a, const Enclosure& b) {
  if (mpfr_sgn(b.lo()) <= 0 && mpfr_sgn(b.hi()) >= 0) throw NumericError("division by zero (or by a value that may be zero)");
  return corners(a, b, mpfr_div);
}

Enclosure at_least(const Enclosure& x, const Enclosure& b) {
  Enclosure r = x;
  if (mpfr_cmp(r.lo(), b.lo()) < 0) mpfr_set(r.lo(), b.lo(), MPFR_RNDN);
  if (mpfr_cmp(r.hi(), b.hi()) < 0) mpfr_set(r.hi(), b.hi(), MPFR_RNDN);
  return r;
}

Enclosure at_most(const Enclosure& x, const Enclosure& b) {
  Enclosure r = x;
  if (mpfr_cmp(r.lo(), b.lo()) > 0) mpfr_set(r.lo(), b.lo(), MPFR_RNDN);
  if (mpfr_cmp(r.hi(), b.hi()) > 0) mpfr_set(r.hi(), b.hi(), MPFR_RNDN);
  return r;
}

Enclosure apply(Function f, const Enclosure& x) {
  Enclosure r;
  switch (f) {
    case Function::sigmoid: r = increasing(x, sigmoid); break;
    case Function::tanh: r = increasing(x, mpfr_tanh); break;
    case Function::erf: r = increasing(x, mpfr_erf); break;
    case Function::exp: r = increasing(x, mpfr_exp); break;
    case Function::log: r = increasing(x, mpfr_log); break;
    case Function::softplus: r = increasing(x, softplus); break;
  }
  require_finite(r, "the function's value");
  return r;
}

Enclosure leaky_relu(const Enclosure& x, const Enclosure& alpha) {
  return split_at_zero(x, [&](const Enclosure& negative) { return mul(negative, alpha); });
}

Enclosure elu(const Enclosure& x, const Enclosure& alpha) {
  return split_at_zero(x, [&](const Enclosure& negative) { return mul(increasing(negative, mpfr_expm1), alpha); });
}

int64_t quantize(const Enclosure& x, double scale, ir::Rounding rule) {
  Scratch lo, hi;
  mpfr_div_d(lo, x.lo(), scale, MPFR_RNDD);
  mpfr_div_d(hi, x.hi(), scale, MPFR_RNDU);
  const int64_t a = round_exactly(lo, rule), b = round_exactly(hi, rule);
  if (a != b)
    throw NumericError(fmt::format("a real value between {} and {} grid steps, too close to a rounding boundary "
                                   "to decide at {} bits",
                                   mpfr_get_d(lo, MPFR_RNDD), mpfr_get_d(hi, MPFR_RNDU), kEnclosureBits));
  return a;
}

}  // namespace qatc::sim
