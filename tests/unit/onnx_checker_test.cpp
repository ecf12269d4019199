// libonnx's checker and shape inference run isolated: models that crash Debian's libonnx 1.12
// (found by a schema-driven probe, and reproduced with python3-onnx, which shares its C++ code) are
// refused in one line naming the stage and the node, and the process survives them.
#include "frontend/onnx_checker.h"
#include "ir/error.h"
#include "ir/limits.h"

#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

using namespace qatc;

namespace {

onnx::ModelProto model_of(const std::vector<onnx::NodeProto>& nodes) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* x = g->add_input();
  x->set_name("x");
  auto* tt = x->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 3, 8, 8}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  for (const auto& n : nodes) *g->add_node() = n;
  g->add_output()->set_name(nodes.back().output(0));
  auto* out = g->mutable_output(0)->mutable_type()->mutable_tensor_type();
  out->set_elem_type(onnx::TensorProto::FLOAT);
  for (int i = 0; i < 4; ++i) out->mutable_shape()->add_dim();  // rank 4, sizes left to inference
  return m;
}

onnx::NodeProto node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(output + "_node");
  for (const auto& in : inputs) n.add_input(in);
  n.add_output(output);
  return n;
}

void add_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(values.size() == 1 && name == "blocksize" ? onnx::AttributeProto::INT : onnx::AttributeProto::INTS);
  if (a->type() == onnx::AttributeProto::INT) a->set_i(values[0]);
  else
    for (int64_t v : values) a->add_ints(v);
}

void add_weight(onnx::ModelProto& m, const std::vector<int64_t>& dims) {
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) w->add_dims(d), n *= d;
  for (int64_t i = 0; i < n; ++i) w->add_float_data(0.f);
}

std::string refusal(onnx::ModelProto m) {
  try {
    frontend::check_with_onnx_isolated(m, "crafted.onnx", 13);
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("a Conv with zero strides (SIGFPE in libonnx) is refused naming the node") {
  auto relu = node("Relu", {"x"}, "r");
  auto conv = node("Conv", {"r", "w"}, "y");
  add_ints(conv, "strides", {0, 0});
  auto m = model_of({relu, node("Relu", {"r"}, "r2"), conv});
  m.mutable_graph()->mutable_node(2)->set_input(0, "r2");
  add_weight(m, {4, 3, 3, 3});
  CHECK(refusal(m) ==
        "node 'y_node' (Conv, domain ai.onnx, opset 13): ONNX shape inference (libonnx) crashed (SIGFPE) on this node; "
        "refusing the model");
}

TEST_CASE("a Conv weight of higher rank than its input (SIGSEGV in libonnx) is refused naming the node") {
  auto m = model_of({node("Conv", {"x", "w"}, "y")});
  add_weight(m, {4, 3, 3, 3, 3});
  CHECK(refusal(m) ==
        "node 'y_node' (Conv, domain ai.onnx, opset 13): ONNX shape inference (libonnx) crashed (SIGSEGV) on this node; "
        "refusing the model");
}

TEST_CASE("DepthToSpace with blocksize 2^32 and a 7-byte int64 shape are refused, not crashes") {
  auto d2s = node("DepthToSpace", {"x"}, "y");
  add_ints(d2s, "blocksize", {int64_t{1} << 32});
  CHECK_THAT(refusal(model_of({d2s})), Catch::Contains("crashed (SIGFPE) on this node"));

  auto m = model_of({node("Reshape", {"x", "s"}, "y")});
  auto* s = m.mutable_graph()->add_initializer();
  s->set_name("s");
  s->set_data_type(onnx::TensorProto::INT64);
  s->add_dims(1);
  s->set_raw_data("1234567");
  CHECK_THAT(refusal(m), Catch::Contains("node 'y_node' (Reshape, domain ai.onnx, opset 13): ONNX shape inference (libonnx) crashed"));
}

TEST_CASE("a model libonnx accepts comes back with its inferred shapes") {
  auto m = model_of({node("Relu", {"x"}, "r"), node("Relu", {"r"}, "y")});
  frontend::check_with_onnx_isolated(m, "fine.onnx", 13);
  REQUIRE(m.graph().value_info_size() == 1);
  CHECK(m.graph().value_info(0).name() == "r");
  CHECK(m.graph().value_info(0).type().tensor_type().shape().dim_size() == 4);
  CHECK(m.graph().output(0).type().tensor_type().shape().dim(3).dim_value() == 8);
}

TEST_CASE("libonnx's own refusals keep their message") {
  auto m = model_of({node("NoSuchOp", {"x"}, "y")});
  CHECK_THAT(refusal(m), Catch::StartsWith("crafted.onnx: ONNX checker: No Op registered for NoSuchOp"));
}

TEST_CASE("a Conv on which libonnx's inference does not finish is refused at the CPU-time limit") {
  // auto_pad SAME with stride 3 over a dimension of 2^62: libonnx 1.12 loops.
  auto conv = node("Conv", {"x", "w"}, "y");
  add_ints(conv, "strides", {3, 3});
  auto* pad = conv.add_attribute();
  pad->set_name("auto_pad");
  pad->set_type(onnx::AttributeProto::STRING);
  pad->set_s("SAME_UPPER");
  auto m = model_of({conv});
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(2)->set_dim_value(
      int64_t{1} << 62);
  add_weight(m, {4, 3, 3, 3});
  const int64_t saved = ir::limits().max_import_seconds;
  ir::limits().max_import_seconds = 1;
  CHECK(refusal(m) ==
        "crafted.onnx: ONNX shape inference (libonnx) did not finish within 1 s of CPU time (--max-import-seconds); "
        "refusing the model");
  ir::limits().max_import_seconds = saved;
}
