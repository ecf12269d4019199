#include "ir/dtype.h"

#include "ir/error.h"

#include <array>
#include <limits>

namespace qatc::ir {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  int bits;
  bool is_float;
  bool is_signed;
};
constexpr std::array<DTypeInfo, 8> kInfo{{
    {DType::f32, "f32", 32, true, true},
    {DType::f64, "f64", 64, true, true},
    {DType::i8, "i8", 8, false, true},
    {DType::u8, "u8", 8, false, false},
    {DType::i16, "i16", 16, false, true},
    {DType::u16, "u16", 16, false, false},
    {DType::i32, "i32", 32, false, true},
    {DType::i64, "i64", 64, false, true},
}};
const DTypeInfo& info(DType t) { return kInfo[static_cast<size_t>(t)]; }
}  // namespace

std::string_view dtype_name(DType t) { return info(t).name; }

std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& i : kInfo)
    if (i.name == s) return i.type;
  return std::nullopt;
}

bool is_float(DType t) { return info(t).is_float; }
bool is_signed(DType t) { return info(t).is_signed; }
int bit_width(DType t) { return info(t).bits; }

int64_t int_min(DType t) {
  if (t == DType::i64) return std::numeric_limits<int64_t>::min();
  return is_signed(t) ? -(int64_t{1} << (bit_width(t) - 1)) : 0;
}

int64_t int_max(DType t) {
  if (t == DType::i64) return std::numeric_limits<int64_t>::max();
  return is_signed(t) ? (int64_t{1} << (bit_width(t) - 1)) - 1 : (int64_t{1} << bit_width(t)) - 1;
}

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) fail("shape {} has more than 2^63 elements", shape_string(shape));
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

}  // namespace qatc::ir
