// Quantization parameters carried as data on IR tensor types, and the rounding rules that the
// different QAT toolkits use. A quantized tensor's real value is (q - zero_point) * scale.
#pragma once

#include "ir/dtype.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qatc::ir {

// How a value exactly halfway between two integers is rounded (everything else rounds to nearest),
// plus floor for truncating peers. ONNX QDQ, PyTorch and MCT round half to even; TI rounds activations
// half up (floor(x + 0.5)) and weights half away from zero.
enum class Rounding : uint8_t { half_even, half_up, half_away, floor };

std::string_view rounding_name(Rounding r);
std::optional<Rounding> parse_rounding(std::string_view s);

struct QuantParams {
  // Scales as exact doubles: every float32 scale converts exactly. One per tensor, or one per
  // slice along `axis`.
  std::vector<double> scales;
  std::vector<int64_t> zero_points;  // same length as scales
  int axis = -1;                     // -1: per tensor
  int bits = 8;                      // effective bit width (may be below the storage type's)
  bool is_signed = true;

  bool per_axis() const { return axis >= 0; }
  int64_t qmin() const { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }
  int64_t qmax() const { return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1; }
  // The k with scale == 2^k, if scale i is an exact power of two.
  std::optional<int> pot_exponent(size_t i) const;
  bool all_pot() const;

  bool operator==(const QuantParams&) const = default;
};

// Exact power-of-two test on a finite positive double.
std::optional<int> pot_exponent(double scale);

// The shortest text that reads back as exactly `scale`: "2^-7" for powers of two, else a decimal.
std::string scale_text(double scale);
// Parses what scale_text writes (or any decimal/hex-float). Returns nullopt on malformed text.
std::optional<double> parse_scale_text(std::string_view s);

// "i8" / "u4": the effective integer type of a quantized tensor.
std::string storage_text(const QuantParams& q);

}  // namespace qatc::ir
