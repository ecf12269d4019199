// The IR text form round-trips exactly, and the verifier names what is wrong.
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace qatc;
using namespace qatc::ir;

namespace {

// A graph using every attribute kind, per-tensor and per-axis quantization and awkward numbers.
Graph sample_graph() {
  Graph g;
  g.name = "sample:graph";
  Value* x = g.add_input("input.1", {DType::f32, {1, 2, 4, 4}, std::nullopt});
  std::vector<int8_t> wq{1, -128, 127, 0, 5, -5, 64, -64};
  QuantParams wqp{{0.0078125, 0.1}, {0, 3}, 0, 8, true};
  Value* w = g.add_constant("onnx::w", TensorData::from<int8_t>({2, 1, 2, 2}, wq), wqp);
  std::vector<float> bias{-0.0f, std::numeric_limits<float>::denorm_min()};
  Value* b = g.add_constant("bias", TensorData::from<float>({2}, bias));
  QuantParams aq{{0.25}, {128}, -1, 8, false};
  Value* q = g.add_op(OpKind::quantize, {x}, {{"q", {DType::u8, {1, 2, 4, 4}, aq}}},
                      {{"round", std::string("half_even")}}, "/quant \"x\"")->outputs[0];
  Value* d = g.add_op(OpKind::dequantize, {q}, {{"dq", {DType::f32, {1, 2, 4, 4}, std::nullopt}}})->outputs[0];
  Value* wd = g.add_op(OpKind::dequantize, {w}, {{"wd", {DType::f32, {2, 1, 2, 2}, std::nullopt}}})->outputs[0];
  Value* c = g.add_op(OpKind::conv, {d, wd, b}, {{"c", {DType::f32, {1, 2, 3, 3}, std::nullopt}}},
                      {{"strides", std::vector<int64_t>{1, 1}},
                       {"pads", std::vector<int64_t>{0, 0, 0, 0}},
                       {"dilations", std::vector<int64_t>{1, 1}},
                       {"group", int64_t{2}}})->outputs[0];
  Value* r = g.add_op(OpKind::resize, {c}, {{"r", {DType::f32, {1, 2, 6, 6}, std::nullopt}}},
                      {{"sizes", std::vector<int64_t>{1, 2, 6, 6}},
                       {"scales", std::vector<double>{1, 1, 2, 2}},
                       {"coordinate_transformation_mode", std::string("asymmetric")},
                       {"nearest_mode", std::string("floor")}})->outputs[0];
  Value* k = g.add_op(OpKind::clip, {r}, {{"k", {DType::f32, {1, 2, 6, 6}, std::nullopt}}},
                      {{"min", 0.0}, {"max", 6.0}})->outputs[0];
  g.add_output(k);
  return g;
}

}  // namespace

TEST_CASE("print -> parse -> print is the identity") {
  Graph g = sample_graph();
  verify(g);
  std::string text = print_graph(g);
  Graph back = parse_graph(text, "sample.qir");
  verify(back);
  CHECK(print_graph(back) == text);
  // The numbers themselves survive, not just their text.
  CHECK(back.find_value("bias")->data == g.find_value("bias")->data);
  CHECK(back.find_value("onnx::w")->type == g.find_value("onnx::w")->type);
  CHECK(back.ops()[0]->name == "/quant \"x\"");
}

TEST_CASE("names that are not bare identifiers are quoted") {
  std::string text = print_graph(sample_graph());
  CHECK_THAT(text, Catch::Contains("%\"onnx::w\""));
  CHECK_THAT(text, Catch::Contains("graph @\"sample:graph\""));
  CHECK_THAT(text, Catch::Contains("quant<i8: axis = 0, scale = [2^-7, 0.1], zp = [0, 3]>"));
  CHECK_THAT(text, Catch::Contains("quant<u8: scale = 2^-2, zp = 128>"));
}

TEST_CASE("elided constants print but do not parse") {
  std::string text = print_graph(sample_graph(), {.elide_constants_over = 4});
  CHECK_THAT(text, Catch::Contains("<8 values>"));
  CHECK_THROWS_WITH(parse_graph(text, "e.qir"), Catch::Contains("was printed elided"));
}

