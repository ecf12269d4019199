#include "sim/qat/exact_arith.h"

#include "sim/qat/numeric_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace qatc::sim {

namespace {

struct ScaledInts {
  std::vector<int64_t> values;
  int exponent = 0;
  int bits = 0;  // every |value| < 2^bits
};

constexpr int kMaxScaledBits = 62;

std::optional<ScaledInts> to_scaled_ints(std::span<const Exact> v) {
  std::vector<BinaryParts> parts(v.size());
  int low = INT_MAX, high = INT_MIN;  // exponent range of the set bits
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i].den != 1) return std::nullopt;
    parts[i] = decompose(v[i].num);
    if (parts[i].odd == 0) continue;
    low = std::min(low, parts[i].exp);
    high = std::max(high, parts[i].exp + bit_length(parts[i].odd));
  }
  ScaledInts out;
  out.values.resize(v.size());
  if (low == INT_MAX) return out;  // all zeros
  if (high - low > kMaxScaledBits) return std::nullopt;
  out.exponent = low;
  out.bits = high - low;
  for (size_t i = 0; i < v.size(); ++i) {
    auto m = static_cast<int64_t>(parts[i].odd << (parts[i].odd ? parts[i].exp - low : 0));
    out.values[i] = parts[i].negative ? -m : m;
  }
  return out;
}

}  // namespace

std::optional<ScaledIntOperands> scaled_int_operands(std::span<const Exact> a, std::span<const Exact> b,
                                                     int64_t terms) {
  auto sa = to_scaled_ints(a);
  if (!sa) return std::nullopt;
  auto sb = to_scaled_ints(b);
  if (!sb) return std::nullopt;
  // |sum| < terms * 2^(bits_a + bits_b) must stay below 2^127.
  if (sa->bits + sb->bits + bit_length(static_cast<u128>(terms)) > 126) return std::nullopt;
  return ScaledIntOperands{std::move(sa->values), std::move(sb->values), sa->exponent + sb->exponent};
}

double ExactArith::to_double(const Num& v) {
  if (auto d = v.exact_double()) return *d;
  throw NumericError(fmt::format("value {} is not exactly a double", v.approximate_double()));
}

}  // namespace qatc::sim
