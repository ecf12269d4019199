// Max pooling and the integer average pool. Padding never contributes a value; the windows are
// sim/qat's (window.h), so both simulators agree on which taps and how many a window has.
#include "sim/int/int_types.h"
#include "sim/int/kernels.h"
#include "sim/qat/rounding.h"
#include "sim/qat/window.h"

#include <algorithm>

namespace qatc::sim::integer {

namespace {

// y[n, c, o] = reduce(window, input plane (n, c), o) for every output position o, each result
// stored as an element of y's type.
template <class T, class F>
ir::TensorData pool(const ir::Op& op, const ir::TensorData& x, F reduce) {
  const Window win = make_window(op, x.shape(), op.get_ints("kernel_shape"));
  ir::TensorData y(op.outputs[0]->type.dtype, win.output_shape(win.channels, x.shape().size() - 2));
  visit_int_dtype(y.dtype(), [&](auto t) {
    using Out = decltype(t);
    for (int64_t plane = 0; plane < win.batch * win.channels; ++plane) {
      const T* xp = x.as<T>().data() + plane * win.in_plane();
      Out* yp = y.as<Out>().data() + plane * win.out_plane();
      win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t out) {
        yp[out] = fit<Out>(op, reduce(win, xp, o0, o1, o2));
      });
    }
  });
  return y;
}

[[noreturn]] void empty_window(const ir::Op& op) { fail("{}: a pooling window lies entirely in the padding", op.describe()); }

// Shifts beyond these change no result: quantized values have at most 32 bits, so
// |Σ (x − z)| < count · 2^33, and dividing by count · 2^n for any n >= 34 leaves floor 0 or -1 with
// the same fraction class; a nonzero sum times 2^64 / count is beyond every quantized range.
constexpr int64_t kMaxDivisorShift = 40;
constexpr int64_t kMaxSumShift = 64;

// R(sum / (count · 2^shift)), the quotient's floor and fraction class found by exact integer division.
int64_t rounded_average(ir::Rounding rule, int64_t sum, int64_t count, int64_t shift) {
  const i128 numerator = i128{sum} << std::clamp<int64_t>(-shift, 0, kMaxSumShift);
  const i128 divisor = i128{count} << std::clamp<int64_t>(shift, 0, kMaxDivisorShift);
  const Floored q = divide_floored(numerator, divisor);
  return round_floored(rule, q.floor, q.fraction);
}

}  // namespace

ir::TensorData maxpool(const ir::Op& op, const ir::TensorData& x) {
  return visit_int_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    return pool<T>(op, x, [&](const Window& win, const T* xp, int64_t o0, int64_t o1, int64_t o2) {
      const T* best = nullptr;
      win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t) {
        if (!best || *best < xp[xi]) best = &xp[xi];
      });
      if (!best) empty_window(op);
      return i128{*best};
    });
  });
}

// clamp(R(Σ_window (x − z_x) / (count · 2^shift)) + z_y, qmin, qmax); with an unquantized result,
// the window sums Σ_window (x − z_x) themselves.
ir::TensorData avgpool(const ir::Op& op, const ir::TensorData& x) {
  const auto& xq = op.inputs[0]->type.quant;
  const int64_t zx = xq ? xq->zero_points[0] : 0;  // plain i32 operands: sums inside a region
  if (!op.outputs[0]->type.quant)
    return visit_int_dtype(x.dtype(), [&](auto t) {
      using T = decltype(t);
      return pool<T>(op, x, [&](const Window& win, const T* xp, int64_t o0, int64_t o1, int64_t o2) {
        i128 sum = 0;
        win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t) { sum += xp[xi] - zx; });
        return sum;
      });
    });
  const bool count_pads = op.get_int("count_include_pad") != 0;
  const auto rule = *ir::parse_rounding(op.get_string("round"));
  const int64_t shift = op.get_int("shift");
  const ir::QuantParams& qy = *op.outputs[0]->type.quant;
  return visit_int_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    return pool<T>(op, x, [&](const Window& win, const T* xp, int64_t o0, int64_t o1, int64_t o2) {
      const int64_t count = win.average_count(o0, o1, o2, count_pads);
      if (count == 0) empty_window(op);
      int64_t sum = 0;
      win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t) { sum += xp[xi] - zx; });
      return i128{std::clamp(rounded_average(rule, sum, count, shift) + qy.zero_points[0], qy.qmin(), qy.qmax())};
    });
  });
}

}  // namespace qatc::sim::integer
