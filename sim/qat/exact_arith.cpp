#include "sim/qat/exact_arith.h"

#include "sim/qat/numeric_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace qatc::sim {

namespace {

constexpr int kMaxScaledBits = 62;

}  // namespace

// Two passes, decomposing each value twice: cheaper than holding every value's parts (32 bytes
// each) for a tensor of millions of elements.
std::optional<ScaledInts> to_scaled_ints(std::span<const Exact> v) {
  int low = INT_MAX, high = INT_MIN;  // exponent range of the set bits
  for (const Exact& e : v) {
    if (e.den != 1) return std::nullopt;
    const BinaryParts p = decompose(e.num);
    if (p.odd == 0) continue;
    low = std::min(low, p.exp);
    high = std::max(high, p.exp + bit_length(p.odd));
  }
  ScaledInts out;
  out.values.resize(v.size());
  if (low == INT_MAX) return out;  // all zeros
  if (high - low > kMaxScaledBits) return std::nullopt;
  out.exponent = low;
  out.bits = high - low;
  for (size_t i = 0; i < v.size(); ++i) {
    const BinaryParts p = decompose(v[i].num);
    auto m = static_cast<int64_t>(p.odd << (p.odd ? p.exp - low : 0));
    out.values[i] = p.negative ? -m : m;
  }
  return out;
}

std::optional<ScaledInts> ExactArith::prepare_operand(std::span<const Exact> b) {
  auto ints = to_scaled_ints(b);
  if (ints && ints->bits <= 31) ints->values32.assign(ints->values.begin(), ints->values.end());
  return ints;
}

std::optional<ScaledIntOperands> scaled_int_operands(std::span<const Exact> a, std::span<const Exact> b,
                                                     int64_t terms, const ScaledInts* b_prepared) {
  auto sa = to_scaled_ints(a);
  if (!sa) return std::nullopt;
  std::optional<ScaledInts> sb;
  if (!b_prepared) {
    sb = to_scaled_ints(b);
    if (!sb) return std::nullopt;
  }
  const ScaledInts& b_ints = b_prepared ? *b_prepared : *sb;
  // |sum| < terms * 2^(bits_a + bits_b) must stay below 2^127.
  const int sum_bits = sa->bits + b_ints.bits + bit_length(static_cast<u128>(terms));
  if (sum_bits > 126) return std::nullopt;
  const int exponent = sa->exponent + b_ints.exponent;
  return ScaledIntOperands{std::move(sa->values), sb ? std::move(*sb) : ScaledInts{}, b_prepared, exponent, sum_bits};
}

double ExactArith::to_double(const Num& v) {
  if (auto d = v.exact_double()) return *d;
  throw NumericError(fmt::format("value {} is not exactly a double", v.approximate_double()));
}

}  // namespace qatc::sim
