// The innermost loop of the reference evaluators' convolutions: one weight times a row of inputs
// (every `stride`-th) added into a row of sums, each sum on its own, so that every output keeps the
// order of its additions whatever the vector width. Each is built for several x86-64 levels and
// picked at run time by what the CPU has (GCC target_clones); the results are the same on each.
#pragma once

#include <cstdint>

namespace qatc::sim {

// acc[i] += x[i * stride] * w, the product and the sum rounded to float32 separately.
void madd_row(float* acc, const float* x, int64_t stride, float w, int64_t n);
// acc[i] = fma(x[i * stride], w, acc[i]): one rounding.
void fma_row(float* acc, const float* x, int64_t stride, float w, int64_t n);
// Integer rows: the caller has proven that no sum overflows.
void madd_row(int32_t* acc, const int32_t* x, int64_t stride, int32_t w, int64_t n);
void madd_row(int64_t* acc, const int64_t* x, int64_t stride, int64_t w, int64_t n);

}  // namespace qatc::sim
