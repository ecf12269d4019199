#include "sim/qat/dot_rows.h"

#include "sim/target_clones.h"

#include <cmath>
#include <cstring>
#include <type_traits>

namespace qatc::sim {

namespace {

// kCount vectors of sums from acc (GCC vector extensions, so that they are registers, not memory),
// every tap added into them: each tap's inputs are loaded once and the sums are not reloaded per
// tap. `step(sum, x, w)` adds one tap into `sum`, on vectors and on scalars (by reference: vectors
// passed by value would take an ABI that the baseline clone lacks).
template <int64_t kCount, class T, class Step>
[[gnu::always_inline]] inline void vector_sums(T* acc, const T* x, const int64_t* offsets, const T* w, int64_t taps,
                                               Step step) {
  using V [[gnu::vector_size(32)]] = T;
  constexpr int64_t kLanes = sizeof(V) / sizeof(T);
  V sum[kCount];
  std::memcpy(sum, acc, sizeof sum);
  for (int64_t t = 0; t < taps; ++t) {
    const T* xt = x + offsets[t];
    const V wt = V{} + w[t];
    for (int64_t v = 0; v < kCount; ++v) {
      V xv;
      std::memcpy(&xv, xt + v * kLanes, sizeof xv);
      step(sum[v], xv, wt);
    }
  }
  std::memcpy(acc, sum, sizeof sum);
}

// The sums in blocks of four 32-byte vectors, then single vectors, then the last few in memory, each
// tap across all of them, so that they do not wait on each other.
template <class T, class Step>
[[gnu::always_inline]] inline void taps_rows(T* acc, const T* x, const int64_t* offsets, const T* w, int64_t taps,
                                             int64_t n, Step step) {
  constexpr int64_t kLanes = 32 / sizeof(T), kBlock = 4 * kLanes;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) vector_sums<4>(acc + i, x + i, offsets, w, taps, step);
  for (; i + kLanes <= n; i += kLanes) vector_sums<1>(acc + i, x + i, offsets, w, taps, step);
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t j = i; j < n; ++j) step(acc[j], x[offsets[t] + j], w[t]);
}

// s = fma(x, w, s) on every lane of a vector or on a scalar.
template <class V>
[[gnu::always_inline]] inline void fused(V& s, const V& x, const V& w) {
  if constexpr (std::is_same_v<V, float>)
    s = std::fma(x, w, s);
  else
    for (int l = 0; l < static_cast<int>(sizeof(V) / sizeof(float)); ++l) s[l] = std::fma(x[l], w[l], s[l]);
}

}  // namespace

QATC_TARGET_CLONES void madd_taps(float* acc, const float* x, const int64_t* offsets, const float* w, int64_t taps,
                               int64_t n) {
  taps_rows(acc, x, offsets, w, taps, n, [](auto& s, const auto& v, const auto& wt) { s += v * wt; });
}

QATC_TARGET_CLONES void fma_taps(float* acc, const float* x, const int64_t* offsets, const float* w, int64_t taps,
                              int64_t n) {
  taps_rows(acc, x, offsets, w, taps, n, [](auto& s, const auto& v, const auto& wt) { fused(s, v, wt); });
}

QATC_TARGET_CLONES void madd_taps(int32_t* acc, const int32_t* x, const int64_t* offsets, const int32_t* w, int64_t taps,
                               int64_t n) {
  taps_rows(acc, x, offsets, w, taps, n, [](auto& s, const auto& v, const auto& wt) { s += v * wt; });
}

QATC_TARGET_CLONES void madd_taps(int64_t* acc, const int64_t* x, const int64_t* offsets, const int64_t* w, int64_t taps,
                               int64_t n) {
  taps_rows(acc, x, offsets, w, taps, n, [](auto& s, const auto& v, const auto& wt) { s += v * wt; });
}

}  // namespace qatc::sim
