#include "driver/data_sets.h"

#include "frontend/npy.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"
#include "ir/limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace qatc::driver {

namespace fs = std::filesystem;

namespace {

// The N of "<prefix>N<suffix>", or -1.
int64_t numbered(const std::string& name, std::string_view prefix, std::string_view suffix) {
  if (!name.starts_with(prefix) || !name.ends_with(suffix) || name.size() <= prefix.size() + suffix.size()) return -1;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 9) return -1;
  return std::stoll(digits);
}

// The entries of a directory, with a refusal naming it when it cannot be read.
std::vector<fs::directory_entry> entries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) found.push_back(*it);
  if (ec) fail("{}: cannot read the directory: {}", dir.string(), ec.message());
  return found;
}

// file_0, file_1, ... without gaps, each an ONNX `.pb` or a NumPy `.npy` tensor.
std::vector<std::string> numbered_files(const fs::path& dir, std::string_view prefix) {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& e : entries(dir))
    for (std::string_view suffix : {".pb", ".npy"})
      if (int64_t n = numbered(e.path().filename().string(), prefix, suffix); n >= 0) found.emplace_back(n, e.path().string());
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].first != static_cast<int64_t>(files.size()))
      fail("{}: {}", dir.string(), found[i].first < static_cast<int64_t>(files.size())
                                       ? fmt::format("both {}{}.pb and .npy: keep one", prefix, found[i].first)
                                       : fmt::format("{}{}.pb (or .npy) is missing", prefix, files.size()));
    files.push_back(found[i].second);
  }
  return files;
}

// The largest file a tensor of `type` can be: .npy and raw_data hold its bytes; ONNX's typed fields
// hold integers (and float16) as varints of up to 10 bytes. The slack covers names and headers.
size_t max_file_bytes(const ir::TensorType& type, const std::string& what) {
  constexpr size_t kHeaderSlack = size_t{1} << 20;
  const auto elements = static_cast<size_t>(ir::checked_num_elements(type.shape, type.dtype, what));
  const size_t per_element = ir::is_float(type.dtype) ? ir::byte_size(type.dtype) : 10;
  return elements * per_element + kHeaderSlack;
}

// Reads one tensor file, refused before reading when it is larger than `type` can take, and after
// when it holds another element type or shape. Floating-point outputs may be either precision
// (`qatc run --save-outputs` keeps float64 where float32 would round).
ir::TensorData read_tensor(const std::string& path, const ir::TensorType& type, const std::string& what,
                           bool any_float_precision) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);  // errors (a directory, a loop) are read_file's to name
  if (!ec && size > max_file_bytes(type, what))
    fail("{}: file is {} bytes; {} {}[{}] takes at most {} in any encoding", path, size, what,
         ir::dtype_name(type.dtype), ir::shape_string(type.shape), max_file_bytes(type, what));
  ir::TensorData t = path.ends_with(".npy") ? frontend::read_npy_file(path) : frontend::read_tensor_file(path).data;
  const bool dtype_ok = t.dtype() == type.dtype || (any_float_precision && ir::is_float(t.dtype()) && ir::is_float(type.dtype));
  if (!dtype_ok || t.shape() != type.shape)
    fail("{}: is {}[{}], {} needs {}[{}]", path, ir::dtype_name(t.dtype()), ir::shape_string(t.shape()), what,
         ir::dtype_name(type.dtype), ir::shape_string(type.shape));
  return t;
}

// The first element of a float tensor that is NaN or infinite, if any.
std::optional<int64_t> first_non_finite(const ir::TensorData& t) {
  if (!ir::is_float(t.dtype())) return std::nullopt;
  for (int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.float_at(i))) return i;
  return std::nullopt;
}

// `v` as the element type `dtype`, rounded away from zero: quantized, it lands at least as far out.
double outward(double v, ir::DType dtype) {
  if (dtype != ir::DType::f32) return v;
  float f = static_cast<float>(v);
  if (std::abs(static_cast<double>(f)) < std::abs(v)) f = std::nextafter(f, v < 0 ? -INFINITY : INFINITY);
  return f;
}

