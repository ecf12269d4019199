// Kernel code from a KernelSpec through Halide: the one interface the rest of qatc has to Halide.
#pragma once

#include "codegen/kernel_spec.h"

#include <filesystem>
#include <string>
#include <vector>

namespace qatc::codegen {

// C++ source of the kernel for any target (Halide's C backend), with the firmware entry point
// (kernel_abi.h) appended. Deterministic: the same spec gives the same bytes.
std::string emit_kernel_cpp(const KernelSpec& s);
// Host-only artifacts through Halide's LLVM backend, for this machine's CPU and its features only
// (codegen/halide/host_code.h): the dense 8-bit conv uses vpdpbusd wherever the CPU has AVX-512 VNNI.
std::string emit_kernel_assembly(const KernelSpec& s);
void emit_kernel_object(const KernelSpec& s, const std::filesystem::path& file);
// Runs the kernel through Halide's JIT on this machine (with its bounds assertions on): the unit
// tests' way to check each pipeline definition against its sim/int twin over many shapes and
// schedules. `args` are the spec's inputs in call order. `c_schedule`: the schedule the C backend
// gets (JIT-compiled all the same). The result has the spec's shape, which may be a view of the
// tensor's (a pointwise conv's flattened planes).
ir::TensorData realize_kernel(const KernelSpec& s, const std::vector<const ir::TensorData*>& args, bool c_schedule = false);
// "Halide 14.0.0", recorded in kernel cache keys and reports.
std::string halide_version();
// The CPU and features host artifacts are generated for, recorded in their kernel cache keys.
const std::string& host_code_signature();

}  // namespace qatc::codegen
