// The qatc driver. Exit codes: 0 success, 1 a comparison found differences, 2 bad input or usage,
// 3 an internal error (a bug in qatc).
#include "driver/commands.h"
#include "ir/error.h"

#include <malloc.h>

#include <filesystem>
#include <iostream>
#include <limits>

int main(int argc, char** argv) {
  // The evaluators allocate and free tensors of up to hundreds of MB per op, per data set. glibc
  // would map each afresh and unmap it on free, so every run would fault its pages in again (a
  // third of verify's time on a 224x224 ResNet-18): serve them from the heap and keep what is freed.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  CLI::App app{"qatc: compile and verify quantization-aware-trained ONNX models bit-exactly"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  qatc inspect model.onnx\n"
      "  qatc verify model.onnx --data model_dir --html report.html\n"
      "  qatc compile model.onnx --target c7x-mma --sample model_dir -o firmware/net\n"
      "Run 'qatc <command> --help' for a command's options.\n"
      "Exit codes: 0 ok, 1 mismatch, 2 bad input or usage, 3 internal error.");
  qatc::driver::Action action;
  qatc::driver::register_inspect(app, action);
  qatc::driver::register_run(app, action);
  qatc::driver::register_compile(app, action);
  qatc::driver::register_verify(app, action);
  qatc::driver::register_targets(app, action);
  qatc::driver::register_estimate(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return action();
  } catch (const qatc::Error& e) {
    std::cerr << "qatc: error: " << e.what() << "\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // A file system call that no check caught: the environment is at fault (a path, a permission,
    // a full disk), not qatc.
    std::cerr << "qatc: error: " << e.path1().string() << (e.path2().empty() ? "" : " -> " + e.path2().string())
              << ": " << e.code().message() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "qatc: internal error: " << e.what() << "\n";
    return 3;
  }
}
