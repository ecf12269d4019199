// Data movement: concat, gather (pad and resize, through the per-axis index tables sim computes
// for its own kernels) and transpose: the twins of sim/int/layout.cpp. Every read index is clamped
// into its operand, so no lane of a vector ever reads outside a buffer.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

namespace {

int ext(const ir::Shape& shape, size_t halide_dim) { return static_cast<int>(shape[shape.size() - 1 - halide_dim]); }

Func concat(const KernelSpec& s, std::vector<ImageParam>& args, const std::vector<Var>& v) {
  const size_t rank = s.result().shape.size();
  const size_t d = rank - 1 - static_cast<size_t>(s.get_int("axis"));  // Halide dimension
  std::vector<ImageParam> parts;
  for (size_t i = 0; i + 1 < s.args.size(); ++i) parts.push_back(input(s, i, "x" + std::to_string(i)));
  // Part i covers [begins[i], begins[i + 1]) along d: a later part takes over from its begin on.
  std::vector<int> begins;
  int begin = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    begins.push_back(begin);
    begin += ext(s.args[i].shape, d);
  }
  Expr value;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<Expr> at = exprs(v);
    at[d] = clamp(v[d] - begins[i], 0, ext(s.args[i].shape, d) - 1);
    value = value.defined() ? select(v[d] >= begins[i], parts[i](at), value) : parts[i](at);
  }
  for (const ImageParam& p : parts) args.push_back(p);
  Func y("concat");
  y(v) = value;
  return y;
}

Func gather(const KernelSpec& s, std::vector<ImageParam>& args, const std::vector<Var>& v) {
  const size_t rank = s.result().shape.size();
  ImageParam x = input(s, 0, "x");
  args.push_back(x);
  std::vector<Expr> at;
  Expr inside = Internal::const_true();
  for (size_t d = 0; d < rank; ++d) {
    const std::vector<int64_t>& source = s.get_ints("src" + std::to_string(rank - 1 - d));
    Buffer<int32_t> table(static_cast<int>(source.size()), "src" + std::to_string(rank - 1 - d));
    for (size_t i = 0; i < source.size(); ++i) table(static_cast<int>(i)) = static_cast<int32_t>(source[i]);
    Expr index = table(v[d]);
    inside = inside && index >= 0;  // -1: a constant pad supplies the value
    at.push_back(clamp(index, 0, ext(s.args[0].shape, d) - 1));
  }
  Func y("gather");
  y(v) = select(inside, x(at), cast(x.type(), static_cast<int>(s.get_int("fill"))));
  return y;
}

Func transpose(const KernelSpec& s, std::vector<ImageParam>& args, const std::vector<Var>& v) {
  const auto& perm = s.get_ints("perm");
  const size_t rank = perm.size();
  ImageParam x = input(s, 0, "x");
  args.push_back(x);
  // Output IR axis i reads input IR axis perm[i]; Halide dimensions count from the other end.
  std::vector<Expr> at(rank);
  for (size_t i = 0; i < rank; ++i) at[rank - 1 - static_cast<size_t>(perm[i])] = v[rank - 1 - i];
  Func y("transpose");
  y(v) = x(at);
  return y;
}

}  // namespace

KernelPipeline layout_pipeline(const KernelSpec& s, Backend backend) {
  const ir::Shape& shape = s.result().shape;
  std::vector<Var> v = vars("d", shape.size());
  std::vector<ImageParam> args;
  Func y = s.kind == KernelKind::concat ? concat(s, args, v)
         : s.kind == KernelKind::gather ? gather(s, args, v)
                                        : transpose(s, args, v);
  constrain_output(y, s.result());
  vectorize_innermost(s, y, v, backend, 1);
  return {y, args};
}

}  // namespace qatc::codegen::hl
