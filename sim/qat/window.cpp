#include "sim/qat/window.h"

#include "ir/error.h"
#include "ir/graph.h"

#include <algorithm>

namespace qatc::sim {

namespace {
// Number of taps k >= 0 with k * dilation < extent.
int64_t taps_below(int64_t extent, int64_t dilation) { return extent <= 0 ? 0 : (extent + dilation - 1) / dilation; }
}  // namespace

TapRange WindowAxis::inside(int64_t o) const {
  int64_t s = start(o);
  // Taps with s + k*dilation in [0, in).
  int64_t first = s >= 0 ? 0 : taps_below(-s, dilation);
  int64_t last = std::min(kernel, taps_below(in - s, dilation));
  return {first, std::max(first, last)};
}

int64_t WindowAxis::inside_padded(int64_t o) const {
  // start(o) >= -pad_begin always, so only the end can cut the window.
  return std::min(kernel, taps_below(in + pad_end - start(o), dilation));
}

ir::Shape Window::output_shape(int64_t out_channels, size_t spatial_dims) const {
  ir::Shape s{batch, out_channels};
  for (size_t i = 3 - spatial_dims; i < 3; ++i) s.push_back(axes[i].out);
  return s;
}

int64_t Window::average_count(int64_t o0, int64_t o1, int64_t o2, bool include_pad) const {
  const std::array<int64_t, 3> o{o0, o1, o2};
  int64_t count = 1;
  for (size_t a = 0; a < 3; ++a) {
    const TapRange r = taps[a][o[a]];
    count *= include_pad ? axes[a].inside_padded(o[a]) : r.last - r.first;
  }
  return count;
}

Window make_window(const ir::Op& op, const ir::Shape& x, const std::vector<int64_t>& kernel) {
  const size_t n = x.size() - 2;
  if (n > 3) fail("{}: at most 3 spatial dimensions are supported, the input has {}", op.describe(), n);
  const size_t skip = 3 - n;  // leading unit axes
  const auto& strides = op.get_ints("strides");
  const auto& pads = op.get_ints("pads");
  const auto& dilations = op.get_ints("dilations");
  const bool ceil_mode = op.has("ceil_mode") && op.get_int("ceil_mode") != 0;
  Window w;
  w.batch = x[0];
  w.channels = x[1];
  for (size_t i = 0; i < n; ++i) {
    WindowAxis& a = w.axes[skip + i];
    a.in = x[i + 2];
    a.kernel = kernel[i];
    a.stride = strides[i];
    a.pad_begin = pads[i];
    a.pad_end = pads[i + n];
    a.dilation = dilations[i];
    a.out = ir::window_output_size(a.in, a.kernel, a.stride, a.pad_begin, a.pad_end, a.dilation, ceil_mode);
  }
  for (size_t i = 0; i < 3; ++i)
    for (int64_t o = 0; o < w.axes[i].out; ++o) w.taps[i].push_back(w.axes[i].inside(o));
  return w;
}

}  // namespace qatc::sim
