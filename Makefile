# The two commands of the README: `make demo` (the main job) and `make test` (what CI runs).
# Both install the Debian packages they need first (tools/install-deps.sh, a no-op when present).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
RELEASE := build/release
CLANG := build/clang

.PHONY: all deps build build-clang demo test test-unit test-integration test-clang test-fuzz test-asan \
	fuzz clean \
	bench bench-smoke

all: build

deps:
	@tools/install-deps.sh

build: deps
	@[ -f $(RELEASE)/build.ninja ] || cmake --preset release >/dev/null
	cmake --build $(RELEASE) -j $(JOBS)

build-clang: deps
	@[ -f $(CLANG)/build.ninja ] || cmake --preset clang >/dev/null
	cmake --build $(CLANG) -j $(JOBS)

# Builds, starts the router on its embedded store and the audit agent, sends real public sample
# webhooks through it and shows what the agent received. Exits non-zero if the agent's event ids
# differ from the ids computed independently from the samples.
demo: build
	tools/demo.sh

# Unit and integration tests (GCC, release), the demo as a check, the bench harness's ledger
# checks, then the libFuzzer targets (clang). Redis-backed tests start their own redis-server on a
# free port.
test: build
	ctest --test-dir $(RELEASE) --output-on-failure -j $(JOBS) --timeout 300
	tools/demo.sh --check
	$(MAKE) bench-smoke
	$(MAKE) test-fuzz

# The libFuzzer targets alone (clang, ASan + UBSan): only the fuzz executables and what they link
# (their instrumented copies of the decoders and the ingress, and the plain libraries under them)
# are built, not the whole clang tree.
test-fuzz: deps
	@[ -f $(CLANG)/build.ninja ] || cmake --preset clang >/dev/null
	cmake --build $(CLANG) -j $(JOBS) --target fuzz_targets
	ctest --test-dir $(CLANG) --output-on-failure -j $(JOBS) -L fuzz --timeout 600

# The whole clang build (Debug) and its unit and fuzz tests: a second compiler over every test.
# Not part of `make test` (a full second build); run it before a release or a toolchain change.
test-clang: build-clang
	ctest --test-dir $(CLANG) --output-on-failure -j $(JOBS) -L 'unit|fuzz' --timeout 300

# The unit and fuzz tests under AddressSanitizer + UBSan with leak checking (the `asan` preset,
# clang). Not part of `make test`: it is a full second instrumented build.
ASAN := build/asan
test-asan: deps
	@[ -f $(ASAN)/build.ninja ] || cmake --preset asan >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	ctest --preset asan -j $(JOBS) -L 'unit|fuzz' --timeout 600

# Longer libFuzzer runs of every provider decoder (clang build): FUZZ_RUNS inputs per target.
fuzz: build-clang
	SWITCHBOARD_FUZZ_RUNS=$${FUZZ_RUNS:-2000000} ctest --test-dir $(CLANG) --output-on-failure -j $(JOBS) -L fuzz

# The benchmark suite (bench/run.py, BENCHMARKS.md): a release build of the router and the bench
# tools, the peers (bench/install.sh: nginx, the Node.js receiver, wrk), every scenario with 3
# interleaved reps (minutes), then the markdown tables of the run.
BENCH := build/bench
bench: deps
	bench/install.sh
	@[ -f $(BENCH)/build.ninja ] || cmake -S . -B $(BENCH) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DSWITCHBOARD_BUILD_TESTS=OFF >/dev/null
	cmake --build $(BENCH) -j $(JOBS) --target switchboard bench_agent grpc_fanout_ceiling
	python3 bench/run.py --build $(BENCH); status=$$?; python3 bench/render.py --latest; exit $$status

# Our own scenarios, briefly, without the peers: proves the harness and the ledger identities
# (sent = appended + duplicates, delivered = appended x agents, no acknowledged event lost after
# kill -9), never speed. Part of `make test`; results stay in the build dir.
bench-smoke: build
	python3 bench/run.py --smoke --build $(RELEASE) --out $(RELEASE)/bench-smoke

clean:
	rm -rf build .demo
