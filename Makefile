# Entry points for people and CI. Everything goes through CMake/Ninja in $(BUILD).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test demo clean

all: build

setup:
	bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The main job on the shipped example: import, lower to integers, and prove the integer model
# equals the QAT model (and PyTorch's outputs) on every layer of every data set.
demo: build
	$(BUILD)/driver/qatc inspect examples/resnet_tiny/model.onnx
	$(BUILD)/driver/qatc verify examples/resnet_tiny/model.onnx --data examples/resnet_tiny --json $(BUILD)/resnet_tiny.verify.json

clean:
	rm -rf $(BUILD)
