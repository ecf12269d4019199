#include "codegen/halide/emit.h"

#include "codegen/halide/host_code.h"
#include "codegen/halide/pipeline.h"
#include "codegen/kernel_abi.h"
#include "frontend/file_io.h"

#include <cpuid.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace qatc::codegen {

namespace {

using namespace Halide;

hl::KernelPipeline pipeline(const KernelSpec& s, hl::Backend backend) {
  switch (s.kind) {
    case KernelKind::conv: return hl::conv_pipeline(s, backend);
    case KernelKind::matmul: return hl::matmul_pipeline(s, backend);
    case KernelKind::requantize: return hl::requantize_pipeline(s, backend);
    case KernelKind::add:
    case KernelKind::sub:
    case KernelKind::mul:
    case KernelKind::widen:
    case KernelKind::clip:
    case KernelKind::lut: return hl::elementwise_pipeline(s, backend);
    case KernelKind::maxpool:
    case KernelKind::avgpool: return hl::pool_pipeline(s, backend);
    case KernelKind::concat:
    case KernelKind::gather:
    case KernelKind::transpose: return hl::layout_pipeline(s, backend);
  }
  __builtin_unreachable();
}

// Kernels call nothing: no runtime, no assertions, no bounds queries (every shape is constant and
// every allocation constant-sized, so none of halide_malloc/halide_error is referenced).
Target bare(Target t) {
  for (Target::Feature f : {Target::NoAsserts, Target::NoBoundsQuery, Target::NoRuntime}) t = t.with_feature(f);
  return t;
}

// The C backend's output does not depend on the CPU: a fixed target keeps it identical everywhere.
Target c_target() { return bare(Target("x86-64-linux")); }

// The JIT's target: Halide's own target machine compiles for it, so it is this CPU minus what
// Halide 14 claims but the CPU lacks: it reports Sapphire Rapids for any AVX512-BF16 CPU, and that
// level includes AVX512-FP16 (CPUID leaf 7, EDX bit 23). Host objects are not limited so
// (host_code.h).
Target jit_target() {
  Target t = get_host_target();
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (t.has_feature(Target::AVX512_SapphireRapids) && (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 23))))
    t = t.without_feature(Target::AVX512_SapphireRapids);
  return bare(t);
}

// d's memory as a dense buffer of `shape`, the kernel's view of it (a pointwise conv sees each
// channel plane as one row), which holds as many elements.
Buffer<> view(const ir::TensorData& d, const ir::Shape& shape, Type t) {
  if (ir::num_elements(shape) != d.size()) throw std::logic_error("a kernel argument of another size than its spec");
  std::vector<halide_dimension_t> dims;
  int stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    dims.emplace_back(0, static_cast<int>(shape[i]), stride);
    stride *= static_cast<int>(shape[i]);
  }
  // Halide's buffers are not const-correct; the kernel only reads its inputs.
  return Buffer<>(t, const_cast<std::byte*>(d.bytes().data()), static_cast<int>(dims.size()), dims.data());
}

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "qatc-halide-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory in " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string impl_name(const KernelSpec& s) { return s.name() + "_impl"; }

// The kernel's LLVM-scheduled pipeline lowered for this CPU (host_code.h), written to `file`.
void emit_host(const KernelSpec& s, const std::filesystem::path& file, hl::HostOutput output) {
  hl::KernelPipeline p = pipeline(s, hl::Backend::llvm);
  hl::emit_host_code(p.output.compile_to_module(p.arguments(), impl_name(s), bare(hl::host_lowering_target())), file, output);
}

}  // namespace

std::string emit_kernel_cpp(const KernelSpec& s) {
  hl::KernelPipeline p = pipeline(s, hl::Backend::c);
  TempDir dir;
  const std::filesystem::path file = dir.path() / "kernel.cpp";
  p.output.compile_to_c(file.string(), p.arguments(), impl_name(s), c_target());
  return frontend::read_file(file.string()) + kernel_wrapper(s);
}

std::string emit_kernel_assembly(const KernelSpec& s) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "kernel.s";
  emit_host(s, file, hl::HostOutput::assembly);
  return frontend::read_file(file.string());
}

void emit_kernel_object(const KernelSpec& s, const std::filesystem::path& file) { emit_host(s, file, hl::HostOutput::object); }

namespace {

// A buffer of `a`'s shape laid out as `a` says (its own memory), holding a copy of `planar`.
Buffer<> laid_out(const ArgSpec& a, const Buffer<>& planar) {
  std::vector<halide_dimension_t> dims;
  const std::vector<int64_t> strides = a.strides();
  for (size_t i = a.shape.size(); i-- > 0;) dims.emplace_back(0, static_cast<int>(a.shape[i]), static_cast<int>(strides[i]));
  Buffer<> b(planar.type(), nullptr, static_cast<int>(dims.size()), dims.data());
  b.allocate();
  b.copy_from(planar);
  return b;
}

}  // namespace

ir::TensorData realize_kernel(const KernelSpec& s, const std::vector<const ir::TensorData*>& args, bool c_schedule) {
  hl::KernelPipeline p = pipeline(s, c_schedule ? hl::Backend::c : hl::Backend::llvm);
  // The tensors are planar; channels-last arguments get a copy in their layout.
  auto buffer = [&](const ir::TensorData& d, const ArgSpec& a) {
    Buffer<> planar = view(d, a.shape, hl::halide_type(d.dtype()));
    return a.layout == Layout::planar ? planar : laid_out(a, planar);
  };
  for (size_t i = 0; i < p.inputs.size(); ++i) p.inputs[i].set(buffer(*args[i], s.args[i]));
  ir::TensorData result(s.result().dtype, s.result().shape);
  Buffer<> planar_out = view(result, s.result().shape, hl::halide_type(result.dtype()));
  Buffer<> out = buffer(result, s.result());
  Target t = jit_target().without_feature(Target::NoRuntime).without_feature(Target::NoAsserts).with_feature(Target::JIT);
  p.output.realize(Pipeline::RealizationArg(out), t);
  if (s.result().layout != Layout::planar) planar_out.copy_from(out);
  return result;
}

std::string halide_version() { return "Halide " QATC_HALIDE_VERSION; }

const std::string& host_code_signature() { return hl::host_code_signature(); }

}  // namespace qatc::codegen
