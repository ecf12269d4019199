// Element types of IR tensors, shared by the float (fake-quant) graph and the integer graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qatc::ir {

enum class DType : uint8_t { f32, f64, i8, u8, i16, u16, i32, i64 };

std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view s);

bool is_float(DType t);
inline bool is_integer(DType t) { return !is_float(t); }
bool is_signed(DType t);
int bit_width(DType t);
inline size_t byte_size(DType t) { return static_cast<size_t>(bit_width(t) / 8); }
// Representable range of an integer type (bits < 64 only for i64's min/max as int64).
int64_t int_min(DType t);
int64_t int_max(DType t);

using Shape = std::vector<int64_t>;

// Element count; the caller has already checked that dimensions are non-negative.
int64_t num_elements(const Shape& shape);
std::string shape_string(const Shape& shape);  // "1x3x224x224"

}  // namespace qatc::ir
