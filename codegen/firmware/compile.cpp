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
#include <cstdio>
#include <cstring>
#include <fcntl.h>
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
  const bool llvm = std::count(o.emit.begin(), o.emit.end(), "obj") || std::count(o.emit.begin(), o.emit.end(), "asm");
  const KernelPlan plan = plan_kernels(lowered, target, o.layout, llvm ? WeightsFor::llvm : WeightsFor::c);
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

void check_output_directory(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) fail("the output directory name is empty");
  const fs::path target = frontend::normal_absolute(dir);
  std::error_code ec;
  const fs::file_status status = fs::status(target, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) fail("{}: {}", dir.string(), ec.message());
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) fail("{}: exists and is not a directory", dir.string());
  if (!fs::is_empty(target, ec) && !fs::exists(target / kMarker, ec))
    fail("{}: exists and was not written by qatc; refusing to replace it", dir.string());
  if (ec) fail("{}: {}", dir.string(), ec.message());
}

namespace {

// Puts directory `from` at `to` in one step: `to` is never absent, even to a concurrent compile or
// if this one is killed. Afterwards `from` holds what `to` held, if anything. Without renameat2's
// flags (an old kernel, some file systems), two renames, with a moment without `to`.
void replace_directory(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::filesystem::path& dir) {
  // A concurrent compile may create or replace `to` between the attempts: retry, as it never removes it.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EEXIST || errno == ENOTEMPTY) {
      if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) return;
      if (errno == ENOENT) continue;  // removed meanwhile (not by qatc): try creating it again
    }
    if (errno != EINVAL && errno != ENOSYS) fail("{}: cannot write the output directory: {}", dir.string(), std::strerror(errno));
    const std::filesystem::path old = from.string() + ".old";
    if (::rename(to.c_str(), old.c_str()) != 0 && errno != ENOENT)
      fail("{}: cannot write the output directory: {}", dir.string(), std::strerror(errno));
    if (::rename(from.c_str(), to.c_str()) != 0) {
      const int err = errno;
      ::rename(old.c_str(), to.c_str());
      fail("{}: cannot write the output directory: {}", dir.string(), std::strerror(err));
    }
    ::rename(old.c_str(), from.c_str());
    return;
  }
  fail("{}: cannot write the output directory: other processes keep replacing it", dir.string());
}

}  // namespace

void write_directory_atomically(const std::filesystem::path& dir, const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  check_output_directory(dir);
  const fs::path target = frontend::normal_absolute(dir);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) fail("{}: cannot create the directory: {}", target.parent_path().string(), ec.message());
  // What killed compiles into this directory left behind (their process is gone).
  const std::string stem = "." + target.filename().string() + ".qatc-tmp-";
  frontend::remove_leftovers_of_dead_processes(target.parent_path(), stem);
  const fs::path tmp = target.parent_path() / fmt::format("{}{}", stem, getpid());
  fs::remove_all(tmp, ec);
  // Fault injection for the tests: QATC_TEST_KILL_AFTER_FILES=N kills the process (SIGKILL, no
  // cleanup) after N files, the way an interrupted compile stops at a known point; "swap" kills it
  // right after the new directory took the old one's place, before the old one is removed.
  const char* kill_after = std::getenv("QATC_TEST_KILL_AFTER_FILES");
  size_t written = 0;
  try {
    for (const auto& [name, contents] : files) {
      fs::create_directories((tmp / name).parent_path(), ec);
      if (ec) fail("{}: cannot write the output directory: {}", dir.string(), ec.message());
      frontend::write_file_atomically((tmp / name).string(), contents);
      if (kill_after && ++written == std::strtoul(kill_after, nullptr, 10)) std::raise(SIGKILL);
    }
    replace_directory(tmp, target, dir);
    if (kill_after && std::string_view(kill_after) == "swap") std::raise(SIGKILL);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(tmp, ec);  // the old output, if any
}

}  // namespace qatc::codegen
