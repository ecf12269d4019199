// Elementwise integer ops: add, sub and mul with numpy broadcasting (sim/qat's strided walks), clip, and
// widen, and table lookups. All exact: a result that does not fit its type is an overflow error, never a wrap.
#include "sim/int/int_types.h"
#include "sim/int/kernels.h"
#include "sim/qat/strided.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qatc::sim::integer {

ir::TensorData binary(const ir::Op& op, const ir::TensorData& a, const ir::TensorData& b) {
  const ir::Shape shape = ir::broadcast_shapes(a.shape(), b.shape(), op);
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
  const ir::OpKind kind = op.kind;
  ir::TensorData y(op.outputs[0]->type.dtype, shape);
  visit_int_dtype(y.dtype(), [&](auto t) {  // operands and result share one type
    using T = decltype(t);
    const T* pa = a.as<T>().data();
    const T* pb = b.as<T>().data();
    T* out = y.as<T>().data();
    for_each_strided<2>(shape, {&sa, &sb}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      const i128 u = pa[off[0]], v = pb[off[1]];
      out[i] = fit<T>(op, kind == ir::OpKind::add ? u + v : kind == ir::OpKind::sub ? u - v : u * v);
    });
  });
  return y;
}

namespace {

// An integral clip bound as an element of T, saturated at T's range (where it clips nothing).
template <class T>
T saturated_bound(double bound) {
  using Limits = std::numeric_limits<T>;
  if (bound <= static_cast<double>(Limits::min())) return Limits::min();
  if (bound >= static_cast<double>(Limits::max())) return Limits::max();
  return static_cast<T>(bound);
}

}  // namespace

// min(max(x, ceil(min)), floor(max)) as in ONNX: max wins when the bounds cross. An absent bound
// does not clip.
ir::TensorData clip(const ir::Op& op, const ir::TensorData& x) {
  ir::TensorData y = x;
  visit_int_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const T lo = op.has("min") ? saturated_bound<T>(std::ceil(op.get_float("min"))) : std::numeric_limits<T>::min();
    const T hi = op.has("max") ? saturated_bound<T>(std::floor(op.get_float("max"))) : std::numeric_limits<T>::max();
    for (T& v : y.as<T>()) v = std::min(std::max(v, lo), hi);
  });
  return y;
}

// (x − zero_point) · 2^shift in the wider result type.
ir::TensorData widen(const ir::Op& op, const ir::TensorData& x) {
  const int64_t zp = op.get_int("zero_point"), shift = op.get_int("shift");
  ir::TensorData y(op.outputs[0]->type.dtype, x.shape());
  visit_int_dtype(x.dtype(), [&](auto t) {
    const auto in = x.as<decltype(t)>();
    visit_int_dtype(y.dtype(), [&](auto u) {
      using Out = decltype(u);
      Out* out = y.as<Out>().data();
      for (size_t i = 0; i < in.size(); ++i) {
        const i128 centred = i128{in[i]} - zp;  // below 2^65: any shift past 64 overflows a nonzero value
        out[i] = fit<Out>(op, centred == 0 ? 0 : centred * (i128{1} << std::min<int64_t>(shift, 64)));
      }
    });
  });
  return y;
}

// table[x − min of x's type] (check_lut_types holds the table to one entry per value).
ir::TensorData lut(const ir::Op& op, const ir::TensorData& x, const ir::TensorData& table) {
  ir::TensorData y(op.outputs[0]->type.dtype, x.shape());
  const int64_t first = ir::int_min(x.dtype());
  visit_int_dtype(x.dtype(), [&](auto t) {
    const auto in = x.as<decltype(t)>();
    visit_int_dtype(y.dtype(), [&](auto u) {
      using Out = decltype(u);
      const auto entries = table.as<Out>();
      Out* out = y.as<Out>().data();
      for (size_t i = 0; i < in.size(); ++i) out[i] = entries[static_cast<size_t>(in[i] - first)];
    });
  });
  return y;
}

}  // namespace qatc::sim::integer
