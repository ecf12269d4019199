// ONNX's own backend node tests (Debian libonnx-testdata): models and input/output data written
// by the ONNX project, not by us. Every test on the supported list must import and reproduce the
// expected outputs; every other test must either do the same or be refused cleanly (qatc::Error).
#include "frontend/onnx_import.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <set>

using namespace qatc;
namespace fs = std::filesystem;

namespace {

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

// Tests whose every op qatc supports: all must pass.
const std::vector<std::string> kSupported = {
    "test_add", "test_add_bcast", "test_averagepool_1d_default", "test_averagepool_2d_ceil",
    "test_averagepool_2d_default", "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads", "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper", "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper", "test_averagepool_2d_strides",
    "test_averagepool_3d_default", "test_basic_conv_with_padding", "test_basic_conv_without_padding",
    "test_basic_convinteger",
    "test_batchnorm_epsilon", "test_batchnorm_example", "test_clip", "test_clip_default_inbounds",
    "test_clip_default_int8_inbounds", "test_clip_default_int8_max", "test_clip_default_int8_min",
    "test_clip_default_max", "test_clip_default_min", "test_clip_example", "test_clip_inbounds",
    "test_clip_outbounds", "test_clip_splitbounds", "test_concat_1d_axis_0", "test_concat_1d_axis_negative_1",
    "test_concat_2d_axis_0", "test_concat_2d_axis_1", "test_concat_2d_axis_negative_1",
    "test_concat_2d_axis_negative_2", "test_concat_3d_axis_0", "test_concat_3d_axis_1", "test_concat_3d_axis_2",
    "test_concat_3d_axis_negative_1", "test_concat_3d_axis_negative_2", "test_concat_3d_axis_negative_3",
    "test_constant", "test_constant_pad", "test_conv_with_autopad_same",
    "test_hardsigmoid", "test_hardsigmoid_default", "test_hardsigmoid_example", "test_hardswish",
    "test_hardswish_expanded", "test_elu", "test_elu_default", "test_elu_example", "test_erf", "test_exp",
    "test_exp_example", "test_leakyrelu", "test_leakyrelu_default", "test_leakyrelu_example", "test_sigmoid",
    "test_sigmoid_example", "test_tanh", "test_tanh_example", "test_log", "test_log_example", "test_softplus",
    "test_softplus_example",
    "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding", "test_convinteger_with_padding", "test_convinteger_without_padding",
    "test_dequantizelinear", "test_dequantizelinear_axis", "test_div",
    "test_div_bcast", "test_div_example", "test_edge_pad", "test_flatten_axis0", "test_flatten_axis1",
    "test_flatten_axis2", "test_flatten_axis3", "test_flatten_default_axis", "test_flatten_negative_axis1",
    "test_flatten_negative_axis2", "test_flatten_negative_axis3", "test_flatten_negative_axis4",
    "test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta", "test_gemm_default_matrix_bias",
    "test_gemm_default_no_bias", "test_gemm_default_scalar_bias", "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias", "test_gemm_default_zero_bias", "test_gemm_transposeA", "test_gemm_transposeB",
    "test_globalaveragepool", "test_globalaveragepool_precomputed", "test_globalmaxpool",
    "test_globalmaxpool_precomputed", "test_identity", "test_matmul_2d", "test_matmul_3d", "test_matmul_4d",
    "test_matmulinteger",
    "test_maxpool_1d_default", "test_maxpool_2d_ceil", "test_maxpool_2d_default", "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads", "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides", "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides", "test_maxpool_2d_uint8", "test_maxpool_3d_default", "test_mul", "test_mul_bcast",
    "test_mul_example", "test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D",
    "test_quantizelinear", "test_quantizelinear_axis", "test_reflect_pad", "test_relu",
    "test_reshape_extended_dims", "test_reshape_negative_dim", "test_reshape_negative_extended_dims",
    "test_reshape_one_dim", "test_reshape_reduced_dims", "test_reshape_reordered_all_dims",
    "test_reshape_reordered_last_dims", "test_reshape_zero_and_negative_dim", "test_reshape_zero_dim",
    "test_shape", "test_shape_clip_end", "test_shape_clip_start", "test_shape_end_1", "test_shape_end_negative_1",
    "test_shape_example", "test_shape_start_1", "test_shape_start_1_end_2", "test_shape_start_1_end_negative_1",
    "test_shape_start_negative_1", "test_slice", "test_slice_default_axes", "test_slice_default_steps",
    "test_slice_end_out_of_bounds", "test_slice_neg", "test_slice_neg_steps", "test_slice_negative_axes",
    "test_resize_downsample_scales_nearest", "test_resize_downsample_sizes_nearest",
    "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn", "test_resize_upsample_scales_nearest",
    "test_resize_upsample_sizes_nearest", "test_resize_upsample_sizes_nearest_ceil_half_pixel",
    "test_resize_upsample_sizes_nearest_floor_align_corners",
    "test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric", "test_split_equal_parts_1d", "test_split_equal_parts_2d",
    "test_split_equal_parts_default_axis", "test_squeeze", "test_squeeze_negative_axes",
    "test_sub", "test_sub_bcast", "test_sub_example", "test_transpose_all_permutations_0",
    "test_transpose_all_permutations_1", "test_transpose_all_permutations_2", "test_transpose_all_permutations_3",
    "test_transpose_all_permutations_4", "test_transpose_all_permutations_5", "test_transpose_default",
    "test_unsqueeze_axis_0", "test_unsqueeze_axis_1", "test_unsqueeze_axis_2", "test_unsqueeze_axis_3",
    "test_unsqueeze_negative_axes", "test_unsqueeze_three_axes", "test_unsqueeze_two_axes",
    "test_unsqueeze_unsorted_axes", "test_upsample_nearest",
};

// Shape arithmetic (Gather, ConstantOfShape, Range, Expand, Cast) and Split's sizes: qatc takes
// these operands as constants only, so with every input frozen the whole graph is a constant,
// which must equal the expected outputs exactly. On computed tensors they are refused (kRefused).
const std::vector<std::string> kShapeArithmetic = {
    "test_gather_0", "test_gather_1", "test_gather_2d_indices", "test_gather_negative_indices",
    "test_constantofshape_float_ones", "test_constantofshape_int_zeros", "test_range_int32_type_negative_delta",
    "test_expand_dim_changed", "test_expand_dim_unchanged", "test_cast_FLOAT_to_DOUBLE",
    "test_split_variable_parts_1d", "test_split_variable_parts_2d", "test_split_variable_parts_default_axis",
};

// Tests of supported op types that use something qatc refuses on purpose, with the reason.
const std::vector<std::pair<std::string, std::string>> kRefused = {
    {"test_gather_0", "gathering from a computed tensor"},
    {"test_split_variable_parts_1d", "the split 'split' must be a constant"},
    {"test_split_zero_size_splits", "of size 0"},
    {"test_constantofshape_int_zeros", "must be a constant"},
    {"test_range_float_type_positive_delta", "must be a constant"},
    {"test_expand_dim_changed", "must be a constant"},
    {"test_cast_FLOAT_to_DOUBLE", "casting the computed tensor"},
    {"test_add_uint8", "arithmetic on the u8 tensor"},
    {"test_sub_uint8", "arithmetic on the u8 tensor"},
    {"test_mul_uint8", "arithmetic on the u8 tensor"},
    {"test_div_uint8", "arithmetic on the u8 tensor"},
    {"test_batchnorm_epsilon_training_mode", "output 1 ('output_mean') is used"},
    {"test_batchnorm_example_training_mode", "output 1 ('output_mean') is used"},
    {"test_identity_opt", "is not a tensor"},
    {"test_identity_sequence", "is not a tensor"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "only the first output is supported"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "only the first output is supported"},
    {"test_reshape_allowzero_reordered", "has dimension 0 of size 0"},
    {"test_resize_downsample_scales_linear", "mode 'linear' is not supported"},
    {"test_resize_upsample_scales_cubic", "mode 'cubic' is not supported"},
    {"test_resize_tf_crop_and_resize", "mode 'linear' is not supported"},
};

std::vector<fs::path> data_sets(const fs::path& test) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(test))
    if (e.is_directory() && e.path().filename().string().starts_with("test_data_set_")) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

