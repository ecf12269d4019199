// Activations beyond relu and clip. leaky_relu is exact arithmetic in every mode. elu, sigmoid,
// tanh, erf, exp, log and softplus: in float32 mode as a float32 framework computes them, up to its last-ulp
// choices (the function in double, rounded once to float32; torch's vectorized kernels may differ
// from that by an ulp, and verify says so where it shows); in exact mode as enclosures of the real
// value (sim/qat/enclosure.h), so that a quantize rounds the true value.
#include "ir/graph.h"
#include "sim/qat/enclosure_arith.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/numeric_error.h"

#include <cmath>
#include <map>
#include <stdexcept>

namespace qatc::sim {

namespace {

Function function_of(const ir::Op& op) {
  switch (op.kind) {
    case ir::OpKind::sigmoid: return Function::sigmoid;
    case ir::OpKind::tanh: return Function::tanh;
    case ir::OpKind::erf: return Function::erf;
    case ir::OpKind::exp: return Function::exp;
    case ir::OpKind::log: return Function::log;
    case ir::OpKind::softplus: return Function::softplus;
    default: throw std::logic_error("function_of(): not a transcendental function: " + op.describe());
  }
}

Enclosure enclosed_function(const ir::Op& op, const Enclosure& x) {
  if (op.kind == ir::OpKind::elu) return elu(x, EnclosureArith::from_double(op.get_float("alpha")));
  return apply(function_of(op), x);
}

float float32_function(const ir::Op& op, float x) {
  const double v = x;
  switch (op.kind) {
    case ir::OpKind::elu:
      return x < 0 ? static_cast<float>(op.get_float("alpha") * std::expm1(v)) : x;
    case ir::OpKind::sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-v)));
    case ir::OpKind::tanh: return static_cast<float>(std::tanh(v));
    case ir::OpKind::erf: return static_cast<float>(std::erf(v));
    case ir::OpKind::exp: return static_cast<float>(std::exp(v));
    case ir::OpKind::log: return static_cast<float>(std::log(v));
    case ir::OpKind::softplus: return static_cast<float>(std::log1p(std::exp(v)));
    default: throw std::logic_error("float32_function(): not a transcendental function: " + op.describe());
  }
}

}  // namespace

template <class A>
NumArray<A> leaky_relu(const ir::Op& op, const NumArray<A>& x) {
  const typename A::Num alpha = A::from_double(op.get_float("alpha")), zero{};
  NumArray<A> y(x.shape);
  for_each_element(x.data.size(), [&](size_t i) {
    if constexpr (std::is_same_v<A, EnclosureArith>) y.data[i] = sim::leaky_relu(x.data[i], alpha);
    else y.data[i] = A::less(x.data[i], zero) ? A::mul(x.data[i], alpha) : x.data[i];
  });
  return y;
}

Array<float> transcendental(const ir::Op& op, const Array<float>& x) {
  Array<float> y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) y.data[i] = float32_function(op, x.data[i]);
  return y;
}

Array<Enclosure> transcendental(const ir::Op& op, const Array<Enclosure>& x) {
  Array<Enclosure> y(x.shape);
  for_each_element(x.data.size(), [&](size_t i) { y.data[i] = enclosed_function(op, x.data[i]); });
  return y;
}

// A dequantized tensor holds at most 2^bits distinct values: each is computed once.
Array<Enclosure> transcendental(const ir::Op& op, const Array<Exact>& x) {
  const auto before = [](const Exact& a, const Exact& b) { return compare(a, b) < 0; };
  std::map<Exact, Enclosure, decltype(before)> memo(before);
  Array<Enclosure> y(x.shape);
  for_each_element(x.data.size(), [&](size_t i) {
    auto it = memo.find(x.data[i]);
    if (it == memo.end()) it = memo.emplace(x.data[i], enclosed_function(op, Enclosure(x.data[i]))).first;
    y.data[i] = it->second;
  });
  return y;
}

template NumArray<F32Arith> leaky_relu<F32Arith>(const ir::Op&, const NumArray<F32Arith>&);
template NumArray<ExactArith> leaky_relu<ExactArith>(const ir::Op&, const NumArray<ExactArith>&);
template NumArray<EnclosureArith> leaky_relu<EnclosureArith>(const ir::Op&, const NumArray<EnclosureArith>&);

}  // namespace qatc::sim
