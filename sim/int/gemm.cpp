#include "sim/int/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>

namespace qatc::sim::integer {

namespace {

template <class Work, class Acc>
void multiply_with(int64_t m, int64_t n, int64_t k, const Work* a, const Work* b, int64_t* c) {
  // An int16 product is exact in int32 (|int16 · int16| <= 2^30); GCC vectorizes that widening
  // multiply. int32 operands multiply in int64.
  using Product = std::conditional_t<std::is_same_v<Work, int16_t>, int32_t, int64_t>;
  // Columns go in blocks: a block of B's rows stays in cache while every row of A passes over it,
  // and the inner loop runs along contiguous rows of B and C.
  constexpr int64_t kBlock = 512;
  std::vector<Acc> acc(static_cast<size_t>(std::min(kBlock, n)));
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t width = std::min(kBlock, n - j0);
    for (int64_t i = 0; i < m; ++i) {
      Acc* ac = acc.data();
      std::fill_n(ac, width, Acc{0});
      for (int64_t t = 0; t < k; ++t) {
        const Work at = a[i * k + t];
        const Work* bt = b + t * n + j0;
        for (int64_t j = 0; j < width; ++j) ac[j] += static_cast<Acc>(static_cast<Product>(at) * bt[j]);
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
  if (bound <= std::numeric_limits<int32_t>::max()) return multiply_with<Work, int32_t>(m, n, k, a, b, c);
  if (bound <= std::numeric_limits<int64_t>::max()) return multiply_with<Work, int64_t>(m, n, k, a, b, c);
  fail("{}: overflow: sums of {} products may exceed int64", op.describe(), k);
}

template std::vector<int16_t> to_work<int16_t>(const ir::TensorData&, int64_t);
template std::vector<int32_t> to_work<int32_t>(const ir::TensorData&, int64_t);
template void multiply<int16_t>(const ir::Op&, int64_t, int64_t, int64_t, const int16_t*, const int16_t*, int64_t,
                                int64_t*);
template void multiply<int32_t>(const ir::Op&, int64_t, int64_t, int64_t, const int32_t*, const int32_t*, int64_t,
                                int64_t*);

}  // namespace qatc::sim::integer
