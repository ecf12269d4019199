// quantize: q = clamp(round(x / scale) + zero_point, qmin, qmax) with the op's tie rule;
// dequantize: (q - zero_point) * scale. Per-axis parameters apply to the slice along `axis`.
#include "ir/error.h"
#include "ir/graph.h"
#include "sim/qat/enclosure_arith.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/numeric_error.h"
#include "sim/qat/strided.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace qatc::sim {

namespace {

// Which scale/zero point applies to each element of `shape`; checks the params against the shape.
class QuantSlices {
 public:
  QuantSlices(const ir::Op& op, const ir::QuantParams& q, const ir::Shape& shape) {
    size_t expected = 1;
    if (q.per_axis()) {
      if (static_cast<size_t>(q.axis) >= shape.size())
        fail("{}: quantization axis {} is out of range for shape {}", op.describe(), q.axis, ir::shape_string(shape));
      slices_ = AxisCounter(shape, static_cast<size_t>(q.axis));
      expected = static_cast<size_t>(shape[q.axis]);
    }
    if (q.scales.size() != expected || q.zero_points.size() != expected)
      fail("{}: {} scales and {} zero points, expected {}", op.describe(), q.scales.size(), q.zero_points.size(),
           expected);
    for (double s : q.scales)
      if (!(s > 0) || !std::isfinite(s)) fail("{}: scale {} is not positive and finite", op.describe(), s);
  }
  // f(i, the slice of element i) for every element in order (for_each_element).
  template <class F>
  void each(size_t n, F&& f) const {
    AxisCounter slice = slices_;
    for_each_element(n, [&](size_t i) {
      f(i, static_cast<size_t>(slice.index()));
      slice.next();
    });
  }

 private:
  AxisCounter slices_;  // at element 0; one slice per tensor
};

}  // namespace

template <class A>
Array<int64_t> quantize(const ir::Op& op, const NumArray<A>& x, const QatOptions& options) {
  const ir::QuantParams& q = *op.outputs[0]->type.quant;
  const auto rule = ir::parse_rounding(op.get_string("round"));
  if (!rule) fail("{}: unknown rounding rule '{}'", op.describe(), op.get_string("round"));
  const QuantSlices slices(op, q, x.shape);
  Array<int64_t> y(x.shape);
  slices.each(x.data.size(), [&](size_t i, size_t s) {
    int64_t r = A::quantize(x.data[i], q.scales[s], *rule, options.quantize_by_reciprocal);
    y.data[i] = std::clamp(r + q.zero_points[s], q.qmin(), q.qmax());
  });
  return y;
}

template <class A>
NumArray<A> dequantize(const ir::Op& op, const Array<int64_t>& x) {
  const ir::QuantParams& q = *op.inputs[0]->type.quant;
  const QuantSlices slices(op, q, x.shape);
  NumArray<A> y(x.shape);
  slices.each(x.data.size(), [&](size_t i, size_t s) { y.data[i] = A::dequantize(x.data[i] - q.zero_points[s], q.scales[s]); });
  return y;
}

template Array<int64_t> quantize<F32Arith>(const ir::Op&, const NumArray<F32Arith>&, const QatOptions&);
template Array<int64_t> quantize<ExactArith>(const ir::Op&, const NumArray<ExactArith>&, const QatOptions&);
template Array<int64_t> quantize<EnclosureArith>(const ir::Op&, const NumArray<EnclosureArith>&, const QatOptions&);
template NumArray<F32Arith> dequantize<F32Arith>(const ir::Op&, const Array<int64_t>&);
template NumArray<ExactArith> dequantize<ExactArith>(const ir::Op&, const Array<int64_t>&);

}  // namespace qatc::sim
