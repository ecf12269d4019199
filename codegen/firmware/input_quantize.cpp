#include "codegen/firmware/input_quantize.h"

#include "ir/quant.h"

#include <fmt/format.h>

namespace qatc::codegen {

namespace {

std::string function_name(const FirmwareNames& n, size_t i) { return fmt::format("{}_quantize_input{}", n.model, i); }

// When a value exactly halfway between two integers rounds up (f is the floor, v > 0 its sign).
// Everything else rounds to nearest; `floor` never rounds up.
std::string ties_up(const std::string& rule) {
  if (rule == "half_even") return "(f & 1) != 0";
  if (rule == "half_up") return "1";
  if (rule == "half_away") return "v > 0";
  return "";
}

}  // namespace

bool has_input_quantize(const KernelPlan& plan, size_t i) {
  const ir::Value* x = plan.float_inputs[i];
  const auto& q = plan.inputs[i]->type.quant;
  return x && x->type.dtype == ir::DType::f32 && q && !q->per_axis() && q->pot_exponent(0) &&
         (plan.input_rounding[i] == "floor" || !ties_up(plan.input_rounding[i]).empty());
}

std::string input_quantize_declarations(const FirmwareNames& n, const KernelPlan& plan) {
  std::string s;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    if (!has_input_quantize(plan, i)) continue;
    const ir::QuantParams& q = *plan.inputs[i]->type.quant;
    s += fmt::format(
        "/* Quantizes float input {0} as the model's quantizer does, bit for bit: q = round(x / {1}) + {2} by\n"
        "   the model's rule ({3}), saturated to [{4}, {5}]. Returns 0, or -1 if an element is NaN (its q is the\n"
        "   zero point). Needs no libm. */\n#define {6}_HAS_QUANTIZE_INPUT{0} 1\n"
        "int {7}(const float *x, {8} *q);\n\n",
        i, ir::scale_text(q.scales[0]), q.zero_points[0], plan.input_rounding[i], q.qmin(), q.qmax(), n.macro,
        function_name(n, i), io_type(n, "input", i));
  }
  return s;
}

std::string input_quantize_definitions(const FirmwareNames& n, const KernelPlan& plan) {
  std::string s;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    if (!has_input_quantize(plan, i)) continue;
    const ir::QuantParams& q = *plan.inputs[i]->type.quant;
    const int64_t zp = q.zero_points[0];
    const std::string rule = ties_up(plan.input_rounding[i]);
    // v = x / 2^k is exact in double (a float times a power of two). Clamping v to one step beyond
    // the range first (which also takes infinities) keeps every later step exact in a long.
    s += fmt::format(
        "\nint {0}(const float *x, {1} *q) {{\n"
        "  size_t i;\n  int status = 0;\n"
        "  for (i = 0; i < {3}_INPUT{2}_ELEMENTS; ++i) {{\n"
        "    double v = (double)x[i] * {4};  /* x / 2^{5}, exact */\n"
        "    long f, r;\n"
        "    if (v != v) {{\n      q[i] = {6};\n      status = -1;\n      continue;\n    }}\n"
        "    if (v < {7}.0) v = {7}.0;\n    if (v > {8}.0) v = {8}.0;\n"
        "    f = (long)v;\n    if ((double)f > v) --f;  /* floor */\n"
        "{9}"
        "    r = f + {6};\n"
        "    q[i] = r < {10} ? {10} : r > {11} ? {11} : r;\n"
        "  }}\n  return status;\n}}\n",
        function_name(n, i), io_type(n, "input", i), i, n.macro, fmt::format("0x1p{:+}", -*q.pot_exponent(0)), *q.pot_exponent(0), zp,
        q.qmin() - zp - 1, q.qmax() - zp + 1,
        rule.empty() ? std::string()
                     : fmt::format("    if (v - (double)f > 0.5 || (v - (double)f == 0.5 && ({}))) ++f;  /* {} */\n",
                                   rule, plan.input_rounding[i]),
        q.qmin(), q.qmax());
  }
  return s;
}

}  // namespace qatc::codegen
