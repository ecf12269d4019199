// Imports and lowers every ONNX model in a directory in one process, as `qatc inspect` and the
// lowering would, and sorts the outcomes: imported, refused (qatc::Error with a one-line message),
// or failed (any other exception, or a refusal that is empty or not one line). For the thousands of
// crafted models of tests/tools/schema_models.py, where starting the driver (which loads Halide)
// for each would take most of the time. libonnx runs isolated in its child processes as in the
// driver, so a libonnx fault is a refusal here too; a fault in qatc's own code kills this process,
// and -v names the model it was reading.
//   import_probe DIR [-v]    exit 0 iff nothing failed
#include "frontend/onnx_import.h"
#include "ir/error.h"
#include "passes/pass.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: import_probe DIR [-v]\n";
    return 2;
  }
  const bool verbose = argc > 2 && std::string(argv[2]) == "-v";
  std::vector<std::filesystem::path> models;
  for (const auto& e : std::filesystem::directory_iterator(argv[1]))
    if (e.path().extension() == ".onnx") models.push_back(e.path());
  std::sort(models.begin(), models.end());
  int imported = 0, refused = 0, failed = 0;
  int by_libonnx = 0;  // refusals that came from libonnx's checker or shape inference (it ran on them)
  for (const auto& path : models) {
    if (verbose) std::cerr << "probing " << path.string() << std::endl;
    try {
      qatc::frontend::ImportedModel m = qatc::frontend::import_onnx(path.string());
      qatc::passes::lower(m.graph, {});
      ++imported;
    } catch (const qatc::Error& e) {
      const std::string message = e.what();
      if (!message.empty() && message.find('\n') == std::string::npos) {
        ++refused;
        by_libonnx += message.find(": ONNX checker") != std::string::npos ||
                      message.find(": ONNX shape inference") != std::string::npos;
        continue;
      }
      ++failed;
      std::cout << path.filename().string() << ": refusal not one line: " << message << "\n";
    } catch (const std::exception& e) {
      ++failed;
      std::cout << path.filename().string() << ": internal error: " << e.what() << "\n";
    }
  }
  std::cout << models.size() << " models: " << imported << " imported and lowered, " << refused
            << " refused in one line (" << by_libonnx << " of them by libonnx, after qatc's own checks), " << failed
            << " failed\n";
  return failed ? 1 : 0;
}
