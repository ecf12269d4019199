#include "ir/ops.h"

#include "ir/error.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

#include <algorithm>
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

// add, sub, mul: one element type throughout, except that a float op may read f64 operands. Those
// are exact constants (a folded batch norm's bias, which no float32 number holds): the exact
// evaluator adds them as they are; a float32 framework would round them to float32 first.
void check_arithmetic_types(const Op& op) {
  if (is_integer(out_type(op))) return check_same_types(op);
  for (size_t i = 0; i < op.inputs.size(); ++i)
    if (in_type(op, i) != out_type(op) && in_type(op, i) != DType::f64)
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
  if (is_float(in_type(op, 0))) {
    if (op.has("x_zero_point")) type_error(op, "x_zero_point applies to integer operands only");
    return check_float_types(op);
  }
  DType acc = out_type(op);
  if (acc != DType::i32 && acc != DType::i64) type_error(op, "integer products accumulate in i32 or i64");
  // The activation may also be an average pool's i32 window sums; weights are 8 or 16 bit.
  if (is_float(in_type(op, 0)) || bit_width(in_type(op, 0)) > 32) type_error(op, "integer activations must be 8 to 32 bit");
  if (is_float(in_type(op, 1)) || bit_width(in_type(op, 1)) > 16) type_error(op, "integer weights must be 8 or 16 bit");
  if (op.inputs.size() == 3 && in_type(op, 2) != acc) type_error(op, "the bias must have the accumulator type");
}

void check_rounding(const Op& op) {
  if (!parse_rounding(op.get_string("round")))
    fail("{}: unknown rounding rule '{}'", op.describe(), op.get_string("round"));
}

const QuantParams& per_tensor_quant(const Op& op, const Value* v, std::string_view role) {
  if (is_float(v->type.dtype) || !v->type.quant || v->type.quant->per_axis())
    fail("{}: the {} '{}' must be an integer tensor quantized per tensor", op.describe(), role, v->name);
  return *v->type.quant;
}

// Float average pooling, or an integer form: quantized in, quantized out, with the divisor's
// rounding (`shift`, `round`) spelled out; or quantized (or plain i32) in, the plain i32 window sums
// out (the divisor then belongs to the requantize that reads them).
void check_avgpool_types(const Op& op) {
  if (is_float(out_type(op))) {
    if (op.has("shift") || op.has("round")) type_error(op, "shift and round apply to the integer form only");
    return check_float_types(op);
  }
  if (!op.outputs[0]->type.quant) {
    if (out_type(op) != DType::i32 || op.has("shift") || op.has("round"))
      type_error(op, "window sums are i32 and take no shift or round");
    // Of a quantized tensor (its zero point subtracted), or of i32 values inside a fake-quant region.
    if (in_type(op, 0) != DType::i32 || op.inputs[0]->type.quant) per_tensor_quant(op, op.inputs[0], "operand");
    return;
  }
  per_tensor_quant(op, op.inputs[0], "operand");
  per_tensor_quant(op, op.outputs[0], "result");
  if (!op.has("shift") || !op.has("round")) type_error(op, "the integer form needs shift and round");
  check_rounding(op);
}

// Per-channel attribute lists have one entry, or one per slice along `axis`.
void check_channel_list(const Op& op, const std::string& attr, int64_t channels) {
  if (!op.has(attr)) return;
  auto n = static_cast<int64_t>(op.get_ints(attr).size());
  if (n != 1 && n != channels) fail("{}: '{}' needs 1 or {} values, has {}", op.describe(), attr, channels, n);
}

