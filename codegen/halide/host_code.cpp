#include "codegen/halide/host_code.h"

#include <Halide.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/IPO/AlwaysInliner.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

namespace qatc::codegen::hl {

namespace {

struct HostCpu {
  std::string cpu;       // an LLVM CPU name, "x86-64" where LLVM 14 does not know this one
  std::string features;  // every feature LLVM knows, "+name" or "-name", sorted
  bool vnni = false;     // AVX-512 VNNI (with the AVX-512 F/BW/VL it extends)
};

const HostCpu& host_cpu() {
  static const HostCpu cpu = [] {
    HostCpu h;
    const std::string name = llvm::sys::getHostCPUName().str();
    h.cpu = name.empty() || name == "generic" ? "x86-64" : name;
    llvm::StringMap<bool> features;
    if (!llvm::sys::getHostCPUFeatures(features)) throw std::runtime_error("LLVM cannot read this CPU's features");
    std::vector<std::string> list;
    for (const auto& f : features) list.push_back((f.second ? "+" : "-") + f.first().str());
    std::sort(list.begin(), list.end(), [](const std::string& a, const std::string& b) { return a.substr(1) < b.substr(1); });
    for (const std::string& f : list) h.features += (h.features.empty() ? "" : ",") + f;
    auto has = [&](const char* f) { return features.lookup(f); };
    h.vnni = has("avx512vnni") && has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq");
    return h;
  }();
  return cpu;
}

// Halide calls the x86 dot-product instructions through small helpers (dpbusdx16 wraps
// llvm.x86.avx512.vpdpbusd.512) that its runtime modules define; kernels are built without a
// runtime, so the object would call an undefined dpbusdx16. The helpers are defined here as the
// intrinsic they wrap, and inlined.
void define_dot_product_helpers(llvm::Module& m) {
  using ID = llvm::Intrinsic::ID;
  static const std::map<std::string, ID> helpers = {
      {"dpbusdx16", llvm::Intrinsic::x86_avx512_vpdpbusd_512},   {"dpbusdx8", llvm::Intrinsic::x86_avx512_vpdpbusd_256},
      {"dpbusdx4", llvm::Intrinsic::x86_avx512_vpdpbusd_128},    {"dpbusdsx16", llvm::Intrinsic::x86_avx512_vpdpbusds_512},
      {"dpbusdsx8", llvm::Intrinsic::x86_avx512_vpdpbusds_256},  {"dpbusdsx4", llvm::Intrinsic::x86_avx512_vpdpbusds_128},
      {"dpwssdx16", llvm::Intrinsic::x86_avx512_vpdpwssd_512},   {"dpwssdx8", llvm::Intrinsic::x86_avx512_vpdpwssd_256},
      {"dpwssdx4", llvm::Intrinsic::x86_avx512_vpdpwssd_128},    {"dpwssdsx16", llvm::Intrinsic::x86_avx512_vpdpwssds_512},
      {"dpwssdsx8", llvm::Intrinsic::x86_avx512_vpdpwssds_256},  {"dpwssdsx4", llvm::Intrinsic::x86_avx512_vpdpwssds_128},
  };
  std::vector<std::pair<llvm::Function*, ID>> used;
  for (llvm::Function& f : m)
    if (auto it = helpers.find(f.getName().str()); it != helpers.end() && f.isDeclaration()) used.emplace_back(&f, it->second);
  if (used.empty()) return;
  for (auto [f, id] : used) {
    llvm::Function* intrinsic = llvm::Intrinsic::getDeclaration(&m, id);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(m.getContext(), "entry", f));
    std::vector<llvm::Value*> args;
    for (unsigned i = 0; i < f->arg_size(); ++i)
      args.push_back(b.CreateBitCast(f->getArg(i), intrinsic->getFunctionType()->getParamType(i)));
    b.CreateRet(b.CreateBitCast(b.CreateCall(intrinsic, args), f->getReturnType()));
    f->setLinkage(llvm::GlobalValue::InternalLinkage);
    f->addFnAttr(llvm::Attribute::AlwaysInline);
  }
  llvm::legacy::PassManager inliner;
  inliner.add(llvm::createAlwaysInlinerLegacyPass());
  inliner.run(m);
}

}  // namespace

Halide::Target host_lowering_target() {
  Halide::Target t = Halide::get_host_target();
  for (auto f : {Halide::Target::AVX512_SapphireRapids, Halide::Target::AVX512_Cannonlake, Halide::Target::AVX512_Skylake,
                 Halide::Target::AVX512_KNL, Halide::Target::AVX512})
    t = t.without_feature(f);
  // Sapphire Rapids implies the Cannon Lake level (AVX-512 F/CD/BW/DQ/VL/IFMA/VBMI); the machine
  // code is for this CPU's features whatever the level (emit_host_code).
  if (host_cpu().vnni) t = t.with_feature(Halide::Target::AVX512_SapphireRapids);
  else if (Halide::get_host_target().has_feature(Halide::Target::AVX512_Skylake))
    t = t.with_feature(Halide::Target::AVX512_Skylake);
  return t;
}

const std::string& host_code_signature() {
  static const std::string s = host_cpu().cpu + " " + host_cpu().features;
  return s;
}

void emit_host_code(const Halide::Module& module, const std::filesystem::path& file, HostOutput output) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> m = Halide::compile_module_to_llvm_module(module, context);
  // Halide records the CPU and features it chose on every function and in two module flags, which
  // its target machine reads back: both now name this CPU.
  const HostCpu& cpu = host_cpu();
  for (llvm::Function& f : *m) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", cpu.cpu);
    f.addFnAttr("target-features", cpu.features);
    f.removeFnAttr("tune-cpu");
  }
  m->setModuleFlag(llvm::Module::Warning, "halide_mcpu", llvm::MDString::get(context, cpu.cpu));
  m->setModuleFlag(llvm::Module::Warning, "halide_mattrs", llvm::MDString::get(context, cpu.features));
  define_dot_product_helpers(*m);
  auto out = Halide::make_raw_fd_ostream(file.string());
  if (output == HostOutput::object) Halide::compile_llvm_module_to_object(*m, *out);
  else Halide::compile_llvm_module_to_assembly(*m, *out);
}

}  // namespace qatc::codegen::hl
