# lit configuration for qatc's FileCheck tests: IR text (.qir), tiny ONNX models in ONNX's text
# syntax (.onnxtxt) and driver command lines (.test).
import os
import lit.formats

config.name = "qatc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".qir", ".onnxtxt", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qatc_build_dir, "tests", "lit")
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in"]

config.environment["PATH"] = os.pathsep.join([config.llvm_tools_dir, config.environ_path])
config.substitutions.append(("%qatc-opt", os.path.join(config.qatc_build_dir, "driver", "qatc-opt")))
config.substitutions.append(("%qatc", os.path.join(config.qatc_build_dir, "driver", "qatc")))
config.substitutions.append(("%onnx-from-text", os.path.join(config.qatc_build_dir, "tests", "onnx-from-text")))
config.substitutions.append(("%expect-exit", os.path.join(config.qatc_source_dir, "tests", "tools", "expect-exit")))
config.substitutions.append(("%models", os.path.join(config.qatc_source_dir, "tests", "models")))
config.substitutions.append(("%tools", os.path.join(config.qatc_source_dir, "tests", "tools")))
config.substitutions.append(("%build", config.qatc_build_dir))
# Debian's interpreter, with python3-onnx (not whatever python3 comes first on PATH).
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%testdata", "/usr/share/libonnx-testdata/data/node"))
# Generated kernels are cached here, never in the user's ~/.cache.
config.environment["QATC_KERNEL_CACHE"] = os.path.join(config.qatc_build_dir, "tests", "lit", "kernel-cache")
config.substitutions.append(("%examples", os.path.join(config.qatc_source_dir, "examples")))
config.substitutions.append(("%bench", os.path.join(config.qatc_source_dir, "bench")))
# CPU features a test may require (// REQUIRES: avx512vnni): lit reports such a test as UNSUPPORTED
# on a CPU without the feature, rather than passing or failing it.
with open("/proc/cpuinfo") as cpuinfo:
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
if "avx512_vnni" in flags:
    config.available_features.add("avx512vnni")
