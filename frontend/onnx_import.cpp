#include "frontend/onnx_import.h"

#include "frontend/converters.h"
#include "frontend/file_io.h"
#include "frontend/model_checks.h"
#include "frontend/onnx_checker.h"
#include "frontend/tensor_proto.h"
#include "frontend/ti_pact2.h"
#include "ir/limits.h"
#include "ir/verifier.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <span>
#include <unordered_map>

namespace qatc::frontend {

namespace {

struct Converter {
  std::string_view op_type;
  int64_t min_opset;  // the oldest opset whose semantics the converter implements
  void (*convert)(ImportContext&);
  bool all_outputs = false;  // binds every output, not just the first
};

// Every supported ONNX operator (default domain). Opsets 7 and later are accepted overall.
constexpr Converter kConverters[] = {
    {"QuantizeLinear", 10, convert_quantize_linear},
    {"DequantizeLinear", 10, convert_dequantize_linear},
    {"ConvInteger", 10, convert_conv_integer},
    {"MatMulInteger", 10, convert_matmul_integer},
    {"QLinearConv", 10, convert_qlinear_conv},
    {"QLinearMatMul", 10, convert_qlinear_matmul},
    {"Conv", 1, convert_conv},
    {"MaxPool", 1, convert_max_pool},
    {"AveragePool", 1, convert_average_pool},
    {"GlobalAveragePool", 1, convert_global_average_pool},
    {"GlobalMaxPool", 1, convert_global_max_pool},
    {"ReduceMean", 1, convert_reduce_mean},
    {"MatMul", 1, convert_matmul},
    {"Gemm", 7, convert_gemm},
    {"BatchNormalization", 7, convert_batch_normalization},
    {"Add", 7, convert_add},
    {"Sub", 7, convert_sub},
    {"Mul", 7, convert_mul},
    {"Div", 7, convert_div},
    {"Relu", 1, convert_relu},
    {"Clip", 6, convert_clip},
    {"HardSigmoid", 6, convert_hard_sigmoid},
    {"HardSwish", 14, convert_hard_swish},
    {"LeakyRelu", 6, convert_leaky_relu},
    {"Elu", 6, convert_elu},
    {"Sigmoid", 6, convert_sigmoid},
    {"Tanh", 6, convert_tanh},
    {"Erf", 9, convert_erf},
    {"Exp", 6, convert_exp},
    {"Log", 6, convert_log},
    {"Softplus", 1, convert_softplus},
    {"Identity", 1, convert_identity},
    {"Constant", 1, convert_constant},
    {"Flatten", 1, convert_flatten},
    {"Reshape", 5, convert_reshape},
    {"Transpose", 1, convert_transpose},
    {"Split", 2, convert_split, true},
    {"Squeeze", 1, convert_squeeze},
    {"Unsqueeze", 1, convert_unsqueeze},
    {"Concat", 4, convert_concat},
    {"Pad", 2, convert_pad},
    {"Resize", 10, convert_resize},
    {"Upsample", 7, convert_upsample},
    {"Shape", 1, convert_shape},
    {"Gather", 1, convert_gather},
    {"ConstantOfShape", 9, convert_constant_of_shape},
    {"Cast", 6, convert_cast},
    {"Range", 11, convert_range},
    {"Expand", 8, convert_expand},
    {"Slice", 1, convert_slice},
};

// Sony MCT's custom fake-quant ops (domain mct_quantizers, any version).
constexpr Converter kMctConverters[] = {
    {"ActivationPOTQuantizer", 0, convert_mct_activation_quantizer},
    {"ActivationSymmetricQuantizer", 0, convert_mct_activation_quantizer},
    {"ActivationUniformQuantizer", 0, convert_mct_activation_quantizer},
    {"WeightsPOTQuantizer", 0, convert_mct_weights_quantizer},
    {"WeightsSymmetricQuantizer", 0, convert_mct_weights_quantizer},
    {"WeightsUniformQuantizer", 0, convert_mct_weights_quantizer},
};

int64_t default_domain_opset(const onnx::ModelProto& m, const std::string& path) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  fail("{}: the model imports no ai.onnx opset", path);
}

std::string detect_dialect(const onnx::ModelProto& m) {
  bool qdq = false, qoperator = false;
  for (const auto& n : m.graph().node()) {
    if (n.domain() == "mct_quantizers") return "mct";
    const std::string& op = n.op_type();
    qdq |= op == "QuantizeLinear" || op == "DequantizeLinear";
    qoperator |= op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger";
  }
  // QOperator models also hold QuantizeLinear/DequantizeLinear, at the graph's edges.
  if (qoperator) return "onnx-qoperator";
  if (!qdq) return "float";
  return m.producer_name() == "pytorch" ? "pytorch-qdq" : "onnx-qdq";
}

// Moves frozen graph inputs into the initializers, where the checker and shape inference see them.
void freeze_inputs(onnx::ModelProto& m, const std::map<std::string, ir::TensorData>& frozen) {
  auto* inputs = m.mutable_graph()->mutable_input();
  for (const auto& [input_name, data] : frozen) {
    const std::string& name = input_name;  // clang 14 cannot capture a structured binding
    auto it = std::find_if(inputs->begin(), inputs->end(), [&](const auto& in) { return in.name() == name; });
    if (it == inputs->end()) fail("cannot freeze '{}': it is not a graph input", name);
    if (it->type().tensor_type().elem_type() != dtype_to_onnx(data.dtype()))
      fail("cannot freeze input '{}': the value is {}, the input is {}", name, ir::dtype_name(data.dtype()),
           onnx_type_name(it->type().tensor_type().elem_type()));
    inputs->erase(it);
    *m.mutable_graph()->add_initializer() = tensor_to_proto(data, name);
  }
}

// Fixes every graph input's shape in the model itself, so ONNX shape inference sees static shapes.
void resolve_input_shapes(onnx::ModelProto& m, const ImportOptions& options, const std::set<std::string>& initializers) {
  std::set<std::string> input_names;
  for (const auto& in : m.graph().input())
    if (!initializers.count(in.name())) input_names.insert(in.name());
  for (const auto& [name, shape] : options.input_shapes)
    if (!input_names.count(name)) fail("--input-shape names '{}', which is not a graph input", name);
  for (auto& in : *m.mutable_graph()->mutable_input()) {
    if (!input_names.count(in.name())) continue;
    const std::string& name = in.name();
    if (!in.type().has_tensor_type()) fail("input '{}' is not a tensor", name);
    auto* tt = in.mutable_type()->mutable_tensor_type();
    auto given = options.input_shapes.find(name);
    if (!tt->has_shape() && given == options.input_shapes.end())
      fail("input '{}' has no shape; give it with --input-shape {}=<dims, e.g. 1x3x224x224>", name, name);
    if (given != options.input_shapes.end() && tt->has_shape() &&
        tt->shape().dim_size() != static_cast<int>(given->second.size()))
      fail("input '{}' has rank {}, --input-shape gives rank {}", name, tt->shape().dim_size(), given->second.size());
    auto* shape = tt->mutable_shape();
    if (given != options.input_shapes.end())
      while (shape->dim_size() < static_cast<int>(given->second.size())) shape->add_dim();
    for (int i = 0; i < shape->dim_size(); ++i) {
      auto* d = shape->mutable_dim(i);
      bool is_static = d->has_dim_value();
      if (given != options.input_shapes.end()) {
        int64_t want = given->second[i];
        if (want < 1) fail("--input-shape {}: dimension {} must be >= 1", name, i);
        if (is_static && d->dim_value() != want)
          fail("input '{}' has static dimension {} = {}, --input-shape gives {}", name, i, d->dim_value(), want);
        d->set_dim_value(want);
      } else if (!is_static) {
        std::string symbol = d->has_dim_param() ? " ('" + d->dim_param() + "')" : "";
        if (i != 0)
          fail("input '{}' has a dynamic dimension {}{}; give its shape with --input-shape {}=<dims>", name, i, symbol,
               name);
        d->set_dim_value(1);  // dynamic batch: 1
      } else if (d->dim_value() < 1) {
        fail("input '{}' has dimension {} of size {}", name, i, d->dim_value());
      }
    }
  }
}

// A tensor's shape as the model states it, if every dimension is static.
std::optional<ir::Shape> static_shape(const onnx::ValueInfoProto& vi) {
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return std::nullopt;
  ir::Shape shape;
  for (const auto& d : vi.type().tensor_type().shape().dim()) {
    if (!d.has_dim_value()) return std::nullopt;
    shape.push_back(d.dim_value());
  }
  return shape;
}

// Our shape rules must agree with ONNX's wherever ONNX inferred a static shape.
void cross_check_shapes(const onnx::ModelProto& m, const ir::Graph& g) {
  auto check = [&](const onnx::ValueInfoProto& vi) {
    const auto onnx_shape = static_shape(vi);
    const ir::Value* v = onnx_shape ? g.find_value(vi.name()) : nullptr;
    if (v && v->type.shape != *onnx_shape)
      fail("tensor '{}': ONNX shape inference gives {}, qatc computes {}", vi.name(), ir::shape_string(*onnx_shape),
           ir::shape_string(v->type.shape));
  };
  for (const auto& vi : m.graph().value_info()) check(vi);
  for (const auto& vi : m.graph().output()) check(vi);
}

}  // namespace

