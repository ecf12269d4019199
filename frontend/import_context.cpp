#include "frontend/import_context.h"

#include "frontend/tensor_proto.h"
#include "ir/limits.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "sim/qat/constant_fold.h"

#include <algorithm>
#include <cmath>

namespace qatc::frontend {

void ImportContext::add_initializer(const std::string& name, ir::TensorData data) {
  constants_.insert_or_assign(name, std::move(data));
}

void ImportContext::bind(const std::string& onnx_name, ir::Value* v) { values_[onnx_name] = v; }

ir::Value* ImportContext::lookup(const std::string& onnx_name) {
  if (auto it = values_.find(onnx_name); it != values_.end()) return it->second;
  auto c = constants_.find(onnx_name);
  if (c == constants_.end()) return nullptr;
  // Refused here, when an initializer becomes an operand: an unused or attribute-like empty
  // initializer (Resize's roi) is fine, an empty weight is not.
  ir::verify_type(ir::TensorType{c->second.dtype(), c->second.shape(), std::nullopt}, "tensor '" + onnx_name + "'");
  ir::Value* v = graph_.add_constant(onnx_name, c->second);
  values_[onnx_name] = v;
  return v;
}

std::string describe_node(const onnx::NodeProto& n, int64_t opset) {
  std::string domain = n.domain().empty() ? "ai.onnx" : n.domain();
  std::string name = n.name().empty() ? (n.output_size() ? "producing '" + n.output(0) + "'" : "<unnamed>")
                                      : "'" + n.name() + "'";
  return fmt::format("node {} ({}, domain {}, opset {})", name, n.op_type(), domain, opset);
}

std::string ImportContext::describe_node() const { return frontend::describe_node(*node_, opset_); }

std::optional<ir::Shape> ImportContext::declared_shape(const std::string& onnx_name) const {
  if (auto it = declared_.find(onnx_name); it != declared_.end()) return it->second;
  return std::nullopt;
}

bool ImportContext::has_input(int i) const { return i < node_->input_size() && !node_->input(i).empty(); }

ir::Value* ImportContext::input(int i) {
  if (!has_input(i)) refuse("operand {} is missing", i);
  ir::Value* v = lookup(node_->input(i));
  if (!v) refuse("operand '{}' is not defined by any earlier node, initializer or graph input", node_->input(i));
  return v;
}

const ir::TensorData* ImportContext::constant_input(int i) const {
  if (!has_input(i)) return nullptr;
  const std::string& name = node_->input(i);
  if (auto it = values_.find(name); it != values_.end()) return it->second->is_constant() ? &*it->second->data : nullptr;
  auto c = constants_.find(name);
  return c == constants_.end() ? nullptr : &c->second;
}

const ir::TensorData& ImportContext::require_constant(int i, std::string_view what) const {
  const ir::TensorData* d = constant_input(i);
  if (!d) {
    if (!has_input(i)) refuse("the {} operand is missing", what);
    refuse("the {} '{}' must be a constant (initializer or Constant node)", what, node_->input(i));
  }
  return *d;
}

std::vector<int64_t> ImportContext::constant_ints(int i, std::string_view what) const {
  const ir::TensorData& d = require_constant(i, what);
  if (!ir::is_integer(d.dtype())) refuse("the {} '{}' must be integers", what, node_->input(i));
  std::vector<int64_t> v(d.size());
  for (int64_t k = 0; k < d.size(); ++k) v[k] = d.int_at(k);
  return v;
}

double ImportContext::constant_scalar(int i, std::string_view what) const {
  const ir::TensorData& d = require_constant(i, what);
  if (d.size() != 1 || d.shape().size() > 1) refuse("the {} '{}' must be a scalar", what, node_->input(i));
  return ir::is_float(d.dtype()) ? d.float_at(0) : static_cast<double>(d.int_at(0));
}

const onnx::AttributeProto* ImportContext::attr(const std::string& name) const {
  for (const auto& a : node_->attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t ImportContext::attr_int(const std::string& name, int64_t fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INT) refuse("attribute '{}' must be an integer", name);
  return a->i();
}

double ImportContext::attr_float(const std::string& name, double fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::FLOAT) refuse("attribute '{}' must be a float", name);
  return a->f();  // float32 widened exactly
}

std::string ImportContext::attr_string(const std::string& name, const std::string& fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::STRING) refuse("attribute '{}' must be a string", name);
  return a->s();
}

