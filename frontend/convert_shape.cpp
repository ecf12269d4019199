// Shape arithmetic: what exporters write for `x.size()`, `torch.chunk` and friends (Shape, Gather,
// ConstantOfShape, Cast, Range, Expand, Slice, and integer Add/Sub/Mul/Div on constants). Shapes are static in qatc, so each of
// these is a constant as soon as its operands are, and is evaluated here, while the graph is read;
// later nodes (a Reshape's target shape, a DequantizeLinear's zero point) read the result as data.
// On a computed tensor only what moves integers exactly is accepted: a Cast to the tensor's own
// type (torch's QuantizeLinear -> Cast(uint8) -> DequantizeLinear) and Slice, which becomes a
// `slice` op.
#include "frontend/converters.h"
#include "frontend/tensor_proto.h"
#include "ir/limits.h"
#include "sim/qat/strided.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace qatc::frontend {

namespace {

// out[i] = in[source(i)] for every element i of a tensor of `shape`, element bytes copied.
template <typename Source>
ir::TensorData gathered(const ImportContext& ctx, const ir::TensorData& in, const ir::Shape& shape, Source source) {
  ir::checked_num_elements(shape, in.dtype(), "the result of " + ctx.describe_node());
  ir::TensorData out(in.dtype(), shape);
  const size_t bytes = ir::byte_size(in.dtype());
  const std::vector<int64_t> strides = sim::strides_of(shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < out.size(); ++i) {
    int64_t rest = i;
    for (size_t d = 0; d < shape.size(); ++d) {
      index[d] = rest / strides[d];
      rest %= strides[d];
    }
    std::memcpy(out.mutable_bytes().data() + i * bytes, in.bytes().data() + source(index) * bytes, bytes);
  }
  return out;
}

// The numpy broadcast of shapes a and b, or nullopt where they do not broadcast.
std::optional<ir::Shape> broadcast(const ir::Shape& a, const ir::Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  auto dim = [&](const ir::Shape& s, size_t d) { return d + s.size() >= rank ? s[d + s.size() - rank] : int64_t{1}; };
  ir::Shape shape(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (dim(a, d) != dim(b, d) && dim(a, d) != 1 && dim(b, d) != 1) return std::nullopt;
    shape[d] = dim(a, d) == 1 ? dim(b, d) : dim(a, d);
  }
  return shape;
}

// `in` repeated along its broadcast axes to `shape`, element bytes copied.
ir::TensorData broadcast_to(const ImportContext& ctx, const ir::TensorData& in, const ir::Shape& shape) {
  ir::checked_num_elements(shape, in.dtype(), "the result of " + ctx.describe_node());
  ir::TensorData out(in.dtype(), shape);
  const size_t bytes = ir::byte_size(in.dtype());
  const std::vector<int64_t> strides = sim::broadcast_strides(in.shape(), shape);
  sim::for_each_strided<1>(shape, {&strides}, [&](int64_t i, const std::array<int64_t, 1>& at) {
    std::memcpy(out.mutable_bytes().data() + i * bytes, in.bytes().data() + at[0] * bytes, bytes);
  });
  return out;
}

// The flat index of `index` in a tensor of `shape`.
int64_t flat(const std::vector<int64_t>& index, const ir::Shape& shape) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + index[d];
  return f;
}