ImportedModel import_onnx(const std::string& path, const ImportOptions& options) {
  return import_onnx_bytes(read_file(path), path, options);
}

ImportedModel import_onnx_bytes(const std::string& bytes, const std::string& path, const ImportOptions& options) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) fail("{}: not a valid ONNX model (the protobuf does not parse)", path);
  if (!m.has_graph()) fail("{}: the model has no graph", path);
  if (m.graph().node_size() > ir::limits().max_nodes)
    fail("{}: {} nodes, beyond the {} allowed (--max-nodes)", path, m.graph().node_size(), ir::limits().max_nodes);

  ImportedModel result;
  ModelInfo& info = result.info;
  info.producer_name = m.producer_name();
  info.producer_version = m.producer_version();
  info.ir_version = m.ir_version();
  info.opset = default_domain_opset(m, path);
  info.dialect = detect_dialect(m);

  freeze_inputs(m, options.frozen_inputs);
  std::set<std::string> initializer_names;
  for (const auto& t : m.graph().initializer()) initializer_names.insert(t.name());
  resolve_input_shapes(m, options, initializer_names);
  int64_t newest_known = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
  info.onnx_checked = info.opset <= newest_known;
  // qatc's own checks and conversion come first, for messages that name what is wrong; libonnx's
  // checker and shape inference, which crash on crafted models, only see what qatc accepted.
  check_model_contents(m, info.opset);
  check_references(m, info.opset);

  ir::Graph& g = result.graph;
  g.name = m.graph().name().empty() ? std::filesystem::path(path).stem().string() : m.graph().name();
  ImportContext ctx(g, info.opset, m.producer_name());
  for (const auto& t : m.graph().initializer()) ctx.add_initializer(t.name(), tensor_from_proto(t));
  for (const auto& in : m.graph().input()) {
    if (initializer_names.count(in.name())) continue;
    const auto& tt = in.type().tensor_type();
    ir::DType dtype = dtype_from_onnx(tt.elem_type(), "input '" + in.name() + "'");
    if (dtype == ir::DType::f64) fail("input '{}' is float64; qatc imports float32 graphs", in.name());
    ir::Shape shape;
    for (const auto& d : tt.shape().dim()) shape.push_back(d.dim_value());
    ir::checked_num_elements(shape, dtype, "input '" + in.name() + "'");
    ctx.bind(in.name(), g.add_input(in.name(), {dtype, shape, std::nullopt}));
  }

  std::set<std::string> used;  // names some node or the graph output reads
  for (const auto& n : m.graph().node()) used.insert(n.input().begin(), n.input().end());
  for (const auto& o : m.graph().output()) used.insert(o.name());

  for (const auto* infos : {&m.graph().value_info(), &m.graph().output()})
    for (const auto& vi : *infos)
      if (auto shape = static_shape(vi)) ctx.declare_shape(vi.name(), *shape);
  // A refusal that a known difference in shape rules may explain says so.
  auto with_notes = [&](const Error& e) {
    if (ctx.shape_notes().empty()) throw e;
    fail("{} (note: {})", e.what(), ctx.shape_notes().back());
  };

  for (const auto& node : m.graph().node()) {
    ctx.begin_node(node);
    const bool mct = node.domain() == "mct_quantizers";
    if (!node.domain().empty() && node.domain() != "ai.onnx" && !mct) ctx.refuse("operators of this domain are not supported");
    const Converter* conv = nullptr;
    for (const auto& c : mct ? std::span<const Converter>(kMctConverters) : std::span<const Converter>(kConverters))
      if (c.op_type == node.op_type()) conv = &c;
    if (!conv) ctx.refuse("operator not supported");
    if (!mct && info.opset < conv->min_opset) ctx.refuse("supported from opset {} on", conv->min_opset);
    if (node.output_size() < 1) ctx.refuse("has no outputs");
    for (int i = 1; !conv->all_outputs && i < node.output_size(); ++i)
      if (!node.output(i).empty() && used.count(node.output(i)))
        ctx.refuse("output {} ('{}') is used, but only the first output is supported", i, node.output(i));
    try {
      conv->convert(ctx);
    } catch (const Error& e) {
      with_notes(e);
    }
  }

  for (const auto& o : m.graph().output()) {
    ir::Value* v = ctx.lookup(o.name());
    if (!v) fail("graph output '{}' is not produced by any node", o.name());
    g.add_output(v);
  }
  g.erase_unused_values();
  ir::verify(g);  // tensor sizes within the limits, before libonnx works on them
  if (info.onnx_checked) {
    check_with_onnx_isolated(m, path, info.opset);
    try {
      cross_check_shapes(m, g);
    } catch (const Error& e) {
      with_notes(e);
    }
  }
  if (options.qat_dialect == "ti-pact2" && info.dialect != "float")
    fail("--qat-dialect ti-pact2: {} already holds quantization ({}); a TI v1 export is a float graph", path, info.dialect);
  if (info.dialect == "float" && (options.qat_dialect == "ti-pact2" || looks_like_ti_pact2(g))) {
    info.dialect = "ti-pact2";
    apply_ti_pact2(g, options.ti);
  } else if (!options.ti.is_default()) {
    fail("the --ti-* options apply to TI v1 PACT2 models; {} is read as {}", path, info.dialect);
  }
  ir::verify(g);
  return result;
}

}  // namespace qatc::frontend
