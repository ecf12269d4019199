// qatc run: evaluate a model on backend-test data sets with one engine, compare with the outputs
// stored there, and optionally dump every intermediate tensor.
#include "driver/commands.h"
#include "driver/compare.h"
#include "driver/data_sets.h"
#include "driver/tensor_dump.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

namespace qatc::driver {

namespace {

struct RunOptions {
  ModelOptions model;
  std::string data;
  std::string engine = "qat-exact";
  std::string dump;
  Tolerance tolerance;
  bool allow_non_pot = false;
  bool quiet = false;
};

int run(const RunOptions& o) {
  auto [graph, info] = import_model(o.model);
  std::vector<DataSet> sets = read_data_sets(o.data, graph);
  const bool integer = o.engine == "int-sim";
  if (integer) passes::lower(graph, {.allow_non_pot = o.allow_non_pot});
  sim::QatOptions qat;
  qat.arithmetic = o.engine == "qat-float32" ? sim::Arithmetic::float32 : sim::Arithmetic::exact;
  // PyTorch's fake-quant multiplies by 1/scale in float32 where ONNX divides by scale.
  qat.quantize_by_reciprocal = info.dialect == "pytorch-qdq";

  int64_t compared = 0, mismatched = 0;
  for (const DataSet& set : sets) {
    std::optional<TensorDump> dump;
    if (!o.dump.empty()) dump.emplace(std::filesystem::path(o.dump) / std::filesystem::path(set.dir).filename());
    sim::QatObserver observer;
    if (dump) observer = [&](const ir::Op& op, const ir::TensorData& d) { dump->write(*op.outputs[0], d); };
    std::vector<ir::TensorData> outputs = integer ? sim::simulate_integer(graph, set.inputs, observer)
                                                  : sim::evaluate_qat(graph, set.inputs, qat, observer);
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
      "  int-sim      the model lowered to integers, on the bit-exact integer simulator\n"
      "--dump DIR writes every op's result per data set to DIR/test_data_set_N/NNNN_<name>.pb in op order;\n"
      "quantized integers also as NNNN_<name>.dequantized.pb (float64, exact).\n"
      "Example:\n  qatc run model.onnx --data model_data --engine int-sim --dump /tmp/layers");
  add_model_options(*cmd, options->model);
  add_data_option(*cmd, options->data);
  cmd->add_option("--engine", options->engine, "qat-exact, qat-float32 or int-sim")
      ->check(CLI::IsMember({"qat-exact", "qat-float32", "int-sim"}))
      ->capture_default_str();
  cmd->add_option("--dump", options->dump, "Write every intermediate tensor under this directory");
  cmd->add_option("--atol", options->tolerance.atol, "Accept absolute differences up to this (default 0: exact)");
  cmd->add_option("--rtol", options->tolerance.rtol, "Accept relative differences up to this (default 0: exact)");
  cmd->add_flag("--allow-non-pot", options->allow_non_pot,
                "int-sim: lower non-power-of-two scales with Q31 multipliers (not exact)");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only mismatches and the summary");
  cmd->callback([&action, options] { action = [options] { return run(*options); }; });
}

}  // namespace qatc::driver
