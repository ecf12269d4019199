// How firmware calls a kernel: a plain C function taking one pointer per argument (inputs const,
// result last) that wraps the Halide-generated function (<name>_impl, which takes halide_buffer_t)
// in buffers of the spec's constant shapes. Text only; no Halide needed.
#pragma once

#include "codegen/kernel_spec.h"

#include <string>

namespace qatc::codegen {

std::string_view c_type(ir::DType t);  // "int8_t", ...
// "int conv_...(const int8_t *a0, const int8_t *a1, const int32_t *a2, uint8_t *out)"
std::string kernel_prototype(const KernelSpec& s);
// The C++ definition of that function, appended to the Halide output (which defines the buffer types).
std::string kernel_wrapper(const KernelSpec& s);
// A whole C++ file with that function for the host object instead (--emit obj): the object holds
// only <name>_impl, so the wrapper comes with the buffer types it needs.
std::string kernel_object_wrapper(const KernelSpec& s);

}  // namespace qatc::codegen
