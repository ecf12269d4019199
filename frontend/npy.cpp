#include "frontend/npy.h"

#include "frontend/file_io.h"
#include "ir/error.h"
#include "ir/limits.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <string_view>

namespace qatc::frontend {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct Descr {
  const char* text;
  ir::DType dtype;
};
// The `descr` strings numpy writes for each element type ('|' where byte order does not apply).
constexpr Descr kDescrs[] = {{"<f4", ir::DType::f32}, {"<f8", ir::DType::f64}, {"|i1", ir::DType::i8},
                             {"|u1", ir::DType::u8},  {"<i2", ir::DType::i16}, {"<u2", ir::DType::u16},
                             {"<i4", ir::DType::i32}, {"<i8", ir::DType::i64}};

// The value of `key` in the header's Python dict literal: 'descr': '<f4', 'fortran_order': False,
// 'shape': (1, 3, 224, 224), — numpy writes exactly this form.
std::string_view header_value(std::string_view header, std::string_view key, const std::string& path) {
  const std::string quoted = fmt::format("'{}':", key);
  const size_t at = header.find(quoted);
  if (at == std::string_view::npos) fail("{}: .npy header has no '{}'", path, key);
  std::string_view rest = header.substr(at + quoted.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const char open = rest.empty() ? '\0' : rest.front();
  const size_t end = open == '\'' ? rest.find('\'', 1) + 1 : open == '(' ? rest.find(')') + 1 : rest.find_first_of(",}");
  if (end == 0 || end == std::string_view::npos) fail("{}: .npy header: cannot read '{}'", path, key);
  return rest.substr(0, end);
}

ir::Shape parse_shape(std::string_view text, const std::string& path) {
  // "(1, 3, 224, 224)", "(8,)" or "()".
  ir::Shape shape;
  std::string_view s = text.substr(1, text.size() - 2);
  while (!s.empty()) {
    while (!s.empty() && (s.front() == ' ' || s.front() == ',')) s.remove_prefix(1);
    if (s.empty()) break;
    size_t n = 0;
    int64_t d = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
      if (d > (int64_t{1} << 50)) fail("{}: .npy shape {} is too large", path, text);
      d = d * 10 + (s[n++] - '0');
    }
    if (n == 0) fail("{}: .npy shape {} is not a tuple of dimensions", path, text);
    shape.push_back(d);
    s.remove_prefix(n);
  }
  return shape;
}

}  // namespace

ir::TensorData read_npy_file(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 10 || std::string_view(bytes).substr(0, 6) != kMagic) fail("{}: not a .npy file", path);
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("{}: truncated .npy header", path);
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + static_cast<size_t>(i)]);
    header_start = 12;
  } else {
    fail("{}: .npy format version {} is not supported", path, major);
  }
  if (header_len > bytes.size() - header_start) fail("{}: truncated .npy header", path);
  const std::string_view header(bytes.data() + header_start, header_len);

  const std::string_view descr = header_value(header, "descr", path);
  const Descr* d = nullptr;
  for (const Descr& c : kDescrs)
    if (descr == fmt::format("'{}'", c.text)) d = &c;
  if (!d) fail("{}: .npy element type {} is not supported (little-endian f4, f8, i1, u1, i2, u2, i4, i8)", path, descr);
  if (header_value(header, "fortran_order", path) != "False") fail("{}: .npy array in Fortran order is not supported", path);
  const std::string_view shape_text = header_value(header, "shape", path);
  if (shape_text.size() < 2 || shape_text.front() != '(') fail("{}: .npy shape {} is not a tuple", path, shape_text);
  const ir::Shape shape = parse_shape(shape_text, path);

  const int64_t n = ir::checked_num_elements(shape, d->dtype, path);
  const size_t data_bytes = static_cast<size_t>(n) * ir::byte_size(d->dtype);
  const size_t have = bytes.size() - header_start - header_len;
  if (have != data_bytes) fail("{}: .npy data has {} bytes, its shape [{}] needs {}", path, have, fmt::join(shape, ","), data_bytes);
  ir::TensorData t(d->dtype, shape);
  if (data_bytes) std::memcpy(t.mutable_bytes().data(), bytes.data() + header_start + header_len, data_bytes);  // x86-64: little-endian
  return t;
}

void write_npy_file(const std::string& path, const ir::TensorData& d) {
  const char* descr = nullptr;
  for (const Descr& c : kDescrs)
    if (c.dtype == d.dtype()) descr = c.text;
  const ir::Shape& shape = d.shape();
  std::string dims = fmt::format("{}", fmt::join(shape, ", "));
  if (shape.size() == 1) dims += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  // Padded with spaces and a newline so the data starts at a multiple of 64 bytes, as numpy does.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(d.bytes().data()), d.bytes().size());
  write_file_atomically(path, out);
}

}  // namespace qatc::frontend
