// The firmware's C files, as text: the API header, the glue that calls the kernels in order over
// the static memory plan, the const weights, and the build files (CMake and a Makefile fragment).
#pragma once

#include "codegen/firmware/memory_plan.h"
#include "codegen/kernel_plan.h"

#include <map>
#include <string>

namespace qatc::codegen {

struct FirmwareNames {
  std::string model;   // C identifier prefix: resnet_tiny_run, resnet_tiny_c0, ...
  std::string macro;   // RESNET_TINY
  std::string source;  // where the model came from, for the file banners
};
FirmwareNames firmware_names(const std::string& model, const std::string& source);
// "<model>_input0_t": the C type of input or output i (`kind`: "input" or "output").
std::string io_type(const FirmwareNames& n, const char* kind, size_t i);

// The kernels the plan calls, each once, in first-use order.
std::vector<const KernelSpec*> distinct_kernels(const KernelPlan& plan);

std::string model_header(const FirmwareNames& n, const KernelPlan& plan, const MemoryPlan& memory);
std::string model_source(const FirmwareNames& n, const KernelPlan& plan, const MemoryPlan& memory);
std::string weights_source(const FirmwareNames& n, const KernelPlan& plan);
std::string kernels_header(const FirmwareNames& n, const KernelPlan& plan);
// <model>_sample.h and .c: the quantized inputs of one data set and the outputs the integer
// simulator computed from them, as const arrays <model>_sample_input0, ..._output0, ...
std::string sample_header(const FirmwareNames& n, const KernelPlan& plan);
std::string sample_source(const FirmwareNames& n, const KernelPlan& plan,
                          const std::map<std::string, ir::TensorData>& values, const std::string& data_set);
// CMakeLists.txt and <model>.mk over the given kernel source files (relative to the output directory).
// `c_sources`: the firmware's C files (glue, weights, sample); `kernel_sources`: the kernels' C++.
std::string cmake_lists(const FirmwareNames& n, const std::vector<std::string>& c_sources,
                        const std::vector<std::string>& kernel_sources);
// `host_kernels` (kernels/<name>, with --emit obj) adds <MODEL>_HOST_LIB, built from their host
// objects instead of their C++.
std::string makefile_fragment(const FirmwareNames& n, const std::vector<std::string>& c_sources,
                              const std::vector<std::string>& kernel_sources, const std::vector<std::string>& host_kernels);

}  // namespace qatc::codegen