void check_requantize_types(const Op& op) {
  DType acc = in_type(op, 0);
  if (acc != DType::i32 && acc != DType::i64) type_error(op, "requantizes an i32 or i64 accumulator");
  int64_t axis = op.get_int("axis");
  // The result's grid is per tensor, or per slice of the requantize's own axis with one zero point
  // (each slice's scale is in its shift).
  const auto& result_quant = op.outputs[0]->type.quant;
  const QuantParams* per_axis = result_quant && result_quant->per_axis() ? &*result_quant : nullptr;
  if (per_axis && (per_axis->axis != axis ||
                   std::any_of(per_axis->zero_points.begin(), per_axis->zero_points.end(),
                               [&](int64_t z) { return z != per_axis->zero_points[0]; })))
    type_error(op, "a per-axis result must be quantized along the requantize's axis with one zero point");
  const QuantParams& q = per_axis ? *per_axis : per_tensor_quant(op, op.outputs[0], "result");
  const Shape& shape = op.inputs[0]->type.shape;
  if (axis < -1 || axis >= static_cast<int64_t>(shape.size())) type_error(op, "axis out of range");
  int64_t channels = axis < 0 ? 1 : shape[axis];
  for (const char* attr : {"shift", "bias_frac", "multiplier"}) check_channel_list(op, attr, channels);
  if (op.has("bias_frac"))
    for (int64_t f : op.get_ints("bias_frac"))
      if (f < 0 || f > 3) type_error(op, "bias_frac classes are 0..3");
  if (op.has("multiplier"))
    for (int64_t m : op.get_ints("multiplier"))
      if (m < (int64_t{1} << 30) || m >= (int64_t{1} << 31)) type_error(op, "Q31 multipliers lie in [2^30, 2^31)");
  if (op.has("divisor")) {
    // An average's count (or its odd part): D · 2^shift stays below 2^93, within 128-bit arithmetic.
    const int64_t d = op.get_int("divisor");
    if (d < 1 || d >= (int64_t{1} << 31) || op.has("multiplier")) type_error(op, "a divisor lies in [1, 2^31), without a multiplier");
    for (int64_t n : op.get_ints("shift"))
      if (d > 1 && n > 62) type_error(op, "with a divisor, shifts are at most 62");
  }
  if (op.inputs.size() == 2) {
    if (in_type(op, 1) != acc) type_error(op, "the bias must have the accumulator type");
    if (op.inputs[1]->type.shape != Shape{channels})
      fail("{}: the bias must have shape [{}]", op.describe(), channels);
  }
  int64_t lo = op.get_int("min"), hi = op.get_int("max");
  if (lo > hi || lo < q.qmin() || hi > q.qmax())
    fail("{}: saturation bounds [{}, {}] must lie within [{}, {}]", op.describe(), lo, hi, q.qmin(), q.qmax());
  check_rounding(op);
}

void check_widen_types(const Op& op) {
  if (is_float(in_type(op, 0))) type_error(op, "widens an integer tensor");
  if (out_type(op) != DType::i32 && out_type(op) != DType::i64) type_error(op, "widens to i32 or i64");
  if (op.get_int("shift") < 0) type_error(op, "shift must be >= 0");
}

// An 8- or 16-bit integer operand indexes a 1-D table of one entry per value of its type, whose
// element type is the result's.
void check_lut_types(const Op& op) {
  const DType x = in_type(op, 0);
  if (is_float(x) || bit_width(x) > 16) type_error(op, "looks up an 8- or 16-bit integer tensor");
  if (!op.inputs[1]->is_constant()) type_error(op, "the table must be a constant");
  const Shape& table = op.inputs[1]->type.shape;
  if (table != Shape{int64_t{1} << bit_width(x)})
    fail("{}: the table must have shape [{}] (one entry per {} value)", op.describe(), int64_t{1} << bit_width(x),
         dtype_name(x));
  if (is_float(out_type(op)) || in_type(op, 1) != out_type(op)) type_error(op, "the table has the result's integer type");
}

