// qatc run: evaluate a model on backend-test data sets with one engine, compare with the outputs
// stored there, and optionally dump every intermediate tensor.
#include "driver/commands.h"
#include "driver/compare.h"
#include "driver/data_sets.h"
#include "driver/staged_directory.h"
#include "driver/tensor_dump.h"
#include "frontend/npy.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

namespace qatc::driver {

namespace {

// The integer simulator dequantizes outputs exactly, into float64. Saved, an output takes the
// model's declared float32 where every value converts exactly (always, for power-of-two scales).
ir::TensorData as_declared(const ir::TensorData& t, ir::DType declared) {
  if (t.dtype() != ir::DType::f64 || declared != ir::DType::f32) return t;
  std::vector<float> narrowed;
  for (double v : t.as<double>()) {
    if (static_cast<double>(static_cast<float>(v)) != v) return t;
    narrowed.push_back(static_cast<float>(v));
  }
  return ir::TensorData::from<float>(t.shape(), narrowed);
}

struct RunOptions {
  ModelOptions model;
  std::string data;
  std::string engine = "qat-exact";
  std::string dump;
  std::string save_outputs, save_format = "npy";
  Tolerance tolerance;
  bool allow_non_pot = false;
  bool quiet = false;
};

int run(const RunOptions& o) {
  auto [graph, info] = import_model(o.model);
  const DataSets sets(o.data, graph);  // before lowering: what the inputs take is the QAT graph's
  const bool integer = o.engine == "int-sim";
  if (integer) lower_model(graph, o.allow_non_pot);
  sim::QatOptions qat;
  qat.arithmetic = o.engine == "qat-float32" ? sim::Arithmetic::float32 : sim::Arithmetic::exact;
  // PyTorch's fake-quant multiplies by 1/scale in float32 where ONNX divides by scale.
  qat.quantize_by_reciprocal = info.dialect == "pytorch-qdq";
  qat.literal_conv_bn_chains = !o.dump.empty();  // a dump holds every op's result
  std::optional<sim::QatEvaluator> evaluator;  // the weights' fake-quant computed once for every data set
  if (!integer) evaluator.emplace(graph, qat, /*observed=*/!o.dump.empty());

  // Dumps and saved outputs land when every data set has run (staged_directory.h).
  std::optional<StagedDirectory> dumped, saved;
  if (!o.dump.empty()) dumped.emplace(o.dump);
  if (!o.save_outputs.empty()) saved.emplace(o.save_outputs);
  int64_t compared = 0, mismatched = 0;
  for (size_t n = 0; n < sets.size(); ++n) {
    const DataSet set = sets.read(n);
    const std::filesystem::path set_name = std::filesystem::path(set.dir).filename();
    std::optional<TensorDump> dump;
    if (dumped) dump.emplace(dumped->stage() / set_name);
    sim::QatObserver observer;
    if (dump) observer = [&](const ir::Op& op, const ir::TensorData& d) { dump->write(*op.outputs[0], d); };
    std::vector<ir::TensorData> outputs = integer ? sim::simulate_integer(graph, set.inputs, observer)
                                                  : evaluator->run(set.inputs, observer);
    if (saved) {
      const std::filesystem::path dir = saved->stage() / set_name;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) fail("{}: cannot create the directory: {}", dir.string(), ec.message());
      for (size_t i = 0; i < outputs.size(); ++i) {
        const std::string file = (dir / fmt::format("output_{}.{}", i, o.save_format)).string();
        const ir::TensorData as_saved = as_declared(outputs[i], graph.outputs()[i]->type.dtype);
        if (o.save_format == "npy") frontend::write_npy_file(file, as_saved);
        else frontend::write_tensor_file(file, as_saved, graph.outputs()[i]->name);
      }
    }
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
  if (dumped) dumped->commit();
  if (saved) saved->commit();
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
      "Data-set files may be NumPy .npy instead of .pb (input_K.npy, output_K.npy).\n"
      "Example:\n  qatc run model.onnx --data model_data --engine int-sim --dump /tmp/layers");
  add_model_options(*cmd, options->model);
  add_data_option(*cmd, options->data);
  cmd->add_option("--engine", options->engine, "qat-exact, qat-float32 or int-sim")
      ->check(CLI::IsMember({"qat-exact", "qat-float32", "int-sim"}))
      ->capture_default_str();
  cmd->add_option("--dump", options->dump, "Write every intermediate tensor under this directory");
  cmd->add_option("--save-outputs", options->save_outputs,
                  "Write the computed outputs to DIR/test_data_set_N/output_K.npy (or .pb)");
  cmd->add_option("--save-format", options->save_format, "npy or pb")->check(CLI::IsMember({"npy", "pb"}))->capture_default_str();
  cmd->add_option("--atol", options->tolerance.atol, "Accept absolute differences up to this (default 0: exact)");
  cmd->add_option("--rtol", options->tolerance.rtol, "Accept relative differences up to this (default 0: exact)");
  cmd->add_flag("--allow-non-pot", options->allow_non_pot,
                "int-sim: lower non-power-of-two scales with Q31 multipliers (not exact)");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only mismatches and the summary");
  cmd->callback([&action, options] { action = [options] { return run(*options); }; });
}

}  // namespace qatc::driver