std::vector<int64_t> ImportContext::attr_ints(const std::string& name, std::vector<int64_t> fallback) const {
  const auto* a = attr(name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto::INTS) refuse("attribute '{}' must be a list of integers", name);
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> ImportContext::attr_floats(const std::string& name) const {
  const auto* a = attr(name);
  if (!a) return {};
  if (a->type() != onnx::AttributeProto::FLOATS) refuse("attribute '{}' must be a list of floats", name);
  return {a->floats().begin(), a->floats().end()};
}

ir::Op* ImportContext::add_checked_op(ir::Graph& g, ir::OpKind kind, std::vector<ir::Value*> inputs,
                                      std::map<std::string, ir::AttrValue> attrs, const std::string& out_name,
                                      const ir::TensorType& type) {
  ir::Op* op = g.add_op(kind, std::move(inputs), {{out_name, type}}, std::move(attrs), node_->name());
  try {
    op->outputs[0]->type.shape = op->info().infer_shape(*op);
    op->info().check_types(*op);
    // Within the limits before any converter computes with its size (element counts overflow).
    ir::checked_num_elements(op->outputs[0]->type.shape, op->outputs[0]->type.dtype, "result '" + out_name + "'");
  } catch (const Error& e) {
    // The IR names the op; name the ONNX node instead.
    std::string prefix = op->describe() + ": ";
    std::string_view msg = e.what();
    if (msg.starts_with(prefix)) msg.remove_prefix(prefix.size());
    refuse("{}", msg);
  }
  return op;
}

ir::Value* ImportContext::emit(ir::OpKind kind, std::vector<ir::Value*> inputs,
                               std::map<std::string, ir::AttrValue> attrs, std::string suffix,
                               std::optional<ir::TensorType> type) {
  std::string out_name = suffix.empty() ? node_->output(0) : node_->output(0) + "/" + suffix;
  ir::TensorType t = type.value_or(ir::TensorType{inputs.at(0)->type.dtype, {}, std::nullopt});
  // A node computing on constants only (shape arithmetic: Shape -> Gather -> Concat -> Reshape, a
  // bias divided by its scale) is a constant too: later nodes read it as one while the graph is read.
  // It is built and evaluated on copies of its operands in a graph of its own (so no operand of the
  // model's graph is ever erased under the importer). Quantize and dequantize stay
  // ops, as fold-constants leaves them.
  const bool constant_operands =
      std::all_of(inputs.begin(), inputs.end(), [](const ir::Value* v) { return v->is_constant(); });
  if (suffix.empty() && constant_operands && kind != ir::OpKind::quantize && kind != ir::OpKind::dequantize) {
    ir::Graph alone;
    const ir::Op* op = add_checked_op(alone, kind, sim::add_constant_copies(alone, inputs), attrs, out_name, t);
    if (auto data = sim::fold_alone(alone, *op)) {
      bind_constant_output(std::move(*data));
      return lookup(node_->output(0));
    }
  }
  ir::Op* op = add_checked_op(graph_, kind, std::move(inputs), std::move(attrs), out_name, t);
  if (suffix.empty()) bind(node_->output(0), op->outputs[0]);
  return op->outputs[0];
}

ir::Value* ImportContext::add_constant(const std::string& suffix, ir::TensorData data) {
  return graph_.add_constant(node_->output(0) + "/" + suffix, std::move(data));
}

void ImportContext::bind_constant_output(ir::TensorData data) { add_initializer(node_->output(0), std::move(data)); }

int64_t normalize_axis(const ImportContext& ctx, int64_t axis, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) ctx.refuse("axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + r : axis;
}

}  // namespace qatc::frontend
