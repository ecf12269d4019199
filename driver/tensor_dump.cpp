#include "driver/tensor_dump.h"

#include "frontend/tensor_proto.h"
#include "ir/error.h"

#include <fmt/format.h>

namespace qatc::driver {

namespace {

// Tensor names hold '/' and ':'; file names get [A-Za-z0-9._-] only, and at most 200 of them, so
// that with the op-order prefix and ".dequantized.pb" they stay within the 255 bytes a file name
// may have (the prefix keeps them unique), while the TensorProto inside keeps the real name.
std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name.substr(0, 200)) s += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  return s;
}

ir::TensorData dequantized(const ir::QuantParams& q, const ir::TensorData& d) {
  ir::TensorData out(ir::DType::f64, d.shape());
  auto values = out.as<double>();
  int64_t inner = 1;
  for (size_t i = q.per_axis() ? q.axis + 1 : d.shape().size(); i < d.shape().size(); ++i) inner *= d.shape()[i];
  for (int64_t i = 0; i < d.size(); ++i) {
    size_t c = q.per_axis() ? static_cast<size_t>((i / inner) % d.shape()[q.axis]) : 0;
    values[i] = static_cast<double>(d.int_at(i) - q.zero_points[c]) * q.scales[c];  // exact: < 2^33 * float32
  }
  return out;
}

}  // namespace

TensorDump::TensorDump(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) fail("{}: cannot create the dump directory: {}", dir_.string(), ec.message());
}

void TensorDump::write(const ir::Value& v, const ir::TensorData& data) {
  std::string stem = fmt::format("{:04}_{}", next_++, file_stem(v.name));
  frontend::write_tensor_file((dir_ / (stem + ".pb")).string(), data, v.name);
  if (v.type.quant && ir::is_integer(data.dtype()))
    frontend::write_tensor_file((dir_ / (stem + ".dequantized.pb")).string(), dequantized(*v.type.quant, data), v.name);
}

}  // namespace qatc::driver
