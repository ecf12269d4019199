// Sliding-window geometry of conv and pooling, normalized to three spatial axes (missing leading axes
// have size 1) so that one loop nest serves 1-D, 2-D and 3-D ops.
#pragma once

#include "ir/dtype.h"

#include <algorithm>
#include <array>
#include <vector>

namespace qatc::ir {
struct Op;
}

namespace qatc::sim {

// Kernel taps [first, last) of one output position along one axis.
struct TapRange {
  int64_t first = 0, last = 0;
};

struct WindowAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, pad_begin = 0, pad_end = 0, dilation = 1;

  // Input position of tap 0 of output o; negative inside the begin padding.
  int64_t start(int64_t o) const { return o * stride - pad_begin; }
  int64_t position(int64_t o, int64_t k) const { return start(o) + k * dilation; }
  // The taps of output o that land inside the input.
  TapRange inside(int64_t o) const;
  // The outputs [first, last) whose tap k lands inside the input.
  TapRange outputs_inside(int64_t k) const {
    const int64_t off = k * dilation - pad_begin;  // position(o, k) = o * stride + off
    const int64_t first = off >= 0 ? 0 : (stride - 1 - off) / stride;
    const int64_t last = in - 1 - off < 0 ? 0 : std::min(out, (in - 1 - off) / stride + 1);
    return {first, std::max(first, last)};
  }
  // How many taps of output o land inside the input or its explicit padding; ceil-mode overhang
  // beyond the end padding does not count (ONNX and PyTorch count_include_pad).
  int64_t inside_padded(int64_t o) const;
};

struct Window {
  int64_t batch = 1, channels = 1;  // of the input
  std::array<WindowAxis, 3> axes;
  std::array<std::vector<TapRange>, 3> taps;  // axes[a].inside(o) for every output o

  int64_t in_plane() const { return axes[0].in * axes[1].in * axes[2].in; }
  int64_t out_plane() const { return axes[0].out * axes[1].out * axes[2].out; }
  int64_t kernel_volume() const { return axes[0].kernel * axes[1].kernel * axes[2].kernel; }
  // The op's N-d result shape: batch, `out_channels`, then the last `spatial_dims` output sizes.
  ir::Shape output_shape(int64_t out_channels, size_t spatial_dims) const;

  // What an average over output position (o0, o1, o2) divides by: its in-input taps, or with
  // `include_pad` also those in the explicit padding (ONNX count_include_pad). 0 for a window
  // entirely in the padding.
  int64_t average_count(int64_t o0, int64_t o1, int64_t o2, bool include_pad) const;

  // Calls f(input offset in the channel plane, kernel offset) for the in-input taps of output
  // position (o0, o1, o2), in window order.
  template <class F>
  void for_each_tap(int64_t o0, int64_t o1, int64_t o2, F&& f) const {
    const auto& [a0, a1, a2] = axes;
    const TapRange r0 = taps[0][o0], r1 = taps[1][o1], r2 = taps[2][o2];
    for (int64_t k0 = r0.first; k0 < r0.last; ++k0)
      for (int64_t k1 = r1.first; k1 < r1.last; ++k1) {
        const int64_t row = a0.position(o0, k0) * a1.in + a1.position(o1, k1);
        const int64_t kernel_row = k0 * a1.kernel + k1;
        for (int64_t k2 = r2.first; k2 < r2.last; ++k2)
          f(row * a2.in + a2.position(o2, k2), kernel_row * a2.kernel + k2);
      }
  }

  // Calls f(o0, o1, o2, output offset in the channel plane) for every output position.
  template <class F>
  void for_each_output(F&& f) const {
    int64_t offset = 0;
    for (int64_t o0 = 0; o0 < axes[0].out; ++o0)
      for (int64_t o1 = 0; o1 < axes[1].out; ++o1)
        for (int64_t o2 = 0; o2 < axes[2].out; ++o2) f(o0, o1, o2, offset++);
  }
};

// The window of a conv or pooling op over input `x` with spatial kernel `kernel`, from the op's
// strides/pads/dilations (and ceil_mode, if it has one).
Window make_window(const ir::Op& op, const ir::Shape& x, const std::vector<int64_t>& kernel);

}  // namespace qatc::sim
