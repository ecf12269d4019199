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

std::vector<ir::Value*> add_constant_copies(ir::Graph& alone, const std::vector<ir::Value*>& operands) {
  std::vector<ir::Value*> copies;
  for (const ir::Value* in : operands) {
    ir::Value* c = alone.find_value(in->name);
    copies.push_back(c ? c : alone.add_constant(in->name, *in->data, in->type.quant));
  }
  return copies;
}

std::optional<ir::TensorData> fold_alone(ir::Graph& alone, const ir::Op& op) {
  alone.add_output(op.outputs[0]);
  try {
    return stored_as(evaluate_qat(alone, {}, {.arithmetic = Arithmetic::exact})[0], op.outputs[0]->type.dtype);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<ir::TensorData> fold_exactly(const ir::Op& op) {
  if (!std::all_of(op.inputs.begin(), op.inputs.end(), [](const ir::Value* v) { return v->is_constant(); }))
    return std::nullopt;
  ir::Graph alone;
  const ir::Value* result = op.outputs[0];
  const ir::Op* copy = alone.add_op(op.kind, add_constant_copies(alone, op.inputs), {{result->name, result->type}},
                                    op.attrs, op.name);
  return fold_alone(alone, *copy);
}

}  // namespace qatc::sim
