// conv and matmul: they share the dot-product accumulation, which the arithmetic policy supplies
// (A::with_dot picks the accumulator, e.g. exact mode's int32, int64 or __int128 integer sums), and
// on integer operands the subtraction of x_zero_point.
#include "ir/graph.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/matmul_shape.h"
#include "sim/qat/strided.h"
#include "sim/qat/window.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

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

// acc[i] = madd(acc[i], x[i * stride], w) for n sums: the dot's vectorized row where it has one.
template <class Dot>
void madd_row(const Dot& dot, typename Dot::Acc* acc, const typename Dot::Operand* x, int64_t stride,
              typename Dot::Operand w, int64_t n) {
  if constexpr (requires { dot.madd_row(acc, x, stride, w, n); })
    dot.madd_row(acc, x, stride, w, n);
  else
    for (int64_t i = 0; i < n; ++i) dot.madd(acc[i], x[i * stride], w);
}

// The sums of one output channel start at its seed (the bias, F32Arith) or at zero.
template <class Dot, class Num>
typename Dot::Acc first_sum(const Dot& dot, const Num* seeds, int64_t oc) {
  if constexpr (requires { dot.seed(*seeds); })
    if (seeds) return dot.seed(seeds[oc]);
  return dot.zero();
}

// Per output channel, a plane of sums, each (input channel, tap) one strided multiply-add over rows
// of outputs, instead of a window walk per output. The input is copied into zero padding, so that
// every tap addresses it alike. Each sum receives its products in window order (input channel,
// then taps), so float32 sums round as in the walk. The taps in the padding are skipped, as the
// walk did, unless `add_padding` (their products are zero, and pads_harmlessly below says adding
// them changes no sum): then every tap covers every output, and with unit strides across rows and
// columns a plane's rows run as one row, the sums laid out at the padded input's row pitch (the
// columns past the output's width are computed and dropped). `seeds`: the bias that starts each
// channel's sums (F32Arith), else null.
template <class Dot, class Num>
void conv_planes(const Window& win, const Dot& dot, const typename Dot::Operand* xs, const typename Dot::Operand* ws,
                 const Num* seeds, bool add_padding, int64_t out_channels, int64_t in_per_group, int64_t out_per_group,
                 Num* y) {
  const auto& [a0, a1, a2] = win.axes;
  // The padded extent every output's every tap reads within.
  auto extent = [](const WindowAxis& a) { return (a.out - 1) * a.stride + (a.kernel - 1) * a.dilation + 1; };
  const int64_t e0 = extent(a0), e1 = extent(a1), e2 = extent(a2), padded_plane = e0 * e1 * e2;
  const int64_t out_plane = win.out_plane(), kernel_volume = win.kernel_volume();
  const bool merged = add_padding && a1.stride == 1 && a2.stride == 1;
  const int64_t pitch = merged ? e2 : a2.out;  // of the rows of sums
  auto outputs = [&](const WindowAxis& a, int64_t k) { return add_padding ? TapRange{0, a.out} : a.outputs_inside(k); };
  std::vector<typename Dot::Operand> xp(static_cast<size_t>(win.channels * padded_plane));
  std::vector<typename Dot::Acc> acc(static_cast<size_t>(a0.out * a1.out * pitch));
  for (int64_t n = 0; n < win.batch; ++n) {
    std::fill(xp.begin(), xp.end(), typename Dot::Operand{});
    for (int64_t c = 0; c < win.channels; ++c)
      for (int64_t i0 = 0; i0 < a0.in && i0 + a0.pad_begin < e0; ++i0)
        for (int64_t i1 = 0; i1 < a1.in && i1 + a1.pad_begin < e1; ++i1) {
          const auto* from = xs + ((n * win.channels + c) * a0.in + i0) * a1.in * a2.in + i1 * a2.in;
          auto* to = xp.data() + c * padded_plane + ((i0 + a0.pad_begin) * e1 + i1 + a1.pad_begin) * e2 + a2.pad_begin;
          std::copy_n(from, std::min(a2.in, e2 - a2.pad_begin), to);
        }
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      std::fill(acc.begin(), acc.end(), first_sum(dot, seeds, oc));
      const auto* xg = xp.data() + oc / out_per_group * in_per_group * padded_plane;
      const auto* wk = ws + oc * in_per_group * kernel_volume;
      for (int64_t ic = 0; ic < in_per_group; ++ic)
        for (int64_t k0 = 0; k0 < a0.kernel; ++k0) {
          const TapRange r0 = outputs(a0, k0);
          for (int64_t k1 = 0; k1 < a1.kernel; ++k1) {
            const TapRange r1 = outputs(a1, k1);
            for (int64_t k2 = 0; k2 < a2.kernel; ++k2) {
              const auto w = wk[ic * kernel_volume + (k0 * a1.kernel + k1) * a2.kernel + k2];
              const TapRange r2 = outputs(a2, k2);
              if (r2.first >= r2.last) continue;
              for (int64_t o0 = r0.first; o0 < r0.last; ++o0) {
                // Padded input position of output o's tap k: o * stride + k * dilation.
                const auto* xrow = xg + ic * padded_plane + ((o0 * a0.stride + k0 * a0.dilation) * e1 + k1 * a1.dilation) * e2 +
                                   k2 * a2.dilation;
                auto* arow = acc.data() + o0 * a1.out * pitch;
                if (merged) {
                  madd_row(dot, arow, xrow, 1, w, (a1.out - 1) * e2 + a2.out);
                  continue;
                }
                for (int64_t o1 = r1.first; o1 < r1.last; ++o1)
                  madd_row(dot, arow + o1 * pitch + r2.first, xrow + o1 * a1.stride * e2 + r2.first * a2.stride, a2.stride,
                           w, r2.last - r2.first);
              }
            }
          }
        }
      Num* yc = y + (n * out_channels + oc) * out_plane;
      for (int64_t r = 0; r < a0.out * a1.out; ++r)
        for (int64_t o2 = 0; o2 < a2.out; ++o2) *yc++ = dot.finish(acc[static_cast<size_t>(r * pitch + o2)]);
    }
  }
}

