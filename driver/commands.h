// The qatc subcommands. Each registers its flags on the app; when it is the one chosen on the
// command line, `action` runs it and returns the exit code (0 ok, 1 mismatch).
#pragma once

#include "frontend/onnx_import.h"
#include "ir/limits.h"

#include <CLI/CLI.hpp>

#include <functional>

namespace qatc::driver {

using Action = std::function<int()>;

void register_inspect(CLI::App& app, Action& action);
void register_run(CLI::App& app, Action& action);
void register_verify(CLI::App& app, Action& action);
void register_targets(CLI::App& app, Action& action);
void register_compile(CLI::App& app, Action& action);
void register_estimate(CLI::App& app, Action& action);

// What every command that imports a model takes: --input-shape NAME=1x3x224x224 (repeatable),
// --qat-dialect, the TI v1 settings its export does not record, and the resource limits
// (ir/limits.h) --max-tensor-bytes and --max-nodes, and -v/--verbose.
struct ModelOptions {
  std::string model;
  std::vector<std::string> input_shapes;
  std::string qat_dialect = "auto";
  std::string ti_per_channel = "none";
  std::string ti_bias = "saturate";
  std::vector<std::string> ti_ranges;
  int64_t max_tensor_bytes = ir::Limits{}.max_tensor_bytes;
  int64_t max_nodes = ir::Limits{}.max_nodes;
  int64_t max_import_seconds = ir::Limits{}.max_import_seconds;
};
void add_model_options(CLI::App& cmd, ModelOptions& options);
// --target NAME and --targets-dir DIR (the default directory filled in): every command that
// plans kernels for a target.
void add_target_options(CLI::App& cmd, std::string& target, std::string& targets_dir);
// --data DIR: the test_data_set_N directories a command runs on.
void add_data_option(CLI::App& cmd, std::string& dir);
frontend::ImportedModel import_model(const ModelOptions& options);
// passes::lower, with each pass's op count and time as --verbose notes.
void lower_model(ir::Graph& graph, bool allow_non_pot);

}  // namespace qatc::driver
