// qatc-opt: reads IR text, verifies it and prints it again (the round trip FileCheck tests use).
// Exit codes as for qatc: 0 ok, 2 bad input or usage.
#include "frontend/file_io.h"
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <iterator>

int main(int argc, char** argv) {
  CLI::App app{"qatc-opt: verify and print qatc IR text"};
  std::string input = "-";
  std::string output;
  app.add_option("input", input, "IR text file, or - for standard input")->capture_default_str();
  app.add_option("-o,--output", output, "Write here instead of standard output (atomically)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    std::string text = input == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                                    : qatc::frontend::read_file(input);
    qatc::ir::Graph graph = qatc::ir::parse_graph(text, input == "-" ? "<stdin>" : input);
    qatc::ir::verify(graph);
    std::string printed = qatc::ir::print_graph(graph);
    if (output.empty()) std::cout << printed;
    else qatc::frontend::write_file_atomically(output, printed);
    return 0;
  } catch (const qatc::Error& e) {
    std::cerr << "qatc-opt: error: " << e.what() << "\n";
    return 2;
  }
}
