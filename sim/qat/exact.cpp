#include "sim/qat/exact.h"

#include "sim/qat/numeric_error.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

namespace qatc::sim {

namespace {

// IEEE binary128 layout: sign, 15-bit biased exponent, 112-bit fraction (implicit leading 1).
constexpr int kSignificandBits = 113;
constexpr int kFractionBits = 112;
constexpr int kExponentBias = 16383;
constexpr int kMaxExponent = 16383;
constexpr int kMinNormalExponent = -16382;
constexpr u128 kFractionMask = (u128{1} << kFractionBits) - 1;

u128 bits_of(__float128 v) {
  u128 b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

__float128 from_bits(u128 b) {
  __float128 v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

int trailing_zeros(u128 v) {
  auto lo = static_cast<uint64_t>(v);
  return lo ? __builtin_ctzll(lo) : 64 + __builtin_ctzll(static_cast<uint64_t>(v >> 64));
}

[[noreturn]] void too_wide(const char* what, int bits) {
  throw NumericError(fmt::format("exact arithmetic needs more than 113 bits ({} needs {} significant bits)", what, bits));
}

// sign * m * 2^exp as a __float128; `what` names the operation for the error when m is too wide.
__float128 compose(bool negative, u128 m, int exp, const char* what) {
  if (m == 0) return 0;
  int tz = trailing_zeros(m);
  m >>= tz;
  exp += tz;
  int len = bit_length(m);
  if (len > kSignificandBits) too_wide(what, len);
  int top = exp + len - 1;  // exponent of the leading bit
  if (top > kMaxExponent || top < kMinNormalExponent)
    throw NumericError(fmt::format("exact arithmetic: {} has binary exponent {}, outside the representable range", what, top));
  u128 fraction = (m << (kSignificandBits - len)) & kFractionMask;
  return from_bits((u128{negative} << 127) | (static_cast<u128>(top + kExponentBias) << kFractionBits) | fraction);
}

__float128 num_mul(__float128 a, __float128 b) {
  BinaryParts pa = decompose(a), pb = decompose(b);
  if (pa.odd == 0 || pb.odd == 0) return 0;
  // Odd significands of la and lb bits multiply to at least la+lb-1 bits: beyond 128 it cannot fit.
  int width = bit_length(pa.odd) + bit_length(pb.odd);
  if (width > 128) too_wide("a product", width - 1);
  return compose(pa.negative != pb.negative, pa.odd * pb.odd, pa.exp + pb.exp, "a product");
}

__float128 num_add(__float128 a, __float128 b) {
  BinaryParts pa = decompose(a), pb = decompose(b);
  if (pa.odd == 0) return b;
  if (pb.odd == 0) return a;
  if (pa.exp < pb.exp) std::swap(pa, pb);
  // Align on the smaller exponent. If the shifted operand needs more than 126 bits, the sum is an odd
  // multiple of 2^pb.exp above 2^125 (the other operand is below 2^113): too wide, so refuse early.
  int shift = pa.exp - pb.exp;
  if (shift + bit_length(pa.odd) > 126) too_wide("a sum", shift + bit_length(pa.odd));
  i128 sa = static_cast<i128>(pa.odd << shift), sb = static_cast<i128>(pb.odd);
  i128 s = (pa.negative ? -sa : sa) + (pb.negative ? -sb : sb);
  return compose(s < 0, s < 0 ? -static_cast<u128>(s) : static_cast<u128>(s), pb.exp, "a sum");
}

// num / g for an odd g that divides num's odd significand.
__float128 divide_out(__float128 num, uint64_t g) {
  if (g == 1) return num;
  BinaryParts p = decompose(num);
  return compose(p.negative, p.odd / g, p.exp, "a quotient");
}

// gcd of num's odd significand and den (den when num is zero).
uint64_t common_factor(__float128 num, uint64_t den) {
  if (den == 1) return 1;
  return std::gcd(static_cast<uint64_t>(decompose(num).odd % den), den);
}

uint64_t checked_den_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw NumericError(fmt::format("exact arithmetic needs a denominator above 2^64 ({} * {})", a, b));
  return r;
}

Exact reduced(Exact x) {
  if (x.den == 1) return x;
  if (x.num == 0) return {};
  uint64_t g = common_factor(x.num, x.den);
  return {divide_out(x.num, g), x.den / g};
}

}  // namespace

Exact reciprocal(const Exact& b) {
  BinaryParts p = decompose(b.num);
  if (p.odd == 0) throw NumericError("division by zero");
  if (bit_length(p.odd) > 64)
    throw NumericError(fmt::format("exact arithmetic needs a denominator above 2^64 (dividing by a {}-bit significand)",
                                   bit_length(p.odd)));
  // b = odd * 2^exp / den, so 1/b = den * 2^-exp / odd, already canonical.
  return {compose(p.negative, b.den, -p.exp, "a reciprocal"), static_cast<uint64_t>(p.odd)};
}

namespace {

// n / d as integer part and fraction class.
ExactQuotient split_quotient(u128 n, u128 d) {
  u128 q = n / d, r = n % d;
  ExactQuotient out;
  out.magnitude = q >= static_cast<u128>(kSaturatedMagnitude) ? kSaturatedMagnitude : static_cast<int64_t>(q);
  out.fraction.nonzero = r != 0;
  u128 twice = r << 1;  // r < d <= 2^127: no overflow
  out.fraction.vs_half = twice < d ? -1 : twice == d ? 0 : 1;
  return out;
}

// a * 2^t as integer part and fraction class, by shifting: a power-of-two scale on a dyadic value,
// the common case, needs no division.
ExactQuotient shifted_quotient(u128 a, int t) {
  if (t >= 0) {
    if (bit_length(a) + t > 62) return {false, kSaturatedMagnitude, {}};
    return {false, static_cast<int64_t>(a << t), {}};
  }
  if (-t >= 128) return {false, 0, {-1, true}};  // a < 2^113: below one half
  const u128 q = a >> -t, r = a & ((u128{1} << -t) - 1), half = u128{1} << (-t - 1);
  ExactQuotient out;
  out.magnitude = q >= static_cast<u128>(kSaturatedMagnitude) ? kSaturatedMagnitude : static_cast<int64_t>(q);
  out.fraction.nonzero = r != 0;
  out.fraction.vs_half = r < half ? -1 : r == half ? 0 : 1;
  return out;
}

// a * 2^t / d as integer part and fraction class.
ExactQuotient scaled_quotient(u128 a, int t, u128 d) {
  if (d == 1) return shifted_quotient(a, t);
  if (t >= 0) {
    if (bit_length(a) + t <= 127) return split_quotient(a << t, d);
    // a * 2^t does not fit: long division, one bit of 2^t at a time, until the quotient saturates.
    u128 q = a / d, r = a % d;
    for (int i = 0; i < t && q < static_cast<u128>(kSaturatedMagnitude); ++i) {
      r <<= 1;  // r < d < 2^118
      q <<= 1;
      if (r >= d) {
        r -= d;
        q |= 1;
      }
    }
    if (q >= static_cast<u128>(kSaturatedMagnitude)) return {false, kSaturatedMagnitude, {}};
    // Continue as a quotient whose remaining divisor is d: q + r/d.
    ExactQuotient out = split_quotient(r, d);
    out.magnitude = static_cast<int64_t>(q);
    return out;
  }
  if (bit_length(d) - t <= 127) return split_quotient(a, d << -t);
  // The divisor exceeds 2^127 > 2a: integer part 0, fraction below one half.
  return {false, 0, {-1, true}};
}

}  // namespace

int bit_length(u128 v) {
  auto hi = static_cast<uint64_t>(v >> 64), lo = static_cast<uint64_t>(v);
  if (hi) return 128 - __builtin_clzll(hi);
  return lo ? 64 - __builtin_clzll(lo) : 0;
}

BinaryParts decompose(__float128 v) {
  u128 b = bits_of(v);
  int biased = static_cast<int>((b >> kFractionBits) & 0x7fff);
  u128 m = b & kFractionMask;
  if (biased == 0x7fff) throw NumericError("exact arithmetic met a non-finite number");
  int exp;
  if (biased == 0) {  // subnormal or zero
    if (m == 0) return {};
    exp = 1 - kExponentBias - kFractionBits;
  } else {
    m |= u128{1} << kFractionBits;
    exp = biased - kExponentBias - kFractionBits;
  }
  int tz = trailing_zeros(m);
  return {static_cast<bool>(b >> 127), m >> tz, exp + tz};
}

// From the bits (frexp and ldexp cost more than the rest of a conversion).
DoubleParts split_double(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  const int biased = static_cast<int>(b >> 52 & 0x7ff);
  auto significand = static_cast<int64_t>(b & ((uint64_t{1} << 52) - 1));
  if (biased) significand |= int64_t{1} << 52;  // else subnormal (or zero): no implicit bit
  const int exp = (biased ? biased : 1) - 1075;
  return {b >> 63 ? -significand : significand, exp};
}

// The conversions compose the bits themselves: converting to __float128 is software floating point,
// and the evaluators import and dequantize every weight this way.
Exact Exact::from_double(double v) {
  if (!std::isfinite(v)) throw NumericError(fmt::format("exact arithmetic cannot represent {}", v));
  if (v == 0) return {std::signbit(v) ? -__float128{0} : __float128{0}, 1};
  const DoubleParts p = split_double(v);
  return from_scaled(p.significand, p.exp);
}

Exact Exact::from_int(int64_t v) { return from_scaled(v, 0); }

Exact Exact::from_scaled(i128 m, int exp2) {
  u128 magnitude = m < 0 ? -static_cast<u128>(m) : static_cast<u128>(m);
  return {compose(m < 0, magnitude, exp2, "an accumulated sum"), 1};
}

// From the parts, not by converting __float128 (software floating point, ten times slower): the
// evaluators export every value of every layer this way.
std::optional<double> Exact::exact_double() const {
  if (den != 1) return std::nullopt;
  const BinaryParts p = decompose(num);
  if (p.odd == 0) return bits_of(num) >> 127 ? -0.0 : 0.0;
  const int len = bit_length(p.odd);
  // At most 53 significant bits, the lowest at or above 2^-1074, the highest below 2^1024.
  if (len > 53 || p.exp < -1074 || p.exp + len > 1024) return std::nullopt;
  // The bits of sign * odd * 2^exp: the leading bit implicit where the double is normal.
  const int top = p.exp + len - 1;
  uint64_t bits = uint64_t{p.negative} << 63;
  if (top >= -1022)
    bits |= static_cast<uint64_t>(top + 1023) << 52 | (static_cast<uint64_t>(p.odd) << (53 - len) & ((uint64_t{1} << 52) - 1));
  else
    bits |= static_cast<uint64_t>(p.odd) << (p.exp + 1074);  // subnormal: odd * 2^-1074 * 2^(exp + 1074)
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

double Exact::approximate_double() const {
  if (auto d = exact_double()) return *d;
  // odd / den in x87 long double (64-bit significands): two roundings of 2^-64 each, then one to double.
  const BinaryParts p = decompose(num);
  const long double q = std::ldexp(static_cast<long double>(p.odd) / static_cast<long double>(den), p.exp);
  return static_cast<double>(p.negative ? -q : q);
}

Exact add(const Exact& a, const Exact& b) {
  if (a.den == b.den) return reduced({num_add(a.num, b.num), a.den});
  // Over the least common denominator, so that denominators stay the lcm of the window counts.
  uint64_t g = std::gcd(a.den, b.den);
  __float128 an = num_mul(a.num, static_cast<__float128>(b.den / g));
  __float128 bn = num_mul(b.num, static_cast<__float128>(a.den / g));
  return reduced({num_add(an, bn), checked_den_mul(a.den / g, b.den)});
}

Exact sub(const Exact& a, const Exact& b) { return add(a, {-b.num, b.den}); }

Exact mul(const Exact& a, const Exact& b) {
  if (a.den == 1 && b.den == 1) return {num_mul(a.num, b.num), 1};
  // Cancel across first: the result is then canonical and its denominator as small as it can be.
  uint64_t ga = common_factor(a.num, b.den), gb = common_factor(b.num, a.den);
  return {num_mul(divide_out(a.num, ga), divide_out(b.num, gb)), checked_den_mul(a.den / gb, b.den / ga)};
}

Exact div(const Exact& a, const Exact& b) { return mul(a, reciprocal(b)); }

namespace {

// Finite binary128 numbers order as their sign-magnitude bits do (a software float comparison costs
// more); both zeros are 0.
i128 order_key(__float128 v) {
  const u128 b = bits_of(v), magnitude = b & ~(u128{1} << 127);
  return b >> 127 ? -static_cast<i128>(magnitude) : static_cast<i128>(magnitude);
}

}  // namespace

int compare(const Exact& a, const Exact& b) {
  if (a.den == b.den) {
    const i128 ka = order_key(a.num), kb = order_key(b.num);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  }
  __float128 d = sub(a, b).num;
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

ExactQuotient divide_for_rounding(const Exact& x, double scale) {
  BinaryParts px = decompose(x.num);
  if (px.odd == 0) return {};
  // scale = sm * 2^se with sm odd (at most 53 bits).
  const DoubleParts ps = split_double(scale);
  auto sm = static_cast<uint64_t>(ps.significand);
  int se = ps.exp;
  int tz = __builtin_ctzll(sm);
  sm >>= tz;
  se += tz;
  // |x / scale| = odd * 2^(exp - se) / (den * sm); den * sm < 2^117.
  ExactQuotient q = scaled_quotient(px.odd, px.exp - se, static_cast<u128>(x.den) * sm);
  q.negative = px.negative;
  return q;
}

}  // namespace qatc::sim
