// What one generated kernel computes, independent of Halide: the op kind, the types and shapes of
// its arguments (in call order, result last) and every attribute its pipeline and schedule read.
// Two layers with equal specs share one kernel; the signature text is the kernel cache's key.
#pragma once

#include "ir/graph.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace qatc::codegen {

enum class KernelKind : uint8_t {
  conv,        // conv fused with the requantize that reads it (x, w, [bias], rq) -> quantized
  matmul,      // matmul fused with its requantize (a, b, rq) -> quantized
  requantize,  // (acc, rq) -> quantized
  add,         // (a, b) -> same type, numpy broadcasting
  sub,
  mul,         // (a, b) -> same type: an integer constant factor aligning grids, or a sign
  widen,       // x -> (x - zero_point) << shift
  clip,
  maxpool,
  avgpool,
  concat,      // (x...) along axis
  gather,      // pad, resize and slice: per-axis source index tables
  transpose,
  lut,         // (x, table) -> table[x - first], first = the least value of x's type
};

std::string_view kernel_kind_name(KernelKind k);

// How a runtime tensor of shape [N, C, spatial...] lies in memory: channel planes (ONNX's order),
// or channels last (NHWC: each pixel's channels adjacent, as ONNX Runtime's int8 convs read them).
// Halide indexes every tensor by the same logical coordinates, so a kernel is correct in either
// layout through its buffers' strides alone; its schedule decides whether it is fast.
enum class Layout : uint8_t { planar, channels_last };

// "planar" or "nhwc", as --layout and target descriptions spell them; parse_layout throws Error
// for anything else.
std::string_view layout_name(Layout l);
Layout parse_layout(std::string_view name);

struct ArgSpec {
  ir::DType dtype;
  ir::Shape shape;
  Layout layout = Layout::planar;
  bool operator==(const ArgSpec&) const = default;

  // Elements between neighbours along each axis of `shape` (the IR's order, outermost first).
  std::vector<int64_t> strides() const;
};

struct KernelSpec {
  KernelKind kind;
  std::vector<ArgSpec> args;  // inputs in call order, then the result
  // Everything the generator reads besides the argument types: op attributes, schedule choices
  // (derived from the target), tables. Ordered, so the signature is canonical.
  std::map<std::string, ir::AttrValue> attrs;

  const ArgSpec& result() const { return args.back(); }
  int64_t get_int(const std::string& name) const;
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;

  // Canonical text of everything above: equal signatures generate identical code.
  std::string signature() const;
  // "conv_3f2a9c0d1e4b5a67": the kind and a 64-bit hash of the signature, a C identifier.
  std::string name() const;
};

}  // namespace qatc::codegen
