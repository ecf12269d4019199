// qatc inspect: what a model is made of and how it is quantized.
#include "driver/commands.h"
#include "ir/error.h"
#include "ir/text.h"
#include "passes/lookup_table.h"

#include <fmt/format.h>

#include <iostream>

namespace qatc::driver {

namespace {

struct InspectOptions {
  ModelOptions model;
  bool print_ir = false;
};

std::string quant_summary(const ir::QuantParams& q) {
  if (!q.per_axis())
    return fmt::format("{:<6} scale {:<12} zp {:<4} {}", ir::storage_text(q), ir::scale_text(q.scales[0]),
                       q.zero_points[0], q.all_pot() ? "power of two" : "NOT a power of two");
  auto [lo, hi] = std::minmax_element(q.scales.begin(), q.scales.end());
  bool zero_zp = std::all_of(q.zero_points.begin(), q.zero_points.end(), [](int64_t z) { return z == 0; });
  return fmt::format("{:<6} per-axis {} ({} scales {}..{}), zp {}  {}", ir::storage_text(q), q.axis, q.scales.size(),
                     ir::scale_text(*lo), ir::scale_text(*hi), zero_zp ? "0" : "varies",
                     q.all_pot() ? "power of two" : "NOT all powers of two");
}

// The regions the lowering turns into lookup tables, with the float ops each table replaces; a
// region refused as a table is named with the reason.
void print_lookup_tables(const ir::Graph& graph) {
  std::vector<std::string> lines;
  for (const ir::Op* op : graph.ops()) {
    if (op->kind != ir::OpKind::quantize || !op->inputs[0]->producer) continue;
    try {
      auto region = passes::table_region(*op);
      if (!region) continue;
      std::vector<std::string_view> ops;
      for (const ir::Op* r : region->ops)
        if (r->kind != ir::OpKind::dequantize) ops.push_back(r->info().name);
      lines.push_back(fmt::format("  {}  {} entries over '{}': {}", op->outputs[0]->name,
                                  int64_t{1} << ir::bit_width(region->input->type.dtype), region->input->name,
                                  fmt::join(ops, ", ")));
    } catch (const Error& e) {
      lines.push_back(fmt::format("  {}  refused: {}", op->outputs[0]->name, e.what()));
    }
  }
  if (lines.empty()) return;
  std::cout << fmt::format("lookup tables: {}\n{}\n", lines.size(), fmt::join(lines, "\n"));
}

int inspect(const InspectOptions& o) {
  auto [graph, info] = import_model(o.model);
  if (o.print_ir) {
    std::cout << ir::print_graph(graph);
    return 0;
  }
  std::cout << fmt::format("model:    {}\n", o.model.model);
  std::cout << fmt::format("producer: {} {}, ONNX IR version {}, opset {}{}\n",
                           info.producer_name.empty() ? "unknown" : info.producer_name, info.producer_version,
                           info.ir_version, info.opset,
                           info.onnx_checked ? "" : " (newer than libonnx knows: checker skipped)");
  std::cout << fmt::format("dialect:  {}\n", info.dialect);
  for (const ir::Value* v : graph.inputs()) std::cout << fmt::format("input:    {} {}\n", v->name, ir::print_type(v->type));
  for (const ir::Value* v : graph.outputs()) std::cout << fmt::format("output:   {} {}\n", v->name, ir::print_type(v->type));

  std::map<std::string_view, int> counts;
  for (const ir::Op* op : graph.ops()) ++counts[op->info().name];
  std::vector<std::string> parts;
  for (const auto& [name, n] : counts) parts.push_back(fmt::format("{} {}", name, n));
  std::cout << fmt::format("ops:      {} ({})\n", graph.ops().size(), fmt::join(parts, ", "));

  std::vector<const ir::Value*> quantized;
  for (const ir::Value* c : graph.constants())
    if (c->type.quant) quantized.push_back(c);
  for (const ir::Op* op : graph.ops())
    for (const ir::Value* v : op->outputs)
      if (v->type.quant) quantized.push_back(v);
  std::cout << fmt::format("quantized tensors: {}\n", quantized.size());
  size_t width = 0;
  for (const ir::Value* v : quantized) width = std::max(width, v->name.size());
  for (const ir::Value* v : quantized)
    std::cout << fmt::format("  {:<{}}  {}\n", v->name, width, quant_summary(*v->type.quant));
  print_lookup_tables(graph);
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app, Action& action) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's ops, QAT dialect and quantization parameters");
  cmd->footer("Example:\n  qatc inspect model.onnx\n  qatc inspect model.onnx --print-ir > model.qir");
  add_model_options(*cmd, options->model);
  cmd->add_flag("--print-ir", options->print_ir, "Print the imported graph as qatc IR text");
  cmd->callback([&action, options] { action = [options] { return inspect(*options); }; });
}

}  // namespace qatc::driver
