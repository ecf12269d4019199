// Index walks shared by the kernels: numpy broadcasting and other strided views of row-major data.
#pragma once

#include "ir/dtype.h"

#include <array>
#include <vector>

namespace qatc::sim {

// Row-major strides of `shape`, in elements.
std::vector<int64_t> strides_of(const ir::Shape& shape);

// Strides for reading an operand of shape `in` at the indices of the broadcast shape `out`
// (numpy rules: `in` is aligned to the trailing axes; broadcast axes get stride 0).
std::vector<int64_t> broadcast_strides(const ir::Shape& in, const ir::Shape& out);

// Calls f(i, offsets) for every element i of `shape` in row-major order, where offsets[k] is the
// element's offset in view k (the dot product of its index with strides[k]).
template <size_t N, class F>
void for_each_strided(const ir::Shape& shape, const std::array<const std::vector<int64_t>*, N>& strides, F&& f) {
  const size_t rank = shape.size();
  int64_t total = ir::num_elements(shape);
  if (total == 0) return;
  std::array<int64_t, N> offset{};
  if (rank == 0) return f(int64_t{0}, offset);
  std::vector<int64_t> index(rank, 0);
  const int64_t inner = shape[rank - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = (*strides[k])[rank - 1];
  for (int64_t i = 0; i < total;) {
    // The innermost axis runs in a tight loop; the outer axes advance like an odometer.
    std::array<int64_t, N> o = offset;
    for (int64_t j = 0; j < inner; ++j, ++i) {
      f(i, o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    for (size_t d = rank - 1; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) offset[k] += (*strides[k])[d];
      if (++index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) offset[k] -= (*strides[k])[d] * shape[d];
      index[d] = 0;
    }
  }
}

// The slice index along `axis` of a tensor's flat elements visited in order (the channel of a
// per-channel scale, zero point or batchnorm parameter), counted instead of divided: two 64-bit
// divisions per element cost more than an exact quantize or a batchnorm's multiply-add.
class AxisCounter {
 public:
  AxisCounter() = default;  // one slice: per tensor
  AxisCounter(const ir::Shape& shape, size_t axis);
  int64_t index() const { return index_; }
  // To the next flat element.
  void next() {
    if (--left_ > 0) return;
    left_ = run_;
    if (++index_ == size_) index_ = 0;
  }

 private:
  int64_t run_ = INT64_MAX, size_ = 1, left_ = INT64_MAX, index_ = 0;  // runs of run_ per index
};

}  // namespace qatc::sim
