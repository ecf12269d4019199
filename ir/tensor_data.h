// Dense constant data (weights, biases, runtime tensors of the integer graph), row-major.
#pragma once

#include "ir/dtype.h"

#include <cstring>
#include <span>
#include <vector>

namespace qatc::ir {

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

// Calls f(T{}) with T the C++ type of `t`.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::i16: return f(int16_t{});
    case DType::u16: return f(uint16_t{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
  }
  __builtin_unreachable();
}

class TensorData {
 public:
  TensorData() = default;
  TensorData(DType dtype, Shape shape);  // zero-filled

  template <typename T>
  static TensorData from(Shape shape, std::span<const T> values) {
    TensorData d(dtype_of<T>(), std::move(shape));
    if (!values.empty()) std::memcpy(d.bytes_.data(), values.data(), values.size_bytes());
    return d;
  }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t size() const { return static_cast<int64_t>(bytes_.size() / byte_size(dtype_)); }

  template <typename T>
  std::span<const T> as() const {
    check_type(dtype_of<T>());
    return {reinterpret_cast<const T*>(bytes_.data()), static_cast<size_t>(size())};
  }
  template <typename T>
  std::span<T> as() {
    check_type(dtype_of<T>());
    return {reinterpret_cast<T*>(bytes_.data()), static_cast<size_t>(size())};
  }

  // Element i widened exactly: floats to double, integers to int64.
  double float_at(int64_t i) const;
  int64_t int_at(int64_t i) const;

  const std::vector<std::byte>& bytes() const { return bytes_; }
  std::span<std::byte> mutable_bytes() { return bytes_; }
  bool operator==(const TensorData&) const = default;

 private:
  void check_type(DType t) const;

  DType dtype_ = DType::f32;
  Shape shape_;
  std::vector<std::byte> bytes_;
};

}  // namespace qatc::ir