ir::TensorData cast_constant(const ImportContext& ctx, const ir::TensorData& in, ir::DType to) {
  ir::TensorData out(to, in.shape());
  ir::visit_dtype(to, [&](auto t) {
    using T = decltype(t);
    auto dst = out.as<T>();
    for (int64_t i = 0; i < in.size(); ++i) {
      if (!ir::is_float(in.dtype())) {
        // Integers, exactly or not at all (2^63 is not an int64: compared before any conversion).
        const int64_t n = in.int_at(i);
        if constexpr (std::is_floating_point_v<T>) {
          const double d = static_cast<double>(n);
          if (!(d < 0x1p63 && static_cast<int64_t>(d) == n && static_cast<double>(static_cast<T>(d)) == d))
            ctx.refuse("element {} ({}) is not exactly a {}", i, n, ir::dtype_name(to));
        } else if (!std::in_range<T>(n)) {
          ctx.refuse("element {} ({}) is beyond {}", i, n, ir::dtype_name(to));
        }
        dst[i] = static_cast<T>(n);
      } else if constexpr (std::is_floating_point_v<T>) {
        const double v = in.float_at(i);
        if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<T>::max()))
          ctx.refuse("element {} ({}) is beyond {}", i, v, ir::dtype_name(to));
        if (static_cast<double>(static_cast<T>(v)) != v && !std::isnan(v))
          ctx.refuse("element {} ({}) is not exactly a {}: the cast would round it", i, v, ir::dtype_name(to));
        dst[i] = static_cast<T>(v);
      } else {
        // ONNX: a float cast to an integer type drops its fraction (rounds toward zero). The upper
        // bound max + 1 is a power of two, exact in a double.
        const double v = std::trunc(in.float_at(i));
        if (!(v >= static_cast<double>(std::numeric_limits<T>::min()) &&
              v < static_cast<double>(std::numeric_limits<T>::max()) + 1.0))
          ctx.refuse("element {} ({}) is beyond {}", i, in.float_at(i), ir::dtype_name(to));
        dst[i] = static_cast<T>(v);
      }
    }
  });
  return out;
}

// One axis of a Slice, ONNX's clamping applied: elements start, start + step, ... before end.
struct AxisSlice {
  int64_t start = 0, step = 1, count = 0;
};

std::vector<AxisSlice> slice_axes(ImportContext& ctx, const ir::Shape& s) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attr_ints("starts", {});
    ends = ctx.attr_ints("ends", {});
    axes = ctx.attr_ints("axes", {});
  } else {
    starts = ctx.constant_ints(1, "starts");
    ends = ctx.constant_ints(2, "ends");
    if (ctx.has_input(3)) axes = ctx.constant_ints(3, "axes");
    if (ctx.has_input(4)) steps = ctx.constant_ints(4, "steps");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    ctx.refuse("starts, ends, axes and steps must have the same length");
  std::vector<AxisSlice> result(s.size());
  std::vector<bool> seen(s.size(), false);
  for (size_t d = 0; d < s.size(); ++d) result[d] = {0, 1, s[d]};
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = normalize_axis(ctx, axes[i], s.size());
    if (seen[a]) ctx.refuse("axis {} is sliced twice", a);
    seen[a] = true;
    const int64_t dim = s[a], step = steps[i];
    if (step == 0) ctx.refuse("the step of axis {} is 0", a);
    // In 128 bits: starts and ends are often INT64_MAX or INT64_MIN ("to the end").
    auto resolve = [&](int64_t v, __int128 lo, __int128 hi) {
      __int128 x = v < 0 ? static_cast<__int128>(v) + dim : v;
      return static_cast<int64_t>(std::clamp(x, lo, hi));
    };
    int64_t start, end;
    if (step > 0) {
      start = resolve(starts[i], 0, dim);
      end = resolve(ends[i], 0, dim);
    } else {
      start = resolve(starts[i], 0, dim - 1);
      end = resolve(ends[i], -1, dim - 1);
    }
    const __int128 span = static_cast<__int128>(end) - start;
    const __int128 count = span == 0 || (span > 0) != (step > 0) ? 0 : (span + step + (step > 0 ? -1 : 1)) / step;
    result[a] = {start, step, static_cast<int64_t>(count)};
  }
  return result;
}

}  // namespace