std::vector<frontend::NamedTensor> read_numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<frontend::NamedTensor> out;
  for (int i = 0; fs::exists(dir / (prefix + std::to_string(i) + ".pb")); ++i)
    out.push_back(frontend::read_tensor_file((dir / (prefix + std::to_string(i) + ".pb")).string()));
  return out;
}

// ONNX's backend runner compares float outputs with rtol 1e-3, atol 1e-7: the expected values come
// from numpy, whose float32 summation order differs from any other implementation's. Integer
// outputs (quantized tensors) must match exactly.
bool matches(const ir::TensorData& got, const ir::TensorData& want, bool exact) {
  if (got.shape() != want.shape()) return false;
  for (int64_t i = 0; i < got.size(); ++i) {
    if (ir::is_integer(want.dtype())) {
      if (got.int_at(i) != want.int_at(i)) return false;
      continue;
    }
    double g = got.float_at(i), w = want.float_at(i);
    if (exact ? g != w : std::fabs(g - w) > 1e-7 + 1e-3 * std::fabs(w)) return false;
  }
  return true;
}

// The QAT reference evaluator in either arithmetic, or the lowered integer graph on the integer
// simulator (lowered with --allow-non-pot: the QOperator tests' scales are not powers of two).
enum class Engine { qat_float32, qat_exact, int_sim };

