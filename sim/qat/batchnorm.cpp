// Inference-mode batch normalization in PyTorch's formulation: y = x * alpha + beta per channel,
// beta = bias - mean * alpha. In float32 mode both steps are single-rounding multiply-adds, as in
// PyTorch's AVX2 CPU kernel (measured: two roundings disagree with torch in hundreds of elements
// per tensor); in exact mode alpha is still the float32 value (it is what the framework multiplies
// by) and the rest is exact.
#include "ir/graph.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/strided.h"

#include <cmath>

namespace qatc::sim {

std::vector<float> batchnorm_alpha_f32(const ir::Op& op, const std::vector<double>& scale,
                                       const std::vector<double>& var) {
  const auto eps = static_cast<float>(op.get_float("epsilon"));
  std::vector<float> alpha(scale.size());
  for (size_t c = 0; c < alpha.size(); ++c) {
    float invstd = 1.0f / std::sqrt(static_cast<float>(var[c]) + eps);
    alpha[c] = invstd * static_cast<float>(scale[c]);
  }
  return alpha;
}

template <class A>
NumArray<A> batchnorm(const NumArray<A>& x, const NumArray<A>& bias, const NumArray<A>& mean,
                      const std::vector<typename A::Num>& alpha) {
  std::vector<typename A::Num> beta(alpha.size());
  for (size_t c = 0; c < alpha.size(); ++c) beta[c] = A::sub_mul(bias.data[c], mean.data[c], alpha[c]);
  AxisCounter channel(x.shape, 1);
  NumArray<A> y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i, channel.next()) {
    const int64_t c = channel.index();
    y.data[i] = A::mul_add(x.data[i], alpha[c], beta[c]);
  }
  return y;
}

template <class A>
NumArray<A> add_per_channel(const NumArray<A>& x, const std::vector<typename A::Num>& addend) {
  AxisCounter channel(x.shape, 1);
  NumArray<A> y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i, channel.next()) y.data[i] = A::add(x.data[i], addend[channel.index()]);
  return y;
}

template NumArray<ExactArith> add_per_channel<ExactArith>(const NumArray<ExactArith>&, const std::vector<Exact>&);
template NumArray<F32Arith> batchnorm<F32Arith>(const NumArray<F32Arith>&, const NumArray<F32Arith>&,
                                                const NumArray<F32Arith>&, const std::vector<float>&);
template NumArray<ExactArith> batchnorm<ExactArith>(const NumArray<ExactArith>&, const NumArray<ExactArith>&,
                                                    const NumArray<ExactArith>&, const std::vector<Exact>&);

}  // namespace qatc::sim
