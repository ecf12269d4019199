// qatc compile: ONNX -> lowered integer graph -> firmware C, Halide kernels and a report, for one
// target, written atomically to the output directory.
#include "driver/commands.h"
#include "driver/firmware_build.h"

#include <fmt/format.h>

#include <iostream>

namespace qatc::driver {

namespace {

int compile(const CompileCommandOptions& o) {
  const BuiltFirmware fw = compile_model(o);
  if (o.quiet) return 0;
  std::cout << fmt::format("{}: {} steps, {} distinct kernels ({} from the kernel cache) for target '{}'\n",
                           o.model.model, fw.firmware.steps, fw.firmware.kernels, fw.cache_hits, o.target);
  std::cout << fmt::format("scratch {} bytes (peak of live tensors {} bytes); wrote {} files to {}\n",
                           fw.firmware.scratch_bytes, fw.firmware.peak_live_bytes, fw.firmware.files.size(), o.output);
  return 0;
}

}  // namespace

void register_compile(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompileCommandOptions>();
  CLI::App* cmd = app.add_subcommand("compile", "Compile a QAT model to firmware C and Halide kernels for a target");
  cmd->footer(
      "Writes OUT/<name>.h (the C API), <name>.c (glue over a static memory plan), <name>_weights.c,\n"
      "kernels/*.cpp (Halide's C backend), CMakeLists.txt, <name>.mk and report.json. Same input, same\n"
      "bytes. A failed compile leaves OUT as it was. On a terminal, stderr shows the kernels' progress.\nExample:\n  qatc compile model.onnx --target c7x-mma -o out/model");
  add_compile_options(*cmd, *o);
  add_output_options(*cmd, *o);
  cmd->add_option("-o,--output", o->output, "Output directory")->required();
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors (no summary, no progress bar)");
  cmd->callback([&action, o] { action = [o] { return compile(*o); }; });
}

}  // namespace qatc::driver
