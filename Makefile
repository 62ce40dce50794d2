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

.PHONY: deps configure tool build demo test bench clean

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

clean:
	rm -rf $(BUILD)
