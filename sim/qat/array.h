// The evaluator's tensors: a shape and row-major elements of one C++ type. Float tensors hold the
// arithmetic policy's number type (float or Exact), integer tensors hold int64 whatever their dtype.
#pragma once

#include "ir/dtype.h"

#include <vector>

namespace qatc::sim {

template <class T>
struct Array {
  ir::Shape shape;
  std::vector<T> data;

  Array() = default;
  explicit Array(ir::Shape s) : shape(std::move(s)), data(static_cast<size_t>(ir::num_elements(shape))) {}
  Array(ir::Shape s, std::vector<T> values) : shape(std::move(s)), data(std::move(values)) {}
};

}  // namespace qatc::sim
