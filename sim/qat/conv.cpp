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

// For i < n, in tap order: acc[i] = madd(acc[i], x[offsets[t] + i], w[t]); the dot's vectorized rows
// where it has them.
template <class Dot>
void madd_taps(const Dot& dot, typename Dot::Acc* acc, const typename Dot::Operand* x, const int64_t* offsets,
               const typename Dot::Operand* w, int64_t taps, int64_t n) {
  if constexpr (requires { dot.madd_taps(acc, x, offsets, w, taps, n); })
    dot.madd_taps(acc, x, offsets, w, taps, n);
  else
    for (int64_t i = 0; i < n; ++i)
      for (int64_t t = 0; t < taps; ++t) dot.madd(acc[i], x[offsets[t] + i], w[t]);
}

// The sums of one output channel start at its seed (the bias, F32Arith) or at zero.
template <class Dot, class Num>
typename Dot::Acc first_sum(const Dot& dot, const Num* seeds, int64_t oc) {
  if constexpr (requires { dot.seed(*seeds); })
    if (seeds) return dot.seed(seeds[oc]);
  return dot.zero();
}

// Per output channel, rows of sums, each row one pass over every tap (input channel, kernel
// position) of the window, instead of a window walk per output. The input is copied into zero
// padding, its rows and columns split by their phase modulo the stride (column j of phase p is padded
// column j * stride + p, rows alike), so that every tap reads a contiguous row of inputs for a row of
// outputs, and a plane's rows run as one row, the sums laid out at the phase's row pitch (the
// columns past the output's width are computed and dropped). Each sum receives its products in
// window order (input channel, then taps), so float32 sums round as in the walk; the products of
// padding taps are zero, and the caller has proven (pads_harmlessly) that adding them changes no sum.
// `seeds`: the bias that starts each channel's sums (F32Arith), else null.
template <class Dot, class Num>
void conv_planes(const Window& win, const Dot& dot, const typename Dot::Operand* xs, const typename Dot::Operand* ws,
                 const Num* seeds, int64_t out_channels, int64_t in_per_group, int64_t out_per_group, Num* y) {
  const auto& [a0, a1, a2] = win.axes;
  // The padded extent every output's every tap reads within, and how many of those rows (columns)
  // each phase holds.
  auto extent = [](const WindowAxis& a) { return (a.out - 1) * a.stride + (a.kernel - 1) * a.dilation + 1; };
  auto per_phase = [](int64_t e, const WindowAxis& a) { return (e + a.stride - 1) / a.stride; };
  const int64_t e0 = extent(a0), e1 = extent(a1), e2 = extent(a2);
  const int64_t rows = per_phase(e1, a1), width = per_phase(e2, a2);
  const int64_t phase_plane = e0 * rows * width, channel_plane = a1.stride * a2.stride * phase_plane;
  const int64_t kernel_volume = win.kernel_volume(), taps = in_per_group * kernel_volume;
  // Taps go over the rows in chunks of whole input channels, about kChunkTaps: the inputs that one
  // block of sums reads across a chunk stay in cache (across every tap they would not).
  constexpr int64_t kChunkTaps = 64;
  const int64_t chunk = std::max<int64_t>(1, kChunkTaps / kernel_volume) * kernel_volume;
  // Where an input lands: padded position (i0, i1, i2) of channel c. (The strides by value: clang 14
  // cannot capture structured bindings.)
  auto at = [&, s1 = a1.stride, s2 = a2.stride](int64_t c, int64_t i0, int64_t i1, int64_t i2) {
    return c * channel_plane + (i1 % s1 * s2 + i2 % s2) * phase_plane + (i0 * rows + i1 / s1) * width + i2 / s2;
  };
  // Each tap's input relative to the first input of output (o0, 0, 0)'s tap 0.
  std::vector<int64_t> offsets;
  offsets.reserve(static_cast<size_t>(taps));
  for (int64_t ic = 0; ic < in_per_group; ++ic)
    for (int64_t k0 = 0; k0 < a0.kernel; ++k0)
      for (int64_t k1 = 0; k1 < a1.kernel; ++k1)
        for (int64_t k2 = 0; k2 < a2.kernel; ++k2)
          offsets.push_back(at(ic, k0 * a0.dilation, k1 * a1.dilation, k2 * a2.dilation));
  const int64_t row_sums = (a1.out - 1) * width + a2.out;  // of one plane, at pitch `width`
  std::vector<typename Dot::Operand> xp(static_cast<size_t>(win.channels * channel_plane));
  std::vector<typename Dot::Acc> acc(static_cast<size_t>(a0.out * a1.out * width));
  for (int64_t n = 0; n < win.batch; ++n) {
    std::fill(xp.begin(), xp.end(), typename Dot::Operand{});
    for (int64_t c = 0; c < win.channels; ++c)
      for (int64_t i0 = 0; i0 < a0.in && i0 + a0.pad_begin < e0; ++i0)
        for (int64_t i1 = 0; i1 < a1.in && i1 + a1.pad_begin < e1; ++i1) {
          const auto* from = xs + ((n * win.channels + c) * a0.in + i0) * a1.in * a2.in + i1 * a2.in;
          for (int64_t i2 = 0; i2 < a2.in && i2 + a2.pad_begin < e2; ++i2)
            xp[static_cast<size_t>(at(c, i0 + a0.pad_begin, i1 + a1.pad_begin, i2 + a2.pad_begin))] = from[i2];
        }
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      std::fill(acc.begin(), acc.end(), first_sum(dot, seeds, oc));
      const auto* xg = xp.data() + oc / out_per_group * in_per_group * channel_plane;
      const auto* wk = ws + oc * taps;
      for (int64_t t = 0; t < taps; t += chunk)
        for (int64_t o0 = 0; o0 < a0.out; ++o0)
          madd_taps(dot, acc.data() + o0 * a1.out * width, xg + o0 * a0.stride * rows * width, offsets.data() + t, wk + t,
                    std::min(chunk, taps - t), row_sums);
      Num* yc = y + (n * out_channels + oc) * win.out_plane();
      for (int64_t r = 0; r < a0.out * a1.out; ++r)
        for (int64_t o2 = 0; o2 < a2.out; ++o2) *yc++ = dot.finish(acc[static_cast<size_t>(r * width + o2)]);
    }
  }
}

