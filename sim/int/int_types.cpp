#include "sim/int/int_types.h"

#include <algorithm>

namespace qatc::sim::integer {

void overflow(const ir::Op& op, i128 value, ir::DType t) {
  fail("{}: overflow: the integer result {} does not fit {}", op.describe(), value, ir::dtype_name(t));
}

IntRange value_range(const ir::TensorData& d) {
  return visit_int_dtype(d.dtype(), [&](auto t) {
    const auto v = d.as<decltype(t)>();
    if (v.empty()) return IntRange{};
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return IntRange{static_cast<int64_t>(*lo), static_cast<int64_t>(*hi)};
  });
}

}  // namespace qatc::sim::integer
