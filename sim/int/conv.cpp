// conv and matmul: both reduce to the exact product kernel (gemm.h). A conv becomes one product per
// batch item and group, weights (out channels × in channels · taps) times the im2col matrix of the
// input (in channels · taps × output positions).
#include "sim/int/gemm.h"
#include "sim/int/kernels.h"
#include "sim/qat/matmul_shape.h"
#include "sim/qat/strided.h"
#include "sim/qat/window.h"

#include <algorithm>
#include <cstdlib>

namespace qatc::sim::integer {

namespace {

int64_t abs_bound(IntRange r) { return std::max(std::abs(r.min), std::abs(r.max)); }

IntRange minus(IntRange r, int64_t zero_point) { return {r.min - zero_point, r.max - zero_point}; }

// Column p of the result holds output position p's window over channels [0, channels) of `x`
// (one channel plane after another): row (c · taps + tap). Taps in the padding stay 0, which is
// x = x_zero_point once the zero point is subtracted.
template <class Work>
void im2col(const Window& win, const Work* x, int64_t channels, std::vector<Work>& col) {
  const int64_t positions = win.out_plane(), taps = win.kernel_volume(), in_plane = win.in_plane();
  std::fill(col.begin(), col.end(), Work{0});
  for (int64_t c = 0; c < channels; ++c) {
    Work* rows = col.data() + c * taps * positions;
    const Work* plane = x + c * in_plane;
    win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t p) {
      win.for_each_tap(o0, o1, o2, [&](int64_t xi, int64_t tap) { rows[tap * positions + p] = plane[xi]; });
    });
  }
}

// Stores sums (+ the bias of each row, if any) into the result's element type, refusing overflow.
template <class Out>
void store_rows(const ir::Op& op, const int64_t* sums, int64_t rows, int64_t columns, const Out* bias, Out* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const i128 b = bias ? bias[r] : 0;
    for (int64_t j = 0; j < columns; ++j) y[r * columns + j] = fit<Out>(op, sums[r * columns + j] + b);
  }
}

template <class Out>
const Out* bias_of(const ir::TensorData* bias, int64_t first) {
  return bias ? bias->as<Out>().data() + first : nullptr;
}

}  // namespace

ir::TensorData conv(const ir::Op& op, const ir::TensorData& x, const ir::TensorData& w, const ir::TensorData* bias) {
  const ir::Shape& ws = w.shape();
  const Window win = make_window(op, x.shape(), std::vector<int64_t>(ws.begin() + 2, ws.end()));
  const int64_t groups = op.get_int("group"), out_channels = ws[0], in_per_group = ws[1];
  const int64_t out_per_group = out_channels / groups, k = in_per_group * win.kernel_volume();
  const int64_t positions = win.out_plane();
  const int64_t zp = op.has("x_zero_point") ? op.get_int("x_zero_point") : 0;
  const IntRange xr = minus(value_range(x), zp);
  const ir::DType out_type = op.outputs[0]->type.dtype;
  ir::TensorData y(out_type, win.output_shape(out_channels, x.shape().size() - 2));
  with_work_type(xr, value_range(w), [&](auto work) {
    using Work = decltype(work);
    const std::vector<Work> xs = to_work<Work>(x, zp), weights = to_work<Work>(w, 0);
    std::vector<Work> col(static_cast<size_t>(k * positions));
    std::vector<int64_t> sums(static_cast<size_t>(out_per_group * positions));
    for (int64_t n = 0; n < win.batch; ++n)
      for (int64_t g = 0; g < groups; ++g) {
        im2col(win, xs.data() + (n * win.channels + g * in_per_group) * win.in_plane(), in_per_group, col);
        multiply(op, out_per_group, positions, k, weights.data() + g * out_per_group * k, col.data(),
                 abs_bound(xr), sums.data());
        const int64_t first = g * out_per_group;
        visit_int_dtype(out_type, [&](auto t) {
          using Out = decltype(t);
          store_rows<Out>(op, sums.data(), out_per_group, positions, bias_of<Out>(bias, first),
                          y.as<Out>().data() + (n * out_channels + first) * positions);
        });
      }
  });
  return y;
}

ir::TensorData matmul(const ir::Op& op, const ir::TensorData& a, const ir::TensorData& b) {
  const MatmulShape s = matmul_shape(op, a.shape(), b.shape());
  const int64_t zp = op.has("x_zero_point") ? op.get_int("x_zero_point") : 0;
  const IntRange br = value_range(b);
  const ir::DType out_type = op.outputs[0]->type.dtype;
  ir::TensorData y(out_type, s.result);
  with_work_type(minus(value_range(a), zp), br, [&](auto work) {
    using Work = decltype(work);
    const std::vector<Work> as = to_work<Work>(a, zp), bs = to_work<Work>(b, 0);
    std::vector<int64_t> sums(static_cast<size_t>(s.m * s.n));
    for_each_strided<2>(s.batch, {&s.a_strides, &s.b_strides}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      multiply(op, s.m, s.n, s.k, as.data() + off[0] * s.m * s.k, bs.data() + off[1] * s.k * s.n, abs_bound(br),
               sums.data());
      visit_int_dtype(out_type, [&](auto t) {
        using Out = decltype(t);
        store_rows<Out>(op, sums.data(), s.m, s.n, nullptr, y.as<Out>().data() + i * s.m * s.n);
      });
    });
  });
  return y;
}

}  // namespace qatc::sim::integer
