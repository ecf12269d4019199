// Shape rules of every op (ONNX semantics, static shapes). Used by the importer to type op outputs
// and by the verifier to check them.
#include "ir/shape_inference.h"

#include "ir/error.h"
#include "ir/graph.h"

#include <algorithm>
#include <limits>

namespace qatc::ir {

namespace {

const Shape& in_shape(const Op& op, size_t i) { return op.inputs[i]->type.shape; }

void require(bool ok, const Op& op, std::string_view what) {
  if (!ok) fail("{}: {}", op.describe(), what);
}

// Spatial attribute list of length `n`, as the op's window rules need it.
const std::vector<int64_t>& spatial(const Op& op, const std::string& attr, size_t n) {
  const auto& v = op.get_ints(attr);
  if (v.size() != n) fail("{}: attribute '{}' needs {} values, has {}", op.describe(), attr, n, v.size());
  return v;
}

Shape window_shape(const Op& op, int64_t out_channels, const std::vector<int64_t>& kernel) {
  const Shape& x = in_shape(op, 0);
  size_t n = x.size() - 2;
  const auto& strides = spatial(op, "strides", n);
  const auto& dilations = spatial(op, "dilations", n);
  const auto& pads = spatial(op, "pads", 2 * n);
  bool ceil_mode = op.has("ceil_mode") && op.get_int("ceil_mode") != 0;
  Shape out{x[0], out_channels};
  for (size_t i = 0; i < n; ++i) {
    require(strides[i] >= 1 && dilations[i] >= 1 && kernel[i] >= 1, op, "kernel, strides and dilations must be >= 1");
    require(pads[i] >= 0 && pads[i + n] >= 0, op, "pads must be >= 0");
    int64_t o = window_output_size(x[i + 2], kernel[i], strides[i], pads[i], pads[i + n], dilations[i], ceil_mode);
    if (o < 1) fail("{}: the window does not fit spatial dimension {} (size {})", op.describe(), i, x[i + 2]);
    out.push_back(o);
  }
  return out;
}

Shape infer_conv(const Op& op) {
  const Shape& x = in_shape(op, 0);
  const Shape& w = in_shape(op, 1);
  require(x.size() >= 3 && w.size() == x.size(), op, "input and weight need the same rank >= 3 (N, C, spatial...)");
  int64_t group = op.get_int("group");
  require(group >= 1 && x[1] % group == 0 && w[0] % group == 0, op, "group must divide input and output channels");
  if (w[1] * group != x[1])
    fail("{}: weight has {} input channels per group, input has {} channels in {} groups", op.describe(), w[1], x[1],
         group);
  if (op.inputs.size() == 3 && in_shape(op, 2) != Shape{w[0]})
    fail("{}: bias must have shape [{}], has [{}]", op.describe(), w[0], shape_string(in_shape(op, 2)));
  return window_shape(op, w[0], Shape(w.begin() + 2, w.end()));
}

Shape infer_pool(const Op& op) {
  const Shape& x = in_shape(op, 0);
  require(x.size() >= 3, op, "input needs rank >= 3 (N, C, spatial...)");
  return window_shape(op, x[1], spatial(op, "kernel_shape", x.size() - 2));
}

Shape infer_matmul(const Op& op) {
  Shape a = in_shape(op, 0), b = in_shape(op, 1);
  require(!a.empty() && !b.empty(), op, "operands must have rank >= 1");
  bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    fail("{}: inner dimensions differ ({} vs {})", op.describe(), a.back(), b[b.size() - 2]);
  Shape batch = broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2), op);
  if (!a_vec) batch.push_back(a[a.size() - 2]);
  if (!b_vec) batch.push_back(b.back());
  return batch;
}

Shape infer_batchnorm(const Op& op) {
  const Shape& x = in_shape(op, 0);
  require(x.size() >= 2, op, "input needs rank >= 2");
  for (size_t i = 1; i < 5; ++i)
    if (in_shape(op, i) != Shape{x[1]})
      fail("{}: parameter '{}' must have shape [{}]", op.describe(), op.inputs[i]->name, x[1]);
  return x;
}

Shape infer_broadcast(const Op& op) { return broadcast_shapes(in_shape(op, 0), in_shape(op, 1), op); }

Shape infer_same(const Op& op) { return in_shape(op, 0); }

Shape infer_concat(const Op& op) {
  Shape out = in_shape(op, 0);
  int64_t axis = op.get_int("axis");
  require(axis >= 0 && axis < static_cast<int64_t>(out.size()), op, "axis out of range");
  for (size_t i = 1; i < op.inputs.size(); ++i) {
    const Shape& s = in_shape(op, i);
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == static_cast<size_t>(axis) || s[d] == out[d];
    if (!ok) fail("{}: input '{}' has shape {}, incompatible with {}", op.describe(), op.inputs[i]->name,
                  shape_string(s), shape_string(out));
    out[axis] += s[axis];
  }
  return out;
}

