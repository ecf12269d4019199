// qatc compile's back end: lowered integer graph -> the firmware directory's files.
#pragma once

#include "codegen/kernel_cache.h"
#include "codegen/kernel_spec.h"
#include "ir/graph.h"
#include "targets/target.h"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qatc::codegen {

struct CompileOptions {
  std::string name;                 // C prefix of the API (<name>_run) and file names
  std::string source;               // the model file, named in banners and the report
  std::vector<std::string> emit{"c"};  // also "asm" and "obj": host-only, through Halide's LLVM backend
  Layout layout = Layout::planar;  // of the tensors between kernels (activation_layout.h)
  // Every tensor of one integer-simulator run by name (optional): its inputs and outputs become
  // <name>_sample.c/.h, a data set the firmware can check itself against on the target.
  const std::map<std::string, ir::TensorData>* sample = nullptr;
  std::string sample_source;  // the data set's directory, for the comment
  // Called before each distinct kernel is generated (or read from the cache): for a progress bar.
  std::function<void(size_t done, size_t total, const std::string& kernel)> on_kernel;
};

struct Firmware {
  std::map<std::string, std::string> files;  // path relative to the output directory -> contents
  std::string name;                            // the C prefix actually used
  std::vector<std::string> inputs, outputs;    // the graph values the API reads and writes
  std::vector<ArgSpec> input_types, output_types;
  int64_t scratch_bytes = 0, peak_live_bytes = 0, steps = 0;
  int kernels = 0;
};

// Throws Error for anything unsupported (naming the op) or an emit kind the target cannot take.
Firmware compile_firmware(const ir::Graph& lowered, const targets::Target& target, const CompileOptions& options,
                          KernelCache& cache);

// Fails unless write_directory_atomically may replace `dir`: absent, empty or written by qatc (it
// holds the marker file). Commands check before the work.
void check_output_directory(const std::filesystem::path& dir);
// Writes `files` as directory `dir`, all or nothing: into a sibling temporary directory first,
// which then takes `dir`'s place in one atomic exchange, so `dir` is never absent. An existing
// `dir` is replaced only if check_output_directory allows it; otherwise Error.
void write_directory_atomically(const std::filesystem::path& dir, const std::map<std::string, std::string>& files);

}  // namespace qatc::codegen
