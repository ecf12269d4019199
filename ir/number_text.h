// Exact number <-> text conversion: shortest round-trip decimals (std::to_chars), so that printing
// and re-parsing IR or reports never changes a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qatc::ir {

std::string double_text(double v);  // "inf", "-inf", "nan" for non-finite values
std::string float_text(float v);
std::optional<double> parse_double(std::string_view s);
std::optional<int64_t> parse_int(std::string_view s);

}  // namespace qatc::ir
