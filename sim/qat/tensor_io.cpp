#include "sim/qat/tensor_io.h"

#include "sim/qat/enclosure_arith.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"

#include <algorithm>
#include <type_traits>

namespace qatc::sim {

template <class A>
SimTensor<A> import_tensor(const ir::TensorData& d) {
  return ir::visit_dtype(d.dtype(), [&](auto t) -> SimTensor<A> {
    using T = decltype(t);
    const auto src = d.as<T>();
    if constexpr (std::is_floating_point_v<T>) {
      Array<typename A::Num> a(d.shape());
      std::transform(src.begin(), src.end(), a.data.begin(), [](T v) { return A::from_double(v); });
      return a;
    } else {
      return Array<int64_t>(d.shape(), std::vector<int64_t>(src.begin(), src.end()));
    }
  });
}

namespace {

// Float values under policy B, stored as B::Stored.
template <class B>
ir::TensorData export_float(const Array<typename B::Num>& real, bool exact_only) {
  using S = typename B::Stored;
  ir::TensorData d(ir::dtype_of<S>(), real.shape);
  std::transform(real.data.begin(), real.data.end(), d.as<S>().begin(), [&](const typename B::Num& v) {
    return static_cast<S>(exact_only ? B::to_double(v) : B::approximate_double(v));
  });
  return d;
}

}  // namespace

template <class A>
ir::TensorData export_tensor(const SimTensor<A>& t, ir::DType int_dtype, bool exact_only) {
  if (const auto* real = std::get_if<Array<typename A::Num>>(&t)) return export_float<A>(*real, exact_only);
  if (const auto* enclosed = std::get_if<Array<Enclosure>>(&t)) return export_float<EnclosureArith>(*enclosed, exact_only);
  const auto& ints = std::get<Array<int64_t>>(t);
  ir::TensorData d(int_dtype, ints.shape);
  ir::visit_dtype(int_dtype, [&](auto e) {
    using E = decltype(e);
    if constexpr (std::is_integral_v<E>)
      std::transform(ints.data.begin(), ints.data.end(), d.as<E>().begin(), [](int64_t v) { return static_cast<E>(v); });
  });
  return d;
}

template SimTensor<F32Arith> import_tensor<F32Arith>(const ir::TensorData&);
template SimTensor<ExactArith> import_tensor<ExactArith>(const ir::TensorData&);
template ir::TensorData export_tensor<F32Arith>(const SimTensor<F32Arith>&, ir::DType, bool);
template ir::TensorData export_tensor<ExactArith>(const SimTensor<ExactArith>&, ir::DType, bool);

}  // namespace qatc::sim
