#include "ir/quant.h"

#include "ir/number_text.h"

#include <array>
#include <cmath>

namespace qatc::ir {

namespace {
constexpr std::array<std::string_view, 4> kRoundingNames{"half_even", "half_up", "half_away", "floor"};
}

std::string_view rounding_name(Rounding r) { return kRoundingNames[static_cast<size_t>(r)]; }

std::optional<Rounding> parse_rounding(std::string_view s) {
  for (size_t i = 0; i < kRoundingNames.size(); ++i)
    if (kRoundingNames[i] == s) return static_cast<Rounding>(i);
  return std::nullopt;
}

std::optional<int> pot_exponent(double scale) {
  if (!(scale > 0) || !std::isfinite(scale)) return std::nullopt;
  int exp = 0;
  double mantissa = std::frexp(scale, &exp);  // scale = mantissa * 2^exp, mantissa in [0.5, 1)
  if (mantissa != 0.5) return std::nullopt;
  return exp - 1;
}

std::optional<int> QuantParams::pot_exponent(size_t i) const { return ir::pot_exponent(scales.at(i)); }

bool QuantParams::all_pot() const {
  for (double s : scales)
    if (!ir::pot_exponent(s)) return false;
  return true;
}

std::string scale_text(double scale) {
  if (auto e = pot_exponent(scale)) return "2^" + std::to_string(*e);
  return double_text(scale);
}

std::optional<double> parse_scale_text(std::string_view s) {
  if (s.starts_with("2^")) {
    auto e = parse_int(s.substr(2));
    if (!e || *e < -1074 || *e > 1023) return std::nullopt;
    return std::ldexp(1.0, static_cast<int>(*e));
  }
  return parse_double(s);
}

std::string storage_text(const QuantParams& q) { return (q.is_signed ? "i" : "u") + std::to_string(q.bits); }

}  // namespace qatc::ir
