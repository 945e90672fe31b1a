# Thin wrapper over CMake so the README's commands stay short.
#   make demo     install what is missing, build, run the seed's demo
#   make demo-vm  the same demo with the three guests as QEMU VMs
#   make test     install, build with ASan+UBSan and -Werror, run every test
#   make fuzz   run every libFuzzer target (FUZZ_TIME seconds each, FUZZ=name for one)
#   make bench    build and run the benchmarks under bench/ (root: namespaces)
#   make profile  where a frame's time goes (bench/profile.sh: callgrind, perf, CPU placement)
#   make bench-vm the VM benchmark (bench/vm.sh: vqnet against QEMU's tap and stream)
JOBS       ?= $(shell nproc)
RELEASE    := build/release
TESTBUILD  := build/test
FUZZ_TIME  ?= 60
FUZZ       ?=

.PHONY: all deps build image demo demo-vm test fuzz bench profile bench-vm clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

demo: build
	$(RELEASE)/bin/vqnet run examples/zmq_samples.vqnet

# the VM guest (Debian's kernel, busybox, the samples), cached in the tree
image: build
	@./scripts/guest-image.sh $(RELEASE)

demo-vm: image
	$(RELEASE)/bin/vqnet run examples/zmq_samples_vm.vqnet

$(TESTBUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(TESTBUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DVQNET_SANITIZE=ON -DVQNET_WERROR=ON -DVQNET_FUZZ=ON >/dev/null

test: deps $(TESTBUILD)/CMakeCache.txt
	@cmake --build $(TESTBUILD) -j $(JOBS)
	@./scripts/guest-image.sh $(TESTBUILD)
	ctest --test-dir $(TESTBUILD) --output-on-failure -j $(JOBS)

fuzz: deps $(TESTBUILD)/CMakeCache.txt
	@cmake --build $(TESTBUILD) -j $(JOBS)
	@./scripts/fuzz.sh $(TESTBUILD)/fuzz $(FUZZ_TIME) $(FUZZ)

bench: build
	$(RELEASE)/bench/vq_ring_bench
	bench/fabrics.sh $(RELEASE)
	bench/filter.sh $(RELEASE)
	bench/faults.sh $(RELEASE)
	bench/capture.sh $(RELEASE)
	bench/scale.sh $(RELEASE)

profile: build
	bench/profile.sh $(RELEASE)

bench-vm: image
	bench/vm.sh $(RELEASE)

clean:
	rm -rf build