// Imports and evaluates one node test; returns "" on success, else what went wrong. Node tests
// feed parameters (scales, shapes, axes, weights) as inputs: all but the first are frozen into
// constants, or all of them for shape arithmetic, which qatc evaluates while reading the graph.
std::string run_node_test(const fs::path& test, Engine engine, bool freeze_all = false) {
  for (const auto& set : data_sets(test)) {
    auto inputs = read_numbered(set, "input_");
    auto expected = read_numbered(set, "output_");
    frontend::ImportOptions options;
    const size_t first_frozen = freeze_all ? 0 : 1;
    for (size_t i = first_frozen; i < inputs.size(); ++i) options.frozen_inputs[inputs[i].name] = inputs[i].data;
    auto model = frontend::import_onnx((test / "model.onnx").string(), options);
    std::vector<ir::TensorData> runtime;
    if (!inputs.empty() && !freeze_all) runtime.push_back(inputs[0].data);
    std::vector<ir::TensorData> outputs;
    if (engine == Engine::int_sim) {
      passes::lower(model.graph, {.allow_non_pot = true});
      outputs = sim::simulate_integer(model.graph, runtime);
    } else {
      auto arithmetic = engine == Engine::qat_exact ? sim::Arithmetic::exact : sim::Arithmetic::float32;
      outputs = sim::evaluate_qat(model.graph, runtime, {.arithmetic = arithmetic});
    }
    if (outputs.size() != expected.size()) return "wrong number of outputs";
    bool exact = engine != Engine::qat_float32;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (!matches(outputs[i], expected[i].data, exact))
        return set.filename().string() + ": output " + std::to_string(i) + " differs";
  }
  return "";
}

}  // namespace

TEST_CASE("ONNX backend node tests of supported ops pass") {
  for (const auto& name : kSupported) {
    INFO(name);
    std::string failure;
    try {
      failure = run_node_test(kNodeTests / name, Engine::qat_float32);
    } catch (const Error& e) {
      failure = e.what();
    }
    CHECK(failure == "");
  }
}

TEST_CASE("ONNX node tests of shape arithmetic fold to their expected outputs") {
  for (const auto& name : kShapeArithmetic) {
    INFO(name);
    std::string failure;
    try {
      failure = run_node_test(kNodeTests / name, Engine::qat_exact, true);
    } catch (const Error& e) {
      failure = e.what();
    }
    CHECK(failure == "");
  }
}

// Quantized outputs reproduced in both modes. The QOperator tests' expected outputs are literals in
// ONNX's case files (qlinearconv.py, qlinearmatmul.py), not computed there; with their
// non-power-of-two scales, exact and float32 requantization differ by at most 1.3e-5 of a step,
// and no value lies within 0.05 of a tie, so both modes must give them.
const std::vector<std::string> kQuantizedTests = {
    "test_quantizelinear",      "test_quantizelinear_axis",         "test_dequantizelinear",
    "test_dequantizelinear_axis", "test_basic_convinteger",         "test_convinteger_with_padding",
    "test_convinteger_without_padding", "test_matmulinteger",       "test_qlinearconv",
    "test_qlinearmatmul_2D",    "test_qlinearmatmul_3D"};

TEST_CASE("ONNX quantized node tests are exact in the exact evaluator") {
  for (const auto& name : kQuantizedTests) {
    INFO(name);
    CHECK(run_node_test(kNodeTests / name, Engine::qat_exact) == "");
  }
}

// The integer path end to end: import, lower to integers, run on the integer simulator. The
// QLinear tests go through Q31 multipliers; their values sit far from any rounding tie (see above),
// so the approximation must not change a single output.
TEST_CASE("ONNX quantized node tests are exact on the lowered integer graph") {
  for (const auto& name : kQuantizedTests) {
    INFO(name);
    std::string failure;
    try {
      failure = run_node_test(kNodeTests / name, Engine::int_sim);
    } catch (const Error& e) {
      failure = e.what();
    }
    CHECK(failure == "");
  }
}

