// Test tool: builds an ONNX model file from ONNX's textual syntax (onnx/defs/parser.h), so tiny
// import tests (including hostile ones) live as readable text next to their FileCheck lines.
// Lines starting with "//" are skipped. Usage: onnx-from-text IN.onnxtxt OUT.onnx
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: onnx-from-text IN.onnxtxt OUT.onnx\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot read\n";
    return 2;
  }
  std::string text, line;
  while (std::getline(in, line))
    if (line.rfind("//", 0) != 0) text += line + "\n";
  onnx::ModelProto model;
  auto status = onnx::OnnxParser::Parse(model, text.c_str());
  if (!status.IsOK()) {
    std::cerr << argv[1] << ": " << status.ErrorMessage() << "\n";
    return 2;
  }
  std::ofstream out(argv[2], std::ios::binary);
  if (!model.SerializeToOstream(&out)) {
    std::cerr << argv[2] << ": cannot write\n";
    return 2;
  }
  return 0;
}
