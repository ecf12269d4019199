// The integer simulator's kernels: one simple reference per op kind (the twins of the future code
// generators), on native integer tensors. The simulator has checked each op's types and attributes
// (OpInfo::check_types, the shape rule) before calling; kernels throw qatc::Error naming the op, or
// NumericError from the shared sim/qat code, which the simulator names the op for.
#pragma once

#include "ir/graph.h"

#include <vector>

namespace qatc::sim::integer {

// conv.cpp: Σ (x − x_zero_point) · w, padding contributing 0; result i32/i64 (+ bias).
ir::TensorData conv(const ir::Op& op, const ir::TensorData& x, const ir::TensorData& w, const ir::TensorData* bias);
ir::TensorData matmul(const ir::Op& op, const ir::TensorData& a, const ir::TensorData& b);

// requantize.cpp
ir::TensorData requantize(const ir::Op& op, const ir::TensorData& acc, const ir::TensorData* bias);

// pool.cpp
ir::TensorData maxpool(const ir::Op& op, const ir::TensorData& x);
ir::TensorData avgpool(const ir::Op& op, const ir::TensorData& x);

// elementwise.cpp: add and sub (numpy broadcasting), clip, widen, lut.
ir::TensorData binary(const ir::Op& op, const ir::TensorData& a, const ir::TensorData& b);
ir::TensorData clip(const ir::Op& op, const ir::TensorData& x);
ir::TensorData widen(const ir::Op& op, const ir::TensorData& x);
ir::TensorData lut(const ir::Op& op, const ir::TensorData& x, const ir::TensorData& table);

// layout.cpp: concat, pad, resize, reshape, transpose, slice.
ir::TensorData layout(const ir::Op& op, const std::vector<const ir::TensorData*>& operands);

// boundary.cpp: float in, float out.
ir::TensorData quantize(const ir::Op& op, const ir::TensorData& x);
ir::TensorData dequantize(const ir::Op& op, const ir::TensorData& x);

}  // namespace qatc::sim::integer
