#include "frontend/onnx_checker.h"

#include "frontend/import_context.h"
#include "ir/error.h"
#include "ir/limits.h"
#include "support/child_process.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>
#include <sys/mman.h>

namespace qatc::frontend {

namespace {

using Ended = support::ChildOutcome::Ended;

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

support::ChildLimits child_limits(const onnx::ModelProto& m) {
  // libonnx copies the model and parses its constant tensors: room for a few copies of it.
  return {ir::limits().max_import_seconds, (int64_t{4} << 30) + 4 * static_cast<int64_t>(m.ByteSizeLong())};
}

support::ChildOutcome in_child(const onnx::ModelProto& m, const std::function<std::string()>& work) {
  return support::run_in_child(work, child_limits(m),
                               [](const std::exception& e) { return dynamic_cast<const Error*>(&e) != nullptr; });
}

void run_checker(const onnx::ModelProto& m, const std::string& path) {
  try {
    onnx::checker::check_model(m);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: ONNX checker: {}", path, first_line(e.what()));
  }
}

void run_inference(onnx::ModelProto& m, const std::string& path) {
  try {
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: ONNX shape inference: {}", path, first_line(e.what()));
  }
}

// The first node whose stage crashes: the smallest prefix of the graph on which `stage` (run with
// errors ignored, in a child) crashes, by bisection. -1 when no prefix crashes alone.
int crashing_node(const onnx::ModelProto& m, const std::function<void(onnx::ModelProto&)>& stage) {
  auto crashes = [&](int count) {
    const auto r = in_child(m, [&] {
      onnx::ModelProto prefix = m;
      auto* nodes = prefix.mutable_graph()->mutable_node();
      nodes->DeleteSubrange(count, nodes->size() - count);
      prefix.mutable_graph()->clear_output();
      try {
        stage(prefix);
      } catch (const std::exception&) {  // an error, not a crash
      }
      return std::string();
    });
    return r.ended == Ended::crashed;
  };
  int lo = 0, hi = m.graph().node_size();  // crashes(lo) is false; crashes(hi) to be found
  if (!crashes(hi)) return -1;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (crashes(mid) ? hi : lo) = mid;
  }
  return hi - 1;
}

// Which stage the child has reached, in a page it shares with the parent: one child runs both
// stages (a fork per model, not two), and a crash is still blamed on the right one.
class StageMark {
 public:
  StageMark()
      : page_(static_cast<volatile char*>(::mmap(nullptr, 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    if (page_ == MAP_FAILED) throw std::runtime_error("mmap: cannot share a page with the libonnx child");
    *page_ = 0;
  }
  ~StageMark() { ::munmap(const_cast<char*>(page_), 1); }
  StageMark(const StageMark&) = delete;
  StageMark& operator=(const StageMark&) = delete;
  void set(char stage) { *page_ = stage; }
  char get() const { return *page_; }

 private:
  volatile char* page_;
};

// Turns an abnormal end of `stage` into a refusal naming it (and, for a crash, the node).
void refuse_abnormal(const support::ChildOutcome& r, const onnx::ModelProto& m, const std::string& path, int64_t opset,
                     std::string_view stage_name, const std::function<void(onnx::ModelProto&)>& stage) {
  const std::string stage_text = fmt::format("ONNX {} (libonnx)", stage_name);
  switch (r.ended) {
    case Ended::returned:
      return;
    case Ended::refused:
      throw Error(r.text);
    case Ended::out_of_memory:
      fail("{}: {} ran out of memory (limit: 4 GiB plus 4 times the model's size); refusing the model", path,
           stage_text);
    case Ended::cpu_limit:
    case Ended::wall_limit:
      fail("{}: {} did not finish within {} s of CPU time (--max-import-seconds); refusing the model", path,
           stage_text, ir::limits().max_import_seconds);
    case Ended::threw:
      fail("{}: {}: {}", path, stage_text, first_line(r.text));
    case Ended::crashed:
      break;
  }
  const std::string how = r.signal ? support::signal_name(r.signal) : std::string("an abnormal exit");
  const int node = crashing_node(m, stage);
  if (node >= 0)
    fail("{}: {} crashed ({}) on this node; refusing the model", describe_node(m.graph().node(node), opset), stage_text,
         how);
  fail("{}: {} crashed ({}); refusing the model", path, stage_text, how);
}

}  // namespace

void check_with_onnx_isolated(onnx::ModelProto& m, const std::string& path, int64_t opset) {
  const auto checker = [&](onnx::ModelProto& model) { run_checker(model, path); };
  const auto inference = [&](onnx::ModelProto& model) { run_inference(model, path); };
  StageMark mark;
  // The child has its own copy of `m` to infer into; it sends back only what inference adds: the
  // value_info and the outputs' types.
  const auto r = in_child(m, [&] {
    mark.set('c');
    checker(m);
    mark.set('i');
    inference(m);
    onnx::GraphProto types;
    *types.mutable_value_info() = m.graph().value_info();
    *types.mutable_output() = m.graph().output();
    return types.SerializeAsString();
  });
  if (mark.get() == 'i') refuse_abnormal(r, m, path, opset, "shape inference", inference);
  else refuse_abnormal(r, m, path, opset, "checker", checker);
  onnx::GraphProto types;
  if (!types.ParseFromString(r.text)) throw std::runtime_error("ONNX shape inference: its child's result does not parse");
  m.mutable_graph()->mutable_value_info()->Swap(types.mutable_value_info());
  m.mutable_graph()->mutable_output()->Swap(types.mutable_output());
}

}  // namespace qatc::frontend
