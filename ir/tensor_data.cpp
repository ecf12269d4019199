#include "ir/tensor_data.h"

#include <stdexcept>

namespace qatc::ir {

TensorData::TensorData(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), bytes_(num_elements(shape_) * byte_size(dtype)) {}

void TensorData::check_type(DType t) const {
  if (t != dtype_)
    throw std::logic_error("TensorData holds " + std::string(dtype_name(dtype_)) + ", accessed as " +
                           std::string(dtype_name(t)));
}

double TensorData::float_at(int64_t i) const {
  return visit_dtype(dtype_, [&](auto t) { return static_cast<double>(as<decltype(t)>()[i]); });
}

int64_t TensorData::int_at(int64_t i) const {
  return visit_dtype(dtype_, [&](auto t) -> int64_t {
    using T = decltype(t);
    if constexpr (std::is_floating_point_v<T>)
      throw std::logic_error("int_at on float tensor data");
    else
      return static_cast<int64_t>(as<T>()[i]);
  });
}

}  // namespace qatc::ir