void check_quantize_types(const Op& op) {
  check_rounding(op);
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
  conv_attrs.push_back({"x_zero_point", A::int_, false});
  std::vector<OpInfo> r{
      {OpKind::conv, "conv", 2, 3, conv_attrs, nullptr, check_product_types},
      {OpKind::matmul, "matmul", 2, 2, {{"x_zero_point", A::int_, false}}, nullptr, check_product_types},
      {OpKind::batchnorm, "batchnorm", 5, 5, {{"epsilon", A::float_, true}}, nullptr, check_float_types},
      {OpKind::add, "add", 2, 2, {}, nullptr, check_arithmetic_types},
      {OpKind::sub, "sub", 2, 2, {}, nullptr, check_arithmetic_types},
      {OpKind::mul, "mul", 2, 2, {}, nullptr, check_arithmetic_types},
      {OpKind::div, "div", 2, 2, {}, nullptr, check_float_types},
      {OpKind::relu, "relu", 1, 1, {}, nullptr, check_same_types},
      {OpKind::clip, "clip", 1, 1, {{"min", A::float_, false}, {"max", A::float_, false}}, nullptr,
       check_same_types},
      {OpKind::leaky_relu, "leaky_relu", 1, 1, {{"alpha", A::float_, true}}, nullptr, check_float_types},
      {OpKind::elu, "elu", 1, 1, {{"alpha", A::float_, true}}, nullptr, check_float_types},
      {OpKind::sigmoid, "sigmoid", 1, 1, {}, nullptr, check_float_types},
      {OpKind::tanh, "tanh", 1, 1, {}, nullptr, check_float_types},
      {OpKind::erf, "erf", 1, 1, {}, nullptr, check_float_types},
      {OpKind::exp, "exp", 1, 1, {}, nullptr, check_float_types},
      {OpKind::log, "log", 1, 1, {}, nullptr, check_float_types},
      {OpKind::softplus, "softplus", 1, 1, {}, nullptr, check_float_types},
      {OpKind::concat, "concat", 1, -1, {{"axis", A::int_, true}}, nullptr, check_same_types},
      {OpKind::maxpool, "maxpool", 1, 1, pool_attrs({}), nullptr, check_same_types},
      {OpKind::avgpool, "avgpool", 1, 1,
       pool_attrs({{"count_include_pad", A::int_, true}, {"shift", A::int_, false}, {"round", A::string_, false}}),
       nullptr, check_avgpool_types},
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
      {OpKind::slice, "slice", 1, 1, {{"starts", A::ints, true}, {"steps", A::ints, true}, {"shape", A::ints, true}},
       nullptr, check_same_types},
      {OpKind::quantize, "quantize", 1, 1, {{"round", A::string_, true}}, nullptr, check_quantize_types},
      {OpKind::dequantize, "dequantize", 1, 1, {}, nullptr, check_dequantize_types},
      {OpKind::requantize, "requantize", 1, 2,
       {{"shift", A::ints, true},
        {"axis", A::int_, true},
        {"bias_frac", A::ints, false},
        {"multiplier", A::ints, false},
        {"divisor", A::int_, false},
        {"round", A::string_, true},
        {"min", A::int_, true},
        {"max", A::int_, true}},
       nullptr, check_requantize_types},
      {OpKind::widen, "widen", 1, 1, {{"shift", A::int_, true}, {"zero_point", A::int_, true}}, nullptr,
       check_widen_types},
      {OpKind::lut, "lut", 2, 2, {}, nullptr, check_lut_types},
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

bool is_transcendental(OpKind k) {
  return k == OpKind::elu || k == OpKind::sigmoid || k == OpKind::tanh || k == OpKind::erf || k == OpKind::exp ||
         k == OpKind::log || k == OpKind::softplus;
}

bool is_activation_function(OpKind k) { return k == OpKind::leaky_relu || is_transcendental(k); }

std::vector<OpKind> all_op_kinds() {
  std::vector<OpKind> kinds;
  for (const auto& info : registry()) kinds.push_back(info.kind);
  return kinds;
}

}  // namespace qatc::ir
