// Max and average pooling over 1-3 spatial axes. Padding never contributes a value.
#include "ir/error.h"
#include "ir/graph.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/window.h"

namespace qatc::sim {

namespace {

// y[n, c, o] = reduce(window, input plane of (n, c), o) for every output position o.
template <class T, class F>
Array<T> pool(const ir::Op& op, const Array<T>& x, F reduce) {
  const Window win = make_window(op, x.shape, op.get_ints("kernel_shape"));
  Array<T> y(win.output_shape(win.channels, x.shape.size() - 2));
  for (int64_t plane = 0; plane < win.batch * win.channels; ++plane) {
    const T* xp = x.data.data() + plane * win.in_plane();
    T* yp = y.data.data() + plane * win.out_plane();
    win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t out) { yp[out] = reduce(win, xp, o0, o1, o2); });
  }
  return y;
}

[[noreturn]] void empty_window(const ir::Op& op) { fail("{}: a pooling window lies entirely in the padding", op.describe()); }

// The one place that decides how a window's values are averaged. Float32 mode follows PyTorch's CPU
// kernel: a float32 sum in window order, then one float32 division by the count. Exact mode divides
// the exact sum, which the Exact denominator holds for any count.
template <class A>
typename A::Num average(const Window& win, const typename A::Num* xp, int64_t o0, int64_t o1, int64_t o2,
                        int64_t divisor) {
  typename A::Num sum{};
  win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t) { sum = A::add(sum, xp[xi]); });
  return A::div(sum, A::from_int(divisor));
}

}  // namespace

template <class A>
NumArray<A> maxpool(const ir::Op& op, const NumArray<A>& x) {
  using N = typename A::Num;
  return pool(op, x, [&](const Window& win, const N* xp, int64_t o0, int64_t o1, int64_t o2) {
    const N* best = nullptr;
    win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t) {
      if (!best || A::less(*best, xp[xi])) best = &xp[xi];
    });
    if (!best) empty_window(op);
    return *best;
  });
}

template <class A>
NumArray<A> avgpool(const ir::Op& op, const NumArray<A>& x) {
  using N = typename A::Num;
  const bool count_pads = op.get_int("count_include_pad") != 0;
  return pool(op, x, [&](const Window& win, const N* xp, int64_t o0, int64_t o1, int64_t o2) {
    const int64_t divisor = win.average_count(o0, o1, o2, count_pads);
    if (divisor == 0) empty_window(op);
    return average<A>(win, xp, o0, o1, o2, divisor);
  });
}

template NumArray<F32Arith> maxpool<F32Arith>(const ir::Op&, const NumArray<F32Arith>&);
template NumArray<ExactArith> maxpool<ExactArith>(const ir::Op&, const NumArray<ExactArith>&);
template NumArray<IntArith> maxpool<IntArith>(const ir::Op&, const NumArray<IntArith>&);
template NumArray<F32Arith> avgpool<F32Arith>(const ir::Op&, const NumArray<F32Arith>&);
template NumArray<ExactArith> avgpool<ExactArith>(const ir::Op&, const NumArray<ExactArith>&);

}  // namespace qatc::sim
