#include "sim/qat/constant_fold.h"

#include "ir/error.h"
#include "sim/qat/evaluator.h"

#include <algorithm>

namespace qatc::sim {

namespace {

// The exact result (floats come as f64) stored as `dtype`, if no element rounds.
std::optional<ir::TensorData> stored_as(ir::TensorData exact, ir::DType dtype) {
  if (dtype != ir::DType::f32) return exact;  // f64 and integer results are in their type already
  std::vector<float> values;
  for (double v : exact.as<double>()) {
    if (static_cast<double>(static_cast<float>(v)) != v) return std::nullopt;
    values.push_back(static_cast<float>(v));
  }
  return ir::TensorData::from<float>(exact.shape(), values);
}

}  // namespace

std::optional<ir::TensorData> fold_exactly(const ir::Op& op) {
  if (!std::all_of(op.inputs.begin(), op.inputs.end(), [](const ir::Value* v) { return v->is_constant(); }))
    return std::nullopt;
  // A graph holding just op and copies of its operands.
  ir::Graph alone;
  std::vector<ir::Value*> operands;
  for (const ir::Value* in : op.inputs) {
    ir::Value* c = alone.find_value(in->name);
    if (!c) c = alone.add_constant(in->name, *in->data, in->type.quant);
    operands.push_back(c);
  }
  const ir::Value* result = op.outputs[0];
  alone.add_output(alone.add_op(op.kind, operands, {{result->name, result->type}}, op.attrs, op.name)->outputs[0]);
  try {
    return stored_as(evaluate_qat(alone, {}, {.arithmetic = Arithmetic::exact})[0], result->type.dtype);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace qatc::sim
