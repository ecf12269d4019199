// Conversion between the IR's TensorData and the evaluator's tensors: float data becomes policy A's
// numbers, integer data int64. Exact mode's irrational results (after sigmoid, ...) are enclosures.
#pragma once

#include "ir/tensor_data.h"
#include "sim/qat/array.h"
#include "sim/qat/enclosure.h"

#include <variant>

namespace qatc::sim {

template <class A>
using SimTensor = std::variant<Array<typename A::Num>, Array<int64_t>, Array<Enclosure>>;

// NumericError if a float value has no representation in A (exact mode: NaN, infinities).
template <class A>
SimTensor<A> import_tensor(const ir::TensorData& d);

// Float tensors as A::Stored (f32 or f64), exactly (NumericError for an exact value that is not a
// double) or, for dumps, approximately; integer tensors in `int_dtype`.
template <class A>
ir::TensorData export_tensor(const SimTensor<A>& t, ir::DType int_dtype, bool exact_only);

}  // namespace qatc::sim
