#include "ir/verifier.h"

#include "ir/error.h"
#include "ir/limits.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace qatc::ir {

namespace {

bool attr_has_kind(const AttrValue& v, AttrKind kind) {
  switch (kind) {
    case AttrKind::int_: return std::holds_alternative<int64_t>(v);
    case AttrKind::float_: return std::holds_alternative<double>(v) || std::holds_alternative<int64_t>(v);
    case AttrKind::string_: return std::holds_alternative<std::string>(v);
    case AttrKind::ints: return std::holds_alternative<std::vector<int64_t>>(v);
    case AttrKind::floats: return std::holds_alternative<std::vector<double>>(v);
  }
  return false;
}

void verify_attrs(const Op& op) {
  const OpInfo& info = op.info();
  for (const auto& spec : info.attrs) {
    auto it = op.attrs.find(std::string(spec.name));
    if (it == op.attrs.end()) {
      if (spec.required) fail("{}: missing attribute '{}'", op.describe(), spec.name);
    } else if (!attr_has_kind(it->second, spec.kind)) {
      fail("{}: attribute '{}' has the wrong kind", op.describe(), spec.name);
    }
  }
  for (const auto& [name, value] : op.attrs) {
    bool known = false;
    for (const auto& spec : info.attrs) known |= spec.name == name;
    if (!known) fail("{}: unknown attribute '{}'", op.describe(), name);
  }
}

// Reports a use before definition as a cycle when the ops really form one.
[[noreturn]] void report_order_error(const Graph& g, const Op& user, const Value& v) {
  std::unordered_map<const Value*, const Op*> producer;
  for (const Op* op : g.ops())
    for (const Value* out : op->outputs) producer[out] = op;
  // Walk producers upstream from v; reaching `user` again means a cycle.
  std::vector<const Op*> stack{producer[&v]};
  std::unordered_set<const Op*> seen;
  while (!stack.empty()) {
    const Op* op = stack.back();
    stack.pop_back();
    if (!op || !seen.insert(op).second) continue;
    if (op == &user) fail("{}: the graph has a cycle through this op (via '{}')", user.describe(), v.name);
    for (const Value* in : op->inputs) stack.push_back(producer[in]);
  }
  fail("{}: uses '{}' before its definition", user.describe(), v.name);
}

}  // namespace

void verify_type(const TensorType& type, const std::string& what) {
  checked_num_elements(type.shape, type.dtype, what);  // no negative dimensions, within the limits
  if (std::find(type.shape.begin(), type.shape.end(), 0) != type.shape.end())
    fail("{}: zero-size dimension in shape [{}]", what, fmt::join(type.shape, ","));
  if (type.quant) verify_quant(*type.quant, type, what);
}

void verify_quant(const QuantParams& q, const TensorType& type, const std::string& what) {
  if (is_float(type.dtype)) fail("{}: quantization parameters on a float tensor", what);
  // Quantized values are at most 32 bits wide (int32 bias tensors); this also keeps qmin/qmax defined.
  if (q.bits < 2 || q.bits > 32 || q.bits > bit_width(type.dtype) || q.qmin() < int_min(type.dtype) || q.qmax() > int_max(type.dtype))
    fail("{}: {} values do not fit the storage type {}", what, storage_text(q), dtype_name(type.dtype));
  if (q.scales.empty() || q.scales.size() != q.zero_points.size())
    fail("{}: needs one zero point per scale", what);
  if (q.per_axis()) {
    if (q.axis >= static_cast<int>(type.shape.size()))
      fail("{}: quantization axis {} out of range for rank {}", what, q.axis, type.shape.size());
    if (static_cast<int64_t>(q.scales.size()) != type.shape[q.axis])
      fail("{}: {} scales for axis {} of size {}", what, q.scales.size(), q.axis, type.shape[q.axis]);
  } else if (q.scales.size() != 1) {
    fail("{}: a per-tensor quantization needs one scale, has {}", what, q.scales.size());
  }
  for (size_t i = 0; i < q.scales.size(); ++i) {
    if (!(q.scales[i] > 0) || !std::isfinite(q.scales[i]))
      fail("{}: scale {} is not a positive finite number", what, q.scales[i]);
    if (q.zero_points[i] < q.qmin() || q.zero_points[i] > q.qmax())
      fail("{}: zero point {} outside [{}, {}]", what, q.zero_points[i], q.qmin(), q.qmax());
  }
}

void check_limits(const Graph& g) {
  if (static_cast<int64_t>(g.ops().size()) > limits().max_nodes)
    fail("graph '{}' has {} ops, beyond the {} allowed (--max-nodes)", g.name, g.ops().size(), limits().max_nodes);
  for (const Value* in : g.inputs()) checked_num_elements(in->type.shape, in->type.dtype, "input '" + in->name + "'");
  for (const Value* c : g.constants()) checked_num_elements(c->type.shape, c->type.dtype, "constant '" + c->name + "'");
  for (const Op* op : g.ops())
    for (const Value* out : op->outputs)
      checked_num_elements(out->type.shape, out->type.dtype, "result '" + out->name + "' of " + op->describe());
}

void verify(const Graph& g) {
  check_limits(g);
  std::unordered_set<const Value*> defined;
  for (const Value* in : g.inputs()) {
    if (in->producer || in->is_constant()) fail("graph input '{}' must be neither computed nor constant", in->name);
    verify_type(in->type, "input '" + in->name + "'");
    defined.insert(in);
  }
  for (const Value* c : g.constants()) {
    std::string what = "constant '" + c->name + "'";
    verify_type(c->type, what);
    if (c->data->dtype() != c->type.dtype || c->data->shape() != c->type.shape)
      fail("{}: data does not match its type", what);
    defined.insert(c);
  }
  for (const Op* op : g.ops()) {
    const OpInfo& info = op->info();
    int n = static_cast<int>(op->inputs.size());
    if (n < info.min_inputs || (info.max_inputs >= 0 && n > info.max_inputs))
      fail("{}: takes {} to {} operands, has {}", op->describe(), info.min_inputs,
           info.max_inputs < 0 ? std::string("any number of") : std::to_string(info.max_inputs), n);
    if (op->outputs.size() != 1) fail("{}: must have exactly one result", op->describe());
    for (const Value* in : op->inputs) {
      if (!in) fail("{}: missing operand", op->describe());
      if (!defined.count(in)) {
        if (g.find_value(in->name) != in) fail("{}: operand '{}' is not defined in the graph", op->describe(), in->name);
        report_order_error(g, *op, *in);
      }
    }
    verify_attrs(*op);
    const Value* out = op->outputs[0];
    verify_type(out->type, "result '" + out->name + "' of " + op->describe());
    info.check_types(*op);
    Shape expected = info.infer_shape(*op);
    if (expected != out->type.shape)
      fail("{}: result '{}' has shape {}, the op computes {}", op->describe(), out->name, shape_string(out->type.shape),
           shape_string(expected));
    defined.insert(out);
  }
  if (g.outputs().empty()) fail("graph '{}' has no outputs", g.name);
  for (const Value* out : g.outputs())
    if (!defined.count(out)) fail("graph output '{}' is not defined", out->name);
}

}  // namespace qatc::ir
