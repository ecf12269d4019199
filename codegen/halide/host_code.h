// Host objects and assembly for exactly this CPU. Halide 14 names one LLVM CPU per x86 feature
// level, and the only level with the int8 dot product (vpdpbusd, AVX-512 VNNI) is
// "sapphirerapids", which also enables AVX512-FP16, AMX and AVX-VNNI: AMD's Zen 4/5 and older
// Intel CPUs have VNNI but lack some of those. So Halide lowers a kernel at that level (its
// dot-product patterns need it) and qatc retargets the LLVM module to this CPU's own features, as
// LLVM detects them, before generating machine code: every instruction in a host object is one
// this CPU runs, on Intel and AMD alike.
#pragma once

#include <filesystem>
#include <string>

namespace Halide {
class Module;
struct Target;
}  // namespace Halide

namespace qatc::codegen::hl {

// The Halide target to lower host kernels for: this CPU's, at the Sapphire Rapids level when it has
// AVX-512 VNNI (Halide emits vpdpbusd only there).
Halide::Target host_lowering_target();
// The LLVM CPU and features host code is generated for ("x86-64 +avx2,+avx512vnni,-avx512fp16,...");
// recorded in kernel cache keys, so that a cache never serves one CPU's objects to another.
const std::string& host_code_signature();
// Writes `module`'s machine code for this CPU to `file`: an object, or assembly text.
enum class HostOutput { object, assembly };
void emit_host_code(const Halide::Module& module, const std::filesystem::path& file, HostOutput output);

}  // namespace qatc::codegen::hl
