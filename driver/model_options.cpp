#include "driver/commands.h"

#include "ir/error.h"
#include "ir/number_text.h"

namespace qatc::driver {

namespace {
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
  return frontend::import_onnx(options.model, import);
}

}  // namespace qatc::driver
