# Entry points for people and CI. Everything goes through CMake/Ninja in $(BUILD).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test fuzz demo bench install clean

all: build

setup:
	bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The tests, then a repeatable fuzzing smoke run (fuzz/run.sh --smoke, under a minute).
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	FUZZ_BUILD=$(abspath $(BUILD))-fuzz bash fuzz/run.sh --smoke

# libFuzzer on the ONNX import + lowering and on the IR parser, FUZZ_SECONDS per target (clang-14,
# ASan + UBSan, its own build directory $(BUILD)-fuzz; the corpus grows there between runs).
FUZZ_SECONDS ?= 150
fuzz: setup
	FUZZ_BUILD=$(abspath $(BUILD))-fuzz bash fuzz/run.sh $(FUZZ_SECONDS)

# The main job on the shipped example: import, lower to integers, prove the integer model and the
# generated code equal the QAT model (and PyTorch's outputs) on every data set, write the HTML
# verify report, compile firmware for the C7x-MMA target, and build (CMake) and run the
# firmware-style example program on it.
DEMO := $(abspath $(BUILD))/demo
demo: build
	@mkdir -p $(DEMO)
	$(BUILD)/driver/qatc inspect examples/resnet_tiny/model.onnx
	$(BUILD)/driver/qatc verify examples/resnet_tiny/model.onnx --data examples/resnet_tiny --engine all --target c7x-mma --json $(DEMO)/verify.json --html $(DEMO)/verify.html
	$(BUILD)/driver/qatc compile examples/resnet_tiny/model.onnx --target c7x-mma --name net --sample examples/resnet_tiny -o $(DEMO)/net
	cmake -S examples/firmware -B $(DEMO)/example -G Ninja -DQATC_FIRMWARE=$(DEMO)/net > /dev/null
	cmake --build $(DEMO)/example > /dev/null
	$(DEMO)/example/main
	@echo "demo: the verify report is $(DEMO)/verify.html, the firmware $(DEMO)/net"

# torchvision's ResNet-18, MobileNetV2 and MobileNetV3-Large at 224x224 through qatc's host objects, its
# generated C and its simulator, next to ONNX Runtime on the same weights' int8 export, in one run
# (bench/run.sh; models generated into $(BUILD)/bench on first use).
bench: build
	bash bench/run.sh $(BUILD)

# qatc and qatc-opt into $(PREFIX)/bin, the target descriptions into $(PREFIX)/share/qatc/targets.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