void convert_shape(ImportContext& ctx) {
  const ir::Shape& s = ctx.input(0)->type.shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  // Opset 15's start/end select a range of dimensions, clamped like Slice.
  auto clamp_dim = [&](int64_t d) { return std::clamp(d < 0 ? d + rank : d, int64_t{0}, rank); };
  const int64_t start = clamp_dim(ctx.attr_int("start", 0)), end = clamp_dim(ctx.attr_int("end", rank));
  std::vector<int64_t> dims(s.begin() + start, s.begin() + std::max(start, end));
  ctx.bind_constant_output(ir::TensorData::from<int64_t>({static_cast<int64_t>(dims.size())}, dims));
}

void convert_gather(ImportContext& ctx) {
  const ir::TensorData* data = ctx.constant_input(0);
  // ctx.input refuses a missing operand by name (the node may have no inputs at all).
  if (!data) ctx.refuse("gathering from a computed tensor ('{}') is not supported", ctx.input(0)->name);
  const std::vector<int64_t> indices = ctx.constant_ints(1, "indices");
  const ir::Shape& index_shape = ctx.require_constant(1, "indices").shape();
  const ir::Shape& ds = data->shape();
  if (ds.empty()) ctx.refuse("cannot gather from a scalar");
  const int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), ds.size());
  for (int64_t i : indices)
    if (i < -ds[axis] || i >= ds[axis]) ctx.refuse("index {} is out of range for axis {} of size {}", i, axis, ds[axis]);
  ir::Shape shape(ds.begin(), ds.begin() + axis);
  shape.insert(shape.end(), index_shape.begin(), index_shape.end());
  shape.insert(shape.end(), ds.begin() + axis + 1, ds.end());
  const size_t k = index_shape.size();
  ctx.bind_constant_output(gathered(ctx, *data, shape, [&](const std::vector<int64_t>& out) {
    std::vector<int64_t> in(out.begin(), out.begin() + axis);
    std::vector<int64_t> which(out.begin() + axis, out.begin() + axis + static_cast<int64_t>(k));
    int64_t i = indices[static_cast<size_t>(flat(which, index_shape))];
    in.push_back(i < 0 ? i + ds[axis] : i);
    in.insert(in.end(), out.begin() + axis + static_cast<int64_t>(k), out.end());
    return flat(in, ds);
  }));
}

void convert_constant_of_shape(ImportContext& ctx) {
  const std::vector<int64_t> shape = ctx.constant_ints(0, "shape");
  for (int64_t d : shape)
    if (d < 0) ctx.refuse("dimension {} is negative", d);
  ir::TensorData value = ir::TensorData::from<float>({}, std::vector<float>{0.0f});
  if (const auto* a = ctx.attr("value")) {
    if (a->type() != onnx::AttributeProto::TENSOR) ctx.refuse("attribute 'value' must be a tensor");
    value = tensor_from_proto(a->t());
    if (value.size() != 1) ctx.refuse("attribute 'value' must hold one element, not {}", value.size());
    ir::TensorData scalar(value.dtype(), {});  // broadcast to any rank, 0 included
    std::memcpy(scalar.mutable_bytes().data(), value.bytes().data(), ir::byte_size(value.dtype()));
    value = std::move(scalar);
  }
  ctx.bind_constant_output(broadcast_to(ctx, value, shape));
}

void convert_cast(ImportContext& ctx) {
  const ir::DType to = dtype_from_onnx(static_cast<int>(ctx.attr_int("to", 0)), ctx.describe_node() + ": attribute 'to'");
  if (const ir::TensorData* c = ctx.constant_input(0)) return ctx.bind_constant_output(cast_constant(ctx, *c, to));
  ir::Value* x = ctx.input(0);
  if (x->type.dtype != to)
    ctx.refuse("casting the computed tensor '{}' from {} to {} is not supported", x->name, ir::dtype_name(x->type.dtype),
               ir::dtype_name(to));
  ctx.alias_output(x);
}

