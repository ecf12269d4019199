#include "codegen/activation_layout.h"

#include <map>

namespace qatc::codegen {

namespace {

// The kernels whose schedules read and write 4-D tensors channels last: every conv form (conv.cpp),
// pooling (pool.cpp) and the elementwise kernels (vectorize_innermost).
bool takes_channels_last(const Step& s) {
  if (s.alias) return false;
  switch (s.spec.kind) {
    case KernelKind::conv:
    case KernelKind::maxpool:
    case KernelKind::avgpool:
    case KernelKind::requantize:
    case KernelKind::add:
    case KernelKind::sub:
    case KernelKind::mul:
    case KernelKind::widen:
    case KernelKind::clip:
    case KernelKind::lut: return true;
    default: return false;
  }
}

}  // namespace

Layouts choose_layouts(const KernelPlan& plan, Layout preferred) {
  if (preferred == Layout::planar) return {};
  std::map<const ir::Value*, bool> allowed;  // runtime tensor -> may be channels last
  auto veto = [&](const ir::Value* v) { allowed[v] = false; };
  for (const Step& s : plan.steps) {
    if (!allowed.count(s.result)) allowed[s.result] = takes_channels_last(s) && s.result->type.shape.size() == 4;
    for (const Arg& a : s.args)
      if (a.value && !takes_channels_last(s)) veto(a.value);
    if (s.alias) veto(s.result);
  }
  for (const ir::Value* v : plan.inputs) veto(v);
  for (const ir::Value* v : plan.outputs) veto(v);
  Layouts layouts;
  for (const auto& [v, ok] : allowed)
    if (ok) layouts[v] = preferred;
  return layouts;
}

}  // namespace qatc::codegen
