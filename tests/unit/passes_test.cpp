// The canonicalization passes (fold-constants, fold-batchnorm, integer-layout) on the PyTorch QAT
// regression models: each pass must leave the exact QAT evaluator's outputs bit-identical on every
// data set. float32 outputs (what PyTorch computes) must stay identical where the pass is exact in
// float32 too: integer-layout always (given float32 scales), fold-constants where the weight scales
// are powers of two (PyTorch's float32 fake-quant then divides exactly). fold-batchnorm is not: the
// float32 framework rounds the div and the batchnorm, which the exact semantics cancels.
#include "driver/data_sets.h"
#include "frontend/onnx_import.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "passes/pass.h"
#include "sim/qat/evaluator.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

using namespace qatc;
using sim::Arithmetic;

namespace {

const std::string kModels = QATC_SOURCE_DIR "/tests/models/";

using Outputs = std::vector<std::vector<ir::TensorData>>;  // per data set, per graph output

Outputs evaluate(const ir::Graph& g, const std::vector<driver::DataSet>& sets, Arithmetic arithmetic) {
  Outputs out;
  for (const auto& set : sets) out.push_back(sim::evaluate_qat(g, set.inputs, {.arithmetic = arithmetic}));
  return out;
}

size_t count_ops(const ir::Graph& g, ir::OpKind kind) {
  size_t n = 0;
  for (const ir::Op* op : g.ops()) n += op->kind == kind;
  return n;
}

void run(const std::string& pass, ir::Graph& g) {
  const passes::Pass* p = passes::find_pass(pass);
  REQUIRE(p);
  passes::run_pass(*p, g, {});
}

// The `//--- name` sections of a lit test file (split-file's format), as IR texts.
std::vector<std::string> lit_cases(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<std::string> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("//--- ")) cases.emplace_back();
    else if (!cases.empty()) cases.back() += line + "\n";
  }
  return cases;
}

// Random float inputs for every graph input, on a grid of 1/32 so that quantize ties (and clip
// bounds) come up as well as everything between.
std::vector<driver::DataSet> random_data_sets(const ir::Graph& g, int count, std::mt19937& rng) {
  std::uniform_int_distribution<int> steps(-300, 300);
  std::vector<driver::DataSet> sets(static_cast<size_t>(count));
  for (auto& set : sets)
    for (const ir::Value* in : g.inputs()) {
      std::vector<float> x(static_cast<size_t>(ir::num_elements(in->type.shape)));
      for (float& v : x) v = static_cast<float>(steps(rng)) / 32;
      set.inputs.push_back(ir::TensorData::from<float>(in->type.shape, x));
    }
  return sets;
}

struct CanonCase {
  std::string model;
  bool pot_weights;  // every weight scale a power of two: fold-constants is float32-exact too
};

}  // namespace

TEST_CASE("canonicalization keeps the QAT models' exact outputs bit for bit") {
  const std::vector<CanonCase> cases{
      {"resnet_tiny", true}, {"mobilenet_tiny", true}, {"concat_pool_up", true}, {"mlp_k1024", true},
      {"nonpot_default", false}};
  const std::vector<std::string> canonicalization{"fold-constants", "fold-batchnorm", "integer-layout",
                                                  "fold-constants"};
  for (const auto& [model, pot_weights] : cases) {
    DYNAMIC_SECTION(model) {
      ir::Graph g = frontend::import_onnx(kModels + model + "/model.onnx").graph;
      const driver::DataSets listed(kModels + model, g);
      std::vector<driver::DataSet> sets;
      for (size_t i = 0; i < listed.size(); ++i) sets.push_back(listed.read(i));
      const Outputs exact = evaluate(g, sets, Arithmetic::exact);
      Outputs float32 = evaluate(g, sets, Arithmetic::float32);
      for (const std::string& pass : canonicalization) {
        INFO("after " << pass);
        run(pass, g);
        CHECK(evaluate(g, sets, Arithmetic::exact) == exact);
        const Outputs float32_after = evaluate(g, sets, Arithmetic::float32);
        if (pass == "integer-layout" || (pass == "fold-constants" && pot_weights)) CHECK(float32_after == float32);
        float32 = float32_after;  // the next pass is judged on its own
      }
      CHECK(count_ops(g, ir::OpKind::batchnorm) == 0);
      CHECK(count_ops(g, ir::OpKind::div) == 0);
      for (const ir::Op* op : g.ops()) {
        INFO(op->describe());
        // Weights are integer constants behind their dequantize; no quantize of a constant is left.
        if (op->kind == ir::OpKind::conv || op->kind == ir::OpKind::matmul) {
          const ir::Op* dq = op->inputs[1]->producer;
          REQUIRE(dq);
          CHECK(dq->kind == ir::OpKind::dequantize);
          CHECK(dq->inputs[0]->is_constant());
          CHECK(ir::is_integer(dq->inputs[0]->type.dtype));
        }
        if (op->kind == ir::OpKind::quantize) CHECK_FALSE(op->inputs[0]->is_constant());
      }
    }
  }
}

