// The QAT evaluator's kernels, each written once as a template over an arithmetic policy A
// (F32Arith, ExactArith, and IntArith where integer tensors make sense) or over the element type T
// for pure index maps. Operand shapes and attributes have been checked by the op's shape rule.
#pragma once

#include "sim/qat/array.h"
#include "sim/qat/enclosure.h"
#include "sim/qat/evaluator.h"

#include <vector>

namespace qatc::ir {
struct Op;
}

namespace qatc::sim {

template <class A>
using NumArray = Array<typename A::Num>;

// conv.cpp (A: F32Arith, ExactArith, IntArith). `w_prepared`/`b_prepared`: the second operand as
// the evaluator prepared it once for every run (A::PreparedOperand), or null.
template <class A>
NumArray<A> conv(const ir::Op& op, const NumArray<A>& x, const NumArray<A>& w, const NumArray<A>* bias,
                 const typename A::PreparedOperand* w_prepared = nullptr);
template <class A>
NumArray<A> matmul(const ir::Op& op, const NumArray<A>& a, const NumArray<A>& b,
                   const typename A::PreparedOperand* b_prepared = nullptr);

// elementwise.cpp: add, sub, mul, div (div: not IntArith), relu, clip; also on EnclosureArith.
template <class A>
NumArray<A> binary(const ir::Op& op, const NumArray<A>& a, const NumArray<A>& b);
template <class A>
NumArray<A> relu(const NumArray<A>& x);
template <class A>
NumArray<A> clip(const ir::Op& op, const NumArray<A>& x);

// activation.cpp. leaky_relu: A is F32Arith, ExactArith or EnclosureArith. elu, sigmoid, tanh, erf,
// exp, log and softplus: float32 values as a framework computes them, exact values as enclosures of the results.
template <class A>
NumArray<A> leaky_relu(const ir::Op& op, const NumArray<A>& x);
Array<float> transcendental(const ir::Op& op, const Array<float>& x);
Array<Enclosure> transcendental(const ir::Op& op, const Array<Exact>& x);
Array<Enclosure> transcendental(const ir::Op& op, const Array<Enclosure>& x);

// pool.cpp (avgpool: not IntArith)
template <class A>
NumArray<A> maxpool(const ir::Op& op, const NumArray<A>& x);
template <class A>
NumArray<A> avgpool(const ir::Op& op, const NumArray<A>& x);

// batchnorm.cpp: y = x * alpha + (bias - mean * alpha) per channel, alpha given by the caller.
// The alpha a float32 framework uses: (1 / sqrt(var + eps)) * scale in float32.
std::vector<float> batchnorm_alpha_f32(const ir::Op& op, const std::vector<double>& scale,
                                       const std::vector<double>& var);
template <class A>
NumArray<A> batchnorm(const NumArray<A>& x, const NumArray<A>& bias, const NumArray<A>& mean,
                      const std::vector<typename A::Num>& alpha);
// y = x + addend per channel: a folded conv-bn chain in exact mode (evaluator.cpp). A: ExactArith.
template <class A>
NumArray<A> add_per_channel(const NumArray<A>& x, const std::vector<typename A::Num>& addend);

// quantize.cpp
template <class A>
Array<int64_t> quantize(const ir::Op& op, const NumArray<A>& x, const QatOptions& options);
template <class A>
NumArray<A> dequantize(const ir::Op& op, const Array<int64_t>& q);

// layout.cpp (T: float, Exact, and every integer element type)
template <class T>
Array<T> concat(const ir::Op& op, const std::vector<const Array<T>*>& inputs);
template <class T>
Array<T> pad(const ir::Op& op, const Array<T>& x, const T& fill);
template <class T>
Array<T> resize(const ir::Op& op, const Array<T>& x);
template <class T>
Array<T> reshape(const ir::Op& op, const Array<T>& x);
template <class T>
Array<T> transpose(const ir::Op& op, const Array<T>& x);
template <class T>
Array<T> slice(const ir::Op& op, const Array<T>& x);

}  // namespace qatc::sim
