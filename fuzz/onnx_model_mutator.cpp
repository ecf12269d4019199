// A structure-aware libFuzzer mutator for ONNX models: most mutations parse the input as a
// ModelProto and change one field the way the hostile-model probes do — an attribute set to 0, -1,
// +-2^31, 2^62 or an empty or oversized list, an operator swapped for another, a dimension, data
// type or raw payload of a tensor bent, an input rewired, a node dropped or repeated, the opset
// moved — then serialize it again, so mutations reach the importer's and libonnx's inference code
// instead of dying in the protobuf parser. The rest are libFuzzer's own byte mutations (guided by
// fuzz/onnx.dict), which keep the parser itself under test.
#include <onnx/onnx_pb.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

constexpr int64_t kInts[] = {0, -1, 1, 2, 3, 7, 255, 256, 65536, int64_t{1} << 31, -(int64_t{1} << 31),
                             int64_t{1} << 32, int64_t{1} << 62, INT64_MIN, INT64_MAX};
constexpr const char* kOps[] = {
    "QuantizeLinear", "DequantizeLinear", "Conv", "ConvInteger", "QLinearConv", "QLinearMatMul", "MatMulInteger",
    "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "MatMul", "Gemm", "BatchNormalization", "Add",
    "Mul", "Div", "Sub", "Relu", "Clip", "Identity", "Constant", "Flatten", "Reshape", "Transpose", "Squeeze",
    "Unsqueeze", "Concat", "Pad", "Resize", "Upsample", "Split", "Slice", "Gather", "Expand", "Tile",
    "ConstantOfShape", "DepthToSpace", "TopK", "ReduceMean", "ReduceSum", "MaxUnpool", "GatherND", "Einsum"};
constexpr const char* kAttributes[] = {"strides", "pads", "dilations", "kernel_shape", "group", "axis", "axes",
                                       "auto_pad", "perm", "blocksize", "keepdims", "mode", "alpha", "beta",
                                       "transA", "transB", "ceil_mode", "count_include_pad", "output_padding"};
constexpr const char* kStrings[] = {"SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "nearest", "linear", "cubic",
                                    "DCR", "CRD", "constant", "reflect", "edge", ""};

template <typename T, size_t N>
const T& pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[rng() % N];
}

int64_t some_int(std::mt19937_64& rng) { return pick(rng, kInts); }

void mutate_attribute(onnx::NodeProto& n, std::mt19937_64& rng) {
  onnx::AttributeProto* a = n.attribute_size() && rng() % 3 ? n.mutable_attribute(rng() % n.attribute_size())
                                                             : n.add_attribute();
  if (a->name().empty()) a->set_name(pick(rng, kAttributes));
  switch (rng() % 5) {
    case 0:
      a->Clear(), a->set_name(pick(rng, kAttributes)), a->set_type(onnx::AttributeProto::INT), a->set_i(some_int(rng));
      break;
    case 1: {
      const std::string name = a->name();
      a->Clear(), a->set_name(name), a->set_type(onnx::AttributeProto::INTS);
      const size_t count = rng() % 4 == 0 ? 300 : rng() % 6;
      for (size_t i = 0; i < count; ++i) a->add_ints(rng() % 2 ? some_int(rng) : 1);
      break;
    }
    case 2:
      a->set_type(onnx::AttributeProto::FLOAT), a->set_f(rng() % 2 ? -1.f : 1e30f);
      break;
    case 3:
      a->set_type(onnx::AttributeProto::STRING), a->set_s(pick(rng, kStrings));
      break;
    default:
      if (a->ints_size()) a->set_ints(rng() % a->ints_size(), some_int(rng));
      else a->set_i(some_int(rng));
  }
}

void mutate_tensor(onnx::TensorProto& t, std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
      if (t.dims_size()) t.set_dims(rng() % t.dims_size(), rng() % 2 ? 0 : some_int(rng));
      break;
    case 1:
      if (t.has_raw_data() && !t.raw_data().empty()) t.mutable_raw_data()->resize(rng() % t.raw_data().size());
      break;
    case 2:
      t.set_data_type(static_cast<int32_t>(rng() % 17));
      break;
    case 3:
      for (int i = 0; i < t.int32_data_size(); ++i) t.set_int32_data(i, static_cast<int32_t>(some_int(rng)));
      for (int i = 0; i < t.int64_data_size(); ++i) t.set_int64_data(i, some_int(rng));
      break;
    default:
      t.add_dims(rng() % 4);
  }
}

void mutate_model(onnx::ModelProto& m, std::mt19937_64& rng) {
  onnx::GraphProto& g = *m.mutable_graph();
  const int nodes = g.node_size();
  onnx::NodeProto* n = nodes ? g.mutable_node(rng() % nodes) : nullptr;
  switch (rng() % 8) {
    case 0:
    case 1:
      if (n) mutate_attribute(*n, rng);
      break;
    case 2:
      if (n) n->set_op_type(pick(rng, kOps));
      break;
    case 3:
      if (g.initializer_size()) mutate_tensor(*g.mutable_initializer(rng() % g.initializer_size()), rng);
      break;
    case 4:
      if (g.input_size()) {
        auto* shape = g.mutable_input(rng() % g.input_size())->mutable_type()->mutable_tensor_type()->mutable_shape();
        if (shape->dim_size()) shape->mutable_dim(rng() % shape->dim_size())->set_dim_value(rng() % 2 ? 0 : some_int(rng));
      }
      break;
    case 5:  // rewire an input to another tensor of the graph
      if (n && n->input_size() && nodes) {
        const auto& other = g.node(rng() % nodes);
        if (other.output_size()) n->set_input(rng() % n->input_size(), other.output(0));
      }
      break;
    case 6:
      if (nodes && rng() % 2) g.mutable_node()->DeleteSubrange(rng() % nodes, 1);
      else if (n) *g.add_node() = *n;
      break;
    default:
      if (m.opset_import_size()) m.mutable_opset_import(0)->set_version(7 + rng() % 13);
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  onnx::ModelProto m;
  if (rng() % 4 == 0 || !m.ParseFromArray(data, static_cast<int>(size))) return LLVMFuzzerMutate(data, size, max_size);
  for (int i = 1 + static_cast<int>(rng() % 3); i > 0; --i) mutate_model(m, rng);
  const std::string bytes = m.SerializeAsString();
  if (bytes.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}