// The window walk, for sums that a padding tap's product could change: each output's in-input taps
// only, in window order.
template <class Dot, class Num>
void conv_walk(const Window& win, const Dot& dot, const typename Dot::Operand* xs, const typename Dot::Operand* ws,
               const Num* seeds, int64_t out_channels, int64_t in_per_group, int64_t out_per_group, Num* y) {
  const int64_t in_plane = win.in_plane(), kernel_volume = win.kernel_volume();
  for (int64_t n = 0; n < win.batch; ++n)
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      const auto* xg = xs + (n * win.channels + oc / out_per_group * in_per_group) * in_plane;
      const auto* wk = ws + oc * in_per_group * kernel_volume;
      Num* yc = y + (n * out_channels + oc) * win.out_plane();
      win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t offset) {
        auto sum = first_sum(dot, seeds, oc);
        for (int64_t ic = 0; ic < in_per_group; ++ic)
          win.for_each_tap(o0, o1, o2, [&](int64_t at, int64_t k) {
            dot.madd(sum, xg[ic * in_plane + at], wk[ic * kernel_volume + k]);
          });
        yc[offset] = dot.finish(sum);
      });
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
    if (add_padding)
      conv_planes(win, dot, xs, ws, seeds, out_channels, in_per_group, out_per_group, y.data.data());
    else
      conv_walk(win, dot, xs, ws, seeds, out_channels, in_per_group, out_per_group, y.data.data());
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
