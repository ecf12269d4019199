// qatc run: evaluate a model on backend-test data sets and compare with the outputs stored there.
#include "driver/commands.h"
#include "driver/compare.h"
#include "driver/data_sets.h"
#include "ir/error.h"
#include "sim/qat/evaluator.h"

#include <fmt/format.h>

#include <iostream>

namespace qatc::driver {

namespace {

struct RunOptions {
  ModelOptions model;
  std::string data;
  std::string engine = "qat-exact";
  Tolerance tolerance;
  bool quiet = false;
};

int run(const RunOptions& o) {
  auto [graph, info] = import_model(o.model);
  sim::QatOptions qat;
  qat.arithmetic = o.engine == "qat-float32" ? sim::Arithmetic::float32 : sim::Arithmetic::exact;
  // PyTorch's fake-quant multiplies by 1/scale in float32 where ONNX divides by scale.
  qat.quantize_by_reciprocal = info.dialect == "pytorch-qdq";

  int64_t compared = 0, mismatched = 0;
  for (const DataSet& set : read_data_sets(o.data, graph)) {
    std::vector<ir::TensorData> outputs = sim::evaluate_qat(graph, set.inputs, qat);
    for (size_t i = 0; i < set.expected.size(); ++i) {
      Comparison c = compare(outputs[i], set.expected[i], o.tolerance);
      ++compared;
      bool bad = c.mismatches > 0 || c.shape_differs;
      mismatched += bad;
      if (bad || !o.quiet)
        std::cout << fmt::format("{}: output '{}': {}\n", set.dir, graph.outputs()[i]->name,
                                 describe(c, graph.outputs()[i]->type.shape));
    }
    if (set.expected.empty() && !o.quiet) std::cout << fmt::format("{}: evaluated (no expected outputs)\n", set.dir);
  }
  std::cout << fmt::format("{} passed, {} failed ({} engine)\n", compared - mismatched, mismatched, o.engine);
  return mismatched ? 1 : 0;
}

}  // namespace

void register_run(CLI::App& app, Action& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on test_data_set_N directories and compare with their outputs");
  cmd->footer(
      "Engines:\n"
      "  qat-exact    the QAT forward pass in exact arithmetic (the ground truth)\n"
      "  qat-float32  the QAT forward pass as a float32 framework computes it\n"
      "Example:\n  qatc run model.onnx --data model_data --engine qat-float32");
  add_model_options(*cmd, options->model);
  cmd->add_option("--data", options->data, "Directory holding test_data_set_N/input_K.pb [output_K.pb]")->required();
  cmd->add_option("--engine", options->engine, "qat-exact or qat-float32")
      ->check(CLI::IsMember({"qat-exact", "qat-float32"}))
      ->capture_default_str();
  cmd->add_option("--atol", options->tolerance.atol, "Accept absolute differences up to this (default 0: exact)");
  cmd->add_option("--rtol", options->tolerance.rtol, "Accept relative differences up to this (default 0: exact)");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only mismatches and the summary");
  cmd->callback([&action, options] { action = [options] { return run(*options); }; });
}

}  // namespace qatc::driver