Shape infer_pad(const Op& op) {
  Shape out = in_shape(op, 0);
  const auto& pads = spatial(op, "pads", 2 * out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t grown = 0;
    if (__builtin_add_overflow(pads[i], pads[i + out.size()], &grown) || __builtin_add_overflow(out[i], grown, &out[i]))
      fail("{}: pads {} and {} overflow dimension {}", op.describe(), pads[i], pads[i + out.size()], i);
    require(out[i] >= 1, op, "padding removes a whole dimension");
  }
  return out;
}

Shape infer_resize(const Op& op) {
  const Shape& x = in_shape(op, 0);
  const auto& sizes = spatial(op, "sizes", x.size());
  if (op.get_floats("scales").size() != x.size()) fail("{}: attribute 'scales' needs {} values", op.describe(), x.size());
  for (int64_t s : sizes) require(s >= 1, op, "output sizes must be >= 1");
  return sizes;
}

Shape infer_reshape(const Op& op) {
  const auto& shape = op.get_ints("shape");
  for (int64_t d : shape) require(d >= 0, op, "reshape target dimensions must be >= 0");
  if (num_elements(shape) != num_elements(in_shape(op, 0)))
    fail("{}: cannot reshape {} to {}", op.describe(), shape_string(in_shape(op, 0)), shape_string(shape));
  return shape;
}

Shape infer_transpose(const Op& op) {
  const Shape& x = in_shape(op, 0);
  const auto& perm = spatial(op, "perm", x.size());
  std::vector<bool> seen(x.size());
  Shape out;
  for (int64_t p : perm) {
    require(p >= 0 && p < static_cast<int64_t>(x.size()) && !seen[p], op, "perm must be a permutation of the axes");
    seen[p] = true;
    out.push_back(x[p]);
  }
  return out;
}

// Every selected element must lie inside the operand: the first and the last on each axis.
Shape infer_slice(const Op& op) {
  const Shape& x = in_shape(op, 0);
  const auto& starts = spatial(op, "starts", x.size());
  const auto& steps = spatial(op, "steps", x.size());
  const auto& shape = spatial(op, "shape", x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    require(shape[d] >= 0 && steps[d] != 0, op, "slice sizes must be non-negative and steps nonzero");
    if (shape[d] == 0) continue;
    const __int128 last = static_cast<__int128>(starts[d]) + static_cast<__int128>(shape[d] - 1) * steps[d];
    require(starts[d] >= 0 && starts[d] < x[d] && last >= 0 && last < x[d], op,
            fmt::format("the slice of axis {} reaches beyond its {} elements", d, x[d]));
  }
  return Shape(shape.begin(), shape.end());
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const Op& op) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("{}: shapes {} and {} do not broadcast", op.describe(), shape_string(a), shape_string(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                           int64_t dilation, bool ceil_mode) {
  // In 128 bits: a model's kernel, dilation and pads may each be near 2^63. A result beyond int64
  // is clamped, and the tensor limits then refuse it.
  using Wide = __int128;
  const Wide span = (Wide{kernel} - 1) * dilation + 1;
  const Wide room = Wide{in} + pad_begin + pad_end - span;
  if (room < 0) return 0;
  Wide out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
  // As in PyTorch and ONNX: a ceil-mode window must start inside the input or the begin padding.
  if (ceil_mode && (out - 1) * stride >= Wide{in} + pad_begin) --out;
  return out > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(out);
}

bool ceil_window_dropped(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation) {
  using Wide = __int128;
  const Wide room = Wide{in} + pad_begin + pad_end - ((Wide{kernel} - 1) * dilation + 1);
  return room >= 0 && ((room + stride - 1) / stride) * stride >= Wide{in} + pad_begin;
}

ShapeRule shape_rule(OpKind kind) {
  switch (kind) {
    case OpKind::conv: return infer_conv;
    case OpKind::matmul: return infer_matmul;
    case OpKind::batchnorm: return infer_batchnorm;
    case OpKind::add:
    case OpKind::sub:
    case OpKind::mul:
    case OpKind::div: return infer_broadcast;
    case OpKind::concat: return infer_concat;
    case OpKind::maxpool:
    case OpKind::avgpool: return infer_pool;
    case OpKind::pad: return infer_pad;
    case OpKind::resize: return infer_resize;
    case OpKind::reshape: return infer_reshape;
    case OpKind::transpose: return infer_transpose;
    case OpKind::slice: return infer_slice;
    case OpKind::relu:
    case OpKind::clip:
    case OpKind::leaky_relu:
    case OpKind::elu:
    case OpKind::sigmoid:
    case OpKind::tanh:
    case OpKind::erf:
    case OpKind::exp:
    case OpKind::log:
    case OpKind::softplus:
    case OpKind::quantize:
    case OpKind::dequantize:
    case OpKind::requantize:
    case OpKind::widen:
    case OpKind::lut: return infer_same;
  }
  __builtin_unreachable();
}

}  // namespace qatc::ir
