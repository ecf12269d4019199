#include "sim/qat/dot_rows.h"

#include <cmath>

namespace qatc::sim {

#if defined(__x86_64__)
#define QATC_ROW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QATC_ROW_CLONES
#endif

namespace {

// The unit-stride loop apart, so that the vectorizer loads contiguous vectors there.
template <class Acc, class X, class F>
inline void each(Acc* acc, const X* x, int64_t stride, int64_t n, F&& f) {
  if (stride == 1)
    for (int64_t i = 0; i < n; ++i) acc[i] = f(acc[i], x[i]);
  else
    for (int64_t i = 0; i < n; ++i) acc[i] = f(acc[i], x[i * stride]);
}

}  // namespace

QATC_ROW_CLONES void madd_row(float* acc, const float* x, int64_t stride, float w, int64_t n) {
  each(acc, x, stride, n, [w](float a, float v) { return a + v * w; });
}

QATC_ROW_CLONES void fma_row(float* acc, const float* x, int64_t stride, float w, int64_t n) {
  each(acc, x, stride, n, [w](float a, float v) { return std::fma(v, w, a); });
}

QATC_ROW_CLONES void madd_row(int32_t* acc, const int32_t* x, int64_t stride, int32_t w, int64_t n) {
  each(acc, x, stride, n, [w](int32_t a, int32_t v) { return a + v * w; });
}

QATC_ROW_CLONES void madd_row(int64_t* acc, const int64_t* x, int64_t stride, int64_t w, int64_t n) {
  each(acc, x, stride, n, [w](int64_t a, int64_t v) { return a + v * w; });
}

}  // namespace qatc::sim
