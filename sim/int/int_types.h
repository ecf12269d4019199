// The integer simulator keeps tensors as ir::TensorData: native element arrays (int8 weights stay
// int8), which the kernels read without conversion and the observer receives as they are. These
// helpers pick the C++ type of an integer dtype and store exact results into it, never wrapping.
#pragma once

#include "ir/error.h"
#include "ir/graph.h"

#include <limits>
#include <stdexcept>
#include <type_traits>

namespace qatc::sim::integer {

using i128 = __int128;

// Calls f(T{}) with T the C++ type of the integer dtype `t`.
template <class F>
decltype(auto) visit_int_dtype(ir::DType t, F&& f) {
  return ir::visit_dtype(t, [&](auto v) -> decltype(f(int8_t{})) {
    if constexpr (std::is_integral_v<decltype(v)>) return f(v);
    else throw std::logic_error("visit_int_dtype on a float dtype");
  });
}

[[noreturn]] void overflow(const ir::Op& op, i128 value, ir::DType t);

// `value` as an element of T, or qatc::Error naming the op when it does not fit.
template <class T>
T fit(const ir::Op& op, i128 value) {
  if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max())
    overflow(op, value, ir::dtype_of<T>());
  return static_cast<T>(value);
}

// The smallest and largest element of an integer tensor (0, 0 when empty).
struct IntRange {
  int64_t min = 0, max = 0;
};
IntRange value_range(const ir::TensorData& d);

}  // namespace qatc::sim::integer
