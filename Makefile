# Tessera: `make demo` and `make test` are the two commands a fresh machine needs.
# `make demo` builds only the tool and its libraries (no tests, no Verilated RTL)
# and says how long that took; `make test` builds the rest and runs every test.
BUILD ?= build
JOBS  ?= $(shell nproc)
DEMO_WORKLOAD ?= gemm:m=4096,n=4096,k=4096,dtype=bf16
DEMO_HW ?= h100-sxm
# ccache, where installed, caches compiles across builds and clones (an explicit
# CMAKE_CXX_COMPILER_LAUNCHER in the environment wins).
CCACHE := $(shell command -v ccache 2>/dev/null)
LAUNCHER := $(if $(CMAKE_CXX_COMPILER_LAUNCHER),$(CMAKE_CXX_COMPILER_LAUNCHER),$(CCACHE))

SAN_BUILD ?= build-sanitize
# clang-14 when installed (then the sanitizer build also carries the fuzz targets).
SAN_CXX ?= $(shell command -v clang++-14 2>/dev/null || command -v g++)
FUZZ_SECONDS ?= 60
# libFuzzer seed of `make fuzz` (0: a new random seed each run; the ctests use 1).
FUZZ_SEED ?= 0
# ctest arguments of test-sanitize (CI leaves out the 164-report byte comparison,
# which `make test` runs, to fit its time limit).
SAN_CTEST_ARGS ?=
FUZZ_TARGETS = hw_yaml hw_set workload_spec json_trace scalesim_csv scalesim_cfg onnx isa measurements \
  calibrate_records sweep_spec chakra memsim parallel_spec

.PHONY: deps configure tool build demo test bench clean test-sanitize test-sanitize-ci sanitize-configure fuzz-build fuzz

deps:
	@bash scripts/setup-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  $(if $(LAUNCHER),-DCMAKE_CXX_COMPILER_LAUNCHER=$(LAUNCHER)) >/dev/null

# The tool alone: what `make demo` needs.
tool: configure
	@start=$$(date +%s); \
	cmake --build $(BUILD) -j $(JOBS) --target tessera || exit 1; \
	echo "tessera built in $$(( $$(date +%s) - start )) s$(if $(LAUNCHER), (compiler launcher: $(notdir $(LAUNCHER))))"

# Everything: the tool, the test suites (with the Verilated RTL) and the benchmarks.
build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: tool
	./$(BUILD)/tessera run --hw $(DEMO_HW) --workload $(DEMO_WORKLOAD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@for b in $(BUILD)/bench_*; do echo "== $$b"; ./$$b || exit 1; done

# ASan + UBSan (-fno-sanitize-recover) build in its own directory; runs the whole
# suite there (the fuzz ctests run their targets a few seconds each).
sanitize-configure: deps
	@CXX=$(SAN_CXX) cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON \
	  $(if $(LAUNCHER),-DCMAKE_CXX_COMPILER_LAUNCHER=$(LAUNCHER)) >/dev/null

test-sanitize: sanitize-configure
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) $(SAN_CTEST_ARGS)

# The part of test-sanitize that CI runs beside `make test`: the tool, the
# robustness suite (every bad and huge input) and the fuzz targets (each fuzzes a
# few seconds under libFuzzer with clang, else replays its corpus and 3000 seeded
# mutations), built and run under ASan + UBSan. Builds only what those tests need.
SAN_CI_TARGETS = tessera test_robustness $(addprefix fuzz_,$(FUZZ_TARGETS))
test-sanitize-ci: sanitize-configure
	@start=$$(date +%s); \
	cmake --build $(SAN_BUILD) -j $(JOBS) --target $(SAN_CI_TARGETS) || exit 1; \
	echo "sanitizer build of $(words $(SAN_CI_TARGETS)) targets: $$(( $$(date +%s) - start )) s"
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L '^(robustness|fuzz)$$'

# The libFuzzer targets (clang-14 only): tests/fuzz/README.md.
fuzz-build: sanitize-configure
	@if ! $(SAN_CXX) --version | grep -q clang; then \
	  echo "fuzz targets skipped: clang++-14 not found (apt-get install clang-14 libfuzzer-14-dev)"; \
	else cmake --build $(SAN_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS)); fi

# Each target for FUZZ_SECONDS on its corpus, one after another.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  FUZZ_SEED=$(FUZZ_SEED) tests/fuzz/run_fuzz.sh $(SAN_BUILD)/tests/fuzz/fuzz_$$t $$t $(FUZZ_SECONDS) $(SAN_BUILD)/fuzz-work/$$t \
	    $(CURDIR) $(CURDIR)/../shared || exit 1; done

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
