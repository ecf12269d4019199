#include "driver/commands.h"
#include "driver/log.h"

#include "ir/error.h"
#include "ir/limits.h"
#include "ir/number_text.h"
#include "passes/pass.h"
#include "targets/target.h"

namespace qatc::driver {

namespace {
// CLI::PositiveNumber's refusal spells out the largest double, 300 digits; this one fits a line.
const CLI::Validator kPositiveInteger(
    [](std::string& s) {
      const auto v = ir::parse_int(s);
      return v && *v > 0 ? std::string() : "'" + s + "' is not a positive integer";
    },
    "POSITIVE");

ir::Shape parse_dims(const std::string& spec, const std::string& dims) {
  ir::Shape shape;
  size_t start = 0;
  while (start <= dims.size()) {
    size_t end = dims.find('x', start);
    if (end == std::string::npos) end = dims.size();
    auto d = ir::parse_int(std::string_view(dims).substr(start, end - start));
    if (!d || *d < 1) fail("--input-shape '{}': dimensions must be positive integers joined by 'x'", spec);
    shape.push_back(*d);
    start = end + 1;
  }
  return shape;
}
}  // namespace

void add_model_options(CLI::App& cmd, ModelOptions& options) {
  cmd.add_option("model", options.model, "ONNX model file")->required();
  cmd.add_option("--input-shape", options.input_shapes,
                 "Static shape for an input with dynamic dimensions, e.g. input=1x3x224x224 (repeatable)");
  cmd.add_option("--qat-dialect", options.qat_dialect,
                 "auto (detect), or ti-pact2: read a float graph as a TI edgeai-torchmodelopt v1 PACT2 export")
      ->check(CLI::IsMember({"auto", "ti-pact2"}));
  cmd.add_option("--ti-per-channel", options.ti_per_channel,
                 "TI v1 per_channel_q: none (False, default), depthwise (True), all ('all')")
      ->check(CLI::IsMember({"none", "depthwise", "all"}));
  cmd.add_option("--ti-bias", options.ti_bias,
                 "TI v1 constrain_bias: saturate (default), none, reduce-weight-scale")
      ->check(CLI::IsMember({"saturate", "none", "reduce-weight-scale"}));
  cmd.add_option("--ti-range", options.ti_ranges,
                 "TI v1: quantize tensor NAME with the PACT2 range [LO, HI] the export lacks, e.g. pool_out=0,4 "
                 "(repeatable)");
  cmd.add_option("--max-tensor-bytes", options.max_tensor_bytes, "Refuse a model with a larger tensor (constant or computed)")
      ->check(kPositiveInteger)
      ->capture_default_str();
  cmd.add_option("--max-nodes", options.max_nodes, "Refuse a model with more nodes")->check(kPositiveInteger)->capture_default_str();
  cmd.add_option("--max-import-seconds", options.max_import_seconds,
                 "Refuse a model on which libonnx's checker or shape inference needs more CPU time")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))
      ->capture_default_str();
  cmd.add_flag_callback("-v,--verbose", [] { verbose() = true; },
                        "Report each step on stderr: import, every lowering pass (ops, time), kernels, builds, data sets");
}

void add_target_options(CLI::App& cmd, std::string& target, std::string& targets_dir) {
  targets_dir = targets::default_targets_dir();
  cmd.add_option("--target", target, "Target description name (qatc targets lists them)")->capture_default_str();
  cmd.add_option("--targets-dir", targets_dir, "Directory of target descriptions")->capture_default_str();
}

void add_data_option(CLI::App& cmd, std::string& dir) {
  cmd.add_option("--data", dir, "Directory holding test_data_set_N/input_K.pb [output_K.pb]")->required();
}

frontend::ImportedModel import_model(const ModelOptions& options) {
  frontend::ImportOptions import;
  for (const auto& spec : options.input_shapes) {
    size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0) fail("--input-shape '{}': expected NAME=DIMS, e.g. input=1x3x224x224", spec);
    import.input_shapes[spec.substr(0, eq)] = parse_dims(spec, spec.substr(eq + 1));
  }
  import.qat_dialect = options.qat_dialect;
  using Ti = frontend::TiPact2Options;
  import.ti.per_channel = options.ti_per_channel == "all"         ? Ti::PerChannel::all
                          : options.ti_per_channel == "depthwise" ? Ti::PerChannel::depthwise
                                                                  : Ti::PerChannel::none;
  import.ti.bias = options.ti_bias == "none"                  ? Ti::BiasRule::none
                   : options.ti_bias == "reduce-weight-scale" ? Ti::BiasRule::reduce_weight_scale
                                                              : Ti::BiasRule::saturate;
  for (const auto& spec : options.ti_ranges) {
    const size_t eq = spec.rfind('='), comma = spec.rfind(',');
    const bool shaped = eq != std::string::npos && eq > 0 && comma != std::string::npos && comma > eq;
    const auto lo = shaped ? ir::parse_double(spec.substr(eq + 1, comma - eq - 1)) : std::nullopt;
    const auto hi = lo ? ir::parse_double(spec.substr(comma + 1)) : std::nullopt;
    if (!lo || !hi) fail("--ti-range '{}': expected NAME=LO,HI, e.g. pool_out=0,4", spec);
    import.ti.ranges[spec.substr(0, eq)] = {*lo, *hi};
  }
  ir::limits() = {options.max_tensor_bytes, options.max_nodes, options.max_import_seconds};
  Stopwatch clock;
  frontend::ImportedModel m = frontend::import_onnx(options.model, import);
  note("imported {}: dialect {}, opset {}, {} ops ({:.1f} ms)", options.model, m.info.dialect, m.info.opset,
       m.graph.ops().size(), clock.ms());
  return m;
}

void lower_model(ir::Graph& graph, bool allow_non_pot) {
  Stopwatch clock;
  passes::lower(graph, {.allow_non_pot = allow_non_pot}, [&](const passes::Pass& pass, const ir::Graph& g) {
    note("pass {}: {} ops ({:.1f} ms)", pass.name, g.ops().size(), clock.ms());
    clock = Stopwatch();
  });
}

}  // namespace qatc::driver
