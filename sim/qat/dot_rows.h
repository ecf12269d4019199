// The innermost loops of the reference evaluators' convolutions: rows of sums, each tap (input
// channel, kernel position) one weight times a row of inputs added into every sum of the row, each
// sum on its own, so that every output keeps the order of its additions whatever the vector width.
// Each is built for several x86-64 levels and picked at run time by what the CPU has (GCC
// target_clones); the results are the same on each.
#pragma once

#include <cstdint>

namespace qatc::sim {

// For i < n, in tap order t < taps: acc[i] += x[offsets[t] + i] * w[t], the product and the sum
// rounded to float32 separately. A block of sums stays in registers while every tap passes over it.
void madd_taps(float* acc, const float* x, const int64_t* offsets, const float* w, int64_t taps, int64_t n);
// acc[i] = fma(x[offsets[t] + i], w[t], acc[i]): one rounding per tap.
void fma_taps(float* acc, const float* x, const int64_t* offsets, const float* w, int64_t taps, int64_t n);
// Integer rows: the caller has proven that no sum overflows.
void madd_taps(int32_t* acc, const int32_t* x, const int64_t* offsets, const int32_t* w, int64_t taps, int64_t n);
void madd_taps(int64_t* acc, const int64_t* x, const int64_t* offsets, const int64_t* w, int64_t taps, int64_t n);

}  // namespace qatc::sim
