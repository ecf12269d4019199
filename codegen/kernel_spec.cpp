#include "codegen/kernel_spec.h"

#include "ir/error.h"
#include "ir/number_text.h"

#include <fmt/format.h>

#include <stdexcept>

namespace qatc::codegen {

std::string_view kernel_kind_name(KernelKind k) {
  switch (k) {
    case KernelKind::conv: return "conv";
    case KernelKind::matmul: return "matmul";
    case KernelKind::requantize: return "requantize";
    case KernelKind::add: return "add";
    case KernelKind::sub: return "sub";
    case KernelKind::mul: return "mul";
    case KernelKind::widen: return "widen";
    case KernelKind::clip: return "clip";
    case KernelKind::maxpool: return "maxpool";
    case KernelKind::avgpool: return "avgpool";
    case KernelKind::concat: return "concat";
    case KernelKind::gather: return "gather";
    case KernelKind::transpose: return "transpose";
    case KernelKind::lut: return "lut";
  }
  __builtin_unreachable();
}

std::string_view layout_name(Layout l) { return l == Layout::channels_last ? "nhwc" : "planar"; }

Layout parse_layout(std::string_view name) {
  for (Layout l : {Layout::planar, Layout::channels_last})
    if (name == layout_name(l)) return l;
  fail("--layout {}: not a layout (planar or nhwc)", name);
}

namespace {

template <class T>
const T& attr(const KernelSpec& s, const std::string& name) {
  auto it = s.attrs.find(name);
  if (it == s.attrs.end() || !std::holds_alternative<T>(it->second))
    throw std::logic_error(fmt::format("kernel spec {}: no attribute '{}' of the expected kind",
                                       kernel_kind_name(s.kind), name));
  return std::get<T>(it->second);
}

std::string attr_text(const ir::AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>) return ir::double_text(x);
        else if constexpr (std::is_same_v<T, std::string>) return '"' + x + '"';
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return fmt::format("[{}]", fmt::join(x, ","));
        else {
          std::string s = "[";
          for (size_t i = 0; i < x.size(); ++i) s += (i ? "," : "") + ir::double_text(x[i]);
          return s + "]";
        }
      },
      v);
}

// FNV-1a, 64 bit: stable across runs and machines, unlike std::hash.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

int64_t KernelSpec::get_int(const std::string& name) const { return attr<int64_t>(*this, name); }
const std::vector<int64_t>& KernelSpec::get_ints(const std::string& name) const {
  return attr<std::vector<int64_t>>(*this, name);
}
const std::string& KernelSpec::get_string(const std::string& name) const { return attr<std::string>(*this, name); }

std::vector<int64_t> ArgSpec::strides() const {
  std::vector<int64_t> st(shape.size());
  int64_t stride = 1;
  if (layout == Layout::channels_last && shape.size() >= 3) {
    // Channels innermost, then the spatial axes (last fastest), then the batch.
    st[1] = 1;
    stride = shape[1];
    for (size_t d = shape.size() - 1; d >= 2; --d) {
      st[d] = stride;
      stride *= shape[d];
    }
    st[0] = stride;
    return st;
  }
  for (size_t d = shape.size(); d-- > 0;) {
    st[d] = stride;
    stride *= shape[d];
  }
  return st;
}

std::string KernelSpec::signature() const {
  std::string s{kernel_kind_name(kind)};
  for (const ArgSpec& a : args)
    s += fmt::format(" {}[{}]{}", ir::dtype_name(a.dtype), fmt::join(a.shape, ","), a.layout == Layout::planar ? "" : layout_name(a.layout));
  for (const auto& [k, v] : attrs) s += fmt::format(" {}={}", k, attr_text(v));
  return s;
}

std::string KernelSpec::name() const { return fmt::format("{}_{:016x}", kernel_kind_name(kind), fnv1a(signature())); }

}  // namespace qatc::codegen
