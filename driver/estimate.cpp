// qatc estimate: the cost model's per-layer table for a target (sim/cost_model.h), on the kernels
// qatc compile would generate. No Halide runs: it plans the kernels and prices them.
#include "codegen/kernel_plan.h"
#include "driver/commands.h"
#include "frontend/file_io.h"
#include "passes/pass.h"
#include "targets/target.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace qatc::driver {

namespace {

struct EstimateOptions {
  ModelOptions model;
  std::string target = "c7x-mma";
  std::string targets_dir;
  std::string json;
  bool allow_non_pot = false;
};

std::string short_name(const std::string& s, size_t width) {
  return s.size() <= width ? s : "…" + s.substr(s.size() - (width - 1));
}

int estimate(const EstimateOptions& o) {
  const std::vector<targets::Target> all = targets::load_targets(o.targets_dir);
  const targets::Target& target = targets::find_target(all, o.target);
  if (!o.json.empty()) frontend::check_writable(o.json);
  frontend::ImportedModel model = import_model(o.model);
  lower_model(model.graph, o.allow_non_pot);
  const codegen::KernelPlan plan = codegen::plan_kernels(model.graph, target);

  const double hz = target.clock_hz > 0 ? static_cast<double>(target.clock_hz) : 1e9;
  fmt::print("{} on {} ({:.2f} GHz): cycles = max(compute, memory) + requantize\n", o.model.model, target.name, hz / 1e9);
  fmt::print("{:<44} {:<10} {:>9} {:>6} {:>10} {:>10} {:>6} {:>8} {:>10}  {}\n", "layer", "op", "MMAC", "MMA %", "compute",
             "memory", "(at)", "requant", "cycles", "bound");
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  int64_t total = 0, macs = 0;
  for (const codegen::Step& s : plan.steps) {
    if (s.alias) continue;
    const sim::LayerWork w = codegen::layer_work(plan, s);
    const sim::LayerCost c = sim::estimate_layer(target, w);
    std::string at;
    for (const sim::LevelTraffic& l : c.traffic)
      if (l.cycles == c.memory_cycles) at = l.level;
    fmt::print("{:<44} {:<10} {:>9.2f} {:>6} {:>10} {:>10} {:>6} {:>8} {:>10}  {}\n", short_name(s.layer, 44),
               codegen::kernel_kind_name(s.spec.kind), static_cast<double>(w.macs) / 1e6,
               c.matrix_utilization > 0 ? fmt::format("{:.0f}", 100 * c.matrix_utilization) : "-", c.compute_cycles,
               c.memory_cycles, at, c.requantize_cycles, c.cycles, c.bound);
    nlohmann::ordered_json traffic = nlohmann::ordered_json::object();
    for (const sim::LevelTraffic& l : c.traffic) traffic[l.level] = {{"bytes", l.bytes}, {"cycles", l.cycles}};
    layers.push_back({{"layer", s.layer}, {"op", codegen::kernel_kind_name(s.spec.kind)}, {"macs", w.macs},
                      {"matrix_utilization", c.matrix_utilization}, {"compute_cycles", c.compute_cycles},
                      {"memory_cycles", c.memory_cycles}, {"requantize_cycles", c.requantize_cycles}, {"cycles", c.cycles},
                      {"bound", c.bound}, {"traffic", traffic}});
    total += c.cycles;
    macs += w.macs;
  }
  const double ms = static_cast<double>(total) / hz * 1e3;
  fmt::print("total: {:.3f} GMAC, {} cycles, {:.3f} ms ({:.0f} inferences/s)\n", static_cast<double>(macs) / 1e9, total, ms,
             ms > 0 ? 1e3 / ms : 0.0);
  if (!o.json.empty()) {
    nlohmann::ordered_json j{{"model", o.model.model}, {"target", target.name}, {"macs", macs}, {"cycles", total},
                             {"ms", ms}, {"layers", layers}};
    frontend::write_file_atomically(o.json, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  return 0;
}

}  // namespace

void register_estimate(CLI::App& app, Action& action) {
  auto o = std::make_shared<EstimateOptions>();
  CLI::App* cmd = app.add_subcommand("estimate", "Estimate per-layer cycles and latency on a target (the cost model)");
  cmd->footer(
      "Plans the kernels qatc compile would generate and prices each with the cost model: matrix-unit\n"
      "utilisation from the padded matrix shape, bytes through each memory level at its bandwidth\n"
      "(targets/*.json), cycles = max(compute, memory) + requantize. A lower bound, not a board timing.\n"
      "Example:\n  qatc estimate model.onnx --target c7x-mma");
  add_model_options(*cmd, o->model);
  add_target_options(*cmd, o->target, o->targets_dir);
  cmd->add_option("--json", o->json, "Also write the table as JSON to this file");
  cmd->add_flag("--allow-non-pot", o->allow_non_pot, "Lower non-power-of-two scales with Q31 multipliers");
  cmd->callback([&action, o] { action = [o] { return estimate(*o); }; });
}

}  // namespace qatc::driver