void convert_range(ImportContext& ctx) {
  const ir::TensorData& start = ctx.require_constant(0, "start");
  const ir::TensorData& limit = ctx.require_constant(1, "limit");
  const ir::TensorData& delta = ctx.require_constant(2, "delta");
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1) ctx.refuse("start, limit and delta must be scalars");
  if (ir::is_float(start.dtype())) ctx.refuse("a float Range is not supported (its elements would be rounded)");
  const int64_t s = start.int_at(0), l = limit.int_at(0), d = delta.int_at(0);
  if (d == 0) ctx.refuse("delta is 0");
  // ceil((limit - start) / delta) elements, in 128 bits: the difference of two int64 may not fit one.
  const __int128 span = static_cast<__int128>(l) - s;
  __int128 n = span / d + ((span % d != 0) && ((span > 0) == (d > 0)) ? 1 : 0);
  if (n < 0) n = 0;
  ir::checked_num_elements({static_cast<int64_t>(std::min<__int128>(n, INT64_MAX))}, ir::DType::i64,
                           "the result of " + ctx.describe_node());
  std::vector<int64_t> v;
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) v.push_back(s + i * d);
  ctx.bind_constant_output(cast_constant(ctx, ir::TensorData::from<int64_t>({static_cast<int64_t>(v.size())}, v),
                                         start.dtype()));
}

void convert_expand(ImportContext& ctx) {
  const ir::TensorData* data = ctx.constant_input(0);
  const std::vector<int64_t> target = ctx.constant_ints(1, "shape");
  ir::Value* x = data ? nullptr : ctx.input(0);
  const ir::Shape& xs = data ? data->shape() : x->type.shape;
  for (int64_t d : target)
    if (d < 0) ctx.refuse("dimension {} of the target shape is negative", d);
  const auto shape = broadcast(xs, ir::Shape(target.begin(), target.end()));
  if (!shape) ctx.refuse("cannot expand [{}] to [{}]", fmt::join(xs, ","), fmt::join(target, ","));
  ir::checked_num_elements(*shape, data ? data->dtype() : x->type.dtype, "the result of " + ctx.describe_node());
  if (!data) {
    if (ir::num_elements(*shape) != ir::num_elements(xs))
      ctx.refuse("expanding the computed tensor '{}' (copying its elements) is not supported", x->name);
    ctx.emit(ir::OpKind::reshape, {x}, {{"shape", std::vector<int64_t>(shape->begin(), shape->end())}});
    return;
  }
  ctx.bind_constant_output(broadcast_to(ctx, *data, *shape));
}

void fold_integer_arithmetic(ImportContext& ctx, ir::OpKind kind, const ir::TensorData& a, const ir::TensorData& b) {
  if (a.dtype() != b.dtype()) ctx.refuse("its operands are {} and {}", ir::dtype_name(a.dtype()), ir::dtype_name(b.dtype()));
  const auto shape = broadcast(a.shape(), b.shape());
  if (!shape)
    ctx.refuse("operand shapes [{}] and [{}] do not broadcast", fmt::join(a.shape(), ","), fmt::join(b.shape(), ","));
  ir::checked_num_elements(*shape, a.dtype(), "the result of " + ctx.describe_node());
  ir::TensorData out(a.dtype(), *shape);
  const std::vector<int64_t> sa = sim::broadcast_strides(a.shape(), *shape), sb = sim::broadcast_strides(b.shape(), *shape);
  sim::for_each_strided<2>(*shape, {&sa, &sb}, [&](int64_t i, const std::array<int64_t, 2>& at) {
    const __int128 x = a.int_at(at[0]), y = b.int_at(at[1]);
    if (kind == ir::OpKind::div && y == 0) ctx.refuse("integer division by zero");
    const __int128 r = kind == ir::OpKind::add ? x + y : kind == ir::OpKind::sub ? x - y : kind == ir::OpKind::mul ? x * y : x / y;
    ir::visit_dtype(a.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_integral_v<T>) {
        if (r < std::numeric_limits<T>::min() || r > std::numeric_limits<T>::max())
          ctx.refuse("element {} overflows {} (ONNX would wrap it around)", i, ir::dtype_name(a.dtype()));
        out.as<T>()[i] = static_cast<T>(r);
      }
    });
  });
  ctx.bind_constant_output(std::move(out));
}

