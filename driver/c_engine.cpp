#include "driver/c_engine.h"

#include "driver/log.h"
#include "frontend/file_io.h"
#include "ir/error.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace qatc::driver {

namespace fs = std::filesystem;

CEngine::CEngine(CEngineOptions o) : o_(std::move(o)) {
  std::error_code ec;
  if (o_.work_dir.empty()) {
    const fs::path tmp = fs::temp_directory_path(ec);
    std::string tmpl = (tmp / "qatc-verify-XXXXXX").string();
    if (ec || !mkdtemp(tmpl.data()))
      fail("cannot create a temporary directory in {} ($TMPDIR): {}", tmp.string(), ec ? ec.message() : std::strerror(errno));
    dir_ = tmpl;
    temporary_ = true;
  } else {
    dir_ = frontend::normal_absolute(o_.work_dir);
    fs::create_directories(dir_, ec);
    if (ec) fail("--work-dir {}: cannot create the directory: {}", o_.work_dir, ec.message());
  }
  try {
    o_.compile.output = (dir_ / "firmware").string();
    if (o_.compile.name.empty()) o_.compile.name = "model";
    built_ = compile_model(o_.compile);
  } catch (...) {
    if (temporary_) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    throw;
  }
  // A failed build keeps the directory: the error names the compiler's log in it.
  runner_ = build_host_runner(dir_ / "firmware", built_.firmware, dir_ / "build", o_.cflags);
}

CEngine::~CEngine() {
  if (temporary_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::vector<ir::TensorData> CEngine::run(const std::vector<ir::TensorData>& inputs) {
  const codegen::Firmware& fw = built_.firmware;
  const fs::path run_dir = dir_ / fmt::format("run{}", runs_++);
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) fail("{}: cannot create the directory: {}", run_dir.string(), ec.message());
  std::string args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fs::path p = run_dir / fmt::format("input_{}.bin", i);
    const auto& bytes = inputs[i].bytes();
    frontend::write_file_atomically(p.string(), std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    args += " '" + p.string() + "'";
  }
  for (size_t i = 0; i < fw.output_types.size(); ++i) args += fmt::format(" '{}'", (run_dir / fmt::format("output_{}.bin", i)).string());
  const fs::path log = run_dir / "run.log";
  const std::string command = fmt::format("'{}'{} > '{}' 2>&1", runner_.string(), args, log.string());
  note("running the generated code: {}", command);
  if (std::system(command.c_str()) != 0) {
    std::string text = frontend::read_file(log.string());
    if (text.size() > 2000) text = text.substr(0, 2000) + "...";
    for (char& c : text) if (c == '\n') c = ' ';
    fail("the generated code failed on this data set (log {}): {}", log.string(), text);
  }
  std::vector<ir::TensorData> outputs;
  for (size_t i = 0; i < fw.output_types.size(); ++i) {
    const std::string bytes = frontend::read_file((run_dir / fmt::format("output_{}.bin", i)).string());
    ir::TensorData t(fw.output_types[i].dtype, fw.output_types[i].shape);
    if (bytes.size() != t.bytes().size()) fail("the generated code wrote {} bytes for output {}, expected {}", bytes.size(), i, t.bytes().size());
    if (!bytes.empty()) std::memcpy(t.mutable_bytes().data(), bytes.data(), bytes.size());
    outputs.push_back(std::move(t));
  }
  return outputs;
}

}  // namespace qatc::driver
