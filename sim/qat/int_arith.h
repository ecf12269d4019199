// Arithmetic policy of integer tensors (quantized values, integer constants, the integer graph's
// accumulators), in both modes: int64, exact, and never wrapping: an overflow is an error, and the
// evaluator checks that each result fits its op's integer dtype.
#pragma once

#include "sim/qat/numeric_error.h"

#include <fmt/format.h>

#include <cmath>
#include <span>

namespace qatc::sim {

struct IntDot {
  using Operand = int64_t;
  using Acc = __int128;  // 16-bit operands: no realistic reduction overflows this
  Acc zero() const { return 0; }
  void madd(Acc& acc, int64_t a, int64_t b) const { acc += static_cast<Acc>(a) * b; }
  int64_t finish(Acc acc) const {
    if (acc > INT64_MAX || acc < INT64_MIN) throw NumericError("integer accumulator overflows int64");
    return static_cast<int64_t>(acc);
  }
};

struct IntArith {
  using Num = int64_t;
  static constexpr bool integer = true;
  struct PreparedOperand {};  // integer dots read their operands as they are
  static constexpr bool bias_seeds_accumulator = false;  // exact: the order of additions is moot

  // Attribute values (pad value, clip bounds after ceil/floor) applied to integer tensors.
  static Num from_double(double v) {
    if (v != std::trunc(v) || std::fabs(v) >= 0x1p63)
      throw NumericError(fmt::format("{} is not a value of an integer tensor", v));
    return static_cast<int64_t>(v);
  }

  static Num add(Num a, Num b) {
    Num r;
    if (__builtin_add_overflow(a, b, &r)) overflow();
    return r;
  }
  static Num sub(Num a, Num b) {
    Num r;
    if (__builtin_sub_overflow(a, b, &r)) overflow();
    return r;
  }
  static Num mul(Num a, Num b) {
    Num r;
    if (__builtin_mul_overflow(a, b, &r)) overflow();
    return r;
  }
  static bool less(Num a, Num b) { return a < b; }

  template <class F>
  static void with_dot(std::span<const int64_t> a, std::span<const int64_t> b, int64_t /*terms*/, bool /*depthwise*/, F&& f,
                       const PreparedOperand* /*b_prepared*/ = nullptr) {
    f(IntDot{}, a.data(), b.data());
  }

 private:
  [[noreturn]] static void overflow() { throw NumericError("integer arithmetic overflows int64"); }
};

}  // namespace qatc::sim
