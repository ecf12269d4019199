#include "sim/int/gemm.h"

#include "sim/target_clones.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

namespace qatc::sim::integer {

namespace {

using Sums [[gnu::vector_size(32)]] = int32_t;  // eight int32 sums

// Eight operands of B's row from `p`, widened to int32 (by reference: a vector returned by value
// would take an ABI that the baseline clone lacks).
template <class Work>
[[gnu::always_inline]] inline void load8(Sums& to, const Work* p) {
  if constexpr (sizeof(Work) == 2) {
    using Narrow [[gnu::vector_size(16)]] = int16_t;
    Narrow v;
    std::memcpy(&v, p, sizeof v);
    to = __builtin_convertvector(v, Sums);
  } else {
    std::memcpy(&to, p, sizeof to);
  }
}

// int32 sums (the caller's bound proves that no partial sum overflows, so neither does a product):
// blocks of 4 rows × 16 columns of C, their 64 sums in registers (GCC vector extensions) while
// every t passes, so that each row of B is loaded once per 4 rows of A. Column blocks go outermost,
// each 16-column strip of B copied contiguous first: read in place, its k rows would lie n apart,
// a page each for im2col matrices, and every t would miss the TLB.
template <class Work>
[[gnu::always_inline]] inline void multiply_int32(int64_t m, int64_t n, int64_t k, const Work* a, const Work* b, int64_t* c) {
  constexpr int64_t kRows = 4, kColumns = 16;
  auto scalar = [&](int64_t i, int64_t j) {
    int32_t sum = 0;
    for (int64_t t = 0; t < k; ++t) sum += static_cast<int32_t>(a[i * k + t]) * static_cast<int32_t>(b[t * n + j]);
    c[i * n + j] = sum;
  };
  std::vector<Work> strip(static_cast<size_t>(k * kColumns));
  int64_t j = 0;
  for (; j + kColumns <= n; j += kColumns) {
    for (int64_t t = 0; t < k; ++t) std::copy_n(b + t * n + j, kColumns, strip.data() + t * kColumns);
    int64_t i = 0;
    for (; i + kRows <= m; i += kRows) {
      Sums sums[kRows][2] = {};
      for (int64_t t = 0; t < k; ++t) {
        Sums b0, b1;
        load8(b0, strip.data() + t * kColumns);
        load8(b1, strip.data() + t * kColumns + 8);
        for (int64_t r = 0; r < kRows; ++r) {
          const Sums ar = Sums{} + static_cast<int32_t>(a[(i + r) * k + t]);
          sums[r][0] += ar * b0;
          sums[r][1] += ar * b1;
        }
      }
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t l = 0; l < kColumns; ++l) c[(i + r) * n + j + l] = sums[r][l / 8][l % 8];
    }
    for (; i < m; ++i)
      for (int64_t l = 0; l < kColumns; ++l) scalar(i, j + l);
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t l = j; l < n; ++l) scalar(i, l);
}

QATC_TARGET_CLONES void multiply_int32_sums(int64_t m, int64_t n, int64_t k, const int16_t* a, const int16_t* b,
                                          int64_t* c) {
  multiply_int32(m, n, k, a, b, c);
}

QATC_TARGET_CLONES void multiply_int32_sums(int64_t m, int64_t n, int64_t k, const int32_t* a, const int32_t* b,
                                          int64_t* c) {
  multiply_int32(m, n, k, a, b, c);
}

// int64 sums: rows of C accumulate along contiguous rows of B, in blocks of columns so that a block
// of B's rows stays in cache while every row of A passes over it.
template <class Work>
void multiply_int64_sums(int64_t m, int64_t n, int64_t k, const Work* a, const Work* b, int64_t* c) {
  constexpr int64_t kBlock = 512;
  std::vector<int64_t> acc(static_cast<size_t>(std::min(kBlock, n)));
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t width = std::min(kBlock, n - j0);
    for (int64_t i = 0; i < m; ++i) {
      int64_t* ac = acc.data();
      std::fill_n(ac, width, int64_t{0});
      for (int64_t t = 0; t < k; ++t) {
        const int64_t at = a[i * k + t];
        const Work* bt = b + t * n + j0;
        for (int64_t j = 0; j < width; ++j) ac[j] += at * bt[j];
      }
      std::copy_n(ac, width, c + i * n + j0);
    }
  }
}

// max over rows i of Σ_t |A[i][t]| · b_bound: no partial sum of a row of C exceeds it.
template <class Work>
i128 partial_sum_bound(int64_t m, int64_t k, const Work* a, int64_t b_bound) {
  int64_t widest = 0;  // k * 2^31 at most: fits
  for (int64_t i = 0; i < m; ++i) {
    int64_t row = 0;
    for (int64_t t = 0; t < k; ++t) row += std::abs(static_cast<int64_t>(a[i * k + t]));
    widest = std::max(widest, row);
  }
  return static_cast<i128>(widest) * b_bound;
}

}  // namespace

template <class Work>
std::vector<Work> to_work(const ir::TensorData& d, int64_t zero_point) {
  return visit_int_dtype(d.dtype(), [&](auto t) {
    const auto v = d.as<decltype(t)>();
    std::vector<Work> w(v.size());
    std::transform(v.begin(), v.end(), w.begin(), [&](auto x) { return static_cast<Work>(x - zero_point); });
    return w;
  });
}

template <class Work>
void multiply(const ir::Op& op, int64_t m, int64_t n, int64_t k, const Work* a, const Work* b, int64_t b_bound,
              int64_t* c) {
  const i128 bound = partial_sum_bound(m, k, a, b_bound);
  if (bound <= std::numeric_limits<int32_t>::max()) return multiply_int32_sums(m, n, k, a, b, c);
  if (bound <= std::numeric_limits<int64_t>::max()) return multiply_int64_sums(m, n, k, a, b, c);
  fail("{}: overflow: sums of {} products may exceed int64", op.describe(), k);
}

template std::vector<int16_t> to_work<int16_t>(const ir::TensorData&, int64_t);
template std::vector<int32_t> to_work<int32_t>(const ir::TensorData&, int64_t);
template void multiply<int16_t>(const ir::Op&, int64_t, int64_t, int64_t, const int16_t*, const int16_t*, int64_t,
                                int64_t*);
template void multiply<int32_t>(const ir::Op&, int64_t, int64_t, int64_t, const int32_t*, const int32_t*, int64_t,
                                int64_t*);

}  // namespace qatc::sim::integer
