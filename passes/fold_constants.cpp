#include "passes/fold_constants.h"

#include "ir/error.h"
#include "passes/quant_propagation.h"
#include "passes/rewrite.h"
#include "sim/qat/evaluator.h"

#include <algorithm>
#include <unordered_set>

namespace qatc::passes {

namespace {

// The values whose being constant or not decides whether the exact evaluator reads a
// div -> [add] -> batchnorm chain as PyTorch's fused conv-bn (sim/qat/conv_bn_pattern.h): the
// batchnorm's operand, the add's operands, the div's result and divisor. Folding one of them could
// make or break such a chain and so change what the graph means; fold-batchnorm rewrites the chains.
std::unordered_set<const ir::Value*> conv_bn_chain_values(const ir::Graph& g) {
  std::unordered_set<const ir::Value*> chain;
  auto add_div = [&](const ir::Value* v) {
    chain.insert(v);
    if (v->producer && v->producer->kind == ir::OpKind::div) chain.insert(v->producer->inputs[1]);
  };
  for (const ir::Op* bn : g.ops()) {
    if (bn->kind != ir::OpKind::batchnorm) continue;
    const ir::Value* v = bn->inputs[0];
    add_div(v);
    if (v->producer && v->producer->kind == ir::OpKind::add)
      for (const ir::Value* operand : v->producer->inputs) add_div(operand);
  }
  return chain;
}

// The type of the constant that replaces op's result: the result type, except that data movement
// on a quantized integer constant carries the constant's parameters along (nullopt where they
// cannot follow, or where the declared result parameters say otherwise).
std::optional<ir::TensorType> folded_type(const ir::Op& op) {
  const ir::TensorType& declared = op.outputs[0]->type;
  if (op.kind == ir::OpKind::quantize || !op.inputs[0]->type.quant) return declared;
  auto moved = propagated_quant(op, op.inputs);
  if (!moved || (declared.quant && declared.quant != moved)) return std::nullopt;
  ir::TensorType type = declared;
  type.quant = moved;
  return type;
}

// op's result by the exact evaluator, on a graph holding just op and copies of its operands;
// nullopt when the exact result is not a double (or cannot be computed), which leaves op alone.
std::optional<ir::TensorData> evaluate_exactly(const ir::Op& op) {
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
    return sim::evaluate_qat(alone, {}, {.arithmetic = sim::Arithmetic::exact})[0];
  } catch (const Error&) {
    return std::nullopt;
  }
}

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

void fold_constants(ir::Graph& g, const PassOptions&) {
  const auto conv_bn_chains = conv_bn_chain_values(g);
  // In op order: a folded result is a constant by the time its readers come up.
  for (ir::Op* op : g.ops()) {
    if (op->kind == ir::OpKind::dequantize || conv_bn_chains.count(op->outputs[0])) continue;
    if (!std::all_of(op->inputs.begin(), op->inputs.end(), [](const ir::Value* v) { return v->is_constant(); }))
      continue;
    auto type = folded_type(*op);
    if (!type) continue;
    auto exact = evaluate_exactly(*op);
    if (!exact) continue;
    auto data = stored_as(std::move(*exact), type->dtype);
    if (!data) continue;
    ir::Value* folded = g.add_constant(g.unique_name(op->outputs[0]->name), std::move(*data), type->quant);
    replace_op_result(g, op, folded);
  }
}

}  // namespace qatc::passes
