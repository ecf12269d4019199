#include "driver/firmware_build.h"

#include "codegen/firmware/sources.h"
#include "codegen/kernel_abi.h"
#include "driver/data_sets.h"
#include "driver/log.h"
#include "driver/progress.h"
#include "sim/int/simulator.h"
#include "frontend/file_io.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "targets/target.h"

#include <fmt/format.h>

#include <cstdlib>

namespace qatc::driver {

namespace fs = std::filesystem;

void add_compile_options(CLI::App& cmd, CompileCommandOptions& o) {
  add_model_options(cmd, o.model);
  add_target_options(cmd, o.target, o.targets_dir);
  cmd.add_option("--layout", o.layout,
                 "Activation layout between kernels: planar (ONNX's channel planes) or nhwc (channels last); "
                 "default: the target's. The model's inputs and outputs stay planar")
      ->check(CLI::IsMember({"planar", "nhwc"}));
  cmd.add_option("--kernel-cache", o.kernel_cache, "Kernel cache directory (default: $QATC_KERNEL_CACHE or ~/.cache/qatc/kernels)");
  cmd.add_flag("--no-kernel-cache", o.no_kernel_cache, "Generate every kernel with Halide, reading and writing no cache");
  cmd.add_flag("--allow-non-pot", o.allow_non_pot, "Lower non-power-of-two scales with Q31 multipliers");
}

void add_output_options(CLI::App& cmd, CompileCommandOptions& o) {
  cmd.add_option("--name", o.name, "C name of the model (<name>_run, <name>.h); default: the output directory's name");
  cmd.add_option("--emit", o.emit, "What to emit besides C: asm, obj (host target only); c is always emitted")
      ->delimiter(',')
      ->check(CLI::IsMember({"c", "asm", "obj"}));
  cmd.add_option("--sample", o.sample,
                 "Data directory (test_data_set_N/input_K.pb): embed its first data set and the outputs the integer "
                 "simulator computes from it as <name>_sample.c, a self-test for the target");
}

BuiltFirmware compile_model(const CompileCommandOptions& o) {
  const std::vector<targets::Target> all = targets::load_targets(o.targets_dir);
  const targets::Target& target = targets::find_target(all, o.target);
  codegen::check_output_directory(o.output);
  frontend::ImportedModel model = import_model(o.model);
  // Listed before lowering: what the inputs take is the QAT graph's (data_sets.h).
  std::optional<DataSets> samples;
  if (!o.sample.empty()) samples.emplace(o.sample, model.graph);
  lower_model(model.graph, o.allow_non_pot);
  codegen::CompileOptions options;
  options.name = o.name.empty() ? frontend::normal_absolute(o.output).filename().string() : o.name;
  options.source = fs::path(o.model.model).filename().string();
  options.emit = o.emit;
  options.layout = codegen::parse_layout(o.layout.empty() ? target.activation_layout : o.layout);
  options.emit.erase(std::remove(options.emit.begin(), options.emit.end(), "c"), options.emit.end());
  std::map<std::string, ir::TensorData> sample;
  if (samples) {
    const DataSet first = samples->read(0);
    for (size_t i = 0; i < first.inputs.size(); ++i) sample[model.graph.inputs()[i]->name] = first.inputs[i];
    sim::simulate_integer(model.graph, first.inputs,
                          [&](const ir::Op& op, const ir::TensorData& d) { sample[op.outputs[0]->name] = d; });
    options.sample = &sample;
    options.sample_source = fs::path(first.dir).filename().string();
  }
  codegen::KernelCache cache(o.no_kernel_cache ? fs::path()
                             : o.kernel_cache.empty() ? codegen::KernelCache::default_dir()
                                                      : fs::path(o.kernel_cache));
  ProgressBar progress("kernels", !o.quiet);
  options.on_kernel = [&](size_t done, size_t total, const std::string& kernel) {
    progress.update(done, total, kernel);
    note("kernel {}/{}: {}", done + 1, total, kernel);
  };
  Stopwatch clock;
  BuiltFirmware built{codegen::compile_firmware(model.graph, target, options, cache), cache.hits()};
  note("generated {} files for target {} in {:.0f} ms; kernel cache {}: {} hits, {} misses", built.firmware.files.size(),
       target.name, clock.ms(), cache.dir().empty() ? "off" : cache.dir().string(), cache.hits(), cache.misses());
  codegen::write_directory_atomically(o.output, built.firmware.files);
  return built;
}

namespace {

std::string runner_source(const codegen::Firmware& fw) {
  const std::string macro = codegen::firmware_names(fw.name, "").macro;
  std::string decl, read, call, write, release;
  auto tensor = [&](const char* kind, size_t i, const codegen::ArgSpec& a, int arg) {
    const std::string v = fmt::format("{}{}", kind[0] == 'I' ? "in" : "out", i);
    const std::string count = fmt::format("{}_{}{}_ELEMENTS", macro, kind, i);
    decl += fmt::format("  {0} *{1} = ({0} *)calloc({2} + 1, sizeof({0}));\n", codegen::c_type(a.dtype), v, count);
    if (kind[0] == 'I') read += fmt::format("  if (!transfer(argv[{}], {}, sizeof(*{}) * {}, 0)) return 2;\n", arg, v, v, count);
    else write += fmt::format("  if (!transfer(argv[{}], {}, sizeof(*{}) * {}, 1)) return 2;\n", arg, v, v, count);
    call += v + ", ";
    release += fmt::format("  free({});\n", v);
  };
  int arg = 1;
  for (size_t i = 0; i < fw.input_types.size(); ++i) tensor("INPUT", i, fw.input_types[i], arg++);
  for (size_t i = 0; i < fw.output_types.size(); ++i) tensor("OUTPUT", i, fw.output_types[i], arg++);
  return fmt::format(R"(/* Host test runner for {0}: raw quantized inputs in, raw outputs out. Written by qatc verify. */
#include "{0}.h"

#include <stdio.h>
#include <stdlib.h>

static int transfer(const char *path, void *data, size_t bytes, int out) {{
  FILE *f = fopen(path, out ? "wb" : "rb");
  size_t done = 0;
  if (f) {{
    done = out ? fwrite(data, 1, bytes, f) : fread(data, 1, bytes, f);
    if (fclose(f) != 0) done = 0;
  }}
  if (done != bytes) fprintf(stderr, "runner: %s: cannot %s %zu bytes\n", path, out ? "write" : "read", bytes);
  return done == bytes;
}}

int main(int argc, char **argv) {{
  if (argc != {1}) {{
    fprintf(stderr, "usage: runner INPUT.bin... OUTPUT.bin...\n");
    return 2;
  }}
  /* Exactly the bytes the model needs, so AddressSanitizer sees any access beyond them. */
  size_t scratch_bytes = ({2}_SCRATCH_BYTES + {2}_SCRATCH_ALIGN - 1) / {2}_SCRATCH_ALIGN * {2}_SCRATCH_ALIGN;
  void *scratch = scratch_bytes ? aligned_alloc({2}_SCRATCH_ALIGN, scratch_bytes) : NULL;
{3}{4}  int status = {0}_run({5}scratch);
  if (status != 0) {{
    fprintf(stderr, "runner: {0}_run returned %d\n", status);
    return 1;
  }}
{6}{7}  free(scratch);
  return 0;
}}
)",
                     fw.name, arg, macro, decl, read, call, write, release);
}

}  // namespace