TEST_CASE("parse errors carry file, line and column") {
  CHECK_THROWS_WITH(parse_graph("graph @g {\n  input %x : f99[1]\n}", "bad.qir"),
                    Catch::Contains("bad.qir:2:14: unknown element type 'f99'"));
  CHECK_THROWS_WITH(parse_graph("graph @g {\n  %y = relu(%nope) : f32[1]\n  output %y\n}", "bad.qir"),
                    Catch::Contains("'%nope' is not defined"));
  CHECK_THROWS_WITH(parse_graph("graph @g { input %x : f32[2]\n const %c : i8[2] = [1, 300] }", "bad.qir"),
                    Catch::Contains("value out of range for i8"));
}

TEST_CASE("the verifier names the offending op") {
  SECTION("wrong result shape") {
    Graph g;
    Value* x = g.add_input("x", {DType::f32, {1, 4}, std::nullopt});
    g.add_output(g.add_op(OpKind::relu, {x}, {{"y", {DType::f32, {1, 5}, std::nullopt}}}, {}, "act")->outputs[0]);
    CHECK_THROWS_WITH(verify(g), "relu 'act': result 'y' has shape 1x5, the op computes 1x4");
  }
  SECTION("zero point outside the quantized range") {
    Graph g;
    Value* x = g.add_input("x", {DType::f32, {4}, std::nullopt});
    QuantParams q{{0.5}, {300}, -1, 8, false};
    g.add_output(g.add_op(OpKind::quantize, {x}, {{"q", {DType::u8, {4}, q}}},
                          {{"round", std::string("half_even")}})->outputs[0]);
    CHECK_THROWS_WITH(verify(g), Catch::Contains("zero point 300 outside [0, 255]"));
  }
  SECTION("missing attribute") {
    Graph g;
    Value* x = g.add_input("x", {DType::f32, {1, 2}, std::nullopt});
    g.add_output(g.add_op(OpKind::concat, {x}, {{"y", {DType::f32, {1, 2}, std::nullopt}}}, {}, "cat")->outputs[0]);
    CHECK_THROWS_WITH(verify(g), "concat 'cat': missing attribute 'axis'");
  }
  SECTION("a cycle") {
    // parse_graph orders ops topologically; a cycle has no such order.
    CHECK_THROWS_WITH(parse_graph(R"(graph @g {
      input %x : f32[2]
      %a = add(%x, %b) : f32[2]
      %b = relu(%a) : f32[2]
      output %b
    })",
                                  "cycle.qir"),
                      Catch::Contains("the graph has a cycle through this op"));
  }
}

TEST_CASE("passes name new values uniquely and hand names over") {
  Graph g = parse_graph("graph @g { input %x : f32[2]\n %y = relu(%x) : f32[2]\n %y.1 = relu(%y) : f32[2]\n output %y.1 }",
                        "g.qir");
  CHECK(g.unique_name("z") == "z");
  CHECK(g.unique_name("y") == "y.2");
  Value* y = g.find_value("y");
  CHECK_THROWS_WITH(g.rename(y, "x"), "tensor 'x' is defined twice");
  g.rename(y, "relu_out");
  CHECK(g.find_value("y") == nullptr);
  CHECK(g.find_value("relu_out") == y);
  CHECK(print_graph(g).find("%y.1 = relu(%relu_out)") != std::string::npos);
}

// erase_op removes what became unused without rescanning the graph: the op's results once nothing
// reads them, and operands nothing produces (constants, results of ops erased before). Erasing a
// dead chain producer first keeps the producer's result alive until its last reader goes (the
// ASan build caught a version that freed it while the reader still held it).
TEST_CASE("erase_op drops unused results and constants, in either order") {
  Graph g = parse_graph(R"(graph @g {
  input %x : f32[2]
  const %k : f32[2] = [1, 2]
  const %kept : f32[2] = [3, 4]
  %a = add(%x, %k) : f32[2]
  %b = mul(%a, %a) : f32[2]
  %c = add(%x, %kept) : f32[2]
  %d = add(%c, %kept) : f32[2]
  output %d
})",
                        "g.qir");
  g.erase_op(g.find_value("a")->producer);  // %a is still read by %b
  REQUIRE(g.find_value("a") != nullptr);
  CHECK(g.find_value("k") == nullptr);  // only %a read it
  g.erase_op(g.find_value("b")->producer);
  CHECK(g.find_value("a") == nullptr);
  CHECK(g.find_value("b") == nullptr);
  g.erase_op(g.find_value("d")->producer);  // a graph output: %d stays, %c and %kept are still read
  CHECK(g.find_value("d") != nullptr);
  CHECK(g.find_value("kept") != nullptr);
  CHECK(g.find_value("x") != nullptr);  // graph inputs stay
}