// Values below and above every code of every quantizer reading `input` (with a margin of one code
// for float32's multiply-by-reciprocal rounding); none when something else reads it too.
std::optional<std::pair<double, double>> saturating_values(const ir::Graph& g, const ir::Value* input) {
  double lo = 0, hi = 0;
  const std::vector<ir::Op*> users = g.users(input);
  if (users.empty()) return std::nullopt;
  for (const ir::Op* op : users) {
    if (op->kind != ir::OpKind::quantize || op->inputs[0] != input || !op->outputs[0]->type.quant) return std::nullopt;
    const ir::QuantParams& q = *op->outputs[0]->type.quant;
    for (size_t c = 0; c < q.scales.size() && c < q.zero_points.size(); ++c) {
      lo = std::min(lo, static_cast<double>(q.qmin() - q.zero_points[c] - 2) * q.scales[c]);
      hi = std::max(hi, static_cast<double>(q.qmax() - q.zero_points[c] + 2) * q.scales[c]);
    }
  }
  lo = outward(lo, input->type.dtype), hi = outward(hi, input->type.dtype);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return std::nullopt;
  return std::pair{lo, hi};
}

}  // namespace

DataSets::DataSets(const std::string& dir, const ir::Graph& graph) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (ec || !fs::is_directory(status))
    fail("{}: {}", dir, !ec || ec == std::errc::no_such_file_or_directory ? "no such directory" : ec.message());
  std::vector<std::pair<int64_t, std::string>> numbered_dirs;
  for (const auto& e : entries(dir)) {
    const int64_t n = numbered(e.path().filename().string(), "test_data_set_", "");
    if (n < 0) continue;
    const bool is_dir = e.is_directory(ec);  // follows symbolic links; a loop is refused
    if (ec) fail("{}: {}", e.path().string(), ec.message());
    if (is_dir) numbered_dirs.emplace_back(n, e.path().string());
  }
  if (numbered_dirs.empty()) fail("{}: holds no test_data_set_N directories", dir);
  std::sort(numbered_dirs.begin(), numbered_dirs.end());
  for (auto& [n, path] : numbered_dirs) dirs_.push_back(std::move(path));
  for (const ir::Value* v : graph.inputs()) inputs_.push_back({v->name, v->type, saturating_values(graph, v)});
  for (const ir::Value* v : graph.outputs()) outputs_.push_back({v->name, v->type, std::nullopt});
}

DataSet DataSets::read(size_t i) const {
  DataSet set{dirs_[i], {}, {}};
  const std::string set_name = fs::path(set.dir).filename().string();
  const auto inputs = numbered_files(set.dir, "input_");
  if (inputs.size() != inputs_.size())
    fail("{}: has {} input files, the model has {} inputs", set.dir, inputs.size(), inputs_.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Port& port = inputs_[k];
    ir::TensorData t = read_tensor(inputs[k], port.type, fmt::format("input '{}'", port.name), false);
    for (int64_t e = 0; ir::is_float(t.dtype()) && e < t.size(); ++e) {
      const double v = t.float_at(e);
      if (std::isfinite(v)) continue;
      if (std::isnan(v) || !port.saturating)
        fail("{}: element {} is {}, which input '{}' cannot take{} (data set {})", inputs[k], e, v, port.name,
             std::isnan(v) ? "" : ": only quantizers reading it directly give infinities a value", set_name);
      // The quantizers saturate ±Inf; the stand-in saturates them alike, in every engine.
      const double stand_in = v < 0 ? port.saturating->first : port.saturating->second;
      if (t.dtype() == ir::DType::f32) t.as<float>()[static_cast<size_t>(e)] = static_cast<float>(stand_in);
      else t.as<double>()[static_cast<size_t>(e)] = stand_in;
    }
    set.inputs.push_back(std::move(t));
  }
  const auto outputs = numbered_files(set.dir, "output_");
  if (!outputs.empty() && outputs.size() != outputs_.size())
    fail("{}: has {} output files, the model has {} outputs", set.dir, outputs.size(), outputs_.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Port& port = outputs_[k];
    ir::TensorData t = read_tensor(outputs[k], port.type, fmt::format("output '{}'", port.name), true);
    if (auto bad = first_non_finite(t))
      fail("{}: element {} is {}: an expected output must be finite (data set {})", outputs[k], *bad, t.float_at(*bad),
           set_name);
    set.expected.push_back(std::move(t));
  }
  return set;
}

}  // namespace qatc::driver
