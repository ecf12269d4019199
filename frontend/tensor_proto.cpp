#include "frontend/tensor_proto.h"

#include "frontend/file_io.h"
#include "ir/error.h"
#include "ir/limits.h"

#include <cstring>

namespace qatc::frontend {

using onnx::TensorProto;

std::string_view onnx_type_name(int t) {
  if (TensorProto::DataType_IsValid(t)) return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(t));
  return "UNKNOWN";
}

ir::DType dtype_from_onnx(int t, const std::string& what) {
  switch (t) {
    case TensorProto::FLOAT: return ir::DType::f32;
    case TensorProto::DOUBLE: return ir::DType::f64;
    case TensorProto::INT8: return ir::DType::i8;
    case TensorProto::UINT8: return ir::DType::u8;
    case TensorProto::INT16: return ir::DType::i16;
    case TensorProto::UINT16: return ir::DType::u16;
    case TensorProto::INT32: return ir::DType::i32;
    case TensorProto::INT64: return ir::DType::i64;
    default: fail("{}: element type {} is not supported", what, onnx_type_name(t));
  }
}

int dtype_to_onnx(ir::DType t) {
  switch (t) {
    case ir::DType::f32: return TensorProto::FLOAT;
    case ir::DType::f64: return TensorProto::DOUBLE;
    case ir::DType::i8: return TensorProto::INT8;
    case ir::DType::u8: return TensorProto::UINT8;
    case ir::DType::i16: return TensorProto::INT16;
    case ir::DType::u16: return TensorProto::UINT16;
    case ir::DType::i32: return TensorProto::INT32;
    case ir::DType::i64: return TensorProto::INT64;
  }
  __builtin_unreachable();
}

ir::DType check_tensor_header(const TensorProto& t, const std::string& what) {
  if (t.data_location() == TensorProto::EXTERNAL) {
    std::string location;
    for (const auto& entry : t.external_data())
      if (entry.key() == "location") location = entry.value();
    fail("{}: external data files are not supported (the model names '{}')", what, location);
  }
  if (t.has_segment()) fail("{}: segmented tensors are not supported", what);
  const ir::DType dtype = dtype_from_onnx(t.data_type(), what);
  ir::checked_num_elements(ir::Shape(t.dims().begin(), t.dims().end()), dtype, what);
  return dtype;
}

ir::TensorData tensor_from_proto(const TensorProto& t) {
  std::string what = "tensor '" + t.name() + "'";
  const ir::DType dtype = check_tensor_header(t, what);
  ir::Shape shape(t.dims().begin(), t.dims().end());
  const int64_t n = ir::num_elements(shape);
  auto count_check = [&](int64_t have) {
    if (have != n) fail("{}: holds {} values, its shape [{}] needs {}", what, have, fmt::join(shape, ","), n);
  };
  ir::TensorData data(dtype, shape);
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != static_cast<size_t>(n) * ir::byte_size(dtype))
      fail("{}: raw data has {} bytes, its shape [{}] needs {}", what, raw.size(), fmt::join(shape, ","),
           static_cast<size_t>(n) * ir::byte_size(dtype));
    if (!raw.empty()) std::memcpy(data.mutable_bytes().data(), raw.data(), raw.size());  // x86-64: little-endian
    return data;
  }
  ir::visit_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    auto out = data.as<T>();
    auto copy = [&](const auto& field) {
      count_check(field.size());
      for (int64_t i = 0; i < n; ++i) {
        // 8- and 16-bit values arrive widened in int32_data: a value the type cannot hold would wrap.
        if constexpr (std::is_integral_v<T> && sizeof(T) < sizeof(int32_t))
          if (field[i] < ir::int_min(dtype) || field[i] > ir::int_max(dtype))
            fail("{}: value {} (at index {}) is out of range for {}", what, field[i], i, ir::dtype_name(dtype));
        out[i] = static_cast<T>(field[i]);
      }
    };
    if constexpr (std::is_same_v<T, float>) copy(t.float_data());
    else if constexpr (std::is_same_v<T, double>) copy(t.double_data());
    else if constexpr (std::is_same_v<T, int64_t>) copy(t.int64_data());
    else copy(t.int32_data());  // ONNX stores 8/16/32-bit integers widened in int32_data
  });
  return data;
}

TensorProto tensor_to_proto(const ir::TensorData& d, const std::string& name) {
  TensorProto t;
  t.set_name(name);
  t.set_data_type(dtype_to_onnx(d.dtype()));
  for (int64_t dim : d.shape()) t.add_dims(dim);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(d.bytes().data()), d.bytes().size()));
  return t;
}

NamedTensor read_tensor_file(const std::string& path) {
  std::string bytes = read_file(path);
  TensorProto t;
  if (!t.ParseFromString(bytes)) fail("{}: not a valid ONNX TensorProto file", path);
  try {
    return {t.name(), tensor_from_proto(t)};
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

void write_tensor_file(const std::string& path, const ir::TensorData& d, const std::string& name) {
  write_file_atomically(path, tensor_to_proto(d, name).SerializeAsString());
}

}  // namespace qatc::frontend
