#include "sim/int/simulator.h"

#include "ir/error.h"
#include "sim/int/kernels.h"
#include "sim/qat/lifetimes.h"
#include "sim/qat/numeric_error.h"

#include <unordered_map>

namespace qatc::sim {

namespace {

// The float ops an integer graph may hold: its boundaries.
bool is_boundary(const ir::Op& op) { return op.kind == ir::OpKind::quantize || op.kind == ir::OpKind::dequantize; }

bool touches_floats(const ir::Op& op) {
  for (const ir::Value* v : op.inputs)
    if (ir::is_float(v->type.dtype)) return true;
  return ir::is_float(op.outputs[0]->type.dtype);
}

class Simulation {
 public:
  Simulation(const ir::Graph& g, const IntObserver& observer) : g_(g), observer_(observer) {}

  std::vector<ir::TensorData> run(const std::vector<ir::TensorData>& inputs) {
    bind_inputs(inputs);
    for (const ir::Value* c : g_.constants())
      if (c->data->dtype() != c->type.dtype || c->data->shape() != c->type.shape)
        fail("constant '{}' holds {} {} data but has type {} {}", c->name, ir::dtype_name(c->data->dtype()),
             ir::shape_string(c->data->shape()), ir::dtype_name(c->type.dtype), ir::shape_string(c->type.shape));
    const std::vector<ir::Op*> ops = g_.ops();
    const auto last_use = last_uses(g_, ops);
    for (size_t i = 0; i < ops.size(); ++i) {
      const ir::Op& op = *ops[i];
      ir::TensorData result = checked_evaluate(op);
      if (observer_) observer_(op, result);
      for (const ir::Value* in : op.inputs)
        if (last_use.at(in) == i) values_.erase(in);
      values_[op.outputs[0]] = std::move(result);
    }
    std::vector<ir::TensorData> outputs;
    for (const ir::Value* v : g_.outputs()) {
      const ir::TensorData* d = find(v);
      if (!d) fail("output '{}' is not computed by the graph", v->name);
      outputs.push_back(*d);
    }
    return outputs;
  }

 private:
  void bind_inputs(const std::vector<ir::TensorData>& inputs) {
    if (inputs.size() != g_.inputs().size())
      fail("the graph has {} inputs, {} were given", g_.inputs().size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ir::Value* v = g_.inputs()[i];
      if (inputs[i].dtype() != v->type.dtype || inputs[i].shape() != v->type.shape)
        fail("input '{}' is {} {} but {} {} data was given", v->name, ir::dtype_name(v->type.dtype),
             ir::shape_string(v->type.shape), ir::dtype_name(inputs[i].dtype()), ir::shape_string(inputs[i].shape()));
      values_[v] = inputs[i];
    }
  }

  const ir::TensorData* find(const ir::Value* v) const {
    if (v->is_constant()) return &*v->data;
    auto it = values_.find(v);
    return it == values_.end() ? nullptr : &it->second;
  }

  const ir::TensorData& operand(const ir::Op& op, size_t i) const {
    const ir::TensorData* d = find(op.inputs[i]);
    if (!d) fail("{}: operand '{}' has no value (ops out of topological order?)", op.describe(), op.inputs[i]->name);
    return *d;
  }
  const ir::TensorData* optional_operand(const ir::Op& op, size_t i) const {
    return op.inputs.size() > i ? &operand(op, i) : nullptr;
  }

  ir::TensorData checked_evaluate(const ir::Op& op) {
    if (touches_floats(op) && !is_boundary(op))
      fail("{}: a float op; the integer simulator runs integer ops and the boundary quantize/dequantize only",
           op.describe());
    op.info().check_types(op);
    const ir::Shape shape = op.info().infer_shape(op);
    ir::TensorData result;
    try {
      result = evaluate(op);
    } catch (const NumericError& e) {
      fail("{}: {}", op.describe(), e.what());
    }
    if (result.shape() != shape)
      throw std::logic_error(fmt::format("{}: computed shape {}, expected {}", op.describe(),
                                         ir::shape_string(result.shape()), ir::shape_string(shape)));
    return result;
  }

  ir::TensorData evaluate(const ir::Op& op) {
    using K = ir::OpKind;
    switch (op.kind) {
      case K::conv: return integer::conv(op, operand(op, 0), operand(op, 1), optional_operand(op, 2));
      case K::matmul: return integer::matmul(op, operand(op, 0), operand(op, 1));
      case K::requantize: return integer::requantize(op, operand(op, 0), optional_operand(op, 1));
      case K::maxpool: return integer::maxpool(op, operand(op, 0));
      case K::avgpool: return integer::avgpool(op, operand(op, 0));
      case K::add:
      case K::sub:
      case K::mul: return integer::binary(op, operand(op, 0), operand(op, 1));
      case K::clip: return integer::clip(op, operand(op, 0));
      case K::widen: return integer::widen(op, operand(op, 0));
      case K::lut: return integer::lut(op, operand(op, 0), operand(op, 1));
      case K::concat:
      case K::pad:
      case K::resize:
      case K::reshape:
      case K::transpose:
      case K::slice: {
        std::vector<const ir::TensorData*> operands;
        for (size_t i = 0; i < op.inputs.size(); ++i) operands.push_back(&operand(op, i));
        return integer::layout(op, operands);
      }
      case K::quantize: return integer::quantize(op, operand(op, 0));
      case K::dequantize: return integer::dequantize(op, operand(op, 0));
      case K::batchnorm:
      case K::div:
      case K::relu:
      case K::leaky_relu:
      case K::elu:
      case K::sigmoid:
      case K::tanh:
      case K::erf:
      case K::exp:
      case K::log:
      case K::softplus: break;
    }
    fail("{}: not an op of the integer graph (docs/ir.md)", op.describe());
  }

  const ir::Graph& g_;
  const IntObserver& observer_;
  std::unordered_map<const ir::Value*, ir::TensorData> values_;  // inputs and op results still needed
};

}  // namespace

std::vector<ir::TensorData> simulate_integer(const ir::Graph& g, const std::vector<ir::TensorData>& inputs,
                                             const IntObserver& observer) {
  return Simulation(g, observer).run(inputs);
}

}  // namespace qatc::sim
