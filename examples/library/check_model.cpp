// What a test of your own can do with qatc's library: import a QAT model, lower it to integers,
// run the integer model and the exact QAT forward pass on an input, and require every output
// element to agree. `qatc verify` does this (and more) from the command line; the library is for
// checks inside your C++ code, on inputs your code makes.
//
//   check_model MODEL.onnx INPUT_0.pb [INPUT_1.pb ...]
#include "frontend/onnx_import.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: check_model MODEL.onnx INPUT_0.pb [INPUT_1.pb ...]\n");
    return 2;
  }
  try {
    const qatc::frontend::ImportedModel qat = qatc::frontend::import_onnx(argv[1]);
    qatc::frontend::ImportedModel lowered = qatc::frontend::import_onnx(argv[1]);
    qatc::passes::lower(lowered.graph, {});

    std::vector<qatc::ir::TensorData> inputs;
    for (int i = 2; i < argc; ++i) inputs.push_back(qatc::frontend::read_tensor_file(argv[i]).data);
    const auto exact = qatc::sim::evaluate_qat(qat.graph, inputs, {.arithmetic = qatc::sim::Arithmetic::exact});
    const auto integer = qatc::sim::simulate_integer(lowered.graph, inputs);

    int64_t differ = 0, elements = 0;
    for (size_t k = 0; k < exact.size(); ++k) {
      for (int64_t i = 0; i < exact[k].size(); ++i) differ += integer[k].float_at(i) != exact[k].float_at(i);
      elements += exact[k].size();
    }
    std::printf("%s: the integer model and the exact QAT forward pass differ in %lld of %lld output elements\n",
                argv[1], static_cast<long long>(differ), static_cast<long long>(elements));
    return differ ? 1 : 0;
  } catch (const qatc::Error& e) {
    std::fprintf(stderr, "check_model: %s\n", e.what());
    return 2;
  }
}
