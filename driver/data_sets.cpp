#include "driver/data_sets.h"

#include "frontend/npy.h"
#include "frontend/tensor_proto.h"
#include "ir/error.h"

#include <fmt/format.h>

#include <algorithm>
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

// file_0, file_1, ... without gaps, each an ONNX `.pb` or a NumPy `.npy` tensor.
std::vector<std::string> numbered_files(const fs::path& dir, std::string_view prefix) {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& e : fs::directory_iterator(dir))
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

ir::TensorData read_tensor(const std::string& path) {
  return path.ends_with(".npy") ? frontend::read_npy_file(path) : frontend::read_tensor_file(path).data;
}

}  // namespace

std::vector<DataSet> read_data_sets(const std::string& dir, const ir::Graph& graph) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{}: no such directory", dir);
  std::vector<std::pair<int64_t, fs::path>> dirs;
  for (const auto& e : fs::directory_iterator(dir)) {
    int64_t n = numbered(e.path().filename().string(), "test_data_set_", "");
    if (n >= 0 && e.is_directory()) dirs.emplace_back(n, e.path());
  }
  if (dirs.empty()) fail("{}: holds no test_data_set_N directories", dir);
  std::sort(dirs.begin(), dirs.end());

  std::vector<DataSet> sets;
  for (const auto& [n, path] : dirs) {
    DataSet set{path.string(), {}, {}};
    auto inputs = numbered_files(path, "input_");
    if (inputs.size() != graph.inputs().size())
      fail("{}: has {} input files, the model has {} inputs", set.dir, inputs.size(), graph.inputs().size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      ir::TensorData t = read_tensor(inputs[i]);
      const ir::TensorType& want = graph.inputs()[i]->type;
      if (t.dtype() != want.dtype || t.shape() != want.shape)
        fail("{}: is {}[{}], input '{}' needs {}[{}]", inputs[i], ir::dtype_name(t.dtype()), ir::shape_string(t.shape()),
             graph.inputs()[i]->name, ir::dtype_name(want.dtype), ir::shape_string(want.shape));
      set.inputs.push_back(std::move(t));
    }
    for (const auto& file : numbered_files(path, "output_")) set.expected.push_back(read_tensor(file));
    if (!set.expected.empty() && set.expected.size() != graph.outputs().size())
      fail("{}: has {} output files, the model has {} outputs", set.dir, set.expected.size(), graph.outputs().size());
    sets.push_back(std::move(set));
  }
  return sets;
}

}  // namespace qatc::driver
