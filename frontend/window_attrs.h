// The attributes of a conv node (strides, pads with auto_pad resolved, dilations, group), shared by
// Conv and the QOperator convolutions (ConvInteger, QLinearConv), whose attributes are Conv's.
// Implemented in convert_window.cpp.
#pragma once

#include "frontend/import_context.h"

namespace qatc::frontend {

using Attrs = std::map<std::string, ir::AttrValue>;

// The IR conv attributes for input `x` and weight `w`, whose spatial dims are the kernel; a
// kernel_shape attribute must agree with them.
Attrs conv_attrs(ImportContext& ctx, const ir::Value& x, const ir::Value& w);

}  // namespace qatc::frontend
