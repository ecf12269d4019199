#include "driver/compare.h"

#include "ir/number_text.h"

#include <fmt/format.h>

#include <cmath>

namespace qatc::driver {

namespace {
double value_at(const ir::TensorData& d, int64_t i) {
  return ir::is_float(d.dtype()) ? d.float_at(i) : static_cast<double>(d.int_at(i));
}
}  // namespace

std::string index_text(int64_t flat, const ir::Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = shape[k] ? flat % shape[k] : 0;
    flat = shape[k] ? flat / shape[k] : 0;
  }
  return fmt::format("[{}]", fmt::join(idx, ","));
}

Comparison compare(const ir::TensorData& actual, const ir::TensorData& expected, const Tolerance& tol) {
  Comparison c;
  if (actual.shape() != expected.shape()) {
    c.shape_differs = true;
    return c;
  }
  c.elements = actual.size();
  bool round_to_f32 = actual.dtype() == ir::DType::f64 && expected.dtype() == ir::DType::f32;
  for (int64_t i = 0; i < c.elements; ++i) {
    double a = value_at(actual, i), e = value_at(expected, i);
    if (round_to_f32) a = static_cast<float>(a);
    bool same = a == e || (std::isnan(a) && std::isnan(e));
    double diff = std::fabs(a - e);
    if (!same && !(diff <= tol.atol + tol.rtol * std::fabs(e))) {
      if (c.mismatches++ == 0) {
        c.first_mismatch = i;
        c.first_actual = a;
        c.first_expected = e;
      }
    }
    if (!same && (std::isnan(diff) || diff > c.max_abs_diff)) c.max_abs_diff = diff;
  }
  return c;
}

std::string describe(const Comparison& c, const ir::Shape& shape) {
  if (c.shape_differs) return "shape differs from the expected output";
  if (c.mismatches == 0) {
    std::string s = fmt::format("{} of {} equal", c.elements, c.elements);
    if (c.max_abs_diff > 0) s += fmt::format(" within tolerance (max |diff| {})", ir::double_text(c.max_abs_diff));
    return s;
  }
  return fmt::format("{} of {} differ, max |diff| {}; first at {}: {} vs expected {}", c.mismatches, c.elements,
                     ir::double_text(c.max_abs_diff), index_text(c.first_mismatch, shape),
                     ir::double_text(c.first_actual), ir::double_text(c.first_expected));
}

}  // namespace qatc::driver
