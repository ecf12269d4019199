// conv and matmul: they share the dot-product accumulation, which the arithmetic policy supplies
// (A::with_dot picks the accumulator, e.g. exact mode's __int128 fast path), and on integer
// operands the subtraction of x_zero_point.
#include "ir/graph.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/matmul_shape.h"
#include "sim/qat/strided.h"
#include "sim/qat/window.h"

namespace qatc::sim {

namespace {

// Integer products are Σ (x − x_zero_point) · w: x is shifted before the window runs, so that a
// padding tap, which the window skips, contributes as x = x_zero_point would. Returns x itself
// when there is no zero point (float operands never have one).
template <class A>
const NumArray<A>& minus_zero_point(const ir::Op& op, const NumArray<A>& x, NumArray<A>& shifted) {
  if constexpr (A::integer) {
    if (op.has("x_zero_point")) {
      const int64_t zp = op.get_int("x_zero_point");
      shifted = x;
      for (auto& v : shifted.data) v = A::sub(v, zp);
      return shifted;
    }
  }
  return x;
}

// The conv of integer operands accumulating in int64 (exact mode's usual case): per output channel,
// a plane of sums, each (input channel, tap) one strided multiply-add over the rows of outputs
// whose tap lands inside the input, instead of a window walk per output.
void conv_planes(const Window& win, const ScaledInt64Dot& dot, const int64_t* xs, const int64_t* ws,
                 int64_t out_channels, int64_t in_per_group, int64_t out_per_group, Exact* y) {
  const auto& [a0, a1, a2] = win.axes;
  const int64_t in_plane = win.in_plane(), out_plane = win.out_plane(), kernel_volume = win.kernel_volume();
  std::vector<int64_t> acc(static_cast<size_t>(out_plane));
  for (int64_t n = 0; n < win.batch; ++n)
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      std::fill(acc.begin(), acc.end(), 0);
      const int64_t* xg = xs + (n * win.channels + oc / out_per_group * in_per_group) * in_plane;
      const int64_t* wk = ws + oc * in_per_group * kernel_volume;
      for (int64_t ic = 0; ic < in_per_group; ++ic)
        for (int64_t k0 = 0; k0 < a0.kernel; ++k0) {
          const TapRange r0 = a0.outputs_inside(k0);
          for (int64_t k1 = 0; k1 < a1.kernel; ++k1) {
            const TapRange r1 = a1.outputs_inside(k1);
            for (int64_t k2 = 0; k2 < a2.kernel; ++k2) {
              const int64_t w = wk[ic * kernel_volume + (k0 * a1.kernel + k1) * a2.kernel + k2];
              if (w == 0) continue;
              const TapRange r2 = a2.outputs_inside(k2);
              const int64_t first = a2.position(0, k2);
              for (int64_t o0 = r0.first; o0 < r0.last; ++o0)
                for (int64_t o1 = r1.first; o1 < r1.last; ++o1) {
                  const int64_t* xrow = xg + ic * in_plane + (a0.position(o0, k0) * a1.in + a1.position(o1, k1)) * a2.in;
                  int64_t* arow = acc.data() + (o0 * a1.out + o1) * a2.out;
                  for (int64_t o2 = r2.first; o2 < r2.last; ++o2) arow[o2] += xrow[o2 * a2.stride + first] * w;
                }
            }
          }
        }
      Exact* yc = y + (n * out_channels + oc) * out_plane;
      for (int64_t i = 0; i < out_plane; ++i) yc[i] = dot.finish(acc[static_cast<size_t>(i)]);
    }
}

}  // namespace

template <class A>
NumArray<A> conv(const ir::Op& op, const NumArray<A>& x_in, const NumArray<A>& w, const NumArray<A>* bias) {
  NumArray<A> shifted;
  const NumArray<A>& x = minus_zero_point<A>(op, x_in, shifted);
  const Window win = make_window(op, x.shape, std::vector<int64_t>(w.shape.begin() + 2, w.shape.end()));
  const int64_t out_channels = w.shape[0], in_per_group = w.shape[1];
  const int64_t out_per_group = out_channels / op.get_int("group");
  const int64_t in_plane = win.in_plane(), out_plane = win.out_plane(), kernel_volume = win.kernel_volume();
  NumArray<A> y(win.output_shape(out_channels, x.shape.size() - 2));
  const bool depthwise = in_per_group == 1 && op.get_int("group") > 1;
  A::with_dot(x.data, w.data, in_per_group * kernel_volume, depthwise, [&](const auto& dot, const auto* xs, const auto* ws) {
    if constexpr (std::is_same_v<std::decay_t<decltype(dot)>, ScaledInt64Dot>) {
      conv_planes(win, dot, xs, ws, out_channels, in_per_group, out_per_group, y.data.data());
    } else {
      for (int64_t n = 0; n < win.batch; ++n)
        for (int64_t oc = 0; oc < out_channels; ++oc) {
          const auto* xg = xs + (n * win.channels + oc / out_per_group * in_per_group) * in_plane;
          const auto* wk = ws + oc * in_per_group * kernel_volume;
          auto* yc = y.data.data() + (n * out_channels + oc) * out_plane;
          win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t out) {
            auto acc = dot.zero();
            if constexpr (A::bias_seeds_accumulator)
              if (bias) acc = dot.seed(bias->data[oc]);
            for (int64_t ic = 0; ic < in_per_group; ++ic)
              win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t ki) {
                dot.madd(acc, xg[ic * in_plane + xi], wk[ic * kernel_volume + ki]);
              });
            yc[out] = dot.finish(acc);
          });
        }
    }
  });
  if (bias && !A::bias_seeds_accumulator) {
    auto* yp = y.data.data();
    for (int64_t n = 0; n < win.batch; ++n)
      for (int64_t oc = 0; oc < out_channels; ++oc)
        for (int64_t i = 0; i < out_plane; ++i, ++yp) *yp = A::add(*yp, bias->data[oc]);
  }
  return y;
}

template <class A>
NumArray<A> matmul(const ir::Op& op, const NumArray<A>& a_in, const NumArray<A>& b) {
  NumArray<A> shifted;
  const NumArray<A>& a = minus_zero_point<A>(op, a_in, shifted);
  const MatmulShape s = matmul_shape(op, a.shape, b.shape);
  const int64_t m = s.m, k = s.k, n = s.n;
  NumArray<A> y(s.result);
  A::with_dot(a.data, b.data, k, /*depthwise=*/false, [&](const auto& dot, const auto* ad, const auto* bd) {
    for_each_strided<2>(s.batch, {&s.a_strides, &s.b_strides}, [&](int64_t bi, const std::array<int64_t, 2>& off) {
      const auto* am = ad + off[0] * m * k;
      const auto* bm = bd + off[1] * k * n;
      auto* ym = y.data.data() + bi * m * n;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          auto acc = dot.zero();
          for (int64_t t = 0; t < k; ++t) dot.madd(acc, am[i * k + t], bm[t * n + j]);
          ym[i * n + j] = dot.finish(acc);
        }
    });
  });
  return y;
}

#define QATC_INSTANTIATE(A)                                                                              \
  template NumArray<A> conv<A>(const ir::Op&, const NumArray<A>&, const NumArray<A>&, const NumArray<A>*); \
  template NumArray<A> matmul<A>(const ir::Op&, const NumArray<A>&, const NumArray<A>&);
QATC_INSTANTIATE(F32Arith)
QATC_INSTANTIATE(ExactArith)
QATC_INSTANTIATE(IntArith)
#undef QATC_INSTANTIATE

}  // namespace qatc::sim
