#include "ir/ops.h"

#include "ir/error.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

#include <array>

namespace qatc::ir {

namespace {

DType in_type(const Op& op, size_t i) { return op.inputs[i]->type.dtype; }
DType out_type(const Op& op) { return op.outputs[0]->type.dtype; }

void type_error(const Op& op, std::string_view what) { fail("{}: {}", op.describe(), what); }

// Elementwise, layout and pooling ops: every operand and the result share one element type.
void check_same_types(const Op& op) {
  for (size_t i = 0; i < op.inputs.size(); ++i)
    if (in_type(op, i) != out_type(op))
      fail("{}: operand '{}' is {} but the result is {}", op.describe(), op.inputs[i]->name,
           dtype_name(in_type(op, i)), dtype_name(out_type(op)));
}

void check_float_types(const Op& op) {
  check_same_types(op);
  if (!is_float(out_type(op))) type_error(op, "needs float operands");
}

// Float conv/matmul: one float type throughout. Integer: integer operands of at most 16 bits,
// accumulated in i32 or i64 (a bias, if any, in the accumulator type).
void check_product_types(const Op& op) {
  if (is_float(in_type(op, 0))) return check_float_types(op);
  DType acc = out_type(op);
  if (acc != DType::i32 && acc != DType::i64) type_error(op, "integer products accumulate in i32 or i64");
  for (size_t i = 0; i < 2; ++i)
    if (is_float(in_type(op, i)) || bit_width(in_type(op, i)) > 16)
      type_error(op, "integer operands must be 8 or 16 bit");
  if (op.inputs.size() == 3 && in_type(op, 2) != acc) type_error(op, "the bias must have the accumulator type");
}

void check_quantize_types(const Op& op) {
  if (!is_float(in_type(op, 0))) type_error(op, "quantizes a float tensor");
  if (is_float(out_type(op)) || !op.outputs[0]->type.quant)
    type_error(op, "the result must be an integer tensor with quantization parameters");
}

void check_dequantize_types(const Op& op) {
  if (is_float(in_type(op, 0)) || !op.inputs[0]->type.quant)
    type_error(op, "the operand must be an integer tensor with quantization parameters");
  if (!is_float(out_type(op))) type_error(op, "the result must be float");
}

using A = AttrKind;
const std::vector<AttrSpec> kWindowAttrs{
    {"strides", A::ints, true}, {"pads", A::ints, true}, {"dilations", A::ints, true}};

std::vector<AttrSpec> pool_attrs(std::vector<AttrSpec> extra) {
  std::vector<AttrSpec> a = kWindowAttrs;
  a.push_back({"kernel_shape", A::ints, true});
  a.push_back({"ceil_mode", A::int_, true});
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<OpInfo> make_registry() {
  auto conv_attrs = kWindowAttrs;
  conv_attrs.push_back({"group", A::int_, true});
  std::vector<OpInfo> r{
      {OpKind::conv, "conv", 2, 3, conv_attrs, nullptr, check_product_types},
      {OpKind::matmul, "matmul", 2, 2, {}, nullptr, check_product_types},
      {OpKind::batchnorm, "batchnorm", 5, 5, {{"epsilon", A::float_, true}}, nullptr, check_float_types},
      {OpKind::add, "add", 2, 2, {}, nullptr, check_same_types},
      {OpKind::sub, "sub", 2, 2, {}, nullptr, check_same_types},
      {OpKind::mul, "mul", 2, 2, {}, nullptr, check_same_types},
      {OpKind::div, "div", 2, 2, {}, nullptr, check_float_types},
      {OpKind::relu, "relu", 1, 1, {}, nullptr, check_same_types},
      {OpKind::clip, "clip", 1, 1, {{"min", A::float_, false}, {"max", A::float_, false}}, nullptr,
       check_same_types},
      {OpKind::concat, "concat", 1, -1, {{"axis", A::int_, true}}, nullptr, check_same_types},
      {OpKind::maxpool, "maxpool", 1, 1, pool_attrs({}), nullptr, check_same_types},
      {OpKind::avgpool, "avgpool", 1, 1, pool_attrs({{"count_include_pad", A::int_, true}}), nullptr,
       check_float_types},
      {OpKind::pad, "pad", 1, 1,
       {{"pads", A::ints, true}, {"mode", A::string_, true}, {"value", A::float_, true}}, nullptr,
       check_same_types},
      {OpKind::resize, "resize", 1, 1,
       {{"sizes", A::ints, true},
        {"scales", A::floats, true},
        {"coordinate_transformation_mode", A::string_, true},
        {"nearest_mode", A::string_, true}},
       nullptr, check_same_types},
      {OpKind::reshape, "reshape", 1, 1, {{"shape", A::ints, true}}, nullptr, check_same_types},
      {OpKind::transpose, "transpose", 1, 1, {{"perm", A::ints, true}}, nullptr, check_same_types},
      {OpKind::quantize, "quantize", 1, 1, {{"round", A::string_, true}}, nullptr, check_quantize_types},
      {OpKind::dequantize, "dequantize", 1, 1, {}, nullptr, check_dequantize_types},
  };
  for (size_t i = 0; i < r.size(); ++i) {
    if (static_cast<size_t>(r[i].kind) != i) throw std::logic_error("op registry out of enum order");
    r[i].infer_shape = shape_rule(r[i].kind);
  }
  return r;
}

const std::vector<OpInfo>& registry() {
  static const std::vector<OpInfo> r = make_registry();
  return r;
}

}  // namespace

const OpInfo& op_info(OpKind kind) { return registry()[static_cast<size_t>(kind)]; }

std::optional<OpKind> parse_op_kind(std::string_view name) {
  for (const auto& info : registry())
    if (info.name == name) return info.kind;
  return std::nullopt;
}

std::vector<OpKind> all_op_kinds() {
  std::vector<OpKind> kinds;
  for (const auto& info : registry()) kinds.push_back(info.kind);
  return kinds;
}

}  // namespace qatc::ir
