#include "driver/layer_diff.h"

#include "driver/compare.h"

#include "ir/error.h"
#include "ir/number_text.h"
#include "passes/lookup_table.h"

#include <fmt/format.h>

#include <cmath>

namespace qatc::driver {

namespace {

// How the value before quantization sat relative to the quantization grid, in steps.
std::optional<double> steps(const Trace& t, const ir::Op& quantize, int64_t i) {
  auto it = t.find(quantize.inputs[0]->name);
  if (it == t.end() || !ir::is_float(it->second.dtype())) return std::nullopt;
  const ir::QuantParams& q = *quantize.outputs[0]->type.quant;
  double s = q.per_axis() ? std::nan("") : q.scales[0];
  return it->second.float_at(i) / s;
}

// A transcendental function in the lookup-table region that ends at the quantize (the only place a
// lowered model has one): a float32 framework computes it to within an ulp, qat-exact to the real
// value.
const ir::Op* transcendental_in(const ir::Op& quantize) {
  std::optional<passes::TableRegion> region;
  try {
    region = passes::table_region(quantize);
  } catch (const Error&) {  // refused as a table: the model did not lower
  }
  if (region)
    for (const ir::Op* op : region->ops)
      if (ir::is_transcendental(op->kind)) return op;
  return nullptr;
}

std::string explain(const ir::Op& quantize, int64_t i, const Trace& a, const std::string& a_name, const Trace& b,
                    const std::string& b_name) {
  const std::string ints = a_name == "int-sim" || b_name == "int-sim" ? "int-sim" : "";
  auto sa = steps(a, quantize, i), sb = steps(b, quantize, i);
  if (!sa || !sb || std::isnan(*sa) || std::isnan(*sb)) {
    return ints.empty() ? "the inputs of this layer already differ" :
                          "the integer engine differs from the reference here (a qatc bug unless --allow-non-pot)";
  }
  auto is_tie = [](double v) { return std::fabs(v - std::trunc(v)) == 0.5; };
  std::string where = fmt::format("before rounding {} has {} steps, {} has {} steps", a_name, ir::double_text(*sa),
                                  b_name, ir::double_text(*sb));
  if (const ir::Op* f = transcendental_in(quantize); f && *sa != *sb)
    where += fmt::format(" (the float32 framework's {} '{}' is float32, within an ulp of the real value qat-exact "
                         "rounds)",
                         f->info().name, f->outputs[0]->name);
  if (*sa == *sb)
    return "same value before rounding, rounded differently (the float32 framework computes the quotient in "
           "float32, e.g. x * (1/s)); " + where;
  if (is_tie(*sa) || is_tie(*sb))
    return "rounding tie: one side lands exactly halfway between two steps, the other just beside it; " + where;
  return "float32 arithmetic moved the value across a rounding boundary; " + where;
}

bool integer_clip(const ir::Op& op) { return op.kind == ir::OpKind::clip && ir::is_integer(op.outputs[0]->type.dtype); }

}  // namespace

const ir::Value& quantized_layer(const ir::Graph& g, const ir::Op& quantize) {
  const ir::Value* v = quantize.outputs[0];
  for (std::vector<ir::Op*> users = g.users(v); users.size() == 1 && integer_clip(*users[0]); users = g.users(v))
    v = users[0]->outputs[0];
  return *v;
}

const ir::Op* layer_quantize(const ir::Value& v) {
  const ir::Op* p = v.producer;
  while (p && integer_clip(*p)) p = p->inputs[0]->producer;
  return p && p->kind == ir::OpKind::quantize ? p : nullptr;
}

LayerComparison compare_layers(const ir::Graph& qat, const Trace& a, const std::string& a_name, const Trace& b,
                               const std::string& b_name) {
  LayerComparison result;
  for (const ir::Op* op : qat.ops()) {
    if (op->kind != ir::OpKind::quantize) continue;
    const std::string& name = quantized_layer(qat, *op).name;
    auto ia = a.find(name), ib = b.find(name);
    if (ia == a.end() || ib == b.end() || ia->second.shape() != ib->second.shape()) continue;
    ++result.layers;
    for (int64_t i = 0; i < ia->second.size(); ++i) {
      int64_t va = ia->second.int_at(i), vb = ib->second.int_at(i);
      if (va == vb) continue;
      ++result.differing;
      if (!result.first)
        result.first = Divergence{name, index_text(i, ia->second.shape()), va, vb, explain(*op, i, a, a_name, b, b_name)};
      break;
    }
  }
  return result;
}

}  // namespace qatc::driver
