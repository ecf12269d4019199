// Shared by the Halide generators (one per kernel kind, the twins of sim/int's reference kernels):
// typed inputs with the constant shapes of a KernelSpec, the requantize arithmetic, the rounding
// rules. Only codegen/halide/ includes Halide.h; the rest of qatc sees codegen/halide/emit.h.
#pragma once

#include "codegen/kernel_spec.h"

#include <Halide.h>

#include <vector>

namespace qatc::codegen::hl {

// A kernel's Halide definition: the output Func (scheduled) and its inputs in call order.
struct KernelPipeline {
  Halide::Func output;
  std::vector<Halide::ImageParam> inputs;

  std::vector<Halide::Argument> arguments() const { return {inputs.begin(), inputs.end()}; }
};

Halide::Type halide_type(ir::DType t);

// Input `i` of the spec as an ImageParam named `name` whose every dimension has the constant
// extent of the spec's shape and the stride of its layout (Halide dimension 0 is the IR's last axis).
Halide::ImageParam input(const KernelSpec& s, size_t i, const std::string& name);
// The same constraints on the output buffer.
void constrain_output(Halide::Func& f, const ArgSpec& a);

// Vars named prefix0, prefix1, ... (Halide order: innermost first).
std::vector<Halide::Var> vars(const std::string& prefix, size_t count);
std::vector<Halide::Expr> exprs(const std::vector<Halide::Var>& v);

// Which Halide backend a pipeline is scheduled for: the C backend (firmware C for every target)
// or LLVM (host objects, assembly, JIT). Tiles and loop orders are alike; vectors differ. In C,
// Halide vectorizes no arithmetic (only 4-byte copies): gcc scalarizes much of Halide 14's C
// vector code (64-bit lanes, masks narrowed lane by lane, vector reductions), and Halide
// miscompiles vectorized boundaries there, while plain loops over adjacent elements are what C
// compilers' vectorizers (a DSP compiler's too) turn into vector code. So the C schedules order
// loops for the C compiler instead.
enum class Backend { c, llvm };

// Rounds floor + f by `rule` ("half_even", ...), where cmp is -1, 0, +1 as f is below, at or
// above one half (sim/qat/rounding.h's round_floored on the same facts).
Halide::Expr round_floored(const std::string& rule, Halide::Expr floor, Halide::Expr cmp);

// floor((numerator + φ) / divisor) for a divisor >= 1 (signed, of the numerator's width) and -1, 0,
// +1 as the rest is below, at or above one half, φ by class as in requantize tables (0: none): the
// twin of sim/qat/rounding.h's divide_floored.
std::pair<Halide::Expr, Halide::Expr> divided(Halide::Expr numerator, Halide::Expr divisor, Halide::Expr phi);

// docs/ir.md's requantize of a 32-bit accumulator with channel `c`'s row of the (shift, bias,
// bias-fraction-class) table, in exact 64-bit arithmetic, saturated to the result type; in 32 bits
// where the plan proved that exact (attribute rq_narrow) and the backend is LLVM, rounding by one add
// and one shift where it also proved room for half a step (rq_headroom; not half_away).
Halide::Expr requantize(const KernelSpec& s, Halide::Expr acc, const Halide::ImageParam& table, Halide::Expr c, Backend backend);
// The same with the attributes `prefix`_round, ... of a second requantize in one kernel, the result
// left in its computation type (clamped to its bounds, so that it fits the requantize's own type).
Halide::Expr requantize_unconverted(const KernelSpec& s, const std::string& prefix, Halide::Expr acc,
                                    const Halide::ImageParam& table, Halide::Expr c, Backend backend);

// A widen op's (v − zero point) << shift in v's type, from the attributes `operand`_zero_point and
// `operand`_shift: one operand of a sum on a common grid.
Halide::Expr on_common_grid(const KernelSpec& s, const std::string& operand, Halide::Expr v);

// A conv's result: its requantize of `acc`, and where the plan fused the residual add after it
// (kernel_plan.cpp: attribute residual; arguments skip, rq2 after the conv's own), that add's
// requantize of ((conv − zp) << shift) + ((skip − zp) << shift), the skip tensor read at `at` (the
// result's coordinates). Appends the residual's arguments to `params`.
Halide::Expr conv_result(const KernelSpec& s, Halide::Expr acc, const Halide::ImageParam& table, Halide::Expr c,
                         const std::vector<Halide::Expr>& at, Backend backend, std::vector<Halide::ImageParam>& params);

// Operand `p` of shape `shape` read at the result's coordinates `v` (innermost first): numpy
// broadcasting aligns trailing axes, and an axis of size 1 is read at 0.
Halide::Expr broadcast_read(const Halide::ImageParam& p, const ir::Shape& shape, const std::vector<Halide::Var>& v);
// The innermost axes of the result along which each of the spec's first `operands` arguments is
// read either element by element or not at all (broadcast along every one of them): a squeeze-
// excitation's per-channel scale is read once per channel plane, the plane's axes one loop.
size_t dense_axes(const KernelSpec& s, size_t operands);

// v * 2^n for a signed v of either sign (n >= 0): shifted as unsigned and cast back, because C
// leaves the left shift of a negative value undefined (the C backend prints a shift as a shift).
Halide::Expr shift_left(Halide::Expr v, Halide::Expr n);

// Vectorizes `v` of a pure definition by the spec's lanes; when the extent is not a multiple the
// last vector shifts inwards (recomputing a few elements, which a pure definition allows).
void vectorize_pure(Halide::Func f, const Halide::Var& v, int64_t extent, int lanes);
// An elementwise kernel's result `f` over `v` (innermost first): on the LLVM backend its innermost
// axis vectorized by the spec's lanes; in C (where Halide vectorizes no arithmetic) its `dense`
// innermost axes, along which every operand is read element by element, fused into one loop. A
// channels-last result loops over channels innermost (vectorized by the lanes on LLVM).
void vectorize_innermost(const KernelSpec& s, Halide::Func f, const std::vector<Halide::Var>& v, Backend backend,
                         size_t dense);

// Conv and pooling windows (the spec's win_* attributes, sim/qat/window.h's normalized geometry):
// 5-D coordinates (x, y, z, c, n), leading spatial axes of size 1 where the tensor has fewer.
struct WindowVars {
  Halide::Var x{"x"}, y{"y"}, z{"z"}, c{"c"}, n{"n"};
  // The result's own coordinates for `spatial` axes: (x, [y, [z,]] c, n).
  std::vector<Halide::Var> result(size_t spatial) const;
  // The 5-D coordinate of the result's y and z (0 where the tensor has no such axis).
  Halide::Expr y_or_0(size_t spatial) const;
  Halide::Expr z_or_0(size_t spatial) const;
};
// Input 0 of a window op as a 5-D function that is `fill` outside the input.
Halide::Func padded_input(const KernelSpec& s, const Halide::ImageParam& x, Halide::Expr fill, const WindowVars& v);
// padded_input as a copy that must be scheduled (compute_at): the fill everywhere, then each row's
// interior copied. For the C backend, whose compiler cannot vectorize padded_input's per-element
// bounds test (a load at a clamped address), and for host convs: Halide's LLVM backend turned
// padded_input's vectors at the row ends into byte inserts and 8-byte stores that took 90 % of
// MobileNetV2's 28x28 depthwise convs on an AVX2 Zen 3 (the copy: 2.2x faster over its 3x3s).
Halide::Func padded_copy(const KernelSpec& s, const Halide::ImageParam& x, Halide::Expr fill, const WindowVars& v);
// The LLVM schedule of a padded_copy: the fill and the rows' interiors in vectors of `lanes`.
void vectorize_padded_copy(Halide::Func copy, int lanes);
// padded_input's arguments for tap (r[0], r[1], r[2]) of output (v.x, v.y, v.z) and channel `c`.
std::vector<Halide::Expr> tap_position(const KernelSpec& s, const WindowVars& v, const Halide::RDom& r, Halide::Expr c);

// The pipelines, one per kernel kind (conv.cpp, matmul.cpp, ...).
KernelPipeline conv_pipeline(const KernelSpec& s, Backend backend);
KernelPipeline matmul_pipeline(const KernelSpec& s, Backend backend);
KernelPipeline requantize_pipeline(const KernelSpec& s, Backend backend);
KernelPipeline elementwise_pipeline(const KernelSpec& s, Backend backend);
KernelPipeline pool_pipeline(const KernelSpec& s, Backend backend);
KernelPipeline layout_pipeline(const KernelSpec& s, Backend backend);

}  // namespace qatc::codegen::hl
