// Arithmetic policy of the float32 mode: what PyTorch 1.13 computes on x86 CPUs (AVX2 kernels), as
// measured op by op against torch on the regression models' own tensors (scripts/make_qat_models.py
// documents how). Every float operation rounds to float32 as torch's does; sim/ is built with
// -ffp-contract=off so that no multiply-add is fused unless a formula says so.
#pragma once

#include "ir/quant.h"
#include "sim/qat/dot_rows.h"
#include "sim/qat/numeric_error.h"
#include "sim/qat/rounding.h"

#include <cmath>
#include <span>

namespace qatc::sim {

// Conv/matmul accumulation as torch measures: one float32 accumulator per output, products added
// one at a time in reduction order (conv: input channel, then kernel taps), seeded with the conv's
// bias. The reference BLAS (Linear) and Slow2d (small dense convs) round the product and the sum
// separately; oneDNN's depthwise kernel fuses them (one rounding per tap). Larger dense convs take
// oneDNN's blocked kernels, whose summation order is not modelled: on fake-quant operands the
// partial sums are exact below 2^24 grid units, and there every order agrees.
template <bool fused>
struct F32Dot {
  using Operand = float;
  using Acc = float;
  Acc zero() const { return 0.0f; }
  Acc seed(float bias) const { return bias; }
  void madd(Acc& acc, float a, float b) const {
    if constexpr (fused) acc = std::fma(a, b, acc);
    else acc = acc + a * b;
  }
  void madd_taps(Acc* acc, const float* x, const int64_t* offsets, const float* w, int64_t taps, int64_t n) const {
    if constexpr (fused) fma_taps(acc, x, offsets, w, taps, n);
    else sim::madd_taps(acc, x, offsets, w, taps, n);
  }
  float finish(Acc acc) const { return acc; }
};

struct F32Arith {
  using Num = float;
  using Stored = float;  // element type of exported float tensors
  static constexpr bool integer = false;
  struct PreparedOperand {};  // float32 dots read their operands as they are
  static constexpr bool bias_seeds_accumulator = true;  // see F32Dot

  // Constants may be f64: a float32 framework holds them as float32.
  static Num from_double(double v) { return static_cast<float>(v); }
  static Num from_int(int64_t v) { return static_cast<float>(v); }
  static double to_double(Num v) { return v; }
  static double approximate_double(Num v) { return v; }

  static Num add(Num a, Num b) { return a + b; }
  static Num sub(Num a, Num b) { return a - b; }
  static Num mul(Num a, Num b) { return a * b; }
  static Num div(Num a, Num b) { return a / b; }
  static bool less(Num a, Num b) { return a < b; }
  // Fused, one rounding: GCC contracts these in torch's AVX2 batch-norm kernel.
  static Num mul_add(Num a, Num b, Num c) { return std::fma(a, b, c); }
  static Num sub_mul(Num c, Num a, Num b) { return std::fma(-a, b, c); }

  // The float32 quotient (PyTorch: x * (1/scale); ONNX: x / scale), rounded by the op's rule as
  // nearbyint would for half_even.
  static int64_t quantize(Num x, double scale, ir::Rounding rule, bool by_reciprocal) {
    auto s = static_cast<float>(scale);
    float r = by_reciprocal ? x * (1.0f / s) : x / s;
    if (std::isnan(r)) throw NumericError("cannot quantize NaN");
    float a = std::fabs(r);
    if (a >= 0x1p62f) return r < 0 ? -kSaturatedMagnitude : kSaturatedMagnitude;
    float whole = std::floor(a);
    float frac = a - whole;  // exact
    return round_by_rule(rule, r < 0, static_cast<int64_t>(whole), {frac < 0.5f ? -1 : frac > 0.5f ? 1 : 0, frac != 0});
  }
  static Num dequantize(int64_t q_minus_zp, double scale) {
    return static_cast<float>(q_minus_zp) * static_cast<float>(scale);
  }

  template <class F>
  static void with_dot(std::span<const float> a, std::span<const float> b, int64_t /*terms*/, bool depthwise, F&& f,
                       const PreparedOperand* /*b_prepared*/ = nullptr) {
    if (depthwise) f(F32Dot<true>{}, a.data(), b.data());
    else f(F32Dot<false>{}, a.data(), b.data());
  }
};

}  // namespace qatc::sim
