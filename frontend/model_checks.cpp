#include "frontend/model_checks.h"

#include "frontend/import_context.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"

#include <set>
#include <unordered_map>

namespace qatc::frontend {

namespace {

// `s` with every byte that is not part of valid UTF-8 written as \xNN, for messages.
std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s)
    out += c < 0x80 && c >= 0x20 ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  return out;
}

void check_name(std::string_view name, std::string_view what) {
  if (!is_valid_utf8(name)) fail("{} '{}' is not valid UTF-8", what, escaped(name));
}

void check_tensor(const onnx::TensorProto& t, const std::string& what) {
  check_name(t.name(), "tensor name");
  check_tensor_header(t, what);
}

void check_attribute(const onnx::AttributeProto& a, const std::string& node) {
  check_name(a.name(), node + ": attribute name");
  if (a.has_g() || a.graphs_size() > 0)
    fail("{}: attribute '{}' holds a subgraph; qatc supports no operator with subgraphs", node, a.name());
  if (a.has_sparse_tensor() || a.sparse_tensors_size() > 0)
    fail("{}: attribute '{}' holds a sparse tensor, which qatc does not support", node, a.name());
  if (a.has_t()) check_tensor(a.t(), node + ": attribute '" + a.name() + "'");
  for (const auto& t : a.tensors()) check_tensor(t, node + ": attribute '" + a.name() + "'");
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

void check_model_contents(const onnx::ModelProto& m, int64_t opset) {
  check_name(m.producer_name(), "producer name");
  check_name(m.producer_version(), "producer version");
  for (const auto& o : m.opset_import()) check_name(o.domain(), "opset domain");
  if (m.functions_size() > 0)
    fail("the model defines {} local function(s) ('{}'), which qatc does not support", m.functions_size(),
         escaped(m.functions(0).name()));
  const onnx::GraphProto& g = m.graph();
  check_name(g.name(), "graph name");
  if (g.sparse_initializer_size() > 0)
    fail("sparse initializer '{}': sparse tensors are not supported", escaped(g.sparse_initializer(0).values().name()));
  for (const auto& t : g.initializer()) check_tensor(t, "tensor '" + t.name() + "'");
  for (const auto* infos : {&g.input(), &g.output(), &g.value_info()})
    for (const auto& vi : *infos) check_name(vi.name(), "tensor name");
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& n = g.node(i);
    const std::string where = fmt::format("node {} of the graph", i);
    check_name(n.name(), where + ": node name");
    check_name(n.op_type(), where + ": operator name");
    check_name(n.domain(), where + ": domain");
    for (const auto& name : n.input()) check_name(name, where + ": input name");
    for (const auto& name : n.output()) check_name(name, where + ": output name");
    // From here on the node's own description is printable.
    for (const auto& a : n.attribute()) check_attribute(a, describe_node(n, opset));
  }
}

void check_references(const onnx::ModelProto& m, int64_t opset) {
  const auto& nodes = m.graph().node();
  std::unordered_map<std::string, int> producer;  // output name -> node index
  for (int i = 0; i < nodes.size(); ++i)
    for (const std::string& out : nodes[i].output())
      if (!out.empty() && !producer.emplace(out, i).second)
        fail("{}: '{}' is also produced by {}", describe_node(nodes[i], opset), out, describe_node(nodes[producer[out]], opset));
  std::set<std::string> available;
  for (const auto& in : m.graph().input()) available.insert(in.name());
  for (const auto& t : m.graph().initializer()) available.insert(t.name());
  // Whether node `from` reaches node `to` through the names it produces (iterative DFS).
  auto reaches = [&](int from, int to) {
    std::vector<int> stack{from};
    std::vector<bool> seen(static_cast<size_t>(nodes.size()));
    while (!stack.empty()) {
      const int n = stack.back();
      stack.pop_back();
      if (n == to) return true;
      if (seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = true;
      for (const std::string& in : nodes[n].input())
        if (auto it = producer.find(in); it != producer.end() && !available.count(in)) stack.push_back(it->second);
    }
    return false;
  };
  for (int i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].input()) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        fail("{}: reads '{}', which no node, initializer or graph input provides", describe_node(nodes[i], opset), in);
      if (reaches(it->second, i))
        fail("{}: reads '{}', which depends on this node's own result: the graph has a cycle", describe_node(nodes[i], opset), in);
      fail("{}: reads '{}' before the node producing it: the nodes are not topologically sorted", describe_node(nodes[i], opset), in);
    }
    for (const std::string& out : nodes[i].output()) available.insert(out);
  }
}

}  // namespace qatc::frontend
