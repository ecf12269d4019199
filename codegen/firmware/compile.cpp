#include "codegen/firmware/compile.h"

#include "codegen/firmware/memory_plan.h"
#include "codegen/firmware/report.h"
#include "codegen/firmware/sources.h"
#include "codegen/halide/emit.h"
#include "codegen/isolated.h"
#include "codegen/kernel_abi.h"
#include "codegen/kernel_plan.h"
#include "frontend/file_io.h"
#include "ir/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

#include <algorithm>

namespace qatc::codegen {

namespace {

constexpr const char* kMarker = ".qatc-output";

bool emits(const targets::Target& t, const std::string& kind) { return std::find(t.emit.begin(), t.emit.end(), kind) != t.emit.end(); }

std::string read_binary(const std::filesystem::path& p) { return frontend::read_file(p.string()); }

}  // namespace

Firmware compile_firmware(const ir::Graph& lowered, const targets::Target& target, const CompileOptions& o,
                          KernelCache& cache) {
  for (const std::string& kind : o.emit) {
    const std::string needs = kind == "obj" ? "object" : kind;
    if (!emits(target, needs))
      fail("--emit {}: target '{}' takes only {} (assembly and objects come from Halide's LLVM backend, for the host)",
           kind, target.name, fmt::join(target.emit, ", "));
  }
  const KernelPlan plan = plan_kernels(lowered, target);
  const MemoryPlan memory = plan_memory(plan);
  const FirmwareNames names = firmware_names(o.name, o.source);

  Firmware fw;
  std::vector<std::string> kernel_sources, host_kernels;
  const std::vector<const KernelSpec*> kernels = distinct_kernels(plan);
  for (size_t i = 0; i < kernels.size(); ++i) {
    const KernelSpec* k = kernels[i];
    if (o.on_kernel) o.on_kernel(i, kernels.size(), k->name());
    const std::string base = "kernels/" + k->name();
    kernel_sources.push_back(base + ".cpp");
    // Each artifact generated in a child process of its own (codegen/isolated.h).
    fw.files[base + ".cpp"] = cache.get(*k, "cpp", [&] { return run_isolated([&] { return emit_kernel_cpp(*k); }); });
    if (std::count(o.emit.begin(), o.emit.end(), "asm"))
      fw.files[base + ".s"] = cache.get(*k, "s", [&] { return run_isolated([&] { return emit_kernel_assembly(*k); }); });
    if (std::count(o.emit.begin(), o.emit.end(), "obj")) {
      host_kernels.push_back(base);
      fw.files[base + ".host.cpp"] = kernel_object_wrapper(*k);
      fw.files[base + ".o"] = cache.get(*k, "o", [&] {
        return run_isolated([&] {
          const std::filesystem::path tmp = std::filesystem::temp_directory_path() / fmt::format("qatc-{}-{}.o", getpid(), k->name());
          emit_kernel_object(*k, tmp);
          std::string bytes = read_binary(tmp);
          std::filesystem::remove(tmp);
          return bytes;
        });
      });
    }
  }
  fw.files[names.model + ".h"] = model_header(names, plan, memory);
  fw.files[names.model + ".c"] = model_source(names, plan, memory);
  fw.files[names.model + "_weights.c"] = weights_source(names, plan);
  fw.files["kernels/" + names.model + "_kernels.h"] = kernels_header(names, plan);
  std::vector<std::string> c_sources{names.model + ".c", names.model + "_weights.c"};
  if (o.sample) {
    c_sources.push_back(names.model + "_sample.c");
    fw.files[names.model + "_sample.h"] = sample_header(names, plan);
    fw.files[names.model + "_sample.c"] = sample_source(names, plan, *o.sample, o.sample_source);
  }
  fw.files["CMakeLists.txt"] = cmake_lists(names, c_sources, kernel_sources);
  fw.files[names.model + ".mk"] = makefile_fragment(names, c_sources, kernel_sources, host_kernels);
  fw.files["report.json"] = report_json({names.model, o.source, &target, static_cast<int>(kernels.size())}, plan, memory);
  fw.files[kMarker] = "This directory was written by qatc compile; qatc may replace it.\n";
  fw.name = names.model;
  for (const ir::Value* v : plan.inputs) {
    fw.inputs.push_back(v->name);
    fw.input_types.push_back({v->type.dtype, v->type.shape});
  }
  for (const ir::Value* v : plan.outputs) {
    fw.outputs.push_back(v->name);
    fw.output_types.push_back({v->type.dtype, v->type.shape});
  }
  fw.scratch_bytes = memory.arena_bytes;
  fw.peak_live_bytes = memory.peak_live_bytes;
  fw.steps = static_cast<int64_t>(plan.steps.size());
  fw.kernels = static_cast<int>(kernels.size());
  return fw;
}

void write_directory_atomically(const std::filesystem::path& dir, const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::absolute(dir);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) fail("{}: exists and is not a directory", dir.string());
    if (!fs::is_empty(target, ec) && !fs::exists(target / kMarker, ec))
      fail("{}: exists and was not written by qatc; refusing to replace it", dir.string());
  }
  fs::create_directories(target.parent_path(), ec);
  const std::string stem = "." + target.filename().string() + ".qatc-";
  const fs::path tmp = target.parent_path() / fmt::format("{}tmp-{}", stem, getpid());
  const fs::path old = target.parent_path() / fmt::format("{}old-{}", stem, getpid());
  // What killed compiles into this directory left behind (their process is gone).
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(stem, 0) != 0 || name.size() < stem.size() + 5) continue;
    const long pid = std::strtol(name.c_str() + stem.size() + 4, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  fs::remove_all(tmp, ec);
  // Fault injection for the tests: QATC_TEST_KILL_AFTER_FILES=N kills the process (SIGKILL, no
  // cleanup) after N files, the way an interrupted compile stops at a known point.
  const char* kill_after = std::getenv("QATC_TEST_KILL_AFTER_FILES");
  size_t written = 0;
  try {
    for (const auto& [name, contents] : files) {
      fs::create_directories((tmp / name).parent_path());
      frontend::write_file_atomically((tmp / name).string(), contents);
      if (kill_after && ++written == std::strtoul(kill_after, nullptr, 10)) std::raise(SIGKILL);
    }
    if (fs::exists(target)) fs::rename(target, old);
    fs::rename(tmp, target);
  } catch (...) {
    fs::remove_all(tmp, ec);
    if (!fs::exists(target, ec) && fs::exists(old, ec)) fs::rename(old, target, ec);
    try {
      throw;
    } catch (const fs::filesystem_error& e) {
      fail("{}: cannot write the output directory: {}", dir.string(), e.code().message());
    }
  }
  fs::remove_all(old, ec);
}

}  // namespace qatc::codegen
