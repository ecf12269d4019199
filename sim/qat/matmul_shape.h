// numpy matmul's view of its operands, shared by the QAT evaluator and the integer simulator: a batch
// of (m × k) · (k × n) products whose batch axes broadcast.
#pragma once

#include "ir/dtype.h"

#include <vector>

namespace qatc::ir {
struct Op;
}

namespace qatc::sim {

struct MatmulShape {
  int64_t m = 1, k = 1, n = 1;
  ir::Shape batch;                            // the broadcast batch shape
  std::vector<int64_t> a_strides, b_strides;  // batch strides of a and b, in whole matrices
  ir::Shape result;                           // a 1-D operand's unit axis is dropped, as in numpy
};

MatmulShape matmul_shape(const ir::Op& op, const ir::Shape& a, const ir::Shape& b);

}  // namespace qatc::sim
