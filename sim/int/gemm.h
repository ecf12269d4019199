// The integer simulator's one product kernel, behind both conv (on an im2col matrix) and matmul:
// C = A · B on operands whose zero points are already subtracted, summed exactly.
#pragma once

#include "ir/graph.h"
#include "sim/int/int_types.h"

#include <vector>

namespace qatc::sim::integer {

// Runs f(Work{}) with the narrowest type that holds every value of both operands: int16_t for 8-bit
// operands minus a zero point (the fast, vectorized path) and for 16-bit ones that happen to fit,
// else int32_t.
template <class F>
decltype(auto) with_work_type(IntRange a, IntRange b, F&& f) {
  auto fits_int16 = [](IntRange r) { return r.min >= INT16_MIN && r.max <= INT16_MAX; };
  if (fits_int16(a) && fits_int16(b)) return f(int16_t{});
  return f(int32_t{});
}

// The elements of `d` minus `zero_point`, in the work type.
template <class Work>
std::vector<Work> to_work(const ir::TensorData& d, int64_t zero_point);

// C (m × n) = A (m × k) · B (k × n), all row-major, as exact int64 sums; `b_bound` >= every |B|.
// The accumulator is int32 when Σ_t |A[i][t]| · b_bound < 2^31 for every row i, which bounds every
// partial sum, so that the fast path cannot overflow; otherwise int64. A bound beyond int64 (only
// with more than 2^31 products per sum) is refused with qatc::Error naming `op`.
template <class Work>
void multiply(const ir::Op& op, int64_t m, int64_t n, int64_t k, const Work* a, const Work* b, int64_t b_bound,
              int64_t* c);

}  // namespace qatc::sim::integer
