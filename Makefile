# Thin front for CMake. `make run` and `make test` install what is missing,
# build, and run; see README.md.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PROFILE ?=
ifeq ($(PROFILE),redis)
CONFIG ?= config/redis.conf
else
CONFIG ?= config/vidflow.conf
endif
FUZZ_DIR ?= $(BUILD_DIR)/fuzz
FUZZ_SECONDS ?= 60
ASAN_BUILD_DIR ?= build-asan

.PHONY: all deps test-deps bench-deps configure build run test bench soak \
        sanitize fuzz clean help

all: build

help:
	@echo "make run     install deps, build, start a single node (127.0.0.1:8000)"
	@echo "make run PROFILE=redis   the same with the Redis event bus (starts a"
	@echo "             local redis-server if none answers on 6379; docs/redis.md)"
	@echo "make test    install deps, build, run every test (unit + integration)"
	@echo "make build   build build/vidflow (Release)"
	@echo "make bench   run the benchmarks and print their numbers"
	@echo "make soak    memory over a 30-minute soak (PNG plot) and per 10k jobs"
	@echo "             in flight (SOAK_ARGS=\"--minutes 5 --rate 50\"; bench/soak.py)"
	@echo "make fuzz    build the libFuzzer targets (clang) and run each FUZZ_SECONDS=60"
	@echo "make sanitize  build with ASan+UBSan (build-asan) and run all but fuzz tests"
	@echo "make clean   remove the build directory"

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test

bench-deps:
	@deploy/install-deps.sh --bench

configure:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
ifeq ($(PROFILE),redis)
	@deploy/redis-local.sh
endif
	$(BUILD_DIR)/vidflow serve --config $(CONFIG)

test: test-deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	tests/run-ctest.sh $(BUILD_DIR) --output-on-failure --timeout 900

bench: bench-deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	bench/run-all.sh $(BUILD_DIR)

soak: bench-deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	/usr/bin/python3 bench/soak.py --binary $(BUILD_DIR)/vidflow \
	  --loadgen $(BUILD_DIR)/bench/vf-loadgen --out $(BUILD_DIR)/soak $(SOAK_ARGS)

fuzz: test-deps
	tests/fuzz/run-fuzzers.sh run --build-dir $(FUZZ_DIR) --seconds $(FUZZ_SECONDS) all

sanitize: test-deps
	tests/sanitize.sh --build-dir $(ASAN_BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
