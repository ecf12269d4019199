// <name>_quantize_input<K>(): the firmware's own quantization of a float input, exactly as the
// model's input quantizer rounds (power-of-two scales only: there x / scale is exact in double).
#pragma once

#include "codegen/firmware/sources.h"

#include <string>

namespace qatc::codegen {

// Whether input `i` gets a quantize function: a float input with a per-tensor power-of-two scale.
bool has_input_quantize(const KernelPlan& plan, size_t i);
// The header's declarations (and their HAS_ macros), and N.c's definitions.
std::string input_quantize_declarations(const FirmwareNames& n, const KernelPlan& plan);
std::string input_quantize_definitions(const FirmwareNames& n, const KernelPlan& plan);

}  // namespace qatc::codegen