fs::path build_host_runner(const fs::path& dir, const codegen::Firmware& fw, const fs::path& build_dir,
                           const std::string& cflags) {
  std::error_code ec;
  fs::create_directories(build_dir, ec);
  if (ec) fail("{}: cannot create the directory: {}", build_dir.string(), ec.message());
  const std::string macro = codegen::firmware_names(fw.name, "").macro;
  frontend::write_file_atomically((build_dir / "runner.c").string(), runner_source(fw));
  const char* cc = std::getenv("CC");
  const char* cxx = std::getenv("CXX");
  frontend::write_file_atomically(
      (build_dir / "Makefile").string(),
      fmt::format("# Builds the firmware with its own Makefile fragment, and the runner. Written by qatc verify.\n"
                  "CC := {0}\nCXX := {1}\nCFLAGS := {2}\nCXXFLAGS := {2}\n{3}_BUILD := {4}/obj\ninclude {5}/{6}.mk\n\n"
                  "{4}/runner: {4}/runner.c $({3}_LIB)\n\t$(CXX) $(CFLAGS) -x c -std=c11 -I$({3}_DIR) $< -x none $({3}_LIB) -o $@\n",
                  cc && *cc ? cc : "cc", cxx && *cxx ? cxx : "c++", cflags, macro, build_dir.string(), frontend::normal_absolute(dir).string(),
                  fw.name));
  const fs::path log = build_dir / "build.log";
  const std::string command = fmt::format("make -s -j2 -f '{0}/Makefile' '{0}/runner' > '{1}' 2>&1", build_dir.string(), log.string());
  note("building the generated code: {}", command);
  if (std::system(command.c_str()) != 0)
    fail("building the generated firmware in {} failed; the compiler's messages are in {}", build_dir.string(), log.string());
  return build_dir / "runner";
}

}  // namespace qatc::driver
