# obsflow - the two README commands (make run, make test) and the rest of the build.
#   make run    install what is missing, build, start the private PostgreSQL under var/,
#               run obsflowd in the foreground on 127.0.0.1:8080 with the embedded defaults
#   make test   install, build plain and ASan+UBSan, run every test in both, valgrind the units,
#               then the service, queue and worker tests under ThreadSanitizer (build-tsan)
#   make bench  build and print the benchmark figures (docs/performance.md)
#   make fuzz   build the libFuzzer targets with clang into build-fuzz (fuzz-run: run each)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD := build
ASAN_BUILD := build-asan
TSAN_BUILD := build-tsan
FUZZ_BUILD := build-fuzz
VAR := $(CURDIR)/var
CMAKE_FLAGS ?=
CTEST := ctest --output-on-failure -j$(JOBS)
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
# ThreadSanitizer: the first report fails the test (a daemon that aborts fails its driver too).
export TSAN_OPTIONS := halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
# The concurrent code under TSan (about 2 minutes): the service's units and the API drivers that
# drive the HTTP threads and the worker pool through the daemon (api_flood is left out: its
# 100 ms answers are a timing budget for an optimised build; dataset_job takes 3 minutes under
# TSan, dataset_queues runs the same pipeline 2 at a time beside 20 ingests), the queue and the
# worker pool against PostgreSQL, the atomic-file writers.
TSAN_TESTS := ^(test_service_unit|test_queue_unit|test_queue_pg|test_workers_pg|test_workers_queues_pg|test_pg_restart|test_atomic_file|api_routes|api_queues|api_hardening|api_cli|api_crash|api_shutdown|api_progress|api_pg_restart|ingest_job|dataset_queues|api_collections|api_registry)$$
TSAN_TARGETS := obsflowd obsflow test_service_unit test_queue_unit test_queue_pg test_workers_pg \
  test_workers_queues_pg test_pg_restart test_atomic_file
# TSan's shadow memory needs a narrow mmap layout: kernels with vm.mmap_rnd_bits above 28 make
# it fail at start ("unexpected memory mapping"); running without address randomization
# (setarch -R, inherited by the daemons the drivers start) avoids that where it is allowed.
TSAN_RUN := $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)

.PHONY: all deps build build-asan build-tsan run test test-plain test-asan test-valgrind test-tsan bench fuzz fuzz-run clean db

all: build

deps:
	@tools/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

build-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TARGETS)

db: build
	@mkdir -p $(VAR)/data $(VAR)/work
	@chmod o+x $(VAR)
	@tools/pg_up.sh $(VAR)/pg --keep
	@tools/pg_createdb.sh $(VAR)/pg obsflow

run: db
	exec $(BUILD)/obsflowd

test: build build-asan build-tsan
	$(MAKE) --no-print-directory test-plain test-asan test-valgrind test-tsan

test-plain:
	cd $(BUILD) && $(CTEST)

test-asan:
	cd $(ASAN_BUILD) && $(CTEST) -LE noasan

test-valgrind:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -T memcheck -L unit

test-tsan:
	cd $(TSAN_BUILD) && $(TSAN_RUN) $(CTEST) -R '$(TSAN_TESTS)'

bench: build
	tools/bench.sh $(BUILD)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DENABLE_FUZZING=ON -DSANITIZE=ON -DENABLE_WERROR=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

# run every fuzz target for FUZZ_SECONDS on a copy of its corpus; new crashes land in build-fuzz
FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	@bad=""; for f in $(FUZZ_BUILD)/tests/fuzz_*; do n=$${f##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  echo "== $$n"; $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_BUILD)/$$n- \
	  $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n || bad="$$bad $$n"; done; \
	  if [ -n "$$bad" ]; then echo "fuzz findings in:$$bad (see $(FUZZ_BUILD)/)"; exit 1; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
