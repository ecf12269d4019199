// The lowering pipeline, in order (compare Halide's src/Lower.cpp): each line is one pass in its
// own passes/<name>.cpp. The imported fake-quant graph goes in, the integer graph comes out.
#include "ir/error.h"
#include "ir/verifier.h"
#include "passes/check_accumulator_ranges.h"
#include "passes/eliminate_dead_code.h"
#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/fuse_saturation.h"
#include "passes/integer_layout.h"
#include "passes/lower_fake_quant.h"
#include "passes/pass.h"
#include "passes/recover_weight_grids.h"
#include "sim/qat/numeric_error.h"

namespace qatc::passes {

const std::vector<Pass>& pipeline() {
  static const std::vector<Pass> passes{
      {"fold-constants", "evaluate ops on constants exactly (quantized weights become integer constants)",
       fold_constants},
      {"recover-weight-grids", "give float weights already on a power-of-two grid (MCT FAKELY_QUANT) their integers",
       recover_weight_grids},
      {"fold-batchnorm", "fold batch norms (and PyTorch's conv-bn div) into exact per-channel adds", fold_batchnorm},
      {"integer-layout", "move data movement, relu and clip from dequantized floats onto the integers",
       integer_layout},
      // Again: integer-layout leaves transposes and reshapes of integer weight constants behind.
      {"fold-constants", "evaluate ops on constants exactly (quantized weights become integer constants)",
       fold_constants},
      {"lower-fake-quant", "replace dequantize -> float ops -> quantize regions by integer ops", lower_fake_quant},
      {"fuse-saturation", "fold integer clips into the requantize bounds before them", fuse_saturation},
      {"eliminate-dead-code", "remove ops whose results nobody reads", eliminate_dead_code},
      {"check-accumulator-ranges", "prove no integer op can overflow (widening sums that need 64 bits), or refuse the layer",
       check_accumulator_ranges},
  };
  return passes;
}

const Pass* find_pass(std::string_view name) {
  for (const Pass& p : pipeline())
    if (p.name == name) return &p;
  return nullptr;
}

void run_pass(const Pass& pass, ir::Graph& graph, const PassOptions& options) {
  try {
    pass.run(graph, options);
  } catch (const sim::NumericError& e) {
    // Exact arithmetic on the model's constants that would need to round (passes that can name the
    // op do so themselves).
    fail("{}: the model's constants cannot be folded exactly: {}", pass.name, e.what());
  }
  ir::check_limits(graph);
  try {
    ir::verify(graph);
  } catch (const Error& e) {
    throw std::logic_error(std::string(pass.name) + " left a malformed graph: " + e.what());
  }
}

void lower(ir::Graph& graph, const PassOptions& options,
           const std::function<void(const Pass&, const ir::Graph&)>& after_each) {
  for (const Pass& pass : pipeline()) {
    run_pass(pass, graph, options);
    if (after_each) after_each(pass, graph);
  }
}

}  // namespace qatc::passes