// Whether adding a padding tap's product 0 · w leaves every sum as it is, so that conv_planes may
// add them: always for exact and integer sums; in float32 when every weight is finite (0 · w is
// then ±0) and no sum starts at −0 (s + ±0 = s for every other s, and +0 + −0 = +0).
template <class A>
bool pads_harmlessly(const NumArray<A>& w, const typename A::Num* seeds, int64_t out_channels) {
  if constexpr (std::is_same_v<A, F32Arith>) {
    for (float v : w.data)
      if (!std::isfinite(v)) return false;
    for (int64_t oc = 0; seeds && oc < out_channels; ++oc)
      if (seeds[oc] == 0 && std::signbit(seeds[oc])) return false;
  }
  return true;
}

}  // namespace

template <class A>
NumArray<A> conv(const ir::Op& op, const NumArray<A>& x_in, const NumArray<A>& w, const NumArray<A>* bias,
                 const typename A::PreparedOperand* w_prepared) {
  using Num = typename A::Num;
  NumArray<A> shifted;
  const NumArray<A>& x = minus_zero_point<A>(op, x_in, shifted);
  const Window win = make_window(op, x.shape, std::vector<int64_t>(w.shape.begin() + 2, w.shape.end()));
  const int64_t out_channels = w.shape[0], in_per_group = w.shape[1];
  const int64_t out_per_group = out_channels / op.get_int("group");
  const int64_t out_plane = win.out_plane(), kernel_volume = win.kernel_volume();
  NumArray<A> y(win.output_shape(out_channels, x.shape.size() - 2));
  const bool depthwise = in_per_group == 1 && op.get_int("group") > 1;
  const Num* seeds = A::bias_seeds_accumulator && bias ? bias->data.data() : nullptr;
  const bool add_padding = pads_harmlessly<A>(w, seeds, out_channels);
  A::with_dot(x.data, w.data, in_per_group * kernel_volume, depthwise, [&](const auto& dot, const auto* xs, const auto* ws) {
    conv_planes(win, dot, xs, ws, seeds, add_padding, out_channels, in_per_group, out_per_group, y.data.data());
  }, w_prepared);
  if (bias && !A::bias_seeds_accumulator) {
    auto* yp = y.data.data();
    for (int64_t n = 0; n < win.batch; ++n)
      for (int64_t oc = 0; oc < out_channels; ++oc)
        for (int64_t i = 0; i < out_plane; ++i, ++yp) *yp = A::add(*yp, bias->data[oc]);
  }
  return y;
}

template <class A>
NumArray<A> matmul(const ir::Op& op, const NumArray<A>& a_in, const NumArray<A>& b,
                   const typename A::PreparedOperand* b_prepared) {
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
  }, b_prepared);
  return y;
}

#define QATC_INSTANTIATE(A)                                                                              \
  template NumArray<A> conv<A>(const ir::Op&, const NumArray<A>&, const NumArray<A>&, const NumArray<A>*, \
                               const typename A::PreparedOperand*);                                      \
  template NumArray<A> matmul<A>(const ir::Op&, const NumArray<A>&, const NumArray<A>&, const typename A::PreparedOperand*);
QATC_INSTANTIATE(F32Arith)
QATC_INSTANTIATE(ExactArith)
QATC_INSTANTIATE(IntArith)
#undef QATC_INSTANTIATE

}  // namespace qatc::sim
