// Element-by-element comparison of a computed tensor with an expected one.
#pragma once

#include "ir/tensor_data.h"

#include <string>

namespace qatc::driver {

// Default: exact equality. An exact (f64) result is compared with a float32 expectation after
// rounding it once to float32: the expectation is a float32 file, and a framework that computes
// the same real number stores exactly that rounding. A tolerance is the user's explicit choice,
// never a default.
struct Tolerance {
  double atol = 0;
  double rtol = 0;
};

struct Comparison {
  int64_t elements = 0;
  int64_t mismatches = 0;
  double max_abs_diff = 0;
  int64_t first_mismatch = -1;  // flat index
  double first_actual = 0, first_expected = 0;
  bool shape_differs = false;
};

// "[0,3,1,2]": the multi-index of flat element `flat`.
std::string index_text(int64_t flat, const ir::Shape& shape);

Comparison compare(const ir::TensorData& actual, const ir::TensorData& expected, const Tolerance& tol);
// "10 of 10 equal" / "2 of 10 differ, max |diff| 0.0625; first at [0,3]: 0.25 vs expected 0.3125"
std::string describe(const Comparison& c, const ir::Shape& shape);

}  // namespace qatc::driver