// The activation node tests between power-of-two fake-quants: their input quantized to int8 on
// 2^-4, their output to int16 on 2^-8 (exp saturates there). Lowered, each becomes a lookup table
// (HardSigmoid with slope 0.5 a requantize), and the integer simulator must equal the exact QAT
// evaluation on the node tests' own inputs.
const std::vector<std::string> kActivationTests = {
    "test_sigmoid", "test_sigmoid_example", "test_tanh", "test_tanh_example", "test_erf", "test_exp",
    "test_exp_example", "test_elu", "test_elu_default", "test_elu_example", "test_leakyrelu",
    "test_leakyrelu_default", "test_leakyrelu_example", "test_hardswish", "test_hardswish_expanded",
    "test_hardsigmoid", "test_hardsigmoid_default", "test_hardsigmoid_example", "test_softplus",
    "test_softplus_example"};

// quantize -> dequantize after the graph's input and before its output.
void fake_quantize_around(ir::Graph& g) {
  auto pair = [&](ir::Value* v, ir::DType dtype, ir::QuantParams q) {
    const ir::Shape& shape = v->type.shape;
    ir::Value* qv = g.add_op(ir::OpKind::quantize, {v}, {{g.unique_name(v->name + "_q"), {dtype, shape, q}}},
                             {{"round", std::string("half_even")}}, "")->outputs[0];
    ir::Value* dq = g.add_op(ir::OpKind::dequantize, {qv}, {{g.unique_name(v->name + "_dq"), {ir::DType::f32, shape, {}}}},
                             {}, "")->outputs[0];
    g.replace_all_uses(v, dq);
    qv->producer->inputs[0] = v;  // replace_all_uses also moved the quantize's own operand
  };
  pair(g.inputs()[0], ir::DType::i8, {{0x1p-4}, {0}, -1, 8, true});
  pair(g.outputs()[0], ir::DType::i16, {{0x1p-8}, {0}, -1, 16, true});
  g.sort_topologically();
}

TEST_CASE("ONNX activation node tests, fake-quantized, are exact on the integer simulator") {
  for (const auto& name : kActivationTests) {
    INFO(name);
    for (const auto& set : data_sets(kNodeTests / name)) {
      auto model = frontend::import_onnx((kNodeTests / name / "model.onnx").string());
      fake_quantize_around(model.graph);
      const std::vector<ir::TensorData> inputs{read_numbered(set, "input_")[0].data};
      const auto exact = sim::evaluate_qat(model.graph, inputs, {.arithmetic = sim::Arithmetic::exact});
      passes::lower(model.graph, {});
      size_t tables = 0;
      for (const ir::Op* op : model.graph.ops()) tables += op->kind == ir::OpKind::lut;
      // HardSigmoid is affine and clipped: a requantize, unless its slope (ONNX's default 0.2) has
      // no exact shift, and then a table.
      const bool affine = name.starts_with("test_hardsigmoid") && name != "test_hardsigmoid_default";
      CHECK(tables == (affine ? 0 : 1));
      CHECK(matches(sim::simulate_integer(model.graph, inputs)[0], exact[0], true));
    }
  }
}

TEST_CASE("ONNX node tests using refused features are refused with the reason") {
  for (const auto& [name, reason] : kRefused) {
    INFO(name);
    CHECK_THROWS_WITH(frontend::import_onnx((kNodeTests / name / "model.onnx").string()), Catch::Contains(reason));
  }
}

// The whole suite, 900+ models of every op: none may crash qatc; each is refused cleanly or passes.
TEST_CASE("every ONNX node test is either refused cleanly or passes") {
  std::set<std::string> listed(kSupported.begin(), kSupported.end());
  for (const auto& [name, reason] : kRefused) listed.insert(name);
  int passed = 0, refused = 0;
  for (const auto& e : fs::directory_iterator(kNodeTests)) {
    std::string name = e.path().filename().string();
    if (listed.count(name)) continue;
    INFO(name);
    try {
      std::string failure = run_node_test(e.path(), Engine::qat_float32);
      CHECK(failure == "");
      ++passed;
    } catch (const Error&) {
      ++refused;
    }
  }
  INFO("unlisted node tests: " << passed << " passed, " << refused << " refused");
  CHECK(passed + refused > 700);
}
