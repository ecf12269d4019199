// The integer form of the float values inside a fake-quant region. Between the dequantizes that
// start a region and the quantize that ends it, every value a QAT graph computes is exactly
//     v = unit_c · (x − zero_point) · 2^shift + offset_c      per channel c along `axis`
// for an integer tensor x of the lowered graph: a dequantize is that with offset 0; a conv or matmul
// multiplies units and adds its bias to the offset; a constant step scales or moves unit and offset;
// a sum of two branches puts both on a common grid (the greatest unit both are integer multiples
// of) and adds the integers; ReLU, Clip, MaxPool and Pad act on the integers once the offset lies on
// the grid and the unit is positive; data movement moves x. The quantize at the end rounds once
// (passes/requantize_builder.h). No step rounds, so the region stays exact, however many paths meet
// in it; what has no such form (a quotient of two activations, a bound off every usable grid) is
// refused naming the op.
#pragma once

#include "passes/affine_chain.h"
#include "passes/pass.h"

#include <string>
#include <unordered_map>

namespace qatc::passes {

struct IntegerForm {
  ir::Value* x = nullptr;   // quantized 8/16-bit tensor (a dequantize's operand) or i32
  int64_t zero_point = 0;   // subtracted from x
  int shift = 0;            // a pending left shift, applied when x is widened to i32
  int axis = -1;            // channel axis of `unit` and `offset` in x's shape; -1: one value each
  std::vector<sim::Exact> unit, offset;

  int64_t channels() const { return axis < 0 ? 1 : x->type.shape[static_cast<size_t>(axis)]; }
};

class IntegerForms {
 public:
  IntegerForms(ir::Graph& g, const PassOptions& options) : g_(g), options_(options) {}

  // The form of float value `v`, which `user` reads; built once per value, so ops on the way are
  // emitted once however many regions share them. Ops it emits are named after `name`.
  IntegerForm of(ir::Value* v, const ir::Op& user, const std::string& name);

  // The same values as an i32 tensor with zero point 0 and no pending shift (a widen if needed).
  IntegerForm widened(const IntegerForm& f, const std::string& name);
  // The same values with every unit_c divided by the integer factor m_c along `axis` (x multiplied
  // by it: a pending shift for one power of two, else a mul by an i32 constant).
  IntegerForm scaled(IntegerForm f, const std::vector<int64_t>& m, int axis, const ir::Op& user, const std::string& name);
  // The same values with every unit positive (x negated on the channels whose unit is negative).
  IntegerForm positive(const IntegerForm& f, const ir::Op& user, const std::string& name);
  // The same values with one unit and offset 0: no channel axis left to disagree with another's.
  IntegerForm uniform(IntegerForm f, const ir::Op& user, const std::string& name);

 private:
  IntegerForm build(ir::Value* v, const ir::Op& user, const std::string& name);
  IntegerForm leaf(const ir::Op& dequantize);
  IntegerForm product(const ir::Op& p, const std::string& name);
  IntegerForm constant_step(const ir::Op& p, const std::string& name);
  IntegerForm sum(const ir::Op& p, const std::string& name);
  // (u_a·x_a)(u_b·x_b) = u_a·u_b·(x_a·x_b): with both offsets moved onto their grids, the integers
  // multiply in i32 (squeeze-excitation's x · gate, gating) and the units multiply.
  IntegerForm activation_product(const ir::Op& p, const std::string& name);
  IntegerForm activation(const ir::Op& p, const std::string& name);
  IntegerForm pooled_sums(const ir::Op& p, const std::string& name);
  IntegerForm moved(const ir::Op& p, const std::string& name);
  IntegerForm joined(const ir::Op& p, const std::string& name);
  // --allow-non-pot: where a sum's operands have no common grid within 16-bit factors, one quantized
  // operand is moved onto a grid the other reaches exactly.
  void align_non_pot(IntegerForm& fa, IntegerForm& fb, const ir::Op& p, const std::string& name);
  // --allow-non-pot: a quantized operand moved onto grid `unit` (per channel along `axis`, or one) by
  // a Q31 requantize (rounded: not exact), as TFLite aligns an add's operands.
  IntegerForm rescaled(const IntegerForm& f, const std::vector<sim::Exact>& unit, int axis, const ir::Op& user,
                       const std::string& name);
  // The offset moved into x (on a finer grid if it lies between grid points), so it becomes 0.
  IntegerForm on_grid(IntegerForm f, const ir::Op& user, const std::string& name);
  // One unit for every channel (the greatest unit all channels' units are integer multiples of).
  IntegerForm per_tensor(IntegerForm f, const ir::Op& user, const std::string& name);
  // A grid fine enough that every value in `points` lies on it: x scaled so its unit divides them.
  IntegerForm holding(IntegerForm f, const std::vector<sim::Exact>& points, const ir::Op& user, const std::string& name);
  // v / unit as an integer: exact, or under --allow-non-pot rounded to the nearest; else an Error.
  int64_t grid_steps(const sim::Exact& v, const sim::Exact& unit, const ir::Op& user) const;
  // An i32 constant of per-channel values broadcasting along `axis` of a tensor of rank `rank`.
  ir::Value* channel_constant(const std::string& name, const std::vector<int64_t>& v, int axis, size_t rank);

  ir::Graph& g_;
  const PassOptions& options_;
  std::unordered_map<const ir::Value*, IntegerForm> forms_;
};

// The quantized integer tensor behind `v = dequantize(q)`, or an Error naming `user`.
ir::Value* dequantized(const ir::Value* v, const ir::Op& user, std::string_view role);

// The largest positive x with a and b both integer multiples of it (a, b nonzero); nullopt if
// their denominators' least common multiple does not fit 63 bits.
std::optional<sim::Exact> common_unit(const sim::Exact& a, const sim::Exact& b);

}  // namespace qatc::passes
