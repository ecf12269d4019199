// Layout ops are pure index maps: sim/qat's (layout.cpp), instantiated for the native integer types.
#include "sim/int/int_types.h"
#include "sim/int/kernels.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"

namespace qatc::sim::integer {

namespace {

template <class T>
Array<T> to_array(const ir::TensorData& d) {
  const auto v = d.as<T>();
  return Array<T>(d.shape(), std::vector<T>(v.begin(), v.end()));
}

template <class T>
ir::TensorData to_tensor(const Array<T>& a) {
  return ir::TensorData::from<T>(a.shape, std::span<const T>(a.data));
}

template <class T>
Array<T> apply(const ir::Op& op, const std::vector<const ir::TensorData*>& operands) {
  using K = ir::OpKind;
  if (op.kind == K::concat) {
    std::vector<Array<T>> parts;
    for (const ir::TensorData* d : operands) parts.push_back(to_array<T>(*d));
    std::vector<const Array<T>*> views;
    for (const Array<T>& p : parts) views.push_back(&p);
    return concat(op, views);
  }
  const Array<T> x = to_array<T>(*operands[0]);
  switch (op.kind) {
    // A pad value must be a whole number (NumericError otherwise) that the type holds.
    case K::pad: return pad(op, x, fit<T>(op, IntArith::from_double(op.get_float("value"))));
    case K::resize: return resize(op, x);
    case K::reshape: return reshape(op, x);
    case K::transpose: return transpose(op, x);
    case K::slice: return slice(op, x);
    default: throw std::logic_error("integer::layout: not a layout op: " + op.describe());
  }
}

}  // namespace

ir::TensorData layout(const ir::Op& op, const std::vector<const ir::TensorData*>& operands) {
  return visit_int_dtype(op.outputs[0]->type.dtype,
                         [&](auto t) { return to_tensor(apply<decltype(t)>(op, operands)); });
}

}  // namespace qatc::sim::integer
