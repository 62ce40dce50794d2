# Tessera: `make demo` and `make test` are the two commands a fresh machine needs.
BUILD ?= build
JOBS  ?= $(shell nproc)
DEMO_WORKLOAD ?= gemm:m=4096,n=4096,k=4096,dtype=bf16
DEMO_HW ?= h100-sxm

SAN_BUILD ?= build-sanitize
# clang-14 when installed (then the sanitizer build also carries the fuzz targets).
SAN_CXX ?= $(shell command -v clang++-14 2>/dev/null || command -v g++)
FUZZ_SECONDS ?= 60
# ctest arguments of test-sanitize (CI leaves out the 164-report byte comparison,
# which `make test` runs, to fit its time limit).
SAN_CTEST_ARGS ?=
FUZZ_TARGETS = hw_yaml hw_set workload_spec json_trace scalesim_csv scalesim_cfg onnx isa measurements

.PHONY: deps configure build demo test bench clean test-sanitize sanitize-configure fuzz-build fuzz

deps:
	@bash scripts/setup-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/tessera run --hw $(DEMO_HW) --workload $(DEMO_WORKLOAD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@for b in $(BUILD)/bench_*; do echo "== $$b"; ./$$b || exit 1; done

# ASan + UBSan (-fno-sanitize-recover) build in its own directory; runs the whole
# suite there (the fuzz ctests run their targets a few seconds each).
sanitize-configure: deps
	@CXX=$(SAN_CXX) cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON >/dev/null

test-sanitize: sanitize-configure
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) $(SAN_CTEST_ARGS)

# The libFuzzer targets (clang-14 only): tests/fuzz/README.md.
fuzz-build: sanitize-configure
	@if ! $(SAN_CXX) --version | grep -q clang; then \
	  echo "fuzz targets skipped: clang++-14 not found (apt-get install clang-14 libfuzzer-14-dev)"; \
	else cmake --build $(SAN_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS)); fi

# Each target for FUZZ_SECONDS on its corpus, one after another.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  tests/fuzz/run_fuzz.sh $(SAN_BUILD)/tests/fuzz/fuzz_$$t $$t $(FUZZ_SECONDS) $(SAN_BUILD)/fuzz-work/$$t \
	    $(CURDIR) $(CURDIR)/../shared || exit 1; done

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
