// Layout ops: pure index maps, written once for any element type.
#include "ir/error.h"
#include "ir/graph.h"
#include "sim/qat/exact.h"
#include "sim/qat/kernels.h"
#include "sim/qat/layout.h"
#include "sim/qat/strided.h"

#include <algorithm>
#include <cmath>

namespace qatc::sim {

namespace {

// y[o_0, ..., o_k] = x[source[0][o_0], ..., source[k][o_k]], or `fill` where a source index is kFill.
template <class T>
Array<T> gather_axes(const Array<T>& x, ir::Shape out_shape, const std::vector<std::vector<int64_t>>& source,
                     const T& fill) {
  Array<T> y(std::move(out_shape));
  const std::vector<int64_t> strides = strides_of(x.shape);
  const size_t rank = x.shape.size();
  int64_t out = 0;
  auto walk = [&](auto&& self, size_t d, int64_t in_offset, bool inside) -> void {
    if (d == rank) {
      y.data[out++] = inside ? x.data[in_offset] : fill;
      return;
    }
    for (int64_t s : source[d])
      self(self, d + 1, in_offset + (s == kFill ? 0 : s * strides[d]), inside && s != kFill);
  };
  walk(walk, 0, 0, true);
  return y;
}

// Pad: output index o along an axis reads input index o - pad_begin, folded back by the mode.
std::vector<int64_t> pad_source(const ir::Op& op, const std::string& mode, int64_t in, int64_t pad_begin,
                                int64_t out) {
  std::vector<int64_t> source(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - pad_begin;
    if (i < 0 || i >= in) {
      if (mode == "constant") {
        i = kFill;
      } else if (mode == "edge") {
        i = std::clamp<int64_t>(i, 0, in - 1);
      } else if (mode == "reflect") {
        // Mirror without repeating the edge, as numpy.pad does (period 2*(in-1) for wide pads).
        int64_t period = 2 * (in - 1);
        i = period == 0 ? 0 : ((i % period) + period) % period;
        if (i >= in) i = period - i;
      } else {
        fail("{}: unknown pad mode '{}'", op.describe(), mode);
      }
    }
    source[o] = i;
  }
  return source;
}

// Resize (nearest, ONNX Resize-13): the input coordinate of output index o along one axis.
double original_coordinate(const ir::Op& op, const std::string& mode, int64_t o, double scale, int64_t in,
                           int64_t out) {
  const auto x = static_cast<double>(o);
  if (mode == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (mode == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (mode == "align_corners") return out > 1 ? x * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  fail("{}: unsupported coordinate_transformation_mode '{}'", op.describe(), mode);
}

int64_t nearest_index(const ir::Op& op, const std::string& mode, double x) {
  const double below = std::floor(x);
  const bool tie = x - below == 0.5;
  if (mode == "round_prefer_floor") return static_cast<int64_t>(tie ? below : std::round(x));
  if (mode == "round_prefer_ceil") return static_cast<int64_t>(tie ? below + 1 : std::round(x));
  if (mode == "floor") return static_cast<int64_t>(below);
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  fail("{}: unsupported nearest_mode '{}'", op.describe(), mode);
}

}  // namespace

std::vector<std::vector<int64_t>> axis_sources(const ir::Op& op, const ir::Shape& in) {
  const size_t rank = in.size();
  std::vector<std::vector<int64_t>> source(rank);
  if (op.kind == ir::OpKind::pad) {
    const auto& pads = op.get_ints("pads");  // [begin..., end...]
    for (size_t d = 0; d < rank; ++d)
      source[d] = pad_source(op, op.get_string("mode"), in[d], pads[d], in[d] + pads[d] + pads[d + rank]);
    return source;
  }
  if (op.kind == ir::OpKind::slice) {  // axis d reads starts[d], starts[d] + steps[d], ...
    const auto &starts = op.get_ints("starts"), &steps = op.get_ints("steps"), &shape = op.get_ints("shape");
    for (size_t d = 0; d < rank; ++d)
      for (int64_t i = 0; i < shape[d]; ++i) source[d].push_back(starts[d] + i * steps[d]);
    return source;
  }
  const auto& sizes = op.get_ints("sizes");
  const auto& scales = op.get_floats("scales");
  const std::string& coordinates = op.get_string("coordinate_transformation_mode");
  const std::string& nearest = op.get_string("nearest_mode");
  for (size_t d = 0; d < rank; ++d)
    for (int64_t o = 0; o < sizes[d]; ++o) {
      const double at = original_coordinate(op, coordinates, o, scales[d], in[d], sizes[d]);
      source[d].push_back(std::clamp<int64_t>(nearest_index(op, nearest, at), 0, in[d] - 1));
    }
  return source;
}

template <class T>
Array<T> concat(const ir::Op& op, const std::vector<const Array<T>*>& inputs) {
  const auto axis = static_cast<size_t>(op.get_int("axis"));
  ir::Shape shape = inputs[0]->shape;
  shape[axis] = 0;
  for (const Array<T>* in : inputs) shape[axis] += in->shape[axis];
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  Array<T> y(shape);
  auto out = y.data.begin();
  for (int64_t o = 0; o < outer; ++o)
    for (const Array<T>* in : inputs) {
      const int64_t chunk = in->shape[axis] * inner;
      out = std::copy_n(in->data.begin() + o * chunk, chunk, out);
    }
  return y;
}

template <class T>
Array<T> pad(const ir::Op& op, const Array<T>& x, const T& fill) {
  const auto source = axis_sources(op, x.shape);
  ir::Shape out_shape;
  for (const auto& s : source) out_shape.push_back(static_cast<int64_t>(s.size()));
  return gather_axes(x, std::move(out_shape), source, fill);
}

template <class T>
Array<T> resize(const ir::Op& op, const Array<T>& x) {
  // Nearest neighbours never fall outside: no fill.
  return gather_axes(x, op.get_ints("sizes"), axis_sources(op, x.shape), T{});
}

template <class T>
Array<T> reshape(const ir::Op& op, const Array<T>& x) {
  return Array<T>(op.get_ints("shape"), x.data);
}

template <class T>
Array<T> transpose(const ir::Op& op, const Array<T>& x) {
  const auto& perm = op.get_ints("perm");
  const std::vector<int64_t> in_strides = strides_of(x.shape);
  ir::Shape out_shape;
  std::vector<int64_t> strides;  // input strides along the output's axes
  for (int64_t p : perm) {
    out_shape.push_back(x.shape[p]);
    strides.push_back(in_strides[p]);
  }
  Array<T> y(out_shape);
  for_each_strided<1>(out_shape, {&strides},
                      [&](int64_t i, const std::array<int64_t, 1>& off) { y.data[i] = x.data[off[0]]; });
  return y;
}

template <class T>
Array<T> slice(const ir::Op& op, const Array<T>& x) {
  return gather_axes(x, op.get_ints("shape"), axis_sources(op, x.shape), T{});
}

#define QATC_INSTANTIATE(T)                                                              \
  template Array<T> concat<T>(const ir::Op&, const std::vector<const Array<T>*>&);      \
  template Array<T> pad<T>(const ir::Op&, const Array<T>&, const T&);                   \
  template Array<T> resize<T>(const ir::Op&, const Array<T>&);                          \
  template Array<T> reshape<T>(const ir::Op&, const Array<T>&);                         \
  template Array<T> transpose<T>(const ir::Op&, const Array<T>&);                       \
  template Array<T> slice<T>(const ir::Op&, const Array<T>&);
QATC_INSTANTIATE(float)
QATC_INSTANTIATE(Exact)
QATC_INSTANTIATE(int64_t)
// The integer simulator's tensors keep their native element types.
QATC_INSTANTIATE(int8_t)
QATC_INSTANTIATE(uint8_t)
QATC_INSTANTIATE(int16_t)
QATC_INSTANTIATE(uint16_t)
QATC_INSTANTIATE(int32_t)
#undef QATC_INSTANTIATE

}  // namespace qatc::sim
