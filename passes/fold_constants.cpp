#include "passes/fold_constants.h"

#include "ir/error.h"
#include "passes/quant_propagation.h"
#include "passes/rewrite.h"
#include "sim/qat/constant_fold.h"

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

}  // namespace

void fold_constants(ir::Graph& g, const PassOptions&) {
  const auto conv_bn_chains = conv_bn_chain_values(g);
  // In op order: a folded result is a constant by the time its readers come up.
  for (ir::Op* op : g.ops()) {
    if (op->kind == ir::OpKind::dequantize || conv_bn_chains.count(op->outputs[0])) continue;
    auto type = folded_type(*op);
    if (!type) continue;
    auto data = sim::fold_exactly(*op);
    if (!data) continue;
    ir::Value* folded = g.add_constant(g.unique_name(op->outputs[0]->name), std::move(*data), type->quant);
    replace_op_result(g, op, folded);
  }
}

}  // namespace qatc::passes
