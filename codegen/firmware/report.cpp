#include "codegen/firmware/report.h"

#include "sim/cost_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace qatc::codegen {

std::string report_json(const ReportContext& c, const KernelPlan& plan, const MemoryPlan& memory) {
  const targets::Target& t = *c.target;
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  int64_t total_macs = 0, total_cycles = 0, weight_bytes = 0;
  for (const ConstArray& a : plan.constants) weight_bytes += static_cast<int64_t>(a.data.bytes().size());
  for (const Step& s : plan.steps) {
    const sim::LayerWork work = layer_work(plan, s);
    const int64_t bytes = work.input_bytes + work.output_bytes + work.weight_bytes;
    const Storage& out = memory.storage.at(s.result);
    nlohmann::ordered_json buffer{{"in", out.kind == Storage::Kind::arena ? "scratch" : out.kind == Storage::Kind::input ? "input" : "output"}};
    if (out.kind == Storage::Kind::arena) buffer["offset"] = out.offset;
    else buffer["index"] = out.index;
    buffer["bytes"] = bytes_of(*s.result);
    const int64_t cycles = s.alias ? 0 : sim::estimate_layer(t, work).cycles;
    // The schedule the target's figures chose for this kernel (codegen/schedule.h).
    nlohmann::ordered_json schedule = nlohmann::ordered_json::object();
    // Dot-product convs: tile_rows is the C schedule's, dot_* the host objects' register block.
    for (const char* key : {"lanes", "channel_block", "tile_rows", "dot_tile_rows", "dot_channel_vectors", "dot_columns",
                            "dot_pixel_vectors", "dot_channel_rows", "dot_pixel_tile"})
      if (auto it = s.spec.attrs.find(key); !s.alias && it != s.spec.attrs.end()) schedule[key] = std::get<int64_t>(it->second);
    if (auto it = s.spec.attrs.find("dot_c_loop"); !s.alias && it != s.spec.attrs.end()) schedule["dot_c_loop"] = std::get<std::string>(it->second);
    nlohmann::ordered_json layer{{"layer", s.layer},
                                 {"op", s.alias ? "reshape (view)" : std::string(kernel_kind_name(s.spec.kind))},
                                 {"kernel", s.alias ? "" : s.spec.name()}};
    if (auto it = s.spec.attrs.find("win_kernel"); !s.alias && it != s.spec.attrs.end())
      layer["window"] = std::get<std::vector<int64_t>>(it->second);  // a conv's or pool's kernel size
    if (auto it = s.spec.attrs.find("group"); !s.alias && it != s.spec.attrs.end()) layer["group"] = std::get<int64_t>(it->second);
    layer["result"] = s.result->name;
    // How the result lies in memory (codegen/activation_layout.h); a view has its operand's.
    if (!s.alias) layer["layout"] = layout_name(s.spec.result().layout);
    // A result whose channels are stored in another order (codegen/pair_order.h): stored channel i
    // is channel channel_order[i], for whoever reads it through the per-layer hooks.
    if (auto it = plan.channel_orders.find(s.result); it != plan.channel_orders.end()) layer["channel_order"] = it->second;
    layer["macs"] = s.macs;
    layer["bytes_moved"] = s.alias ? 0 : bytes;
    layer["buffer"] = buffer;
    layer["schedule"] = schedule;
    layer["estimated_cycles"] = cycles;
    layers.push_back(std::move(layer));
    total_macs += s.macs;
    total_cycles += cycles;
  }
  nlohmann::ordered_json r{
      {"model", c.model},
      {"source", c.source},
      {"target", {{"name", t.name}, {"vector_bits", t.vector_bits}, {"clock_hz", t.clock_hz},
                  {"matrix_unit", {{"rows", t.matrix_unit.rows}, {"cols", t.matrix_unit.cols}, {"int8_macs_per_cycle", t.matrix_unit.int8_macs_per_cycle}}}}},
      {"scratch_bytes", memory.arena_bytes},
      {"peak_live_bytes", memory.peak_live_bytes},
      {"weight_bytes", weight_bytes},
      {"macs", total_macs},
      {"estimated_cycles", total_cycles},
      {"estimated_ms", t.clock_hz > 0 ? static_cast<double>(total_cycles) * 1e3 / static_cast<double>(t.clock_hz) : 0.0},
      {"kernels", c.kernels},
      {"layers", layers}};
  return r.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace qatc::codegen
