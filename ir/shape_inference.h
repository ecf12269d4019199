// Internal to ir/: the shape rule of each op kind, for the op registry.
#pragma once

#include "ir/ops.h"

namespace qatc::ir {

using ShapeRule = Shape (*)(const Op&);
ShapeRule shape_rule(OpKind kind);

}  // namespace qatc::ir
