# Thin wrapper over CMake so the README's commands stay short.
#   make demo   install what is missing, build, run the seed's demo
#   make test   install, build with ASan+UBSan and -Werror, run every test
#   make fuzz   run every libFuzzer target (FUZZ_TIME seconds each, FUZZ=name for one)
#   make bench  build and run the benchmarks under bench/ (root: namespaces)
JOBS       ?= $(shell nproc)
RELEASE    := build/release
TESTBUILD  := build/test
FUZZ_TIME  ?= 60
FUZZ       ?=

.PHONY: all deps build demo test fuzz bench clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

demo: build
	$(RELEASE)/bin/vqnet run examples/zmq_samples.vqnet

$(TESTBUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(TESTBUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DVQNET_SANITIZE=ON -DVQNET_WERROR=ON -DVQNET_FUZZ=ON >/dev/null

test: deps $(TESTBUILD)/CMakeCache.txt
	@cmake --build $(TESTBUILD) -j $(JOBS)
	ctest --test-dir $(TESTBUILD) --output-on-failure -j $(JOBS)

fuzz: deps $(TESTBUILD)/CMakeCache.txt
	@cmake --build $(TESTBUILD) -j $(JOBS)
	@./scripts/fuzz.sh $(TESTBUILD)/fuzz $(FUZZ_TIME) $(FUZZ)

bench: build
	$(RELEASE)/bench/vq_ring_bench
	bench/fabrics.sh $(RELEASE)
	bench/filter.sh $(RELEASE)

clean:
	rm -rf build
