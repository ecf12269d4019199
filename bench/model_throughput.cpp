// qatc-bench-model: how long the bit-exact integer simulator takes on a whole model, the engine
// `qatc verify` and users' CI run. Prints one JSON object: run times (ms) and their median.
//   qatc-bench-model MODEL.onnx INPUT.pb [--repeat N]
#include "frontend/onnx_import.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>

using namespace qatc;

int main(int argc, char** argv) {
  CLI::App app{"Time the integer simulator on a model"};
  std::string model, input;
  int repeat = 5;
  app.add_option("model", model, "ONNX model")->required();
  app.add_option("input", input, "input_0.pb of a data set")->required();
  app.add_option("--repeat", repeat, "timed runs")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    auto imported = frontend::import_onnx(model);
    passes::lower(imported.graph, {});
    const std::vector<ir::TensorData> inputs{frontend::read_tensor_file(input).data};
    sim::simulate_integer(imported.graph, inputs);  // warm-up
    std::vector<double> runs;
    for (int i = 0; i < repeat; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      sim::simulate_integer(imported.graph, inputs);
      runs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> sorted = runs;
    std::sort(sorted.begin(), sorted.end());
    fmt::print("{{\"runs_ms\": [{:.6f}], \"median_ms\": {:.6f}}}\n", fmt::join(runs, ", "), sorted[sorted.size() / 2]);
  } catch (const Error& e) {
    std::cerr << "qatc-bench-model: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