TEST_CASE("fold-batchnorm computes what the exact evaluator computes, in and out of the conv-bn pattern") {
  // Inputs k/16 keep every exact result a double, so the outputs compare without a quantize.
  const std::vector<std::string> graphs{
      // PyTorch's chain: c and the batchnorm's alpha one ulp apart in channel 0, equal in channel 1.
      R"(graph @conv_bn_chain {
        input %x : f32[1,2,2,2]
        const %c : f32[1,2,1,1] = [0.13416395, 2]
        const %b : f32[1,2,1,1] = [0.5, -1]
        const %gamma : f32[2] = [0.3, 2]
        const %beta : f32[2] = [0.125, 0.1]
        const %mean : f32[2] = [0.25, 3]
        const %var : f32[2] = [5, 0.99999]
        %d = div(%x, %c) : f32[1,2,2,2]
        %a = add(%d, %b) : f32[1,2,2,2]
        %bn = batchnorm(%a, %gamma, %beta, %mean, %var) {epsilon = 9.999999747378752e-06} : f32[1,2,2,2]
        output %bn
      })",
      // The divisor is not the batchnorm's scale factor: div and batchnorm count literally.
      R"(graph @far_divisor {
        input %x : f32[1,1,2,2]
        const %c : f32[1,1,1,1] = [0.5]
        const %gamma : f32[1] = [0.3]
        const %beta : f32[1] = [0.125]
        const %mean : f32[1] = [0.25]
        const %var : f32[1] = [5]
        %d = div(%x, %c) : f32[1,1,2,2]
        %bn = batchnorm(%d, %gamma, %beta, %mean, %var) {epsilon = 9.999999747378752e-06} : f32[1,1,2,2]
        output %bn
      })",
      R"(graph @plain {
        input %x : f32[2,2,3]
        const %gamma : f32[2] = [0.3, 1]
        const %beta : f32[2] = [0.125, -2]
        const %mean : f32[2] = [0.25, 0]
        const %var : f32[2] = [5, 1]
        %bn = batchnorm(%x, %gamma, %beta, %mean, %var) {epsilon = 9.999999747378752e-06} : f32[2,2,3]
        output %bn
      })"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> sixteenths(-64, 64);
  for (const std::string& text : graphs) {
    ir::Graph g = ir::parse_graph(text, "bn.qir");
    ir::verify(g);
    INFO(g.name);
    std::vector<driver::DataSet> sets(8);
    for (auto& set : sets) {
      const ir::Shape& shape = g.inputs()[0]->type.shape;
      std::vector<float> x(static_cast<size_t>(ir::num_elements(shape)));
      for (float& v : x) v = static_cast<float>(sixteenths(rng)) / 16;
      set.inputs.push_back(ir::TensorData::from<float>(shape, x));
    }
    const Outputs before = evaluate(g, sets, Arithmetic::exact);
    run("fold-batchnorm", g);
    CHECK(count_ops(g, ir::OpKind::batchnorm) == 0);
    CHECK(evaluate(g, sets, Arithmetic::exact) == before);
  }
}

TEST_CASE("integer-layout's moves are exact in both arithmetics (its lit cases on random inputs)") {
  std::mt19937 rng(11);
  for (const std::string& text : lit_cases(QATC_SOURCE_DIR "/tests/lit/passes/integer_layout.qir")) {
    ir::Graph g = ir::parse_graph(text, "integer_layout.qir");
    ir::verify(g);
    INFO(g.name);
    const auto sets = random_data_sets(g, 16, rng);
    const Outputs exact = evaluate(g, sets, Arithmetic::exact);
    const Outputs float32 = evaluate(g, sets, Arithmetic::float32);
    run("integer-layout", g);
    CHECK(evaluate(g, sets, Arithmetic::exact) == exact);
    CHECK(evaluate(g, sets, Arithmetic::float32) == float32);
  }
}
