// The generated code as an engine (qatc verify --engine c): the model compiled for a target, built
// for this machine with the system compiler and the firmware's own Makefile fragment, and run as a
// process per data set on quantized inputs.
#pragma once

#include "driver/firmware_build.h"
#include "ir/tensor_data.h"

#include <filesystem>
#include <string>
#include <vector>

namespace qatc::driver {

struct CEngineOptions {
  CompileCommandOptions compile;  // model, target, cache; output is set by the engine
  std::string cflags = "-O2";     // for the generated C and C++ (e.g. sanitizers)
  std::string work_dir;           // kept when given; else a temporary directory, removed afterwards
};

class CEngine {
 public:
  explicit CEngine(CEngineOptions o);
  ~CEngine();
  CEngine(const CEngine&) = delete;
  CEngine& operator=(const CEngine&) = delete;

  const codegen::Firmware& firmware() const { return built_.firmware; }
  // Quantized inputs in firmware order -> quantized outputs; Error if the program fails (a
  // sanitizer report, a nonzero status), naming its log.
  std::vector<ir::TensorData> run(const std::vector<ir::TensorData>& inputs);

 private:
  CEngineOptions o_;
  std::filesystem::path dir_;
  bool temporary_ = false;
  BuiltFirmware built_;
  std::filesystem::path runner_;
  int runs_ = 0;
};

}  // namespace qatc::driver
