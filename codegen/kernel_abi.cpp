#include "codegen/kernel_abi.h"

#include <fmt/format.h>

namespace qatc::codegen {

std::string_view c_type(ir::DType t) {
  switch (t) {
    case ir::DType::i8: return "int8_t";
    case ir::DType::u8: return "uint8_t";
    case ir::DType::i16: return "int16_t";
    case ir::DType::u16: return "uint16_t";
    case ir::DType::i32: return "int32_t";
    case ir::DType::i64: return "int64_t";
    case ir::DType::f32: return "float";
    case ir::DType::f64: return "double";
  }
  __builtin_unreachable();
}

namespace {

std::string param_name(const KernelSpec& s, size_t i) { return i + 1 == s.args.size() ? "out" : fmt::format("a{}", i); }

}  // namespace

std::string kernel_prototype(const KernelSpec& s) {
  std::string params;
  for (size_t i = 0; i < s.args.size(); ++i) {
    const bool result = i + 1 == s.args.size();
    params += fmt::format("{}{}{} *{}", i ? ", " : "", result ? "" : "const ", c_type(s.args[i].dtype), param_name(s, i));
  }
  return fmt::format("int {}({})", s.name(), params);
}

std::string kernel_wrapper(const KernelSpec& s) {
  std::string body, calls;
  for (size_t i = 0; i < s.args.size(); ++i) {
    const ArgSpec& a = s.args[i];
    const std::string p = param_name(s, i);
    std::string dims;
    int64_t stride = 1;
    for (size_t d = 0; d < a.shape.size(); ++d) {
      const int64_t extent = a.shape[a.shape.size() - 1 - d];
      dims += fmt::format("{}halide_dimension_t(0, {}, {})", d ? ", " : "", extent, stride);
      stride *= extent;
    }
    const char* code = ir::is_float(a.dtype) ? "halide_type_float" : ir::is_signed(a.dtype) ? "halide_type_int" : "halide_type_uint";
    if (!a.shape.empty()) body += fmt::format("  halide_dimension_t {}_dim[{}] = {{{}}};\n", p, a.shape.size(), dims);
    body += fmt::format("  halide_buffer_t {}_buf = {{}};\n", p);
    body += fmt::format("  {}_buf.host = (uint8_t *){};\n", p, p);
    body += fmt::format("  {}_buf.type = halide_type_t({}, {});\n", p, code, ir::bit_width(a.dtype));
    body += fmt::format("  {}_buf.dimensions = {};\n", p, a.shape.size());
    body += fmt::format("  {}_buf.dim = {};\n", p, a.shape.empty() ? "nullptr" : p + "_dim");
    calls += fmt::format("{}&{}_buf", i ? ", " : "", p);
  }
  return fmt::format("\n// The firmware's entry point: plain pointers, the constant shapes filled in here.\n"
                     "extern \"C\" {} {{\n{}  return {}_impl({});\n}}\n",
                     kernel_prototype(s), body, s.name(), calls);
}

}  // namespace qatc::codegen
