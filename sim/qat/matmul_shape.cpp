#include "sim/qat/matmul_shape.h"

#include "ir/ops.h"
#include "sim/qat/strided.h"

namespace qatc::sim {

MatmulShape matmul_shape(const ir::Op& op, const ir::Shape& a, const ir::Shape& b) {
  // numpy: a 1-D operand is a row (a) or column (b) vector.
  ir::Shape as = a, bs = b;
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  if (a_vector) as.insert(as.begin(), 1);
  if (b_vector) bs.push_back(1);
  MatmulShape s;
  s.m = as[as.size() - 2];
  s.k = as.back();
  s.n = bs.back();
  const ir::Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  s.batch = ir::broadcast_shapes(a_batch, b_batch, op);
  s.a_strides = broadcast_strides(a_batch, s.batch);
  s.b_strides = broadcast_strides(b_batch, s.batch);
  s.result = s.batch;
  if (!a_vector) s.result.push_back(s.m);
  if (!b_vector) s.result.push_back(s.n);
  return s;
}

}  // namespace qatc::sim
