// Compiling a model to firmware (qatc compile) and building and running that firmware on the host
// (qatc verify --engine c).
#pragma once

#include "codegen/firmware/compile.h"
#include "driver/commands.h"

#include <filesystem>
#include <string>
#include <vector>

namespace qatc::driver {

struct CompileCommandOptions {
  ModelOptions model;
  std::string target = "host";
  std::string targets_dir;
  std::string output;
  std::string name;  // default: the output directory's name
  std::vector<std::string> emit{"c"};
  std::string layout;  // of the tensors between kernels: "planar", "nhwc", or "" for the target's
  std::string sample;  // a data directory: its first data set becomes <name>_sample.c
  std::string kernel_cache;
  bool no_kernel_cache = false;
  bool allow_non_pot = false;
  bool quiet = false;  // no progress bar (compile: no summary either)
};

// The model and --target, --targets-dir, --layout, --kernel-cache, --no-kernel-cache, --allow-non-pot:
// what compile and verify --engine c share.
void add_compile_options(CLI::App& cmd, CompileCommandOptions& o);
// compile's own: --name, --emit, --sample.
void add_output_options(CLI::App& cmd, CompileCommandOptions& o);

struct BuiltFirmware {
  codegen::Firmware firmware;
  int cache_hits = 0;
};

// Imports, lowers and compiles; writes the files to o.output atomically.
BuiltFirmware compile_model(const CompileCommandOptions& o);

// A host executable running the firmware in `dir` (built with its Makefile fragment by $CC/$CXX
// and `cflags`): `runner IN0.bin ... OUT0.bin ...` reads raw quantized inputs, writes raw outputs.
std::filesystem::path build_host_runner(const std::filesystem::path& dir, const codegen::Firmware& fw,
                                        const std::filesystem::path& build_dir, const std::string& cflags);

}  // namespace qatc::driver
