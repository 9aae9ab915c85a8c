# make install: idempotent; creates .venv and installs carverify with pinned dependencies.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install local test test-long corpus demo demo-local bench bench-rl bench-generate clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,ray]"
	touch $(STAMP)

# CI runs this: everything but the long end-to-end runs and the corpus (1666 s of tests on 2 cores, 2026-12-03, before the last three moved to test-long).
test: install
	$(BIN)/python -m pytest -q -n 2 -m "not corpus and not long"

# Ray training and cluster runs, the DoorKey-8x8 generate acceptance run, the wheel and user-suite runs, and the slowest coverage, deploy and cache tests.
test-long: install
	$(BIN)/python -m pytest -q -n 2 -m long

# The coverage corpus: 47 full audits against the simulator's truth (about 15 min on 2 cores).
corpus: install
	$(BIN)/python -m pytest -q -n 2 tests/test_coverage_corpus.py

demo: install
	$(BIN)/carverify demo

# carverify[local]: llama.cpp's server.  A wheel built on this machine kind (../shared/wheels)
# skips the 19-minute compile; otherwise pip compiles the sdist once with these flags.
# (../../shared: the same folder seen from a worktree under wt/.)
LLAMA_WHEEL := $(firstword $(wildcard ../shared/wheels/llama_cpp_python-0.3.36-*.whl ../../shared/wheels/llama_cpp_python-0.3.36-*.whl))
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF -DGGML_OPENMP=ON
LOCAL_STAMP := $(VENV)/.installed-local

local: $(LOCAL_STAMP)

$(LOCAL_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip install --quiet -c requirements.lock $(LLAMA_WHEEL) -e ".[dev,ray,local]"
	$(BIN)/carverify model
	touch $(LOCAL_STAMP)

# The real model in the loop, offline: generate -> audit -> refine (5 rounds) on DoorKey-5x5 with
# the local 0.5B model, then a short CaR training run with the program.  Stops (exit 1) if no
# round was accepted: training needs an accepted program.
demo-local: local
	$(BIN)/carverify generate --provider local --suite minigrid-doorkey-5x5 --rounds 5 --temperature 0.2 \
		--seed 0 --out runs/demo-local/program.py
	$(BIN)/carverify train --suite minigrid-doorkey-5x5 --reward car --seeds 0 --steps 8192 \
		--program runs/demo-local/program.py --report runs/demo-local/program.py.report.json --out runs/demo-local

# The refinement loop measured with the local model (resumable; stops starting runs after 60 min).
bench-generate: local
	$(BIN)/python bench/generate.py

bench: install
	$(BIN)/python bench/sandbox_overhead.py
	$(BIN)/python bench/check_cost.py
	$(BIN)/python bench/audit_throughput.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/wrapper_overhead.py
	$(BIN)/python bench/deploy_overhead.py
	$(BIN)/python bench/coverage.py
	$(BIN)/python bench/cached_sweep.py

bench-rl: install
	$(BIN)/python bench/rl_compare.py

clean:
	rm -rf $(VENV) .carverify-cache mlruns mlruns.db .pytest_cache runs
