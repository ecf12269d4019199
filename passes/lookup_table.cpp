#include "passes/lookup_table.h"

#include "ir/error.h"
#include "sim/qat/evaluator.h"

#include <cstring>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace qatc::passes {

namespace {

using K = ir::OpKind;

bool is_elementwise(K k) {
  return ir::is_activation_function(k) || k == K::add || k == K::sub || k == K::mul || k == K::div || k == K::relu || k == K::clip;
}

// Whether every element of a constant is the same number: a scalar in effect.
bool uniform(const ir::TensorData& d) {
  for (int64_t i = 1; i < d.size(); ++i)
    if (ir::is_float(d.dtype()) ? d.float_at(i) != d.float_at(0) : d.int_at(i) != d.int_at(0)) return false;
  return true;
}

// A constant operand, or the dequantize of one (torch's converted export dequantizes its constants).
const ir::Value* constant_of(const ir::Value* v) {
  if (v->is_constant()) return v;
  if (v->producer && v->producer->kind == K::dequantize && v->producer->inputs[0]->is_constant())
    return v->producer->inputs[0];
  return nullptr;
}

struct Walk {
  const ir::Shape& shape;  // the region's one shape
  TableRegion region;
  std::unordered_set<const ir::Value*> seen;
  const ir::Op* constant_user = nullptr;  // the first op with a per-channel constant, and that constant
  const ir::Value* varying = nullptr;
  bool needs_table = false;

  // Post-order, so that region.ops comes out in topological order; false if v is outside any region.
  bool visit(const ir::Value* v, const ir::Op& user) {
    if (!seen.insert(v).second) return true;
    if (const ir::Value* c = constant_of(v)) {
      const bool per_axis = c->type.quant && c->type.quant->per_axis();
      if ((per_axis || !uniform(*c->data)) && !varying) constant_user = &user, varying = c;
      if (v->producer) region.ops.push_back(v->producer);
      return true;
    }
    const ir::Op* p = v->producer;
    if (!p) return false;
    if (p->kind == K::dequantize) {
      if (region.input && region.input != p->inputs[0]) return false;  // a second quantized tensor
      region.input = p->inputs[0];
      region.ops.push_back(p);
      return p->outputs[0]->type.shape == shape;
    }
    if (!is_elementwise(p->kind) || p->outputs[0]->type.shape != shape || !ir::is_float(p->outputs[0]->type.dtype))
      return false;
    needs_table |= ir::is_activation_function(p->kind);  // only a table computes them exactly
    // Products of two values of the region, and quotients by one (a reciprocal included).
    needs_table |= p->kind == K::mul && !constant_of(p->inputs[0]) && !constant_of(p->inputs[1]);
    needs_table |= p->kind == K::div && !constant_of(p->inputs[1]);
    for (const ir::Value* in : p->inputs)
      if (!visit(in, *p)) return false;
    region.ops.push_back(p);
    return true;
  }
};

}  // namespace

std::optional<TableRegion> table_region(const ir::Op& quantize, bool affine_too) {
  Walk walk{quantize.inputs[0]->type.shape, {}, {}, nullptr, nullptr, false};
  if (!walk.visit(quantize.inputs[0], quantize) || !(walk.needs_table || affine_too) || !walk.region.input)
    return std::nullopt;
  const ir::Value* input = walk.region.input;
  if (input->type.quant->per_axis())
    fail("{}: a lookup table needs one grid for its input '{}', which is quantized per channel", quantize.describe(),
         input->name);
  if (quantize.outputs[0]->type.quant->per_axis())
    fail("{}: a lookup table needs one output grid, and this quantize has one per channel", quantize.describe());
  if (walk.varying)
    fail("{}: its constant '{}' varies along an axis, and a lookup table holds one function for every element",
         walk.constant_user->describe(), walk.varying->name);
  const int bits = ir::bit_width(input->type.dtype);
  if (bits > 16)
    fail("{}: its input '{}' is a {}-bit tensor, whose lookup table would need 2^{} entries (8- and 16-bit inputs only)",
         quantize.describe(), input->name, bits, bits);
  return std::move(walk.region);
}

ir::Value* emit_lookup_table(ir::Graph& g, const TableRegion& region, const ir::Op& quantize, const std::string& name) {
  const ir::TensorType& in = region.input->type;
  const int64_t count = int64_t{1} << ir::bit_width(in.dtype), first = ir::int_min(in.dtype);
  // The region again, on a tensor of every code: uniform constants become scalars, so that nothing
  // broadcasts the codes into another shape.
  ir::Graph codes_graph;
  ir::TensorData codes(in.dtype, {count});
  ir::visit_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>)
      for (int64_t i = 0; i < count; ++i) codes.as<T>()[static_cast<size_t>(i)] = static_cast<T>(first + i);
  });
  std::unordered_map<const ir::Value*, ir::Value*> copy{
      {region.input, codes_graph.add_constant(region.input->name, codes, in.quant)}};
  auto copied = [&](const ir::Value* v) {
    if (auto it = copy.find(v); it != copy.end()) return it->second;
    ir::TensorData scalar(v->data->dtype(), {});
    std::memcpy(scalar.mutable_bytes().data(), v->data->bytes().data(), scalar.bytes().size());  // element 0
    return copy[v] = codes_graph.add_constant(v->name, std::move(scalar), v->type.quant);
  };
  auto add_copy = [&](const ir::Op& op) {
    std::vector<ir::Value*> inputs;
    bool scalar = true;
    for (const ir::Value* v : op.inputs) {
      inputs.push_back(copied(v));
      scalar &= inputs.back()->type.shape.empty();
    }
    ir::TensorType t = op.outputs[0]->type;
    t.shape = scalar ? ir::Shape{} : ir::Shape{count};
    ir::Op* c = codes_graph.add_op(op.kind, inputs, {{op.outputs[0]->name, t}}, op.attrs, op.name);
    copy[op.outputs[0]] = c->outputs[0];
    return c->outputs[0];
  };
  for (const ir::Op* op : region.ops) add_copy(*op);
  codes_graph.add_output(add_copy(quantize));
  std::vector<ir::TensorData> table;
  try {
    table = sim::evaluate_qat(codes_graph, {}, {.arithmetic = sim::Arithmetic::exact});
  } catch (const Error& e) {
    fail("{}: its lookup table over the {} codes of '{}' cannot be built (element k is code {} + k): {}",
         quantize.describe(), count, region.input->name, first, e.what());
  }
  ir::Value* t = g.add_constant(g.unique_name(name + "/table"), std::move(table[0]));
  return g.add_op(K::lut, {region.input, t}, {{name, quantize.outputs[0]->type}}, {}, quantize.name)->outputs[0];
}

}  // namespace qatc::passes
