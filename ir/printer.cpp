#include "ir/number_text.h"
#include "ir/text.h"

#include <fmt/format.h>

namespace qatc::ir {

namespace {

bool is_bare_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$' || c == '/' || c == '-';
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + '"';
}

std::string name_text(char sigil, std::string_view name) {
  bool bare = !name.empty();
  for (char c : name) bare &= is_bare_name_char(c);
  return sigil + (bare ? std::string(name) : quoted(name));
}

// Floats keep a '.' or exponent so they read back as floats.
std::string float_attr_text(double v) {
  std::string s = double_text(v);
  if (s.find_first_of(".einf") == std::string::npos) s += ".0";
  return s;
}

template <typename T, typename F>
std::string list_text(const std::vector<T>& values, F&& one) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += ", ";
    s += one(values[i]);
  }
  return s + "]";
}

std::string attr_text(const AttrValue& v) {
  struct {
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return float_attr_text(d); }
    std::string operator()(const std::string& s) const { return quoted(s); }
    std::string operator()(const std::vector<int64_t>& l) const {
      return list_text(l, [](int64_t i) { return std::to_string(i); });
    }
    std::string operator()(const std::vector<double>& l) const { return list_text(l, float_attr_text); }
  } visitor;
  return std::visit(visitor, v);
}

std::string quant_text(const QuantParams& q) {
  std::string s = "quant<" + storage_text(q) + ": ";
  if (q.per_axis()) {
    s += fmt::format("axis = {}, scale = {}, zp = {}", q.axis, list_text(q.scales, scale_text),
                     list_text(q.zero_points, [](int64_t z) { return std::to_string(z); }));
  } else {
    s += fmt::format("scale = {}, zp = {}", scale_text(q.scales[0]), q.zero_points[0]);
  }
  return s + ">";
}

std::string data_text(const TensorData& d) {
  std::string s = "[";
  visit_dtype(d.dtype(), [&](auto t) {
    using T = decltype(t);
    auto values = d.as<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) s += ", ";
      if constexpr (std::is_same_v<T, float>) s += float_text(values[i]);
      else if constexpr (std::is_same_v<T, double>) s += double_text(values[i]);
      else s += std::to_string(values[i]);
    }
  });
  return s + "]";
}

}  // namespace

std::string print_type(const TensorType& type) {
  std::string s = fmt::format("{}[{}]", dtype_name(type.dtype), fmt::join(type.shape, ","));
  if (type.quant) s += " " + quant_text(*type.quant);
  return s;
}

std::string print_graph(const Graph& g, const PrintOptions& options) {
  std::string out = fmt::format("graph {} {{\n", name_text('@', g.name));
  for (const Value* in : g.inputs())
    out += fmt::format("  input {} : {}\n", name_text('%', in->name), print_type(in->type));
  for (const Value* c : g.constants()) {
    int64_t n = c->data->size();
    std::string data = options.elide_constants_over > 0 && n > options.elide_constants_over
                           ? fmt::format("<{} values>", n)
                           : data_text(*c->data);
    out += fmt::format("  const {} : {} = {}\n", name_text('%', c->name), print_type(c->type), data);
  }
  for (const Op* op : g.ops()) {
    std::vector<std::string> results, operands, attrs;
    for (const Value* v : op->outputs) results.push_back(name_text('%', v->name));
    for (const Value* v : op->inputs) operands.push_back(name_text('%', v->name));
    for (const auto& [name, value] : op->attrs) attrs.push_back(name + " = " + attr_text(value));
    out += fmt::format("  {} = {}({})", fmt::join(results, ", "), op->info().name, fmt::join(operands, ", "));
    if (!attrs.empty()) out += fmt::format(" {{{}}}", fmt::join(attrs, ", "));
    std::vector<std::string> types;
    for (const Value* v : op->outputs) types.push_back(print_type(v->type));
    out += fmt::format(" : {}", fmt::join(types, ", "));
    if (!op->name.empty()) out += fmt::format(" loc({})", quoted(op->name));
    out += '\n';
  }
  for (const Value* o : g.outputs()) out += fmt::format("  output {}\n", name_text('%', o->name));
  return out + "}\n";
}

}  // namespace qatc::ir
