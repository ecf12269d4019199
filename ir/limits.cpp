#include "ir/limits.h"

#include "ir/error.h"

#include <fmt/ranges.h>

namespace qatc::ir {

Limits& limits() {
  static Limits l;
  return l;
}

int64_t checked_num_elements(const Shape& shape, DType dtype, const std::string& what) {
  const int64_t max_elements = limits().max_tensor_bytes / static_cast<int64_t>(byte_size(dtype));
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0) fail("{}: negative dimension in shape [{}]", what, fmt::join(shape, ","));
  for (int64_t d : shape) {
    if (d > 0 && n > max_elements / d)
      fail("{}: shape [{}] of {} is beyond the {} bytes a tensor may take (--max-tensor-bytes)", what,
           fmt::join(shape, ","), dtype_name(dtype), limits().max_tensor_bytes);
    n *= d;
  }
  return n;
}

}  // namespace qatc::ir