void convert_slice(ImportContext& ctx) {
  const ir::TensorData* data = ctx.constant_input(0);
  const ir::Shape& xs = data ? data->shape() : ctx.input(0)->type.shape;
  const std::vector<AxisSlice> axes = slice_axes(ctx, xs);
  ir::Shape shape;
  std::vector<int64_t> starts, steps;
  for (const AxisSlice& a : axes) {
    shape.push_back(a.count);
    starts.push_back(a.start);
    steps.push_back(a.step);
  }
  if (!data) {
    ctx.emit(ir::OpKind::slice, {ctx.input(0)}, {{"starts", starts}, {"steps", steps}, {"shape", shape}});
    return;
  }
  ctx.bind_constant_output(gathered(ctx, *data, shape, [&](const std::vector<int64_t>& out) {
    std::vector<int64_t> in(out.size());
    for (size_t d = 0; d < out.size(); ++d) in[d] = starts[d] + out[d] * steps[d];
    return flat(in, xs);
  }));
}

// Split: one slice per output along `axis`, sized by the `split` operand (attribute before opset
// 13), else equal parts (opset 18's num_outputs: ceil-sized, the last one smaller).
void convert_split(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  const ir::Shape& xs = x->type.shape;
  const int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), xs.size());
  const int64_t outputs = ctx.node().output_size();
  std::vector<int64_t> sizes = ctx.opset() < 13 ? ctx.attr_ints("split", {})
                               : ctx.has_input(1) ? ctx.constant_ints(1, "split")
                                                  : std::vector<int64_t>{};
  const int64_t dim = xs[static_cast<size_t>(axis)];
  if (sizes.empty()) {
    const int64_t parts = ctx.opset() >= 18 ? ctx.attr_int("num_outputs", outputs) : outputs;
    if (parts != outputs) ctx.refuse("num_outputs {} but {} outputs", parts, outputs);
    const int64_t part = ctx.opset() >= 18 ? (dim + parts - 1) / parts : dim / parts;
    if (ctx.opset() < 18 && dim % parts != 0) ctx.refuse("dimension {} of size {} does not split into {} equal parts", axis, dim, parts);
    for (int64_t i = 0, left = dim; i < parts; ++i, left -= part) sizes.push_back(std::min(part, left));
  }
  if (static_cast<int64_t>(sizes.size()) != outputs)
    ctx.refuse("{} split sizes for {} outputs", sizes.size(), outputs);
  int64_t start = 0;
  for (int64_t i = 0; i < outputs; ++i) {
    if (sizes[static_cast<size_t>(i)] < 1 || sizes[static_cast<size_t>(i)] > dim - start)
      ctx.refuse("split sizes [{}] do not cover dimension {} of size {} in parts of at least 1", fmt::join(sizes, ","),
                 axis, dim);
    ir::Shape shape = xs;
    shape[static_cast<size_t>(axis)] = sizes[static_cast<size_t>(i)];
    std::vector<int64_t> starts(xs.size(), 0), steps(xs.size(), 1);
    starts[static_cast<size_t>(axis)] = start;
    start += sizes[static_cast<size_t>(i)];
    const std::string& name = ctx.node().output(static_cast<int>(i));
    if (name.empty()) continue;
    ir::Value* part = ctx.emit(ir::OpKind::slice, {x}, {{"starts", starts}, {"steps", steps}, {"shape", shape}},
                               i == 0 ? "" : "split" + std::to_string(i));
    if (i == 0) continue;
    if (!part->is_constant()) ctx.graph().rename(part, name);  // the model's own name, as output 0 has
    ctx.bind(name, part);
  }
  if (start != dim)
    ctx.refuse("split sizes [{}] do not add up to dimension {} of size {}", fmt::join(sizes, ","), axis, dim);
}

}  // namespace qatc::frontend
