#include "sim/qat/strided.h"

namespace qatc::sim {

std::vector<int64_t> strides_of(const ir::Shape& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    s[d] = stride;
    stride *= shape[d];
  }
  return s;
}

std::vector<int64_t> broadcast_strides(const ir::Shape& in, const ir::Shape& out) {
  std::vector<int64_t> own = strides_of(in);
  std::vector<int64_t> s(out.size(), 0);
  size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1) s[lead + d] = own[d];
  return s;
}

AxisCounter::AxisCounter(const ir::Shape& shape, size_t axis) : run_(1), size_(shape.at(axis)) {
  for (size_t d = axis + 1; d < shape.size(); ++d) run_ *= shape[d];
  left_ = run_;
}

}  // namespace qatc::sim
