// qatc-opt: reads IR text, runs named passes on it, verifies and prints it (the tool the passes'
// FileCheck tests use). Exit codes as for qatc: 0 ok, 2 bad input or usage.
#include "frontend/file_io.h"
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "passes/pass.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <iterator>

int main(int argc, char** argv) {
  CLI::App app{"qatc-opt: run qatc passes on IR text"};
  std::string input = "-";
  std::string output;
  std::vector<std::string> passes;
  bool lower = false;
  qatc::passes::PassOptions options;
  app.add_option("input", input, "IR text file, or - for standard input")->capture_default_str();
  app.add_option("-o,--output", output, "Write here instead of standard output (atomically)");
  app.add_option("-p,--passes", passes, "Passes to run, in order (comma-separated; repeatable)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_flag("--lower", lower, "Run the whole lowering pipeline");
  app.add_flag("--allow-non-pot", options.allow_non_pot, "Lower non-power-of-two scales with Q31 multipliers");
  std::string list = "Passes, in pipeline order:\n";
  for (const auto& p : qatc::passes::pipeline()) list += "  " + std::string(p.name) + "  " + std::string(p.summary) + "\n";
  app.footer(list + "Example:\n  qatc-opt --passes=fold-constants,eliminate-dead-code model.qir");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    std::vector<const qatc::passes::Pass*> chosen;
    for (const auto& name : passes) {
      const auto* p = qatc::passes::find_pass(name);
      if (!p) qatc::fail("unknown pass '{}' (qatc-opt --help lists them)", name);
      chosen.push_back(p);
    }
    std::string text = input == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                                    : qatc::frontend::read_file(input);
    qatc::ir::Graph graph = qatc::ir::parse_graph(text, input == "-" ? "<stdin>" : input);
    qatc::ir::verify(graph);
    if (lower) qatc::passes::lower(graph, options);
    for (const auto* p : chosen) qatc::passes::run_pass(*p, graph, options);
    std::string printed = qatc::ir::print_graph(graph);
    if (output.empty()) std::cout << printed;
    else qatc::frontend::write_file_atomically(output, printed);
    return 0;
  } catch (const qatc::Error& e) {
    std::cerr << "qatc-opt: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "qatc-opt: internal error: " << e.what() << "\n";
    return 3;
  }
}
