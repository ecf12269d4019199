// qatc verify: lowers the model to integers and proves, data set by data set and layer by layer,
// that the integer engine computes exactly what the QAT forward pass computes in exact
// arithmetic; differences from the float32 framework are located and explained.
#include "driver/commands.h"
#include "driver/c_engine.h"
#include "driver/compare.h"
#include "driver/data_sets.h"
#include "driver/html_report.h"
#include "driver/layer_diff.h"
#include "driver/log.h"
#include "driver/progress.h"
#include "frontend/file_io.h"
#include "ir/error.h"
#include "ir/number_text.h"
#include "passes/pass.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"
#include "targets/target.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <malloc.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <future>
#include <iostream>
#include <thread>

namespace qatc::driver {

namespace {

struct VerifyOptions {
  std::string data;
  std::string engine = "int-sim";
  std::string json;
  std::string html;
  bool quiet = false;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::string shard;  // "K/N": the data sets n with n % N == K - 1
  CEngineOptions c;  // c.compile holds the model and lowering options shared by every engine
};

// The quantization step of a graph output that is a dequantized tensor, else 0.
double output_step(const ir::Value& v) {
  const ir::Op* p = v.producer;
  if (!p || p->kind != ir::OpKind::dequantize) return 0;
  const auto& q = p->inputs[0]->type.quant;
  return q && !q->per_axis() ? q->scales[0] : 0;
}

// Records every op result, starting with the graph inputs (the first quantize reads them).
sim::QatObserver recorder(Trace& t, const ir::Graph& g, const DataSet& set) {
  for (size_t i = 0; i < g.inputs().size(); ++i) t.insert_or_assign(g.inputs()[i]->name, set.inputs[i]);
  return [&t](const ir::Op& op, const ir::TensorData& d) { t.insert_or_assign(op.outputs[0]->name, d); };
}

// One data set run by the three engines, every layer recorded. Sets are independent of each other,
// so --jobs runs several at once while the comparisons consume them in order.
struct SetRuns {
  DataSet set;
  Trace t_exact, t_float32, t_int;
  std::vector<ir::TensorData> r_exact, r_float32, r_int;
  double ms = 0, ms_exact = 0, ms_float32 = 0, ms_int = 0;  // all, and each engine's share
};

SetRuns run_engines(const DataSets& sets, size_t n, const ir::Graph& qat, const ir::Graph& lowered,
                    const sim::QatEvaluator& exact, const sim::QatEvaluator& float32) {
  Stopwatch clock;
  SetRuns r{sets.read(n), {}, {}, {}, {}, {}, {}, 0};
  Stopwatch engine;
  r.r_exact = exact.run(r.set.inputs, recorder(r.t_exact, qat, r.set));
  r.ms_exact = engine.ms();
  r.r_float32 = float32.run(r.set.inputs, recorder(r.t_float32, qat, r.set));
  r.ms_float32 = engine.ms() - r.ms_exact;
  r.r_int = sim::simulate_integer(lowered, r.set.inputs, recorder(r.t_int, lowered, r.set));
  r.ms_int = engine.ms() - r.ms_exact - r.ms_float32;
  r.ms = clock.ms();
  return r;
}

// --target's comma-separated names (verify --engine c checks the code of each).
std::vector<std::string> split_targets(const std::string& list) {
  std::vector<std::string> names;
  for (size_t begin = 0;;) {
    const size_t end = list.find(',', begin);
    names.push_back(list.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (names.back().empty()) fail("--target '{}': an empty target name", list);
    if (std::count(names.begin(), names.end(), names.back()) > 1) fail("--target '{}': '{}' is named twice", list, names.back());
    if (end == std::string::npos) return names;
    begin = end + 1;
  }
}

// The indices of the data sets --shard K/N takes: every N-th, from the K-th; all without --shard.
std::vector<size_t> shard_sets(const std::string& shard, size_t count) {
  size_t k = 1, n = 1;
  if (!shard.empty()) {
    auto malformed = [&] { fail("--shard '{}': expected K/N with 1 <= K <= N, e.g. 2/4", shard); };
    auto number = [&](const std::string& text) {
      size_t used = 0;
      unsigned long v = 0;
      try {
        v = std::stoul(text, &used);
      } catch (const std::exception&) {
      }
      if (text.empty() || used != text.size() || v < 1 || v > 1'000'000) malformed();
      return static_cast<size_t>(v);
    };
    const size_t slash = shard.find('/');
    if (slash == std::string::npos) malformed();
    k = number(shard.substr(0, slash)), n = number(shard.substr(slash + 1));
    if (k > n) malformed();
  }
  std::vector<size_t> picked;
  for (size_t i = k - 1; i < count; i += n) picked.push_back(i);
  return picked;
}

std::string describe_divergence(const Divergence& d) {
  return fmt::format("first differs at layer '{}' {}: {} vs {}; {}", d.layer, d.index, d.a, d.b, d.cause);
}

// (q - zp) * scale of a per-tensor quantized integer tensor, exactly, as f64.
ir::TensorData dequantized(const ir::TensorData& q, const ir::QuantParams& p) {
  ir::TensorData y(ir::DType::f64, q.shape());
  for (int64_t i = 0; i < q.size(); ++i)
    y.as<double>()[static_cast<size_t>(i)] = static_cast<double>(q.int_at(i) - p.zero_points[0]) * p.scales[0];
  return y;
}

int verify(const VerifyOptions& o) {
  // The engines allocate and free tensors of up to tens of MB per layer and data set. glibc hands
  // such blocks back to the kernel (mmap above a moving threshold, trimming the heap), so every
  // data set paid page faults that zeroed the same memory again: 12.6 % of verify's time on
  // ResNet-18, 6.4 % with freed memory kept for reuse (perf, 4 data sets).
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
  const ModelOptions& model = o.c.compile.model;
  const bool allow_non_pot = o.c.compile.allow_non_pot;
  for (const std::string& out : {o.json, o.html})
    if (!out.empty()) frontend::check_writable(out);
  frontend::ImportedModel qat = import_model(model);
  frontend::ImportedModel lowered = import_model(model);
  // The lowering and the reference evaluators' preparation (the weights' fake-quant, computed once
  // for every data set) are independent: with more than one job they run at once. Their results are
  // taken where they were computed before, so that the first error is the same either way.
  const auto preparation = o.jobs > 1 ? std::launch::async : std::launch::deferred;
  Stopwatch preparing;
  auto lowering = std::async(preparation, [&] { lower_model(lowered.graph, allow_non_pot); });
  auto exact_prepared = std::async(preparation, [&] {
    return sim::QatEvaluator(qat.graph, {.arithmetic = sim::Arithmetic::exact}, /*observed=*/true);
  });
  auto float32_prepared = std::async(preparation, [&] {
    return sim::QatEvaluator(
        qat.graph,
        {.arithmetic = sim::Arithmetic::float32, .quantize_by_reciprocal = qat.info.dialect == "pytorch-qdq"},
        /*observed=*/true);
  });
  lowering.get();
  const DataSets sets(o.data, qat.graph);  // each read just before it runs
  const std::vector<size_t> picked = shard_sets(o.shard, sets.size());
  // The generated code for each target of --target (comma-separated): the simulator's runs are
  // shared by all of them. Each is labelled "c", or "c:TARGET" when there are several.
  struct CTarget {
    std::string label;
    std::unique_ptr<CEngine> engine;
  };
  std::vector<CTarget> c_engines;
  const std::vector<std::string> target_names = split_targets(o.c.compile.target);
  if (o.engine != "int-sim") {
    const std::vector<targets::Target> known = targets::load_targets(o.c.compile.targets_dir);
    for (const std::string& target : target_names) targets::find_target(known, target);  // all named before any build
    for (const std::string& target : target_names) {
      CEngineOptions c = o.c;
      c.compile.target = target;
      if (target_names.size() > 1 && !c.work_dir.empty()) c.work_dir = (std::filesystem::path(c.work_dir) / target).string();
      c_engines.push_back({target_names.size() > 1 ? "c:" + target : "c", std::make_unique<CEngine>(std::move(c))});
    }
  }
  const sim::QatEvaluator exact = exact_prepared.get();
  const sim::QatEvaluator float32 = float32_prepared.get();
  note("lowered and prepared the reference evaluators in {:.0f} ms", preparing.ms());

  const auto& outputs = qat.graph.outputs();
  // One row per compared pair of engines and output, in the order they are printed.
  std::vector<OutputComparison> totals;
  for (const char* b : {"qat-exact", "qat-float32", "expected"})
    for (const ir::Value* out : outputs) totals.push_back({"int-sim", b, out->name});
  for (const CTarget& c : c_engines)
    for (const char* b : {"int-sim", "qat-exact"})
      for (const ir::Value* out : outputs) totals.push_back({c.label, b, out->name});
  auto totals_for = [&](std::string_view a, std::string_view b, size_t output) -> OutputComparison& {
    for (OutputComparison& t : totals)
      if (t.a == a && t.b == b && t.output == outputs[output]->name) return t;
    throw std::logic_error(fmt::format("verify: no comparison row {} vs {}", a, b));
  };

  nlohmann::json set_results = nlohmann::json::array();
  VerifyReport html;
  html.model = model.model, html.dialect = qat.info.dialect, html.engine = o.engine;
  html.target = fmt::format("{}", fmt::join(target_names, ", ")), html.allow_non_pot = allow_non_pot;
  std::optional<LayerStatsCollector> layer_stats;
  if (!o.html.empty()) layer_stats.emplace(lowered.graph, qat.graph);
  int passed = 0, failed = 0;
  ProgressBar progress("data sets", !o.quiet);
  // Up to --jobs sets run ahead on their own threads (one job: on this one, when its turn comes).
  std::deque<std::future<SetRuns>> ahead;
  size_t launched = 0;
  const auto policy = o.jobs > 1 ? std::launch::async : std::launch::deferred;
  for (size_t k = 0; k < picked.size(); ++k) {
    for (; launched < picked.size() && ahead.size() < o.jobs; ++launched)
      ahead.push_back(std::async(policy, run_engines, std::cref(sets), picked[launched], std::cref(qat.graph),
                                 std::cref(lowered.graph), std::cref(exact), std::cref(float32)));
    progress.update(k, picked.size(), sets.dir(picked[k]));
    SetRuns runs = ahead.front().get();
    ahead.pop_front();
    const DataSet& set = runs.set;
    const Trace &t_exact = runs.t_exact, &t_float32 = runs.t_float32, &t_int = runs.t_int;
    const auto &r_exact = runs.r_exact, &r_float32 = runs.r_float32, &r_int = runs.r_int;

    bool bit_exact = true, float32_equal = true, expected_equal = true;
    auto tally_pair = [&](std::string_view a, const ir::TensorData& actual, std::string_view b, size_t i,
                          const ir::TensorData& reference) {
      Comparison c = compare(actual, reference, {});
      OutputComparison& t = totals_for(a, b, i);
      t.elements += c.elements;
      t.mismatches += c.mismatches + (c.shape_differs ? 1 : 0);
      if (double step = output_step(*outputs[i]); step > 0)
        t.max_abs_diff_lsb = std::max<int64_t>(t.max_abs_diff_lsb, std::llround(c.max_abs_diff / step));
      return c.mismatches == 0 && !c.shape_differs;
    };
    auto tally = [&](std::string_view b, size_t i, const ir::TensorData& reference) {
      return tally_pair("int-sim", r_int[i], b, i, reference);
    };
    for (size_t i = 0; i < outputs.size(); ++i) {
      bit_exact &= tally("qat-exact", i, r_exact[i]);
      float32_equal &= tally("qat-float32", i, r_float32[i]);
      if (!set.expected.empty()) expected_equal &= tally("expected", i, set.expected[i]);
    }

    // Every quantized layer, not just the outputs: int-sim must equal the exact reference throughout.
    LayerComparison layers = compare_layers(qat.graph, t_int, "int-sim", t_exact, "qat-exact");
    bit_exact &= layers.differing == 0;
    nlohmann::json result{{"data_set", set.dir}, {"bit_exact", bit_exact}, {"layers", layers.layers},
                          {"differing_layers", layers.differing}};
    std::string line = fmt::format("{}: int-sim {} qat-exact ({} of {} quantized layers equal)", set.dir,
                                   bit_exact ? "==" : "!=", layers.layers - layers.differing, layers.layers);
    for (const auto& [label, c_engine] : c_engines) {
      // The generated code runs on the integer simulator's quantized inputs; its integer outputs
      // must equal the simulator's, and dequantized, the exact reference's.
      const codegen::Firmware& fw = c_engine->firmware();
      std::vector<ir::TensorData> c_inputs;
      for (const std::string& name : fw.inputs) c_inputs.push_back(t_int.at(name));
      const std::vector<ir::TensorData> c_out = c_engine->run(c_inputs);
      bool c_equal = true;
      std::string first;
      for (size_t i = 0; i < c_out.size(); ++i) {
        const ir::TensorData& sim_value = t_int.at(fw.outputs[i]);
        const Comparison c = compare(c_out[i], sim_value, {});
        if ((c.mismatches || c.shape_differs) && first.empty())
          first = fmt::format(" (output '{}' {})", fw.outputs[i], describe(c, sim_value.shape()));
        c_equal &= tally_pair(label, c_out[i], "int-sim", i, sim_value);
        const ir::Value* v = lowered.graph.find_value(fw.outputs[i]);
        if (v->type.quant && !v->type.quant->per_axis() && outputs[i]->producer &&
            outputs[i]->producer->kind == ir::OpKind::dequantize)
          c_equal &= tally_pair(label, dequantized(c_out[i], *v->type.quant), "qat-exact", i, r_exact[i]);
      }
      bit_exact &= c_equal;
      line += fmt::format("; {} {} int-sim{}", label, c_equal ? "==" : "!=", first);
    }
    if (layers.first) {
      Divergence& d = *layers.first;
      if (allow_non_pot) d.cause = "a Q31 multiplier approximates a non-power-of-two scale ratio (--allow-non-pot)";
      line += "; " + describe_divergence(d);
      result["divergence"] = {{"a", "int-sim"}, {"b", "qat-exact"}, {"layer", d.layer}, {"index", d.index},
                              {"values", {d.a, d.b}}, {"cause", d.cause}};
    }
    const bool framework_equal = float32_equal && expected_equal;
    line += framework_equal ? "; equal to the float32 framework" : "; differs from the float32 framework";
    if (float32_equal && !expected_equal) {
      // This graph evaluated in float32 as the framework would gives int-sim's outputs, yet the data
      // set's outputs differ: they were not computed by this graph.
      std::string why = "the data set's expected outputs differ, but this graph's float32 evaluation equals the integer "
                        "model: the expected outputs come from another computation than this graph";
      if (qat.info.producer_name == "pytorch")
        why += ", e.g. a convert()ed PyTorch model, whose quantized add rounds halves away from zero where "
               "QuantizeLinear rounds them to even";
      line += " (" + why + ")";
      result["expected_divergence"] = why;
    }
    if (!float32_equal) {
      if (auto d = compare_layers(qat.graph, t_exact, "qat-exact", t_float32, "qat-float32").first) {
        line += " (" + describe_divergence(*d) + ")";
        result["framework_divergence"] = {{"a", "qat-exact"}, {"b", "qat-float32"}, {"layer", d->layer},
                                          {"index", d->index}, {"values", {d->a, d->b}}, {"cause", d->cause}};
      }
    }
    note("{}: engines ran in {:.0f} ms (qat-exact {:.0f}, qat-float32 {:.0f}, int-sim {:.0f})", set.dir, runs.ms,
         runs.ms_exact, runs.ms_float32, runs.ms_int);
    if (layer_stats) {
      layer_stats->add(t_int, t_exact, t_float32);
      html.data_sets.push_back({bit_exact, line});
    }
    if (!o.quiet || !bit_exact) {
      progress.clear();
      std::cout << line << std::endl;
    }
    set_results.push_back(std::move(result));
    (bit_exact ? passed : failed)++;
  }

  nlohmann::json comparisons = nlohmann::json::array();
  size_t a_width = 0;
  for (const OutputComparison& t : totals) a_width = std::max(a_width, t.a.size());
  for (const OutputComparison& t : totals) {
    if (t.elements == 0) continue;  // no expected outputs in the data sets
    html.comparisons.push_back(t);
    comparisons.push_back({{"a", t.a}, {"b", t.b}, {"output", t.output}, {"elements", t.elements},
                           {"mismatches", t.mismatches}, {"max_abs_diff_lsb", t.max_abs_diff_lsb}});
    std::cout << fmt::format("{:<{}} vs {:<11} output '{}': {} of {} elements differ (max {} LSB)\n", t.a, a_width, t.b,
                             t.output, t.mismatches, t.elements, t.max_abs_diff_lsb);
  }
  if (!o.json.empty()) {
    nlohmann::json report{{"model", model.model},
                          {"data_sets", picked.size()},
                          {"shard", o.shard.empty() ? "1/1" : o.shard},
                          {"bit_exact", failed == 0},
                          {"allow_non_pot", allow_non_pot},
                          {"engine", o.engine},
                          {"comparisons", comparisons},
                          {"data_set_results", set_results}};
    frontend::write_file_atomically(o.json, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  if (layer_stats) {
    html.passed = passed, html.failed = failed;
    html.layers = layer_stats->layers();
    frontend::write_file_atomically(o.html, render_html(html));
  }
  if (allow_non_pot)
    std::cout << "note: --allow-non-pot: requantization uses Q31 multipliers; exactness against the QAT forward "
                 "pass is measured above, not guaranteed\n";
  std::cout << fmt::format("{} passed, {} failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace

void register_verify(CLI::App& app, Action& action) {
  auto options = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Lower to integers and prove the integer engine equals the exact QAT forward pass, layer by layer");
  cmd->footer(
      "For every test_data_set_N in DIR: runs the QAT forward pass exactly and in float32 and the integer\n"
      "simulator on the lowered graph; compares every output (and the data set's output_K.pb) and, on a\n"
      "difference, names the first diverging layer, element, values and likely cause. With --engine c\n"
      "it also compiles the model for --target (several, comma-separated: the simulator runs once for\n"
      "all), builds the generated code with $CC/$CXX and --cflags, runs it on every data set and compares\n"
      "it with the simulator and the exact reference.\n"
      "Exit 0 iff the integer engine equals the exact reference everywhere; 1 otherwise; 2 on bad input.\n"
      "Example:\n  qatc verify model.onnx --data model_data --json report.json\n"
      "  qatc verify model.onnx --data model_data --engine c --target host,c7x-mma --cflags '-O2 -fsanitize=address'");
  add_compile_options(*cmd, options->c.compile);
  add_data_option(*cmd, options->data);
  cmd->add_option("--engine", options->engine,
                  "Integer engine to check: int-sim (the integer simulator, as in qatc run; also 'sim'), c (the "
                  "generated code, built for this machine, and the simulator) or all (the same as c)")
      ->check(CLI::IsMember({"int-sim", "sim", "c", "all"}))
      ->capture_default_str();
  cmd->add_option("--cflags", options->c.cflags, "Compiler flags for the generated code (--engine c)")->capture_default_str();
  cmd->add_option("--work-dir", options->c.work_dir, "Keep the generated code, its build and its runs here (--engine c)");
  cmd->add_option("--json", options->json, "Also write the comparisons as JSON to this file");
  cmd->add_option("--html", options->html,
                  "Also write a self-contained HTML report: verdict, outputs, data sets, and every quantized layer's "
                  "shift, rounding, range used, mismatches and value/error histograms");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only differing data sets and the summary");
  cmd->add_option("--jobs,-j", options->jobs,
                  "Data sets run at once, each on its own thread (default: every core); the output is the same, "
                  "in the same order")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  cmd->add_option("--shard", options->shard,
                  "Verify only shard K of N (K/N): the data sets n with n % N == K - 1, so N machines share one "
                  "directory; scripts/merge_verify_reports.py joins their --json reports");
  cmd->callback([&action, options] {
    options->c.compile.quiet = options->quiet;  // no kernel progress bar either
    if (options->engine == "sim") options->engine = "int-sim";
    action = [options] { return verify(*options); };
  });
}

}  // namespace qatc::driver
