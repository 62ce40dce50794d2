# Tessera: `make demo` and `make test` are the two commands a fresh machine needs.
BUILD ?= build
JOBS  ?= $(shell nproc)
DEMO_WORKLOAD ?= gemm:m=4096,n=4096,k=4096,dtype=bf16
DEMO_HW ?= h100-sxm

.PHONY: deps configure build demo test bench clean

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

clean:
	rm -rf $(BUILD)
