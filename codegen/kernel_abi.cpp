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
    const std::vector<int64_t> strides = a.strides();
    for (size_t d = 0; d < a.shape.size(); ++d) {
      const size_t axis = a.shape.size() - 1 - d;
      dims += fmt::format("{}halide_dimension_t(0, {}, {})", d ? ", " : "", a.shape[axis], strides[axis]);
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

std::string kernel_object_wrapper(const KernelSpec& s) {
  std::string impl_params;
  for (size_t i = 0; i < s.args.size(); ++i) impl_params += i ? ", halide_buffer_t *" : "halide_buffer_t *";
  return fmt::format(
      "// {0}'s entry point for the host object {0}.o (Halide's LLVM backend), which defines {0}_impl.\n"
      "// The buffer types are Halide 14's (HalideRuntime.h), declared here with the same layout so\n"
      "// that this file builds without Halide.\n"
      "#include <stdint.h>\n\n"
      "typedef enum halide_type_code_t : uint8_t {{ halide_type_int = 0, halide_type_uint = 1, halide_type_float = 2 }} halide_type_code_t;\n"
      "struct halide_type_t {{\n"
      "  halide_type_code_t code;\n  uint8_t bits;\n  uint16_t lanes;\n"
      "  halide_type_t(halide_type_code_t c, uint8_t b, uint16_t l = 1) : code(c), bits(b), lanes(l) {{}}\n"
      "  halide_type_t() : code(halide_type_int), bits(0), lanes(0) {{}}\n}};\n"
      "struct halide_dimension_t {{\n"
      "  int32_t min = 0, extent = 0, stride = 0;\n  uint32_t flags = 0;\n"
      "  halide_dimension_t(int32_t m, int32_t e, int32_t st) : min(m), extent(e), stride(st) {{}}\n}};\n"
      "struct halide_buffer_t {{\n"
      "  uint64_t device;\n  const void *device_interface;\n  uint8_t *host;\n  uint64_t flags;\n"
      "  halide_type_t type;\n  int32_t dimensions;\n  halide_dimension_t *dim;\n  void *padding;\n}};\n"
      "static_assert(sizeof(halide_type_t) == 4 && sizeof(halide_dimension_t) == 16, \"Halide 14's layout\");\n\n"
      "extern \"C\" int {0}_impl({1});\n{2}",
      s.name(), impl_params, kernel_wrapper(s));
}

}  // namespace qatc::codegen
