// The boundary ops, where floats enter and leave the integer graph. They are sim/qat's exact-mode
// kernels: quantize rounds the real quotient x / scale by the op's rule, and dequantize's
// (q − zp) · scale is kept only if a double holds it exactly (NumericError otherwise).
#include "sim/int/int_types.h"
#include "sim/int/kernels.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/kernels.h"

#include <algorithm>

namespace qatc::sim::integer {

ir::TensorData quantize(const ir::Op& op, const ir::TensorData& x) {
  Array<Exact> real(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) real.data[i] = Exact::from_double(x.float_at(i));
  const Array<int64_t> q = sim::quantize<ExactArith>(op, real, QatOptions{});
  ir::TensorData y(op.outputs[0]->type.dtype, x.shape());
  visit_int_dtype(y.dtype(), [&](auto t) {  // within the quantized range, which the type holds
    std::transform(q.data.begin(), q.data.end(), y.as<decltype(t)>().begin(),
                   [](int64_t v) { return static_cast<decltype(t)>(v); });
  });
  return y;
}

ir::TensorData dequantize(const ir::Op& op, const ir::TensorData& x) {
  Array<int64_t> q(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) q.data[i] = x.int_at(i);
  const Array<Exact> real = sim::dequantize<ExactArith>(op, q);
  ir::TensorData y(ir::DType::f64, x.shape());
  std::transform(real.data.begin(), real.data.end(), y.as<double>().begin(), ExactArith::to_double);
  return y;
}

}  // namespace qatc::sim::integer
