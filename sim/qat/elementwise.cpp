// Elementwise ops: numpy-broadcasting binary arithmetic, relu and clip.
#include "ir/graph.h"
#include "sim/qat/enclosure_arith.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/strided.h"

#include <cmath>
#include <stdexcept>

namespace qatc::sim {

namespace {

template <class T, class F>
Array<T> broadcast_map(const Array<T>& a, const Array<T>& b, const ir::Shape& out_shape, F f) {
  Array<T> y(out_shape);
  const std::vector<int64_t> sa = broadcast_strides(a.shape, out_shape), sb = broadcast_strides(b.shape, out_shape);
  int64_t at = 0;
  try {
    for_each_strided<2>(out_shape, {&sa, &sb}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      at = i;
      y.data[i] = f(a.data[off[0]], b.data[off[1]]);
    });
  } catch (const NumericError& e) {
    throw NumericError("element " + std::to_string(at) + ": " + e.what());
  }
  return y;
}

template <class T, class F>
Array<T> map(const Array<T>& x, F f) {
  Array<T> y(x.shape);
  for_each_element(x.data.size(), [&](size_t i) { y.data[i] = f(x.data[i]); });
  return y;
}

// A clip bound as a tensor value. Integer tensors clip at the integers inside the real bound, and
// bounds beyond any int64 saturate.
template <class A>
typename A::Num clip_bound(double bound, bool lower) {
  if constexpr (A::integer) return A::from_double(std::clamp(lower ? std::ceil(bound) : std::floor(bound), -0x1p62, 0x1p62));
  else return A::from_double(bound);
}

// max(v, lo) and min(v, hi); an enclosure's bounds move separately.
template <class A, class N>
N at_least(const N& v, const N& lo) {
  if constexpr (requires { A::at_least(v, lo); }) return A::at_least(v, lo);
  else return A::less(v, lo) ? lo : v;
}
template <class A, class N>
N at_most(const N& v, const N& hi) {
  if constexpr (requires { A::at_most(v, hi); }) return A::at_most(v, hi);
  else return A::less(hi, v) ? hi : v;
}

}  // namespace

template <class A>
NumArray<A> binary(const ir::Op& op, const NumArray<A>& a, const NumArray<A>& b) {
  const ir::Shape out = ir::broadcast_shapes(a.shape, b.shape, op);
  using N = typename A::Num;
  switch (op.kind) {
    case ir::OpKind::add: return broadcast_map(a, b, out, [](const N& u, const N& v) { return A::add(u, v); });
    case ir::OpKind::sub: return broadcast_map(a, b, out, [](const N& u, const N& v) { return A::sub(u, v); });
    case ir::OpKind::mul: return broadcast_map(a, b, out, [](const N& u, const N& v) { return A::mul(u, v); });
    case ir::OpKind::div:
      // A broadcast divisor (a per-channel constant, say) is inverted once per element of its own,
      // where the policy divides by multiplying with the exact reciprocal.
      if constexpr (requires { A::reciprocal(b.data[0]); })
        if (ir::num_elements(b.shape) < ir::num_elements(out)) {
          Array<N> inverse(b.shape);
          for (size_t i = 0; i < b.data.size(); ++i) try {
              inverse.data[i] = A::reciprocal(b.data[i]);
            } catch (const NumericError& e) {
              throw NumericError("divisor element " + std::to_string(i) + ": " + e.what());
            }
          return broadcast_map(a, inverse, out, [](const N& u, const N& v) { return A::mul(u, v); });
        }
      if constexpr (!A::integer)
        return broadcast_map(a, b, out, [](const N& u, const N& v) { return A::div(u, v); });
      break;
    default: break;
  }
  throw std::logic_error("binary(): not a binary arithmetic op on this element type: " + op.describe());
}

template <class A>
NumArray<A> relu(const NumArray<A>& x) {
  const typename A::Num zero{};
  return map(x, [&](const auto& v) { return at_least<A>(v, zero); });
}

template <class A>
NumArray<A> clip(const ir::Op& op, const NumArray<A>& x) {
  using N = typename A::Num;
  const bool has_min = op.has("min"), has_max = op.has("max");  // an absent bound does not clip
  const N lo = has_min ? clip_bound<A>(op.get_float("min"), true) : N{};
  const N hi = has_max ? clip_bound<A>(op.get_float("max"), false) : N{};
  // min(max(x, lo), hi) as in ONNX and PyTorch: hi wins when the bounds cross.
  return map(x, [&](N v) {
    if (has_min) v = at_least<A>(v, lo);
    if (has_max) v = at_most<A>(v, hi);
    return v;
  });
}

#define QATC_INSTANTIATE(A)                                                                \
  template NumArray<A> binary<A>(const ir::Op&, const NumArray<A>&, const NumArray<A>&); \
  template NumArray<A> relu<A>(const NumArray<A>&);                                      \
  template NumArray<A> clip<A>(const ir::Op&, const NumArray<A>&);
QATC_INSTANTIATE(F32Arith)
QATC_INSTANTIATE(ExactArith)
QATC_INSTANTIATE(IntArith)
QATC_INSTANTIATE(EnclosureArith)
#undef QATC_INSTANTIATE

}  // namespace qatc::sim
